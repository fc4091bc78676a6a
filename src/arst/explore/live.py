"""The live explorer's engine: one model, the pictures it can stylize, and one update (the
model run once, the output as a PNG) at a time, the latest request winning."""

from __future__ import annotations

import io
import itertools
import logging
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image

from ..data.embedded import SAMPLE_PHOTOS, sample_photo
from ..data.images import decode_rgb, load_rgb, to_pixels, to_tensor
from ..errors import ConfigError, DataError
from ..runtime import Runtime
from ..stylize import load_stylizer, parse_alpha, stylize_tensor
from . import loss_network_words

log = logging.getLogger("arst")

# A picture is stylized with its longer side at most this (0: as it is); the page offers these.
SIZES = (256, 512, 768, 1024, 0)
# The page starts at 512 px on a GPU, at 256 on the CPU (an update there takes about 4
# times longer at 512).
DEFAULT_SIZE = {"cuda": 512, "cpu": 256}
# What an update may ask for: the exact picture, or while a slider moves, the preview (the int8
# model where one was made within its tolerance, the exact one otherwise).
QUALITIES = ("exact", "preview")


def amount(n: int) -> str:
    """A number of bytes as people read it."""
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n:,} bytes"


class Superseded(Exception):
    """A newer request from the same client arrived while this one waited: it is dropped."""


class LatestOnly:
    """Runs one job at a time. A job that had to wait is dropped (Superseded) when a newer one
    from the same client arrived meanwhile, so requests that pile up during a slow update
    never make a queue of stale frames: the latest is the only one that runs next."""

    def __init__(self) -> None:
        self._busy = threading.Lock()  # held while a job runs
        self._tickets = threading.Lock()  # guards _latest
        self._latest: dict[str, int] = {}
        self._numbers = itertools.count(1)
        self.dropped = 0

    def run(self, client: str, job: Callable[[], object]):
        with self._tickets:
            ticket = self._latest[client] = next(self._numbers)
        with self._busy:
            with self._tickets:
                if self._latest[client] != ticket:
                    self.dropped += 1
                    raise Superseded(f"a newer request from {client!r} replaced this one")
            return job()

    def latest_ticket(self, client: str) -> int:
        """The ticket of `client`'s latest request (0: none yet)."""
        with self._tickets:
            return self._latest.get(client, 0)


@dataclass
class Picture:
    key: str
    name: str
    origin: str  # "given", "evaluation" or "upload"
    _load: Callable[[], Image.Image]
    _image: Image.Image | None = None
    _resized: dict[int, Image.Image] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)  # the page asks from several threads

    def image(self, size: int = 0) -> Image.Image:
        """The picture with its longer side at most `size` (0: as it is)."""
        with self._lock:
            if self._image is None:
                self._image = self._load()
            if not size or max(self._image.size) <= size:
                return self._image
            if size not in self._resized:
                w, h = self._image.size
                scale = size / max(w, h)
                self._resized[size] = self._image.resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                                         Image.Resampling.LANCZOS)
            return self._resized[size]

    def describe(self) -> dict:
        return {"key": self.key, "name": self.name, "origin": self.origin}


@dataclass
class Frame:
    """One update: the stylized picture as a PNG and what it took."""
    png: bytes
    alpha: list[float]
    width: int
    height: int
    model_seconds: float  # the model's run, the output back on the host included
    seconds: float  # the whole update: the model and the PNG
    quality: str = "exact"  # or "preview": the int8 model (arst.export.preview_stylizer)


def encode_png(pixels: np.ndarray) -> bytes:
    """(H, W, 3) uint8 pixels as a PNG stored, not compressed (zlib level 0). The page is served
    on 127.0.0.1, where bytes are free and the encoding is part of each update: at level 1
    PIL's encoder took 11 and 43 ms at 256 and 512 px, at level 0 4 and 22 (2-core machine,
    under load), for 1.3 times the bytes."""
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) uint8 pixels, got {pixels.dtype} {pixels.shape}")
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buf, format="PNG", compress_level=0)
    return buf.getvalue()


