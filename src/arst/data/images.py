"""Image decoding, the 256x256 content cache, and image I/O for stylization."""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch
from numpy.lib import format as npy_format
from PIL import Image, ImageOps, UnidentifiedImageError
from tqdm import tqdm

from arst.errors import DataError
from arst.io import atomic_path, write_json

log = logging.getLogger("arst")

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

# Modes whose pixels carry (or may carry, for P) transparency: their colour under
# alpha 0 is undefined, so they are composited onto white rather than just dropping alpha.
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
_SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I"}


class BadImage(DataError):
    """A file that cannot be used as an image; ``path`` and ``reason`` say why."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def list_images(folder: str | os.PathLike) -> list[Path]:
    folder = Path(folder)
    if not folder.exists():
        raise DataError(f"image folder not found: {folder}")
    if not folder.is_dir():
        raise DataError(f"not a folder: {folder}")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DataError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return files


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in _SIXTEEN_BIT_MODES:
        # PIL's convert("L") clips 16-bit values at 255 instead of scaling them.
        a = np.asarray(img).astype(np.float64).clip(0, 65535)
        img = Image.fromarray(np.round(a / 257.0).astype(np.uint8))
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in _ALPHA_MODES:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def load_rgb(path: str | os.PathLike, min_side: int = 32) -> Image.Image:
    """Decode ``path`` fully into an 8-bit RGB image, or raise BadImage saying why."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise BadImage(path, "empty file (0 bytes)")
    except FileNotFoundError:
        raise BadImage(path, "file not found") from None
    return _decode_rgb(path, path, min_side)


def decode_rgb(data: bytes, name: str, min_side: int = 32, max_pixels: int | None = None) -> Image.Image:
    """``data`` (an image file's bytes, e.g. an upload called ``name``) decoded as load_rgb
    decodes a file. With ``max_pixels``, an image with more pixels is refused from its
    header alone, before its pixels are decoded into memory."""
    if not data:
        raise BadImage(name, "empty file (0 bytes)")
    return _decode_rgb(io.BytesIO(data), name, min_side, max_pixels)


def _decode_rgb(source, label, min_side: int, max_pixels: int | None = None) -> Image.Image:
    try:
        with Image.open(source) as img:
            w, h = img.size
            if max_pixels is not None and w * h > max_pixels:
                raise BadImage(label, f"too large: {w}x{h} = {w * h:,} pixels, more than the "
                                      f"{max_pixels:,} allowed")
            # load() forces a full decode: Image.open only reads the header, so a
            # truncated file would otherwise pass here and fail later in a worker.
            img.load()
            img = ImageOps.exif_transpose(img)
            rgb = _to_rgb(img)
    except UnidentifiedImageError:
        raise BadImage(label, "not an image file PIL can read") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise BadImage(label, f"cannot decode ({e})") from None
    if min(rgb.size) < min_side:
        w, h = rgb.size
        raise BadImage(label, f"too small: {w}x{h} pixels, shorter side under {min_side}")
    return rgb


def _resize_short_side(img: Image.Image, size: int) -> Image.Image:
    w, h = img.size
    scale = size / min(w, h)
    new = (max(size, round(w * scale)), max(size, round(h * scale)))
    return img.resize(new, Image.Resampling.BILINEAR)


def center_crop_resize(img: Image.Image, size: int) -> np.ndarray:
    """Resize the short side to ``size`` (bilinear), then take the central size x size square."""
    img = _resize_short_side(img, size)
    w, h = img.size
    left, top = (w - size) // 2, (h - size) // 2
    return np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.uint8)


