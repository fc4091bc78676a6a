"""Layer loss vs alpha: sweep one layer's alpha from 0 to 1, the others held at 0 and
again at 1, and record every term's loss (the spec's first claim; paper Fig. 7, report
Fig. 3). The stylized images of the others-at-0 sweep make the stylization grid; those of
both make the static alpha explorer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..data.images import save_image
from ..evaluate import Evaluator
from .common import MODEL_KEYS, load_eval_images
from .defaults import SIZE, SWEEP_OTHERS, SWEEP_POINTS


def sweep_image(image_dir: str | Path, image: str, others: float, layer: str, value: float) -> Path:
    """Where the sweep writes one output: <image>/<layer>_<alpha>.png with the others at 0 (the
    stylization grid's images), <image>/others<value>/<layer>_<alpha>.png otherwise."""
    folder = Path(image_dir) / image
    if others != 0.0:
        folder = folder / f"others{others:g}"
    return folder / f"{layer}_{value:.2f}.png"


def sweep(checkpoint, style, images, size=SIZE, points=SWEEP_POINTS, others=SWEEP_OTHERS, style_name="style",
          image_dir: str | Path | None = None, runtime=None) -> pd.DataFrame:
    """Long table: one row per (others, swept layer, alpha value, image, term)."""
    ev = Evaluator.load(checkpoint, style, runtime)
    names, batch = load_eval_images(images, size)
    layers = list(ev.recipe.style_layers)
    rows = []
    for other in others:
        for i, layer in enumerate(layers):
            for value in np.linspace(0.0, 1.0, points):
                alpha = torch.full((1, len(layers)), float(other))
                alpha[0, i] = float(value)
                output = ev.stylize(batch, alpha)
                losses = ev.losses(output, batch)
                for b, image in enumerate(names):
                    file = ""
                    if image_dir is not None:
                        file = str(sweep_image(image_dir, image, other, layer, value))
                        save_image(output[b].cpu(), file)
                    for term, values in losses.items():
                        rows.append({**ev.labels, "style": style_name, "image": image, "others": other,
                                     "swept_layer": layer, "alpha": round(float(value), 6),
                                     "alpha_vector": ",".join(f"{a:g}" for a in alpha[0].tolist()),
                                     "term": term, "loss": float(values[b]), "image_file": file})
    return pd.DataFrame(rows)


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Per implementation, seed, style, others and layer: does the layer's own style loss
    fall as its alpha rises? Spearman rho of loss against alpha (mean over images), and
    whether it falls monotonically (each step no higher than the one before)."""
    from scipy.stats import spearmanr  # 1.5 s to import: only the summary needs it

    own = table[table["term"] == table["swept_layer"]]
    keys = [*MODEL_KEYS, "others", "swept_layer"]
    rows = []
    for key, group in own.groupby(keys, sort=False):
        curve = group.groupby("alpha")["loss"].mean().sort_index()
        rho = spearmanr(curve.index, curve.values).statistic if curve.nunique() > 1 else 0.0
        steps = np.diff(curve.values)
        rows.append({**dict(zip(keys, key)), "spearman_rho": float(np.nan_to_num(rho)),
                     "monotonic_fall": bool((steps <= 0).all() and steps.sum() < 0),
                     "loss_at_0": curve.iloc[0], "loss_at_1": curve.iloc[-1],
                     "relative_change": curve.iloc[-1] / curve.iloc[0] - 1.0})
    return pd.DataFrame(rows)
