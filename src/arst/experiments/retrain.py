"""Adjusted vs retrained (spec section 5, last claim; paper abstract): the adjustable model at
alpha a against a model trained with alpha fixed at a, per-layer losses on the evaluation set."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .alphaspec import vector_text
from .common import MODEL_KEYS, load_eval_images
from .registry import SIZE, Experiment, Figure, Setting

if TYPE_CHECKING:
    import pandas as pd

EXPERIMENT = Experiment(
    name="retrain", verb="retrain-compare", measure="compare", target="adjusted_vs_retrained", scope="controlled", model="adjustable",
    inputs=("retrained",), category="Adjusted vs retrained",
    help="per-layer losses: adjustable model at alpha a vs a model trained at fixed a",
    summary_help="adjusted vs retrained per-layer losses (mean over images)",
    title="Adjusted vs retrained: per-layer losses at the same alpha; ratio = adjusted / retrained "
          "(loss network: {nets})",
    # The retrained controls this experiment and `controls` read (arst.plan.controls trains them).
    settings=(
        Setting("retrain.impls", None, "implementations that get controls (null: every implementation not "
                "itself at a fixed alpha)", {"type": ["array", "null"], "items": {"type": "string"}}, flag=None),
        Setting("retrain.alphas", [], "more fixed alpha vectors per layer name (missing layers 0), beside the "
                "one-hots and all ones", {"type": "array", "items": {
                    "type": "object", "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1}}},
                flag=None),
        Setting("retrain.floor_seed_offset", 1, "the noise floor's seed: the run's seed plus this",
                {"type": "integer", "minimum": 1}, flag=None),
    ),
    figures=(Figure("retrain", "arst.plots.comparison:retrain_figure",
                    "figure: per-term losses, adjustable vs retrained", "retrain_figure.rst"),),
)


def compare(adjustable, retrained: list[str], style, images, size=SIZE, style_name="style",
            runtime=None) -> pd.DataFrame:
    """One row per (retrained model, image, term): each model's loss at the retrained alpha."""
    import pandas as pd
    import torch

    from ..evaluate import Evaluator

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


def fixed_alpha_gap(retrained: list[str], style, images, size=SIZE, runtime=None) -> pd.DataFrame:
    """The control of 'adjusted vs retrained': how far apart the outputs of models retrained at
    different fixed alphas are (mean |y_a - y_b|, 0..255, clamped, over the evaluation images),
    one row per pair. An adjustable model that matches retraining must differ by as much between
    the same alphas; a constant model would pass a loss comparison, not this one."""
    import pandas as pd
    import torch

    from ..evaluate import Evaluator

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
    keys = [*MODEL_KEYS, "alpha_vector", "term"]
    out = table.groupby(keys, sort=False)[["loss_adjusted", "loss_retrained"]].mean().reset_index()
    out["ratio"] = out["loss_adjusted"] / out["loss_retrained"]
    return out