def to_tensor(img: Image.Image) -> torch.Tensor:
    """An RGB image as float32 (1, 3, H, W) in 0..255."""
    return torch.from_numpy(np.array(img, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0).contiguous()


def load_style(path: str | os.PathLike, size: int | None = None) -> torch.Tensor:
    """Style image as float32 (1, 3, H, W) in 0..255; ``size`` resizes its short side."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"style image not found: {path}")
    img = load_rgb(path)
    if size is not None:
        img = _resize_short_side(img, size)
    return to_tensor(img)


def load_content_image(path: str | os.PathLike) -> torch.Tensor:
    """Content image at its own size as float32 (1, 3, H, W) in 0..255."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"content image not found: {path}")
    return to_tensor(load_rgb(path))


def to_pixels(image: torch.Tensor | np.ndarray, context: str = "image") -> np.ndarray:
    """A (3, H, W) or (1, 3, H, W) image with values in 0..255 as the (H, W, 3) uint8 pixels
    that save_image writes (clamped, rounded): what every saved or served image shows."""
    a = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 3 or a.shape[0] != 3:
        raise ValueError(f"expected an image of shape (3, H, W) or (1, 3, H, W), got {a.shape}")
    a = a.astype(np.float32)
    if not np.isfinite(a).all():
        raise ValueError(f"{context}: the image has NaN or infinite values")
    return np.round(a.clip(0, 255)).astype(np.uint8).transpose(1, 2, 0)


def save_image(image: torch.Tensor | np.ndarray, path: str | os.PathLike) -> None:
    """Write a (3, H, W) or (1, 3, H, W) image with values in 0..255, atomically."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise DataError(f"{path}: unknown image suffix {path.suffix!r}")
    pixels = to_pixels(image, f"refusing to write {path}")
    options = {"quality": 95} if fmt == "JPEG" else {}
    # The temp file's name ends in .tmp, so the format must be given explicitly.
    with atomic_path(path) as tmp:
        Image.fromarray(pixels).save(tmp, format=fmt, **options)


def _decode_all(
    files: Sequence[Path], size: int, min_side: int
) -> Iterator[tuple[Path, np.ndarray | None, str | None]]:
    for f in tqdm(files, desc="decoding images", unit="img", disable=None):
        try:
            yield f, center_crop_resize(load_rgb(f, min_side=min_side), size), None
        except BadImage as e:
            yield f, None, e.reason


def _warn_skipped(folder: Path, skipped: list[tuple[Path, str]], total: int) -> None:
    if skipped:
        lines = "\n".join(f"  {p}: {reason}" for p, reason in skipped)
        log.warning("skipped %d of %d files in %s:\n%s", len(skipped), total, folder, lines)


def _shrink_npy(path: Path, n: int) -> None:
    """Cut an .npy file down to its first ``n`` rows in place.

    numpy pads every header with room for the first axis to grow or shrink
    (GROWTH_AXIS_MAX_DIGITS), so rewriting it keeps the data offset unchanged.
    """
    with open(path, "r+b") as f:
        version = npy_format.read_magic(f)
        read = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
        write = npy_format.write_array_header_1_0 if version == (1, 0) else npy_format.write_array_header_2_0
        shape, fortran_order, dtype = read(f)
        offset = f.tell()
        f.seek(0)
        write(f, {"descr": npy_format.dtype_to_descr(dtype), "fortran_order": fortran_order, "shape": (n, *shape[1:])})
        if f.tell() != offset:
            raise RuntimeError(f"{path}: rewriting the .npy header moved the data offset")
        f.truncate(offset + n * int(np.prod(shape[1:])) * dtype.itemsize)


@dataclass
class PrepareReport:
    kept: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def prepare_cache(
    folder: str | os.PathLike, out_path: str | os.PathLike, size: int = 256, min_side: int = 32
) -> PrepareReport:
    """Decode every image under ``folder`` into one uint8 (N, size, size, 3) .npy file.

    Unreadable or too-small files are skipped and reported in one warning and in
    the sidecar JSON (``out_path`` with suffix .json), which is written last.
    """
    folder, out_path = Path(folder), Path(out_path)
    files = list_images(folder)
    report = PrepareReport()
    with atomic_path(out_path) as tmp:
        # Rows go straight to disk: COCO's 80k images (15 GB) never sit in memory.
        rows = npy_format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(files), size, size, 3))
        for f, pixels, reason in _decode_all(files, size, min_side):
            if pixels is None:
                report.skipped.append((f, reason))
            else:
                rows[len(report.kept)] = pixels
                report.kept.append(f)
        rows.flush()
        del rows
        _warn_skipped(folder, report.skipped, len(files))
        if not report.kept:
            raise DataError(f"no usable images in {folder}: all {len(files)} files were skipped")
        if report.skipped:
            _shrink_npy(tmp, len(report.kept))
    write_json(
        out_path.with_suffix(".json"),
        {
            "size": size,
            "count": len(report.kept),
            "source": str(folder),
            "files": [f.relative_to(folder).as_posix() for f in report.kept],
            "skipped": [{"path": f.relative_to(folder).as_posix(), "reason": r} for f, r in report.skipped],
        },
    )
    return report


class ContentCache:
    """Content images as uint8 (N, S, S, 3) rows, memory-mapped from a prepared .npy file."""

    def __init__(self, path: str | os.PathLike):
        path = Path(path)
        if not path.is_file():
            raise DataError(f"content cache not found: {path} (prepare it from an image folder first)")
        try:
            rows = np.load(path, mmap_mode="r")
        except (OSError, ValueError) as e:
            raise DataError(f"{path}: not a readable .npy content cache ({e})") from None
        self._set_rows(rows, str(path))

    def _set_rows(self, rows: np.ndarray, source: str) -> None:
        if rows.dtype != np.uint8 or rows.ndim != 4 or rows.shape[3] != 3 or rows.shape[1] != rows.shape[2]:
            raise DataError(f"{source}: expected uint8 rows of shape (N, S, S, 3), got {rows.dtype} {rows.shape}")
        self._rows = rows
        self.source = source

    @classmethod
    def from_folder(cls, folder: str | os.PathLike, size: int, min_side: int = 32) -> "ContentCache":
        """Decode a small folder into memory (no file), with prepare_cache's skip rules."""
        folder = Path(folder)
        files = list_images(folder)
        decoded = list(_decode_all(files, size, min_side))
        kept = [pixels for _, pixels, _ in decoded if pixels is not None]
        _warn_skipped(folder, [(f, r) for f, pixels, r in decoded if pixels is None], len(files))
        if not kept:
            raise DataError(f"no usable images in {folder}: all {len(files)} files were skipped")
        cache = cls.__new__(cls)
        cache._set_rows(np.stack(kept), str(folder))
        return cache

    def __len__(self) -> int:
        return self._rows.shape[0]

    @property
    def size(self) -> int:
        return self._rows.shape[1]

    def batch(self, indices: Iterable[int]) -> torch.Tensor:
        """Rows ``indices`` as a contiguous uint8 (B, 3, S, S) tensor, copied out of the map."""
        rows = self._rows[np.asarray(list(indices), dtype=np.int64)]
        return torch.from_numpy(np.ascontiguousarray(rows.transpose(0, 3, 1, 2)))
