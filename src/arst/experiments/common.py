"""What the experiments share: the fixed evaluation images, and how far outputs are apart."""

from __future__ import annotations

from pathlib import Path
from itertools import combinations
from typing import Callable, Iterable, Sequence

import torch

from ..data.images import center_crop_resize, load_rgb

# The columns that name the model a row measured (Evaluator.labels, and the style): every
# summary groups by these, then by what its experiment varies.
MODEL_KEYS = ["implementation", "loss_net", "train_steps", "precision", "style", "seed"]


def load_eval_images(paths: Iterable[str | Path], size: int) -> tuple[list[str], torch.Tensor]:
    """Names (file stems) and a float (N, 3, size, size) batch in 0..255: the fixed
    evaluation set, cropped the way training content is."""
    paths = [Path(p) for p in paths]
    arrays = [torch.from_numpy(center_crop_resize(load_rgb(p), size).copy()) for p in paths]
    return [p.stem for p in paths], torch.stack(arrays).permute(0, 3, 1, 2).float()


def pixel_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference, 0..255 (images clamped as saved)."""
    return (a.clamp(0, 255) - b.clamp(0, 255)).abs().mean()


def mean_distance_to_others(items: Sequence, distance: Callable) -> list[float]:
    """For each item, its mean distance to the others (the mean of these is the mean over
    pairs); 0 for a lone item."""
    n = len(items)
    sums = [0.0] * n
    for i, j in combinations(range(n), 2):
        d = float(distance(items[i], items[j]))
        sums[i] += d
        sums[j] += d
    return [s / (n - 1) if n > 1 else 0.0 for s in sums]
