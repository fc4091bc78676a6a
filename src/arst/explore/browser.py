"""The alpha explorer that runs the model in the reader's browser: a folder of files that
opens offline by double-click (file://), with no server. Every slider moves freely over
[0, 1], the reader can drop in a photo of their own, and each update is one run of the
exported model (arst.export) in onnxruntime-web's WebAssembly engine, vendored from its npm
tarball (data.fetch.ORT_WEB).

Why the folder looks as it does (measured in Chromium 156, headless, onnxruntime-web 1.30.0):
- A file:// page may not fetch() files, nor load module scripts, but it may load classic
  scripts beside it (<script src>). So every binary travels as base64 text in a classic script
  that sets a global: the wasm engine (ort-wasm.js) and each model (model-N.js, loaded only
  when the reader picks that model). onnxruntime-web's classic bundle (ort.wasm.min.js, as
  shipped) loads its Emscripten glue with import(); it gets a Blob URL of the glue's text
  (ort-glue.js), which Chromium imports from a file:// page, and the wasm binary as
  env.wasm.wasmBinary, so it fetches nothing.
- One thread: threads need SharedArrayBuffer, which needs cross-origin isolation, which a
  file:// page cannot have.
- gzip under the base64 (DecompressionStream undoes it in the browser): the wasm shrinks from
  13.6 MB to 3.5 MB (MB: 2**20 bytes); a model's weights hardly shrink (0.92 of their size in
  half precision).
- Half-precision weights (half_weights): a model's ONNX file is 63.5 MB (corrected) or 55.9 MB
  (baseline) in fp32, 86% of it the conditioner's dense layers. Stored as fp16 and cast back to
  fp32 when the session starts (so the arithmetic stays fp32, and as fast), it is half that: a
  view loads 43.8 MB (the page, the engine, the corrected model), not 83. On a corrected model
  trained 600 steps, at 256 px on a photo, the output moved by at most 0.31 grey levels from
  torch's (fp32: 0.0007): once rounded, about one pixel value in 40 changes, by one level. Each
  model is checked when the folder is written (HALF_TOLERANCE) and kept in fp32 where half
  precision is not within it.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import logging
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .. import __version__
from ..data.fetch import ORT_WEB, ORT_WEB_FILE
from ..errors import DataError
from ..io import atomic_path, sha256
from . import loss_network_words, page

log = logging.getLogger("arst")

# The tarball's members the page uses: the classic-script bundle of the CPU (wasm) engine, its
# Emscripten glue (an ES module) and the SIMD wasm binary it runs.
ORT_MEMBERS = {"script": "package/dist/ort.wasm.min.js", "glue": "package/dist/ort-wasm-simd-threaded.mjs",
               "wasm": "package/dist/ort-wasm-simd-threaded.wasm"}
# The longer side a photo is shown and stylized at, at most: one update at 256x256 took 0.85 s
# in headless Chromium on the 2-core machine (one thread, busy with other jobs: docs/explorer.md).
MAX_SIDE = 256
# Grey levels of 255: the largest |half-precision weights - fp32 weights| allowed, both files in
# onnxruntime, at the checks' sizes (CHECK_SIZES) and alphas. Under one level, so that with the
# fp32 export's own tolerance against torch (export.TOLERANCE, 0.05) a shown pixel is at most
# one level from what `arst stylize` saves, the standard the explorers' browser tests hold
# every page to. Measured: 0.21 on a corrected model trained 600 steps, 0.77 on an untrained
# corrected one, 0.001 on an untrained baseline; the tests' small models with their
# conditioners drawn large, 1.7 (corrected: kept in fp32) and 0.48 (baseline).
HALF_TOLERANCE = 0.9
# The export's odd probe size, and the largest picture the page stylizes: the instance norms'
# rounding grows with the picture.
CHECK_SIZES = ((37, 53), (MAX_SIDE, MAX_SIDE))
# Weights with fewer values stay fp32: the biases and small constants, a few kB in all.
HALF_MIN_VALUES = 1024
GLOBALS = {"glue": "ARST_ORT_GLUE", "wasm": "ARST_ORT_WASM", "models": "ARST_MODELS"}


def get_ort_web(path: str | Path = f"resources/{ORT_WEB_FILE}") -> str:
    """How to get onnxruntime-web's tarball to `path`, in a few words."""
    return (f"`arst fetch-ort-web --out {path}` downloads it (or `npm pack onnxruntime-web@{ORT_WEB['version']}`; "
            f"sha256 {ORT_WEB['sha256']})")


