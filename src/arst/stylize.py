"""Checkpoint -> stylized images, for any alpha and content images of any size."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Callable, Sequence

import torch

from .checkpoint import load_model
from .data.images import list_images, load_content_image, save_image
from .errors import ConfigError, DataError
from .nn.model import AdjustableStyleTransfer, any_size
from .recipe import Recipe, check_alpha
from .runtime import Runtime

log = logging.getLogger("arst")


def parse_alpha(value: str | Sequence[float] | None, recipe: Recipe, source: str = "alpha") -> torch.Tensor:
    """'0.5,1,0' or a sequence -> (1, n); None -> the recipe's inference alpha.
    The length must match the recipe's style layers."""
    if value is None:
        values = list(recipe.default_alpha)
    elif isinstance(value, str):
        try:
            values = [float(v) for v in value.replace(" ", "").split(",") if v]
        except ValueError:
            raise ConfigError(f"{source} = {value!r}: expected comma-separated numbers") from None
    else:
        values = [float(v) for v in value]
    if len(values) != recipe.n_alpha:
        raise ConfigError(
            f"{source} = {values} has {len(values)} values, but recipe {recipe.name!r} has "
            f"{recipe.n_alpha} style layers ({', '.join(recipe.style_layers)})")
    check_alpha(values, source)
    return torch.tensor(values, dtype=torch.float32)[None]


@torch.no_grad()
def stylize_tensor(model: AdjustableStyleTransfer, image: torch.Tensor, alpha: torch.Tensor,
                   runtime: Runtime | None = None) -> torch.Tensor:
    """(B, 3, H, W) in 0..255 -> same size, float, unclamped (the baseline's output is
    unbounded; it is clamped only when saved); any H and W (any_size)."""
    runtime = runtime or Runtime(torch.device("cpu"))
    with runtime.autocast():
        y = any_size(model, runtime.images(image), alpha.to(runtime.device))
    return y.float()


def load_stylizer(checkpoint: str | Path, runtime: Runtime) -> tuple[Callable, dict]:
    """A checkpoint's model as `runtime` runs it for stylizing (built with its channel padding,
    on its device, on its fast path: Runtime.inference), and the checkpoint's metadata, with
    meta["runtime"] the runtime that runs it: `runtime`, or on the onnxruntime engine, torch's
    when the export's output is not within arst.export.TOLERANCE of torch's. On onnxruntime the
    export is made once per checkpoint file and cached (arst.export.checked_stylizer): a later
    start only checks it against torch at arst.export.PROBE_SIZE."""
    model, meta = load_model(checkpoint, runtime.channel_multiple)
    if runtime.engine == "onnxruntime":
        from .export import checked_stylizer
        engine, difference, how = checked_stylizer(checkpoint, model, meta)
        if engine is not None:
            log.info("%s: %s, within %.2g grey levels of torch", checkpoint, how, difference)
            return engine, {**meta, "runtime": runtime}
        runtime = dataclasses.replace(runtime, engine="torch")
        log.warning("%s: %s: stylizing with torch", checkpoint, how)
    return runtime.inference(runtime.module(model)), {**meta, "runtime": runtime}


def output_paths(inputs: Sequence[str | Path], out: str | Path) -> list[tuple[Path, Path]]:
    """(content image, output image) for `arst stylize`. A folder among the inputs stands for
    every image in it (and below); one image file with an `out` that has a suffix is written
    to `out`, otherwise each image to out/<its stem>.png. Refused before anything is written:
    a missing input, two inputs that would be written to the same file (a/x.jpg and b/x.png),
    and an output that is one of the inputs."""
    images: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            images += list_images(item)
        elif item.is_file():
            images.append(item)
        else:
            raise DataError(f"content image or folder not found: {item}")
    out = Path(out)
    if len(inputs) == 1 and Path(inputs[0]).is_file() and out.suffix:
        pairs = [(images[0], out)]
    else:
        pairs = [(image, out / f"{image.stem}.png") for image in images]
    first_for: dict[Path, Path] = {}
    for image, target in pairs:
        key = target.resolve()
        if key in first_for and first_for[key] != image:
            raise ConfigError(f"{first_for[key]} and {image} would both be written to {target}: "
                              "rename one, or stylize them into separate --out folders")
        first_for[key] = image
    clobbered = sorted(set(first_for) & {image.resolve() for image in images})
    if clobbered:
        raise ConfigError(f"{clobbered[0]} is an input and would be overwritten by an output: "
                          "choose another --out")
    return list(dict.fromkeys(pairs))


def stylize_files(checkpoint: str | Path, inputs: Sequence[str | Path], outputs: Sequence[str | Path],
                  alpha: str | Sequence[float] | None = None, runtime: Runtime | None = None) -> list[Path]:
    if len(inputs) != len(outputs):
        raise ConfigError(f"{len(inputs)} inputs but {len(outputs)} outputs")
    runtime = runtime or Runtime.resolve(precision="fp32", compile=False, channels_last=False)
    model, meta = load_stylizer(checkpoint, runtime)
    runtime = meta["runtime"]
    log.info("stylizing on %s", runtime.describe())
    a = parse_alpha(alpha, meta["recipe"], source=f"alpha for {checkpoint}")
    written = []
    for src, dst in zip(inputs, outputs):
        save_image(stylize_tensor(model, load_content_image(src), a, runtime).cpu(), dst)
        written.append(Path(dst))
    return written
