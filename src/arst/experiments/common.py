"""What the experiments share: the fixed evaluation images."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import torch

from ..data.images import center_crop_resize, load_rgb


def load_eval_images(paths: Iterable[str | Path], size: int) -> tuple[list[str], torch.Tensor]:
    """Names (file stems) and a float (N, 3, size, size) batch in 0..255: the fixed
    evaluation set, cropped the way training content is."""
    paths = [Path(p) for p in paths]
    arrays = [torch.from_numpy(center_crop_resize(load_rgb(p), size).copy()) for p in paths]
    return [p.stem for p in paths], torch.stack(arrays).permute(0, 3, 1, 2).float()