class Explorer:
    """A model (from `checkpoint`) ready to stylize the given pictures, the evaluation photos
    (scikit-image's, which the offline default evaluates on) and uploads, at any alpha."""

    def __init__(self, checkpoint: str | Path, images: Sequence[str | Path] = (), runtime: Runtime | None = None,
                 evaluation: Sequence[str] = SAMPLE_PHOTOS, max_pixels: int = 40_000_000,
                 max_upload_bytes: int = 50 * 2**20, max_uploads: int = 20, preview: bool = True):
        self.checkpoint = Path(checkpoint)
        # An interactive session meets a new image size at every picture and size it is
        # shown: compiling each would cost far more than it saves, so compile stays off
        # unless asked for.
        self.runtime = runtime or Runtime.resolve(compile=False)
        self._model, self.meta = load_stylizer(checkpoint, self.runtime)
        self.runtime = self.meta["runtime"]  # torch's, if the onnxruntime engine fell back to it
        self.recipe = self.meta["recipe"]
        self._preview, self.preview_note = None, "off"
        if preview:
            self._preview, self.preview_note = self._make_preview()
        self.max_pixels, self.max_upload_bytes, self.max_uploads = max_pixels, max_upload_bytes, max_uploads
        self.gate = LatestOnly()
        self.updates = 0
        self.latency: dict[int, dict[str, float]] = {}
        self._lock = threading.Lock()  # guards the picture list
        self._uploads = itertools.count(1)
        self.pictures: dict[str, Picture] = {}
        for i, path in enumerate(images):
            rgb = load_rgb(path)  # a bad file given on the command line stops the start, naming it
            self._add(Picture(f"given{i}", Path(path).name, "given", lambda rgb=rgb: rgb))
        for name in evaluation:
            self._add(Picture(f"eval-{name}", name, "evaluation",
                              lambda name=name: Image.fromarray(sample_photo(name))))

    def _make_preview(self):
        """The int8 preview of the model and a line on it (or on why there is none): made where
        the model runs in onnxruntime on the CPU, the only engine that quantizes it."""
        from ..export import OnnxStylizer, preview_stylizer
        if not isinstance(self._model, OnnxStylizer):
            return None, f"none (previews are int8 in onnxruntime; this model runs on {self.runtime.describe()})"
        engine, difference, how = preview_stylizer(self.checkpoint, self._model, self.recipe.n_alpha,
                                                   self._model.threads)
        if engine is None:
            log.warning("%s: %s: the exact model previews too", self.checkpoint, how)
            return None, f"none ({how})"
        log.info("%s: %s", self.checkpoint, how)
        return engine, f"int8, within {difference:.2g} grey levels of the exact picture on average"

    def _add(self, picture: Picture) -> Picture:
        with self._lock:
            self.pictures[picture.key] = picture
            uploads = [k for k, p in self.pictures.items() if p.origin == "upload"]
            for key in uploads[: max(0, len(uploads) - self.max_uploads)]:
                del self.pictures[key]  # the oldest uploads go first: memory stays bounded
        return picture

    def info(self) -> dict:
        """What the page shows about the model and offers to move."""
        loss_net = self.meta.get("loss_net", "unknown")
        return {"implementation": self.recipe.name, "checkpoint": self.checkpoint.name,
                "seed": self.meta.get("seed"), "train_steps": self.meta.get("step"),
                "loss_net": loss_net, "loss_net_words": loss_network_words(loss_net),
                "layers": list(self.recipe.style_layers), "default_alpha": list(self.recipe.default_alpha),
                "device": self.runtime.describe(), "preview": self.preview_note,
                "latency": {str(k): v for k, v in self.latency.items()},
                "sizes": list(SIZES), "default_size": self.default_size, "max_pixels": self.max_pixels,
                "max_upload_bytes": self.max_upload_bytes, "updates": self.updates,
                "dropped": self.gate.dropped, "pictures": self.picture_list()}

    def picture_list(self) -> list[dict]:
        with self._lock:
            return [p.describe() for p in self.pictures.values()]

    def picture(self, key: str) -> Picture:
        with self._lock:
            picture = self.pictures.get(key)
        if picture is None:
            raise DataError(f"no picture {key!r} (an upload may have been replaced by newer ones: "
                            "upload it again)")
        return picture

    def refuse_upload(self, name: str, size: int) -> str | None:
        """Why an upload of `size` bytes is refused before it is read, or None."""
        if size > self.max_upload_bytes:
            return f"{name}: {amount(size)}, more than the {amount(self.max_upload_bytes)} an upload may have"
        return None

    def upload(self, data: bytes, name: str) -> Picture:
        """A picture from an upload's bytes; a broken, foreign or huge file raises BadImage
        (a DataError) naming it and saying why."""
        name = Path(name or "upload").name or "upload"
        refusal = self.refuse_upload(name, len(data))
        if refusal:
            raise DataError(refusal)
        rgb = decode_rgb(data, name, min_side=16, max_pixels=self.max_pixels)
        return self._add(Picture(f"upload{next(self._uploads)}", name, "upload", lambda: rgb))

    def alpha(self, text: str) -> torch.Tensor:
        return parse_alpha(text, self.recipe)  # a ConfigError names a value outside [0, 1]

    @property
    def default_size(self) -> int:
        return DEFAULT_SIZE["cuda" if self.runtime.cuda else "cpu"]

    def size(self, text: str | int | None) -> int:
        try:
            size = self.default_size if text in (None, "") else int(text)
        except ValueError:
            raise ConfigError(f"size = {text!r}: expected a whole number of pixels (0: the picture's own)") from None
        if size != 0 and not 16 <= size <= 8192:
            raise ConfigError(f"size = {size}: expected 16 to 8192 pixels, or 0 for the picture's own size")
        return size

    def original(self, key: str, size: int) -> bytes:
        """The picture as the model sees it at `size`, as a PNG."""
        return encode_png(np.asarray(self.picture(key).image(size)))

    def quality(self, text: str | None) -> str:
        if text in (None, ""):
            return "exact"
        if text not in QUALITIES:
            raise ConfigError(f"quality = {text!r}: expected one of {', '.join(QUALITIES)}")
        return text

    def update(self, key: str, alpha: torch.Tensor, size: int, quality: str = "exact") -> Frame:
        """Stylize picture `key` at `alpha`, its longer side at most `size`; `quality` "preview":
        with the int8 model where there is one."""
        image = self.picture(key).image(size)
        w, h = image.size
        if w * h > self.max_pixels:
            raise DataError(f"{self.picture(key).name}: {w}x{h} = {w * h:,} pixels, more than the "
                            f"{self.max_pixels:,} an update may have; choose a smaller size")
        return self._run(to_tensor(image), alpha, quality)

    def _run(self, image: torch.Tensor, alpha: torch.Tensor, quality: str = "exact") -> Frame:
        preview = quality == "preview" and self._preview is not None
        began = time.perf_counter()
        pixels = to_pixels(stylize_tensor(self._preview if preview else self._model, image, alpha, self.runtime),
                           "the stylized picture")
        ran = time.perf_counter()
        png = encode_png(pixels)
        self.updates += 1
        return Frame(png, alpha[0].tolist(), pixels.shape[1], pixels.shape[0], ran - began,
                     time.perf_counter() - began, "preview" if preview else "exact")

    def measure_latency(self, sizes: Sequence[int] = (256, 512), repeats: int = 3, warmup: int = 1,
                        seed: int = 0) -> dict[int, dict[str, float]]:
        """Median seconds of one update of a size x size picture (random pixels, the recipe's
        default alpha) on this runtime: the model alone, and with the PNG the page receives;
        exact, and where there is a preview, previewed. The first `warmup` runs of each size
        and quality (allocations, cuDNN's choices) are not counted."""
        g = torch.Generator().manual_seed(seed)
        alpha = torch.tensor([self.recipe.default_alpha], dtype=torch.float32)
        qualities = QUALITIES if self._preview is not None else ("exact",)
        for size in sizes:
            image = torch.randint(0, 256, (1, 3, size, size), generator=g).float()
            self.latency[size] = {}
            for quality in qualities:
                for _ in range(warmup):
                    self.gate.run("benchmark", lambda: self._run(image, alpha, quality))
                frames = [self.gate.run("benchmark", lambda: self._run(image, alpha, quality))
                          for _ in range(repeats)]
                prefix = "" if quality == "exact" else f"{quality}_"
                self.latency[size] |= {f"{prefix}model_ms": 1e3 * statistics.median(f.model_seconds for f in frames),
                                       f"{prefix}update_ms": 1e3 * statistics.median(f.seconds for f in frames)}
        self.updates = 0  # the page counts its own updates
        return self.latency

    def latency_lines(self) -> list[str]:
        lines = []
        for size, t in self.latency.items():
            lines.append(f"one update at {size}x{size} on {self.runtime.device}: {t['update_ms']:.0f} ms "
                         f"(the model {t['model_ms']:.0f} ms, the PNG the rest)")
            if "preview_update_ms" in t:
                lines.append(f"one preview at {size}x{size} (while a slider moves; {self.preview_note}): "
                             f"{t['preview_update_ms']:.0f} ms (the model {t['preview_model_ms']:.0f} ms)")
        return lines
