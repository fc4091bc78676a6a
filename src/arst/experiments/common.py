"""What the experiments share: the fixed evaluation images, and how far outputs are apart."""

from __future__ import annotations

from pathlib import Path
from itertools import combinations
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

if TYPE_CHECKING:
    import torch


# The columns that name the model a row measured (Evaluator.labels, and the style): every
# summary groups by these, then by what its experiment varies.
MODEL_KEYS = ["implementation", "loss_net", "train_steps", "precision", "style", "seed"]


def load_eval_images(paths: Iterable[str | Path], size: int) -> tuple[list[str], torch.Tensor]:
    """Names (file stems) and a float (N, 3, size, size) batch in 0..255: the fixed
    evaluation set, cropped the way training content is."""
    import torch

    from ..data.images import center_crop_resize, load_rgb

    paths = [Path(p) for p in paths]
    arrays = [torch.from_numpy(center_crop_resize(load_rgb(p), size).copy()) for p in paths]
    return [p.stem for p in paths], torch.stack(arrays).permute(0, 3, 1, 2).float()


def pixel_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference, 0..255 (images clamped as saved)."""
    return (a.clamp(0, 255) - b.clamp(0, 255)).abs().mean()


def pairwise(items: Sequence, distance: Callable) -> list[list[float]]:
    """The symmetric matrix of distances between items (0 on the diagonal), each pair once."""
    n = len(items)
    d = [[0.0] * n for _ in range(n)]
    for i, j in combinations(range(n), 2):
        d[i][j] = d[j][i] = float(distance(items[i], items[j]))
    return d


def mean_distance_to_others(items: Sequence, distance: Callable) -> list[float]:
    """For each item, its mean distance to the others (the mean of these is the mean over
    pairs); 0 for a lone item."""
    return to_others(pairwise(items, distance))


def to_others(d: list[list[float]]) -> list[float]:
    """mean_distance_to_others from the pairwise matrix."""
    n = len(d)
    return [sum(row) / (n - 1) if n > 1 else 0.0 for row in d]


def to_nearest(d: list[list[float]], keys: Sequence | None = None) -> list[float]:
    """For each item, its distance to the nearest other item, from the pairwise matrix: a mean
    over the others hides two items that coincide, the nearest does not. Items with the same
    key are not compared (two alpha vectors that differ only in layers a model lacks are the
    same vector to it); NaN when no other item is left."""
    keys = list(range(len(d))) if keys is None else list(keys)
    return [min((d[i][j] for j in range(len(d)) if keys[j] != keys[i]), default=float("nan"))
            for i in range(len(d))]
