"""An animated alpha sweep: one content image stylized along a path of alpha vectors, as a GIF.

The path starts with every alpha at 0, raises each style layer's alpha alone to 1 and lowers it
again, then all of them together, and ends where it began, so the GIF loops without a jump.
Each frame shows the alpha vector under the image, one bar per layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .errors import ConfigError
from .experiments.common import load_eval_images
from .io import atomic_path
from .runtime import Runtime
from .stylize import load_stylizer, stylize_tensor


def alpha_path(layers: int, frames_per_leg: int) -> list[tuple[float, ...]]:
    """The alpha vector of every frame: 0 -> e_1 -> 0 -> e_2 -> ... -> e_n -> 0 -> 1 -> 0, each
    leg in `frames_per_leg` equal steps (its end is the next leg's first frame, so no frame
    repeats, and the last leg stops one step before 0, where the loop starts again)."""
    if layers < 1 or frames_per_leg < 1:
        raise ConfigError(f"alpha path: {layers} layers and {frames_per_leg} frames per leg; both must be at least 1")
    zero, ones = np.zeros(layers), np.ones(layers)
    stops = [zero]
    for k in range(layers):
        stops += [np.eye(layers)[k], zero]
    stops += [ones, zero]
    frames = []
    for start, end in zip(stops[:-1], stops[1:]):
        for i in range(frames_per_leg):
            t = i / frames_per_leg
            frames.append(tuple(float(v) for v in np.round((1 - t) * start + t * end, 6)))
    return frames


def _alpha_panel(width: int, layer_names: Sequence[str], alpha: Sequence[float], font) -> Image.Image:
    """One row per layer: its name and a bar as long as its alpha."""
    row = font.getbbox("relu0_0")[3] + 4
    panel = Image.new("RGB", (width, row * len(layer_names) + 4), "white")
    draw = ImageDraw.Draw(panel)
    label = int(draw.textlength("relu0_0 ", font=font)) + 4
    for k, (name, value) in enumerate(zip(layer_names, alpha)):
        y = 2 + k * row
        draw.text((4, y), name, fill="black", font=font)
        draw.rectangle([label, y + 2, width - 6, y + row - 3], outline="grey")
        if value > 0:
            draw.rectangle([label, y + 2, label + round(value * (width - 6 - label)), y + row - 3], fill="black")
    return panel


def _frame(image: torch.Tensor, layer_names: Sequence[str], alpha: Sequence[float], width: int, font) -> Image.Image:
    """The output above the alpha bars. A small output is enlarged by a whole factor to at least
    `width` pixels (each pixel a block: the GIF shows the pixels the model made, and blocks
    compress far better than interpolated ones); one wider than 2 x `width` (the paper's 512 px)
    is shrunk to that, since the GIF is a preview and its size grows with its area."""
    pixels = image.clamp(0, 255).round().to(torch.uint8)[0].permute(1, 2, 0).cpu().numpy()
    picture = Image.fromarray(pixels)
    if picture.width > 2 * width:
        picture = picture.resize((2 * width, max(1, round(picture.height * 2 * width / picture.width))),
                                 Image.LANCZOS)
    factor = max(1, -(-width // picture.width))
    picture = picture.resize((picture.width * factor, picture.height * factor), Image.NEAREST)
    panel = _alpha_panel(picture.width, layer_names, alpha, font)
    frame = Image.new("RGB", (picture.width, picture.height + panel.height), "white")
    frame.paste(picture, (0, 0))
    frame.paste(panel, (0, picture.height))
    return frame


def _shared_palette(frames: list[Image.Image], colours: int = 128, samples: int = 8) -> list[Image.Image]:
    """The frames in one palette of `colours`, drawn from `samples` frames spread over the
    loop, without dithering: dithered frames differ in every pixel, which GIF cannot compress
    (a 48-frame sweep of a noisy 96 px model took 2 MB, and 0.5 MB this way)."""
    picked = frames[::max(1, len(frames) // samples)]
    strip = Image.new("RGB", (picked[0].width, picked[0].height * len(picked)))
    for i, frame in enumerate(picked):
        strip.paste(frame, (0, i * frame.height))
    palette = strip.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    return [frame.quantize(palette=palette, dither=Image.Dither.NONE) for frame in frames]


def alpha_sweep_gif(checkpoint: str | Path, image: str | Path, out: str | Path, size: int = 128,
                    frames_per_leg: int = 4, frame_ms: int = 120, width: int = 192,
                    runtime: Runtime | None = None) -> Path:
    """Stylize `image` (cropped to `size` x `size`, as the experiments crop their evaluation
    images) along alpha_path and write the frames, at least `width` pixels wide, as a looping GIF."""
    if frame_ms < 20:
        raise ConfigError(f"frame duration {frame_ms} ms: GIF viewers show at least 20 ms per frame")
    runtime = runtime or Runtime.resolve(precision="fp32", compile=False, channels_last=False)
    model, meta = load_stylizer(checkpoint, runtime)
    runtime = meta["runtime"]
    layers = list(meta["recipe"].style_layers)
    _, content = load_eval_images([image], size)
    font = ImageFont.load_default()
    frames = [_frame(stylize_tensor(model, content, torch.tensor([alpha], dtype=torch.float32), runtime),
                     layers, alpha, width, font)
              for alpha in alpha_path(len(layers), frames_per_leg)]
    frames = _shared_palette(frames)
    out = Path(out)
    with atomic_path(out) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0,
                       optimize=True)
    return out
