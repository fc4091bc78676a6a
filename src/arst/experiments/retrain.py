"""Adjusted vs retrained (spec section 5, last claim; paper abstract): the adjustable model at
alpha a against a model trained with alpha fixed at a, per-layer losses on the evaluation set."""

from __future__ import annotations

import pandas as pd
import torch

from ..evaluate import Evaluator
from .alphaspec import vector_text
from .common import load_eval_images


def compare(adjustable, retrained: list[str], style, images, size=128, style_name="style",
            runtime=None) -> pd.DataFrame:
    """One row per (retrained model, image, term): each model's loss at the retrained alpha."""
    adj = Evaluator.load(adjustable, style, runtime)
    names, batch = load_eval_images(images, size)
    rows = []
    for path in retrained:
        fixed = Evaluator.load(path, style, runtime)
        alpha = torch.tensor(fixed.recipe.alpha_fixed, dtype=torch.float32)[None]
        a_losses = adj.losses(adj.stylize(batch, alpha), batch)
        f_losses = fixed.losses(fixed.stylize(batch, alpha), batch)
        for term in a_losses:
            for b, image in enumerate(names):
                la, lf = float(a_losses[term][b]), float(f_losses[term][b])
                rows.append({**adj.labels, "style": style_name, "image": image, "alpha_vector": vector_text(alpha),
                             "term": term, "loss_adjusted": la, "loss_retrained": lf,
                             "ratio": la / lf if lf > 0 else float("nan"),
                             "retrained_steps": fixed.meta["step"]})
    return pd.DataFrame(rows)


def fixed_alpha_gap(retrained: list[str], style, images, size=128, runtime=None) -> pd.DataFrame:
    """The control of 'adjusted vs retrained': how far apart the outputs of models retrained at
    different fixed alphas are (mean |y_a - y_b|, 0..255, clamped, over the evaluation images),
    one row per pair. An adjustable model that matches retraining must differ by as much between
    the same alphas; a constant model would pass a loss comparison, not this one."""
    _, batch = load_eval_images(images, size)
    outputs = []
    for path in retrained:
        ev = Evaluator.load(path, style, runtime)
        alpha = torch.tensor(ev.recipe.alpha_fixed, dtype=torch.float32)[None]
        outputs.append((vector_text(alpha), ev.stylize(batch, alpha).clamp(0, 255), ev.labels))
    rows = []
    for i, (alpha_a, y_a, labels) in enumerate(outputs):
        for alpha_b, y_b, _ in outputs[i + 1:]:
            rows.append({**labels, "alpha_a": alpha_a, "alpha_b": alpha_b,
                         "distance": float((y_a - y_b).abs().mean())})
    return pd.DataFrame(rows)


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    keys = ["implementation", "loss_net", "train_steps", "precision", "style", "seed", "alpha_vector", "term"]
    out = table.groupby(keys, sort=False)[["loss_adjusted", "loss_retrained"]].mean().reset_index()
    out["ratio"] = out["loss_adjusted"] / out["loss_retrained"]
    return out
