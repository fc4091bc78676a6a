"""Offline default data: photos shipped inside scikit-image's wheel, procedural style images."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from PIL import Image

from arst.errors import ConfigError
from arst.io import atomic_path


def _motorcycle_left() -> np.ndarray:
    from skimage import data

    return data.stereo_motorcycle()[0]


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage import data

        return getattr(data, name)()

    return load


# Only colour photographs whose files are inside the scikit-image wheel: others
# (e.g. eagle, lily, skin) need pooch and a network download, which defeats the point.
_PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _skimage("astronaut"),
    "coffee": _skimage("coffee"),
    "chelsea": _skimage("chelsea"),
    "rocket": _skimage("rocket"),
    "motorcycle_left": _motorcycle_left,
}
SAMPLE_PHOTOS = tuple(_PHOTOS)
STYLE_KINDS = ("mosaic", "swirl")


def _write_png(pixels: np.ndarray, path: Path) -> None:
    with atomic_path(path) as tmp:
        Image.fromarray(pixels).save(tmp, format="PNG")


def export_sample_photos(out_dir: str | os.PathLike, names: Iterable[str] = SAMPLE_PHOTOS) -> list[Path]:
    """Write the named scikit-image photos to ``out_dir/<name>.png``; return their paths."""
    names = list(names)
    unknown = [n for n in names if n not in _PHOTOS]
    if unknown:
        raise ConfigError(f"unknown sample photo(s) {unknown}; valid names: {', '.join(SAMPLE_PHOTOS)}")
    return [export_sample_photo(name, Path(out_dir) / f"{name}.png") for name in names]


def sample_photo(name: str) -> np.ndarray:
    """One scikit-image photo as (H, W, 3) uint8 pixels."""
    if name not in _PHOTOS:
        raise ConfigError(f"unknown sample photo {name!r}; valid names: {', '.join(SAMPLE_PHOTOS)}")
    return np.asarray(_PHOTOS[name](), dtype=np.uint8)


def export_sample_photo(name: str, path: str | os.PathLike) -> Path:
    """Write one scikit-image photo as a PNG at ``path``."""
    _write_png(sample_photo(name), Path(path))
    return Path(path)


def _nearest_two(points: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per pixel: indices of the nearest and second-nearest point, and their distances (pixels)."""
    yx = np.stack(np.mgrid[0:size, 0:size], -1).reshape(-1, 2).astype(np.float64)
    first, second = np.empty((2, size * size), dtype=np.int64)
    d1, d2 = np.empty((2, size * size))
    # In blocks so a large style image does not need a pixels x points matrix at once.
    for block in np.array_split(np.arange(size * size), max(1, size * size * len(points) // 4_000_000)):
        d = (yx[block, :1] - points[:, 0]) ** 2 + (yx[block, 1:] - points[:, 1]) ** 2
        rows = np.arange(len(block))
        first[block] = d.argmin(1)
        d1[block] = d[rows, first[block]]
        d[rows, first[block]] = np.inf
        second[block] = d.argmin(1)
        d2[block] = d[rows, second[block]]
    return tuple(a.reshape(size, size) for a in (first, second, np.sqrt(d1), np.sqrt(d2)))


def _mosaic(rng: np.random.Generator, size: int) -> np.ndarray:
    from matplotlib.colors import hsv_to_rgb

    # Four scales of texture: panes of one hue (~1/4 image), tiles (~1/16),
    # dark seams (thick between panes, thin between tiles), and per-pixel glass grain.
    panes = rng.uniform(0, size, (10, 2))
    tiles = rng.uniform(0, size, (300, 2))
    pane_of_tile = ((tiles[:, None] - panes[None]) ** 2).sum(-1).argmin(1)
    pane_hue = rng.uniform(0, 1, len(panes))
    hsv = np.stack(
        [
            (pane_hue[pane_of_tile] + rng.normal(0, 0.04, len(tiles))) % 1.0,
            rng.uniform(0.75, 1.0, len(tiles)),
            rng.uniform(0.7, 1.0, len(tiles)),
        ],
        -1,
    )
    tile_rgb = hsv_to_rgb(hsv)
    first, second, d1, d2 = _nearest_two(tiles, size)
    img = tile_rgb[first]
    # Each tile is brightest at its seed and darker towards its edges, like uneven glass.
    img = img * (1.0 - 0.3 * (d1 / (d1 + d2)))[..., None]
    img = img * (1.0 + rng.normal(0, 0.04, (size, size, 1)))
    unit = size / 256
    seam = np.where(pane_of_tile[first] != pane_of_tile[second], 3.0 * unit, 1.2 * unit)
    img = np.where(((d2 - d1) < seam)[..., None], 0.08, img)
    return np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)


def _swirl(rng: np.random.Generator, size: int) -> np.ndarray:
    import matplotlib

    y, x = (np.mgrid[0:size, 0:size] + 0.5) / size * 2 - 1

    def polar(cx: float, cy: float) -> tuple[np.ndarray, np.ndarray]:
        return np.hypot(x - cx, y - cy), np.arctan2(y - cy, x - cx)

    r1, t1 = polar(*rng.uniform(-0.3, 0.3, 2))
    r2, t2 = polar(*rng.uniform(-0.8, 0.8, 2))
    k1, k2 = rng.integers(3, 7), rng.integers(7, 13)
    f1, f2, f3 = rng.uniform(6, 10), rng.uniform(16, 24), rng.uniform(70, 90)
    # Broad bands, a finer counter-swirl and a ripple: texture at three scales.
    v = (
        0.55 * np.sin(k1 * t1 + f1 * r1 + rng.uniform(0, 2 * np.pi))
        + 0.3 * np.sin(k2 * t2 - f2 * r2)
        + 0.15 * np.sin(f3 * r1 + 2 * t2)
    )
    cmap = matplotlib.colormaps["hsv"]
    rgb = cmap((v * 0.6 + rng.uniform(0, 1)) % 1.0)[..., :3]
    # Dark outlines where the bands turn, so colour edges are also luminance edges.
    rgb = rgb * (0.25 + 0.75 * np.abs(np.sin(np.pi * 2.5 * v)))[..., None] ** 0.5
    return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)


_STYLES = {"mosaic": _mosaic, "swirl": _swirl}


def make_style(kind: str, out_path: str | os.PathLike, size: int = 256, seed: int = 0) -> Path:
    """Write a procedural size x size style image; the same kind, size and seed give the same bytes."""
    if kind not in _STYLES:
        raise ConfigError(f"unknown style kind {kind!r}; valid kinds: {', '.join(STYLE_KINDS)}")
    path = Path(out_path)
    _write_png(_STYLES[kind](np.random.default_rng(seed), size), path)
    return path
