from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from arst.data.images import (
    BadImage,
    ContentCache,
    center_crop_resize,
    list_images,
    load_content_image,
    load_rgb,
    load_style,
    prepare_cache,
    save_image,
)
from arst.errors import DataError

SIZE = 64


@pytest.fixture
def messy_folder(tmp_path, shared_images):
    """Every kind of input a real image folder throws at us; returns (folder, kept, skipped) names."""
    d = tmp_path / "in"
    (d / "nested" / "deeper").mkdir(parents=True)
    real = (shared_images / "udnie.jpg").read_bytes()
    (d / "truncated.jpg").write_bytes(real[: len(real) // 2])
    (d / "empty.jpg").write_bytes(b"")
    (d / "text.jpg").write_text("not a jpeg at all\n")
    (d / "notes.txt").write_text("ignored: not an image suffix\n")
    Image.new("L", (80, 60), 100).save(d / "gray.png")
    Image.new("CMYK", (80, 60), (0, 255, 255, 0)).save(d / "cmyk.jpg", quality=100)
    rgba = np.zeros((60, 80, 4), np.uint8)
    rgba[:, 40:] = (255, 0, 0, 128)  # left half fully transparent black, right half half-red
    Image.fromarray(rgba).save(d / "rgba.png")
    sixteen = np.full((60, 80), 32896, np.uint16)
    sixteen[0, 0], sixteen[0, 1] = 65535, 0
    Image.fromarray(sixteen).save(d / "sixteen.png")
    Image.new("P", (80, 60), 3).save(d / "palette.PNG")
    Image.new("RGB", (10, 10), "red").save(d / "tiny.png")
    shutil.copy(shared_images / "mosaic.jpg", d / "nested" / "deeper" / "mosaic.JPEG")
    kept = ["cmyk.jpg", "gray.png", "nested/deeper/mosaic.JPEG", "palette.PNG", "rgba.png", "sixteen.png"]
    skipped = ["empty.jpg", "text.jpg", "tiny.png", "truncated.jpg"]
    return d, kept, skipped


def test_list_images_recursive_sorted_case_insensitive(messy_folder):
    d, kept, skipped = messy_folder
    assert [p.relative_to(d).as_posix() for p in list_images(d)] == sorted(kept + skipped)


@pytest.mark.parametrize("kind", ["missing", "file", "empty"])
def test_list_images_bad_folder_names_it(tmp_path, kind):
    target = tmp_path / kind
    if kind == "file":
        target.write_text("x")
    elif kind == "empty":
        target.mkdir()
        (target / "readme.txt").write_text("no images here")
    with pytest.raises(DataError, match=str(target)):
        list_images(target)


def test_load_rgb_converts_modes(messy_folder):
    d, _, _ = messy_folder
    for name in ["gray.png", "cmyk.jpg", "rgba.png", "sixteen.png", "palette.PNG"]:
        img = load_rgb(d / name)
        assert img.mode == "RGB" and img.size == (80, 60), name
    assert np.asarray(load_rgb(d / "gray.png"))[5, 5].tolist() == [100, 100, 100]
    red = np.asarray(load_rgb(d / "cmyk.jpg")).astype(int)[30, 40]
    assert red[0] > 240 and red[1] < 15 and red[2] < 15, red
    rgba = np.asarray(load_rgb(d / "rgba.png"))
    assert rgba[10, 10].tolist() == [255, 255, 255]  # transparent -> white, not its black RGB
    assert rgba[10, 60].tolist() == [255, 127, 127]  # 50% red over white
    sixteen = np.asarray(load_rgb(d / "sixteen.png"))
    assert sixteen[0, 0].tolist() == [255] * 3
    assert sixteen[0, 1].tolist() == [0] * 3
    assert sixteen[5, 5].tolist() == [128] * 3  # 32896 / 65535 * 255 = 128 (clipping would give 255)


@pytest.mark.parametrize(
    "name, reason",
    [
        ("empty.jpg", "empty file"),
        ("text.jpg", "not an image"),
        ("truncated.jpg", "cannot decode"),
        ("tiny.png", "too small: 10x10"),
    ],
)
def test_load_rgb_bad_images(messy_folder, name, reason):
    d, _, _ = messy_folder
    with pytest.raises(BadImage) as info:
        load_rgb(d / name)
    assert info.value.path == d / name
    assert reason in info.value.reason
    assert str(info.value).startswith(f"{d / name}: ")
    assert isinstance(info.value, DataError)


def test_min_side_is_configurable(messy_folder):
    d, _, _ = messy_folder
    assert load_rgb(d / "tiny.png", min_side=10).size == (10, 10)


def test_prepare_cache_keeps_convertible_and_reports_skipped(messy_folder, tmp_path, caplog):
    d, kept, skipped = messy_folder
    out = tmp_path / "cache" / "content.npy"
    with caplog.at_level(logging.WARNING, logger="arst"):
        report = prepare_cache(d, out, size=SIZE)
    assert [p.relative_to(d).as_posix() for p in report.kept] == kept
    assert sorted(p.relative_to(d).as_posix() for p, _ in report.skipped) == skipped

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "skipped 4 of 10 files" in warnings[0].getMessage()
    for name in skipped:
        assert name in warnings[0].getMessage()

    rows = np.load(out, mmap_mode="r")
    assert rows.shape == (6, SIZE, SIZE, 3) and rows.dtype == np.uint8
    assert out.stat().st_size == rows.offset + rows.nbytes  # the 4 unused rows were cut off
    expected = center_crop_resize(load_rgb(d / "nested/deeper/mosaic.JPEG"), SIZE)
    np.testing.assert_array_equal(rows[2], expected)
    assert rows[1, 5, 5].tolist() == [100, 100, 100]  # gray.png

    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["size"] == SIZE and meta["count"] == 6 and meta["files"] == kept
    assert meta["source"] == str(d)
    assert sorted(s["path"] for s in meta["skipped"]) == skipped
    assert all(s["reason"] for s in meta["skipped"])
    assert sorted(p.name for p in out.parent.iterdir()) == ["content.json", "content.npy"]  # no temp files


def test_prepare_cache_with_nothing_usable_raises_and_writes_nothing(tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "a.jpg").write_bytes(b"")
    (d / "b.png").write_text("nope")
    out = tmp_path / "out" / "c.npy"
    with pytest.raises(DataError, match=str(d)):
        prepare_cache(d, out, size=SIZE)
    assert not out.exists() and not out.with_suffix(".json").exists()
    assert list(out.parent.iterdir()) == []


def test_prepare_cache_missing_or_empty_folder(tmp_path):
    with pytest.raises(DataError, match=str(tmp_path / "nope")):
        prepare_cache(tmp_path / "nope", tmp_path / "c.npy")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=str(tmp_path / "empty")):
        prepare_cache(tmp_path / "empty", tmp_path / "c.npy")


def test_center_crop_resize_takes_the_centre_without_resizing():
    # 512x256: the short side is already 256, so the crop is exact: columns 128..383.
    h, w = 256, 512
    a = np.zeros((h, w, 3), np.uint8)
    a[..., 0] = (np.arange(w) // 2)[None, :]
    a[..., 1] = np.arange(h)[:, None]
    a[..., 2] = 7
    out = center_crop_resize(Image.fromarray(a), 256)
    assert out.shape == (256, 256, 3) and out.dtype == np.uint8
    assert out[10, 0].tolist() == [64, 10, 7]  # column 128 -> 128 // 2
    assert out[200, 255].tolist() == [191, 200, 7]  # column 383 -> 383 // 2


def test_center_crop_resize_resizes_the_short_side():
    # 1024x512 -> 512x256, centre 256 columns = original columns 256..767: left half 0, right half 200.
    a = np.zeros((512, 1024, 3), np.uint8)
    a[:, 512:] = 200
    a[:, :256] = 50  # cropped away entirely
    out = center_crop_resize(Image.fromarray(a), 256)
    assert out.shape == (256, 256, 3)
    assert out[100, 10].tolist() == [0, 0, 0]
    assert out[100, 250].tolist() == [200, 200, 200]
    assert 0 < out[100, 128, 0] < 200 or 0 < out[100, 127, 0] < 200  # bilinear edge at the middle
    assert not (out == 50).any()


def test_load_style_sizes_and_errors(shared_images, tmp_path):
    s = load_style(shared_images / "mosaic.jpg")
    assert s.shape == (1, 3, 391, 470) and s.dtype == torch.float32
    assert 0 <= s.min() and s.max() <= 255 and s.max() > 200
    assert load_style(shared_images / "mosaic.jpg", size=256).shape == (1, 3, 256, 308)
    with pytest.raises(DataError, match=f"style image not found: {tmp_path / 'nope.jpg'}"):
        load_style(tmp_path / "nope.jpg")
    (tmp_path / "bad.jpg").write_text("x")
    with pytest.raises(BadImage, match="bad.jpg"):
        load_style(tmp_path / "bad.jpg")


def test_load_content_image(shared_images, tmp_path):
    c = load_content_image(shared_images / "amber.jpg")
    assert c.shape == (1, 3, 1080, 1080) and c.dtype == torch.float32
    assert c.is_contiguous()
    with pytest.raises(DataError, match="content image not found"):
        load_content_image(tmp_path / "missing.png")


def test_save_image_clamps_rounds_and_writes_atomically(tmp_path):
    t = torch.tensor([[[-5.0, 300.0], [127.4, 127.6]]]).repeat(3, 1, 1)
    save_image(t, tmp_path / "a.png")
    save_image(t.unsqueeze(0), tmp_path / "b.png")
    save_image(t.numpy(), tmp_path / "out" / "c.jpg")
    for name in ["a.png", "b.png"]:
        px = np.asarray(Image.open(tmp_path / name))
        assert px[..., 0].tolist() == [[0, 255], [127, 128]]
    with Image.open(tmp_path / "out" / "c.jpg") as img:
        assert img.format == "JPEG" and img.size == (2, 2)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.png", "b.png", "c.jpg"]
    with pytest.raises(ValueError, match="NaN"):
        save_image(torch.full((3, 2, 2), float("nan")), tmp_path / "nan.png")
    with pytest.raises(ValueError, match="shape"):
        save_image(torch.zeros(2, 3, 4, 4), tmp_path / "batch.png")


def test_content_cache_reads_the_right_pixels(messy_folder, tmp_path):
    d, kept, _ = messy_folder
    out = tmp_path / "content.npy"
    prepare_cache(d, out, size=SIZE)
    cache = ContentCache(out)
    assert len(cache) == 6 and cache.size == SIZE
    b = cache.batch([2, 0])
    assert b.dtype == torch.uint8 and b.shape == (2, 3, SIZE, SIZE) and b.is_contiguous()
    for row, name in zip(b, [kept[2], kept[0]]):
        expected = center_crop_resize(load_rgb(d / name), SIZE)
        np.testing.assert_array_equal(row.permute(1, 2, 0).numpy(), expected)
    b[:] = 0  # a copy: the memmap (opened read-only) is untouched
    assert cache.batch([2]).max() > 0

    memory = ContentCache.from_folder(d, SIZE)
    assert len(memory) == 6
    assert torch.equal(memory.batch(range(6)), cache.batch(range(6)))


def test_content_cache_missing_file(tmp_path):
    with pytest.raises(DataError, match=str(tmp_path / "none.npy")):
        ContentCache(tmp_path / "none.npy")
