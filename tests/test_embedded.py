from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from arst.data.embedded import SAMPLE_PHOTOS, STYLE_KINDS, export_sample_photos, make_style
from arst.errors import ConfigError


def test_export_sample_photos(tmp_path):
    paths = export_sample_photos(tmp_path / "photos")
    assert [p.name for p in paths] == [f"{n}.png" for n in SAMPLE_PHOTOS]
    sizes = {}
    for p in paths:
        with Image.open(p) as img:
            assert img.mode == "RGB"
            sizes[p.stem] = img.size
            assert min(img.size) >= 256
    assert sizes["astronaut"] == (512, 512) and sizes["coffee"] == (600, 400)
    assert sorted(q.name for q in (tmp_path / "photos").iterdir()) == sorted(p.name for p in paths)


def test_export_unknown_photo_lists_valid_names(tmp_path):
    with pytest.raises(ConfigError, match="eagle.*astronaut"):
        export_sample_photos(tmp_path, ["coffee", "eagle"])
    assert list(tmp_path.iterdir()) == []  # nothing written before the names were checked


def _pixels(path):
    with Image.open(path) as img:
        assert img.mode == "RGB"
        return np.asarray(img).astype(np.float64)


def _box_blur(a: np.ndarray, k: int) -> np.ndarray:
    h, w = a.shape[0] // k * k, a.shape[1] // k * k
    return a[:h, :w].reshape(h // k, k, w // k, k, 3).mean((1, 3))


@pytest.mark.parametrize("kind", STYLE_KINDS)
def test_make_style_deterministic_textured(tmp_path, kind):
    a = make_style(kind, tmp_path / "a.png", size=128, seed=3)
    b = make_style(kind, tmp_path / "b.png", size=128, seed=3)
    c = make_style(kind, tmp_path / "c.png", size=128, seed=4)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    px = _pixels(a)
    assert px.shape == (128, 128, 3)
    # Texture at several scales: fine detail (pixel to 4x4 mean), and variation left
    # at 16x16 blocks; plus strong colour (channel spread), not grey.
    fine = np.abs(px - np.repeat(np.repeat(_box_blur(px, 4), 4, 0), 4, 1)).mean()
    coarse = _box_blur(px, 16).std(axis=(0, 1)).mean()
    assert fine > 10, fine
    assert coarse > 20, coarse
    assert (px.max(-1) - px.min(-1)).mean() > 80


def test_make_style_unknown_kind(tmp_path):
    with pytest.raises(ConfigError, match="mosaic, swirl"):
        make_style("cubist", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
