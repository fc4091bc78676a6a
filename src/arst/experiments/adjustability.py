"""Adjustability (the claims' first row): does the trained model respond to alpha, and
differently per layer? The same measures as the training diagnostic (arst.diagnostics), on
the evaluation images; and the training diagnostic's curve, labelled, for the figure."""

from __future__ import annotations

import pandas as pd

from ..diagnostics import adjustability, as_dict
from ..evaluate import Evaluator
from .common import load_eval_images


def adjustability_table(checkpoint, style, images, size=128, style_name="style", runtime=None) -> pd.DataFrame:
    """One row: the model's labels and the measures over all evaluation images."""
    ev = Evaluator.load(checkpoint, style, runtime)
    _, batch = load_eval_images(images, size)
    measures = as_dict(ev.recipe.style_layers, adjustability(ev.model, batch, ev.runtime))
    return pd.DataFrame([{**ev.labels, "style": style_name, "images": len(batch), "size": size, **measures}])


def training_curve(checkpoint, log, style_name="style") -> pd.DataFrame:
    """The training run's adjustability log (written beside losses.csv), with the model's labels."""
    from ..checkpoint import load

    meta = load(checkpoint)
    curve = pd.read_csv(log)
    labels = {"implementation": meta["recipe"]["name"], "seed": meta["seed"], "loss_net": meta["loss_net"],
              "train_steps": meta["step"], "style": style_name}
    return curve.assign(**labels)


def long_form(table: pd.DataFrame) -> pd.DataFrame:
    """The per-layer responses as rows (layer, response): implementations differ in layers."""
    response = [c for c in table.columns if c.startswith("response_")]
    keys = [c for c in table.columns if c not in response]
    out = table.melt(id_vars=keys, value_vars=response, var_name="layer", value_name="response")
    out["layer"] = out["layer"].str.removeprefix("response_")
    return out.dropna(subset=["response"])


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    return long_form(table)
