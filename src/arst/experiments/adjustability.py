"""Adjustability (the claims' first rows): does the trained model respond to alpha, and
differently per layer, and how large are the motifs each layer's alpha adds? The same
measures as the training diagnostic (arst.diagnostics), on the evaluation images; and the
training diagnostic's curve, labelled, for the figure."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .common import load_eval_images
from .registry import SIZE, Experiment, Figure

if TYPE_CHECKING:
    import pandas as pd
    import torch

EXPERIMENT = Experiment(
    name="adjustability", measure="measure", target="adjustability_figure", category="Adjustability",
    inputs=("training_log",), outputs={"curve": "adjustability_curves"},
    help="does the model respond to alpha, differently per layer? (and its training curve)",
    summary_help="merge the adjustability tables: per-layer response, distinctness, conditioner spread and dead units",
    title="Adjustability on the evaluation images (loss network: {nets}; grey levels of 255)",
    figures=(Figure("adjustability", "arst.plots.adjustability:adjustability_figure",
                    "figure: the adjustability diagnostic of every model over training", "adjustability_figure.rst",
                    reads=("curve",)),),
)


def motif_size(residual: torch.Tensor) -> float:
    """1 / the power-weighted mean spatial frequency of `residual` (B, C, H, W), in pixels: the
    typical size of the structures it holds. Computed on the channel mean, each image's own
    mean removed, from the power spectrum summed over the batch (the zero frequency left out).
    A grating of period P pixels gives P. NaN for a residual without structure."""
    import torch

    grey = residual.detach().double().mean(dim=1)
    grey = grey - grey.mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(grey).abs().square().sum(dim=0)
    h, w = power.shape
    frequency = torch.hypot(torch.fft.fftfreq(h, dtype=torch.float64)[:, None],
                            torch.fft.fftfreq(w, dtype=torch.float64)[None, :])
    total = power.sum()
    if total <= 0:
        return float("nan")
    return float(total / (power * frequency).sum())


def depth(layer: str) -> float:
    """relu{block}_{conv} -> a number that orders layers by depth in the loss network."""
    block, conv = map(int, re.fullmatch(r"relu(\d+)_(\d+)", layer).groups())
    return block + conv / 10


def adjustability_table(checkpoint, style, images, size=SIZE, style_name="style", runtime=None) -> pd.DataFrame:
    """One row per style layer: its response and motif size, beside the model's other measures
    (over all evaluation images) and its labels."""
    import pandas as pd
    import torch

    from ..diagnostics import adjustability, as_dict
    from ..evaluate import Evaluator

    ev = Evaluator.load(checkpoint, style, runtime)
    _, batch = load_eval_images(images, size)
    layers = list(ev.recipe.style_layers)
    measures = as_dict(layers, adjustability(ev.model, batch, ev.runtime))
    base = ev.stylize(batch, torch.zeros(1, len(layers))).clamp(0, 255)
    rows = []
    for i, layer in enumerate(layers):
        alpha = torch.zeros(1, len(layers))
        alpha[0, i] = 1.0
        residual = ev.stylize(batch, alpha).clamp(0, 255) - base
        shared = {k: v for k, v in measures.items() if not k.startswith("response_")}
        rows.append({**ev.labels, "style": style_name, "images": len(batch), "size": size, "layer": layer,
                     "depth": depth(layer), "response": measures[f"response_{layer}"],
                     "motif_px": motif_size(residual), **shared,
                     # the divergence guard's step (arst.guard), empty when it never fired
                     "diverged_at": ev.meta.get("diverged_at")})
    return pd.DataFrame(rows)


def training_curve(checkpoint, log, style_name="style") -> pd.DataFrame:
    """The training run's adjustability log (written beside losses.csv), with the model's labels."""
    import pandas as pd

    from ..checkpoint import load

    meta = load(checkpoint)
    curve = pd.read_csv(log)
    labels = {"implementation": meta["recipe"]["name"], "seed": meta["seed"], "loss_net": meta["loss_net"],
              "train_steps": meta["step"], "style": style_name}
    return curve.assign(**labels)


def measure(checkpoint, training_log, style, images, size=SIZE, style_name="style", runtime=None) -> dict:
    """`arst adjustability`: the table on the evaluation images, and the training curve."""
    return {"table": adjustability_table(checkpoint, style, images, size, style_name, runtime),
            "curve": training_curve(checkpoint, training_log, style_name)}


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    return table
