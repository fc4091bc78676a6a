"""Layer loss vs alpha: sweep one layer's alpha from 0 to 1, the others held at 0 and
again at 1, and record every term's loss (the spec's first claim; paper Fig. 7, report
Fig. 3). The stylized images of the others-at-0 sweep make the stylization grid; those of
both make the static alpha explorer."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .common import MODEL_KEYS, load_eval_images
from .registry import SIZE, Experiment, Figure, Setting

if TYPE_CHECKING:
    import pandas as pd

EXPERIMENT = Experiment(
    name="sweep", measure="sweep", images=True, table="sweep_summary", category="Layer loss vs alpha",
    help="loss of every term as one layer's alpha goes 0 -> 1 (others at 0, then 1)",
    summary_help="Spearman rho and monotonic fall of each layer's own loss against its alpha",
    title="Layer loss vs alpha (loss network: {nets})",
    settings=(
        Setting("sweep_points", 11, "alpha values from 0 to 1 per layer", {"type": "integer", "minimum": 2},
                flag="points"),
        Setting("sweep_others", [0.0, 1.0], "values the other alphas are held at",
                {"type": "array", "items": {"type": "number"}}, flag="others"),
    ),
    figures=(
        Figure("loss_vs_alpha", "arst.plots.sweep:loss_vs_alpha", "figure: each layer's own style loss against its alpha",
               "loss_vs_alpha.rst"),
        Figure("stylization_grid", "arst.plots.sweep:stylization_grid", "figure: outputs as one layer's alpha goes "
               "0 -> 1 (the sweep CSVs' image_file columns name the images)", "stylization_grid.rst",
               reads=("table", "images")),
    ),
)
SWEEP_POINTS, SWEEP_OTHERS = (s.default for s in EXPERIMENT.settings)


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
    import pandas as pd
    import torch

    from ..data.images import save_image
    from ..evaluate import Evaluator

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
    import pandas as pd
    from scipy.stats import spearmanr

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
