"""Diversity (spec section 5, fourth claim; paper Fig. 1): N random alpha vectors per content
image. How different are the outputs (pixels, Gram features), and do they keep content and
style (their losses)?"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import pandas as pd
import torch

from ..data.images import save_image
from ..evaluate import Evaluator
from ..losses import gram
from .alphaspec import vector_text
from .common import load_eval_images


def pairwise_mean(items: list[torch.Tensor], distance) -> list[float]:
    """For each item, its mean distance to the others (the mean of these is the mean over pairs)."""
    n = len(items)
    sums = [0.0] * n
    for i, j in combinations(range(n), 2):
        d = float(distance(items[i], items[j]))
        sums[i] += d
        sums[j] += d
    return [s / (n - 1) if n > 1 else 0.0 for s in sums]


def pixel_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference, 0..255 (images clamped as saved)."""
    return (a.clamp(0, 255) - b.clamp(0, 255)).abs().mean()


def gram_distance(a: list[torch.Tensor], b: list[torch.Tensor]) -> torch.Tensor:
    """Mean over layers of the mean squared difference of Gram matrices (a style loss's units)."""
    return torch.stack([(x - y).pow(2).mean() for x, y in zip(a, b)]).mean()


def diversity(checkpoint, style, images, samples=6, seed=0, size=128, gram_layers=None, style_name="style",
              image_dir=None, runtime=None) -> pd.DataFrame:
    """One row per (image, sample): its alpha, content loss, style loss (sum over the model's
    style layers), and mean pixel and Gram distance to the other samples of that image."""
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
        pix = pairwise_mean(list(outputs.cpu()), pixel_distance)
        gr = pairwise_mean(grams, gram_distance)
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
    keys = ["implementation", "loss_net", "train_steps", "precision", "style", "seed", "image", "gram_layers"]
    out = table.groupby(keys, sort=False).agg(
        samples=("sample", "count"), pixel_distance=("pixel_distance", "mean"),
        gram_distance=("gram_distance", "mean"), content_loss=("content_loss", "mean"),
        style_loss=("style_loss", "mean"))
    return out.reset_index()