def ort_web_files(tarball: str | Path, expected_sha256: str | None = None) -> dict[str, bytes]:
    """ORT_MEMBERS' bytes from onnxruntime-web's npm tarball, after checking it is the pinned one
    (ORT_WEB's sha256, or `expected_sha256`)."""
    tarball = Path(tarball)
    expected_sha256 = expected_sha256 or ORT_WEB["sha256"]
    if not tarball.is_file():
        raise DataError(f"onnxruntime-web {ORT_WEB['version']} not found at {tarball}: {get_ort_web(tarball)}")
    digest = sha256(tarball)
    if digest != expected_sha256:
        raise DataError(f"{tarball}: sha256 {digest}, not onnxruntime-web {ORT_WEB['version']}'s "
                        f"{expected_sha256}: {get_ort_web(tarball)}")
    files = {}
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            for key, name in ORT_MEMBERS.items():
                try:
                    member = tar.extractfile(name)
                except KeyError:
                    member = None
                if member is None:
                    raise DataError(f"{tarball}: no file {name} in it (is it onnxruntime-web's npm tarball?)")
                files[key] = member.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"{tarball}: not a readable .tgz ({exc})") from None
    return files


def half_weights(proto):
    """A copy of the ONNX model `proto` whose float32 weights of HALF_MIN_VALUES values or more
    are stored as float16, each cast back to float32 by a Cast node under its old name: the
    graph computes as before, with weights rounded to half precision. onnxruntime folds the
    casts when the session starts."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    half = onnx.ModelProto()
    half.CopyFrom(proto)
    graph = half.graph
    # A weight that is also a graph input could be fed at run time: none is, in arst's exports.
    inputs = {i.name for i in graph.input}
    kept, casts = [], []
    for weight in graph.initializer:
        values = numpy_helper.to_array(weight)
        if weight.data_type == TensorProto.FLOAT and values.size >= HALF_MIN_VALUES and weight.name not in inputs:
            stored = numpy_helper.from_array(values.astype(np.float16), f"{weight.name}.float16")
            kept.append(stored)
            casts.append(helper.make_node("Cast", [stored.name], [weight.name], to=TensorProto.FLOAT,
                                          name=f"{weight.name}.to_float32"))
        else:
            kept.append(weight)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = casts + list(graph.node)  # before their users: the graph stays in topological order
    del graph.node[:]
    graph.node.extend(nodes)
    return half


def max_difference(model: bytes, reference: bytes, n_alpha: int) -> float:
    """The largest |model - reference| (two ONNX files' bytes, in onnxruntime) over random
    pictures at CHECK_SIZES and alphas all 0, all 1 and random, in grey levels of 255."""
    import onnxruntime
    import torch

    from ..export import OUTPUT, probe
    options = onnxruntime.SessionOptions()
    sessions = [onnxruntime.InferenceSession(b, options, providers=["CPUExecutionProvider"])
                for b in (model, reference)]
    worst = 0.0
    for seed, size in enumerate(CHECK_SIZES):
        image, alpha = probe(n_alpha, seed, size)
        for a in (torch.zeros_like(alpha), torch.ones_like(alpha), alpha):
            feed = {"image": image.numpy(), "alpha": a.numpy()}
            first, second = (s.run([OUTPUT], feed)[0] for s in sessions)
            worst = max(worst, float(np.abs(first.astype(np.float64) - second).max()))
    return worst


@dataclass
class PageModel:
    name: str
    path: Path
    data: bytes  # the ONNX file the page runs
    metadata: dict[str, str]
    weights: str  # "float16" or "float32"
    difference: float  # |page's file - the fp32 export|, grey levels (0 where they are one)

    def describe(self, key: str, file: str, js_bytes: int) -> dict:
        m = self.metadata
        layers = m["style_layers"].split(",")
        return {"key": key, "file": file, "name": self.name, "implementation": m["implementation"],
                "layers": layers, "default_alpha": [float(a) for a in m["default_alpha"].split(",")],
                "loss_net": m["loss_network"], "loss_net_words": loss_network_words(m["loss_network"]),
                "training_steps": m["training_steps"], "seed": m["seed"], "weights": self.weights,
                "difference": round(self.difference, 4), "onnx_bytes": len(self.data), "bytes": js_bytes}


def page_model(name: str, path: str | Path, half: bool = True) -> PageModel:
    """An exported model (`arst export`'s file) as the page runs it: with half-precision weights
    where those are within HALF_TOLERANCE of its fp32 ones (`half`), else as it is."""
    from ..export import require_onnx
    require_onnx("arst explorer-in-browser")
    import onnx
    path = Path(path)
    if not path.is_file():
        raise DataError(f"model not found: {path} (write it with `arst export`, or `snakemake onnx`)")
    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - a foreign or broken file: say which
        raise DataError(f"{path}: not a readable ONNX file ({exc})") from None
    metadata = {p.key: p.value for p in proto.metadata_props}
    names = ([i.name for i in proto.graph.input], [o.name for o in proto.graph.output])
    if names != (["image", "alpha"], ["stylized"]):
        raise DataError(f"{path}: inputs {', '.join(names[0])} and outputs {', '.join(names[1])}, not an `arst "
                        "export` file's (image and alpha -> stylized)")
    missing = [k for k in ("implementation", "style_layers", "default_alpha", "loss_network") if k not in metadata]
    if missing:
        raise DataError(f"{path}: no {', '.join(missing)} in its metadata, which `arst export` writes: export "
                        "it with `arst export`")
    fp32 = path.read_bytes()
    if not half:
        return PageModel(name, path, fp32, metadata, "float32", 0.0)
    data = half_weights(proto).SerializeToString()
    difference = max_difference(data, fp32, len(metadata["style_layers"].split(",")))
    if difference <= HALF_TOLERANCE:
        return PageModel(name, path, data, metadata, "float16", difference)
    log.warning("%s: half-precision weights move its output by %.3g grey levels, more than %g: the page runs "
                "it in fp32 (%.1f MB, not %.1f)", path, difference, HALF_TOLERANCE, len(fp32) / 2**20,
                len(data) / 2**20)
    return PageModel(name, path, fp32, metadata, "float32", 0.0)


def photo(path: str | Path) -> dict:
    """A picture the page offers: decoded as arst decodes any (data.images.load_rgb), its
    longer side shrunk to MAX_SIDE where longer (as the page shrinks a reader's photo, with a
    smooth filter), as a PNG data URI (lossless: the page stylizes these exact pixels)."""
    from PIL import Image

    from ..data.images import load_rgb
    path = Path(path)
    img = load_rgb(path)
    w, h = img.size
    if max(w, h) > MAX_SIDE:
        scale = MAX_SIDE / max(w, h)
        img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return {"name": path.stem, "width": img.size[0], "height": img.size[1],
            "uri": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")}


def script_setting(name: str, value: str, key: str | None = None) -> str:
    """A classic script that sets the global `name` (or its entry `key`) to the string `value`."""
    literal = json.dumps(value)
    if key is None:
        return f"window.{name} = {literal};\n"
    return f"(window.{name} = window.{name} || {{}})[{json.dumps(key)}] = {literal};\n"


def packed(data: bytes) -> str:
    """gzip, then base64: what the page's unpack() undoes (DecompressionStream("gzip"))."""
    # mtime 0: the same bytes give the same file, whenever it is written.
    return base64.b64encode(gzip.compress(data, compresslevel=9, mtime=0)).decode("ascii")


def explorer_html(data: dict) -> str:
    # "</" inside the JSON would end its <script> element early; "<\/" is the same JSON string.
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return page("browser.html").replace("/*EXPLORER_DATA*/", payload)


def _write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_explorer_in_browser(models: Sequence[tuple[str, str | Path]], ort_web: str | Path,
                              photos: Sequence[str | Path], out: str | Path, half: bool = True,
                              ort_web_sha256: str | None = None) -> dict:
    """Write the page's folder `out`: index.html, onnxruntime-web's files, one model-N.js per
    (name, ONNX file) of `models`, with `photos` inside the page. Each file is written
    atomically, index.html last; model files of an earlier build that this one has not are
    removed. Returns the page's data and every file's size."""
    if not models:
        raise DataError("no models given: name at least one ONNX file from `arst export`")
    out = Path(out)
    ort_web_sha256 = ort_web_sha256 or ORT_WEB["sha256"]
    ort = ort_web_files(ort_web, ort_web_sha256)  # first: without it nothing else is worth doing
    pictures = [photo(p) for p in photos]
    prepared = [page_model(name, path, half) for name, path in models]
    out.mkdir(parents=True, exist_ok=True)
    sizes: dict[str, int] = {}

    def write(name: str, text: str | bytes) -> None:
        data = text.encode("utf-8") if isinstance(text, str) else text
        _write_bytes(out / name, data)
        sizes[name] = len(data)

    write("ort.wasm.min.js", ort["script"])
    write("ort-glue.js", script_setting(GLOBALS["glue"], ort["glue"].decode("utf-8")))
    write("ort-wasm.js", script_setting(GLOBALS["wasm"], packed(ort["wasm"])))
    write("onnxruntime-web.txt",
          f"onnxruntime-web {ORT_WEB['version']} (MIT licence, (c) Microsoft Corporation), from its npm "
          f"tarball\n{ORT_WEB['url']}\nsha256 {ort_web_sha256}\n\nort.wasm.min.js is {ORT_MEMBERS['script']} as "
          f"shipped; ort-glue.js holds {ORT_MEMBERS['glue']} as a string and ort-wasm.js "
          f"{ORT_MEMBERS['wasm']} gzipped, in base64, so that a page opened from disk can load them.\n")
    described = []
    for index, model in enumerate(prepared, start=1):
        key, file = f"model-{index}", f"model-{index}.js"
        write(file, script_setting(GLOBALS["models"], packed(model.data), key))
        described.append(model.describe(key, file, sizes[file]))
    for stale in out.glob("model-*.js"):
        if stale.name not in sizes:
            stale.unlink()
    data = {"version": __version__, "max_side": MAX_SIDE, "half_tolerance": HALF_TOLERANCE,
            "ort": {"version": ORT_WEB["version"], "bytes": sum(sizes[f] for f in ("ort.wasm.min.js", "ort-glue.js",
                                                                                  "ort-wasm.js"))},
            "globals": GLOBALS, "models": described, "photos": pictures}
    html = explorer_html(data)
    write("index.html", html)
    data["sizes"] = sizes
    # What opening the page reads: the page, the engine and the largest model (one at a time).
    data["view_bytes"] = sizes["index.html"] + data["ort"]["bytes"] + max(m["bytes"] for m in described)
    return data
