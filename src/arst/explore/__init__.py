"""Exploring alpha by hand.

`live`: a model, the pictures it can stylize and one update at a time (what the local page
asks for); `server`: that page and its small HTTP interface (the standard library's
ThreadingHTTPServer); `static`: one offline HTML file of sliders over the sweep's images.
The pages themselves are the .html files beside this module, sharing `explore.css` (and, where sliders move a model, `sliders.js`)."""

from __future__ import annotations

from importlib import resources


def page(name: str) -> str:
    """The page `name` (an .html file beside this module) with the shared style sheet and the
    shared slider code inlined, so each page is one self-contained file."""
    folder = resources.files(__name__)
    text = (folder / name).read_text(encoding="utf-8")
    for mark, shared in (("/*EXPLORE_CSS*/", "explore.css"), ("/*SLIDERS_JS*/", "sliders.js")):
        text = text.replace(mark, (folder / shared).read_text(encoding="utf-8"))
    return text


def loss_network_words(kind: str) -> str:
    """A checkpoint's loss-network label said plainly: random features are no ImageNet VGG,
    and the pages say which one shaped the style."""
    if kind == "imagenet":
        return "ImageNet VGG weights"
    if kind.startswith("random"):
        return f"RANDOM VGG weights ({kind}), not ImageNet"
    return f"VGG weights from {kind.removeprefix('file:')}"
