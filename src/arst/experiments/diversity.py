"""Diversity (spec section 5, fourth claim; paper Fig. 1): N random alpha vectors per content
image. How different are the outputs (pixels, Gram features), and do they keep content and
style (their losses)?"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .alphaspec import vector_text
from .common import MODEL_KEYS, load_eval_images, mean_distance_to_others, pixel_distance
from .registry import SIZE, Experiment, Figure, Setting

if TYPE_CHECKING:
    import pandas as pd
    import torch

EXPERIMENT = Experiment(
    name="diversity", measure="diversity", target="diversity_grid", images=True, category="Diversity",
    help="outputs for N random alpha vectors: pairwise distances, content and style losses",
    summary_help="mean pairwise output distance beside content and style losses",
    title="Diversity under random alpha (loss network: {nets}; pixel distance in 0..255)",
    settings=(
        Setting("diversity.samples", 6, "random alpha vectors per image", {"type": "integer", "minimum": 2}),
        Setting("diversity.seed", 0, "seed of the random alpha vectors", {"type": "integer", "minimum": 0}),
        Setting("diversity.gram_layers", ["relu2_2", "relu3_4", "relu4_4"],
                "layers of the Gram distance (shared by both implementations; those a model lacks are left out)",
                {"type": "array", "items": {"type": "string"}}),
    ),
    figures=(Figure("diversity", "arst.plots.comparison:diversity_figure", "figure: outputs for random alpha vectors",
                    "diversity_figure.rst", reads=("table", "images")),),
)
DIVERSITY = {s.key.split(".")[1]: s.default for s in EXPERIMENT.settings}


def gram_distance(a: list[torch.Tensor], b: list[torch.Tensor]) -> torch.Tensor:
    """Mean over layers of the mean squared difference of Gram matrices (a style loss's units)."""
    import torch

    return torch.stack([(x - y).pow(2).mean() for x, y in zip(a, b)]).mean()


def diversity(checkpoint, style, images, samples=DIVERSITY["samples"], seed=DIVERSITY["seed"], size=SIZE,
              gram_layers=None, style_name="style", image_dir=None, runtime=None) -> pd.DataFrame:
    """One row per (image, sample): its alpha, content loss, style loss (sum over the model's
    style layers), and mean pixel and Gram distance to the other samples of that image."""
    import pandas as pd
    import torch

    from ..data.images import save_image
    from ..evaluate import Evaluator
    from ..losses import gram

    ev = Evaluator.load(checkpoint, style, runtime)
    names, batch = load_eval_images(images, size)
    layers = [l for l in (gram_layers or ev.recipe.style_layers) if l in ev.recipe.style_layers]
    generator = torch.Generator().manual_seed(seed)
    alphas = torch.rand(samples, ev.recipe.n_alpha, generator=generator)
    rows = []
    for b, name in enumerate(names):
        x = batch[b:b + 1].expand(samples, -1, -1, -1)
        outputs = ev.stylize(x, alphas)
        losses = ev.losses(outputs, x)
        with torch.no_grad():
            feats = ev.objective.vgg(ev.runtime.images(outputs.clamp(0, 255)))
            grams = [[gram(feats[l][k:k + 1]).cpu() for l in layers] for k in range(samples)]
        pix = mean_distance_to_others(list(outputs.cpu()), pixel_distance)
        gr = mean_distance_to_others(grams, gram_distance)
        style_loss = sum(losses[l] for l in ev.recipe.style_layers)
        for k in range(samples):
            file = ""
            if image_dir is not None:
                file = str(Path(image_dir) / name / f"sample{k}.png")
                save_image(outputs[k].cpu(), file)
            rows.append({**ev.labels, "style": style_name, "image": name, "sample": k,
                         "alpha_vector": vector_text(alphas[k]), "content_loss": float(losses["content"][k]),
                         "style_loss": float(style_loss[k]), "pixel_distance": pix[k], "gram_distance": gr[k],
                         "gram_layers": ",".join(layers), "image_file": file})
    return pd.DataFrame(rows)


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    keys = [*MODEL_KEYS, "image", "gram_layers"]
    out = table.groupby(keys, sort=False).agg(
        samples=("sample", "count"), pixel_distance=("pixel_distance", "mean"),
        gram_distance=("gram_distance", "mean"), content_loss=("content_loss", "mean"),
        style_loss=("style_loss", "mean"))
    return out.reset_index()
