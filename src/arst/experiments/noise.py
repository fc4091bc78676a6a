"""Noise (spec section 5, fifth claim; paper Fig. 5, report Figs. 6 and 7): how much does
the output change when the input is spotted, when alpha changes, or both?

Conditions, each against the noise-free output at the base alpha:
- mask: the paper's method. A white mask (ones) in which fewer than 10 random pixels are
  black (zeros), "passed through the inverse of a Gaussian filter", multiplied into the
  input. Our reading: blur the *inverted* mask (the black dots, as ones) with a Gaussian,
  rescale so the blurred dots peak at 1 (their centres stay black), and invert back:
  mask = 1 - g(1 - m) / max g(1 - m). This turns each black pixel into a soft dark blob
  of about sigma pixels rather than letting the blur wash it out to nearly white.
- spots: larger black discs (count and radius from config), multiplied in the same way.
- alpha: a change of alpha alone (every style alpha moved by delta, kept in [0, 1]).
- mask+alpha, spots+alpha: both.
The table gives the output change (mean absolute difference from the noise-free output,
0..255) and its ratio to the input change (NaN where the input did not change)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .common import MODEL_KEYS
from .registry import SIZE, Experiment, Figure, Setting

if TYPE_CHECKING:
    import pandas as pd
    import torch

EXPERIMENT = Experiment(
    name="noise", measure="noise", target="noise_grid", images=True, category="Noise",
    help="output change under the paper's noise mask, larger spots, a change of alpha, and both",
    summary_help="output change per noise condition (mean over images)",
    title="Noise: output change (0..255) and its ratio to the input change (loss network: {nets})",
    settings=(
        Setting("noise.dots", 9, "black pixels of the paper's mask (fewer than 10)",
                {"type": "integer", "minimum": 1, "maximum": 9}),
        Setting("noise.sigma", 1.5, "Gaussian of the paper's mask, pixels", {"type": "number", "minimum": 0}),
        Setting("noise.spots", 5, "larger black spots: how many", {"type": "integer", "minimum": 1}),
        Setting("noise.radius", 6.0, "larger black spots: radius, pixels", {"type": "number", "minimum": 1}),
        Setting("noise.alpha", 1.0, "the base alpha of every style layer",
                {"type": "number", "minimum": 0, "maximum": 1}, param="alpha_base"),
        Setting("noise.alpha_delta", 0.2, "the change of alpha", {"type": "number", "minimum": 0, "maximum": 1}),
        Setting("noise.seed", 0, "seed of the masks", {"type": "integer", "minimum": 0}),
    ),
    figures=(Figure("noise", "arst.plots.comparison:noise_figure", "figure: noisy inputs and the outputs' change",
                    "noise_figure.rst", reads=("table", "images")),),
)
NOISE = {s.key.split(".")[1]: s.default for s in EXPERIMENT.settings}
CONDITIONS = ("mask", "spots", "alpha", "mask+alpha", "spots+alpha")


def dot_mask(shape: tuple[int, int], dots: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """The paper's mask: `dots` black pixels in white, through the inverse Gaussian filter."""
    from scipy.ndimage import gaussian_filter

    h, w = shape
    holes = np.zeros((h, w))
    holes[rng.integers(0, h, dots), rng.integers(0, w, dots)] = 1.0
    if sigma > 0 and holes.any():
        holes = gaussian_filter(holes, sigma)
        holes /= holes.max()
    return 1.0 - holes


def spot_mask(shape: tuple[int, int], spots: int, radius: float, rng: np.random.Generator) -> np.ndarray:
    """Black discs of `radius` pixels at `spots` random centres."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    mask = np.ones((h, w))
    for cy, cx in zip(rng.integers(0, h, spots), rng.integers(0, w, spots)):
        mask[(yy - cy) ** 2 + (xx - cx) ** 2 <= radius ** 2] = 0.0
    return mask


def changed_alpha(alpha: torch.Tensor, delta: float) -> torch.Tensor:
    """Each alpha moved by delta: down where that stays >= 0, else up (clamped to [0, 1])."""
    import torch

    down = alpha - delta
    return torch.where(down >= 0, down, alpha + delta).clamp(0.0, 1.0)


def change_table(clean_input, clean_output, noisy_input, noisy_output) -> dict[str, float]:
    """Mean absolute input and output change (0..255, outputs clamped as saved) and their ratio."""
    d_in = float((noisy_input - clean_input).abs().mean())
    d_out = float((noisy_output.clamp(0, 255) - clean_output.clamp(0, 255)).abs().mean())
    return {"input_change": d_in, "output_change": d_out,
            "ratio": d_out / d_in if d_in > 0 else float("nan")}


def noise(checkpoint, style, images, size=SIZE, dots=NOISE["dots"], sigma=NOISE["sigma"], spots=NOISE["spots"],
          radius=NOISE["radius"], alpha_base=NOISE["alpha"], alpha_delta=NOISE["alpha_delta"], seed=NOISE["seed"],
          style_name="style", image_dir=None, runtime=None) -> pd.DataFrame:
    import pandas as pd
    import torch

    from ..data.images import save_image
    from ..evaluate import Evaluator
    from .common import load_eval_images

    ev = Evaluator.load(checkpoint, style, runtime)
    names, batch = load_eval_images(images, size)
    base = torch.full((1, ev.recipe.n_alpha), float(alpha_base))
    moved = changed_alpha(base, alpha_delta)
    rows = []
    for b, name in enumerate(names):
        rng = np.random.default_rng([seed, b])
        shape = tuple(batch.shape[-2:])
        masks = {"mask": torch.from_numpy(dot_mask(shape, dots, sigma, rng)).float(),
                 "spots": torch.from_numpy(spot_mask(shape, spots, radius, rng)).float()}
        x = batch[b:b + 1]
        clean = ev.stylize(x, base)
        files = {"clean": ""}
        if image_dir is not None:
            files["clean"] = str(Path(image_dir) / name / "clean.png")
            save_image(clean[0].cpu(), files["clean"])
        for condition in CONDITIONS:
            kind = condition.split("+")[0]
            noisy_x = x * masks[kind] if kind in masks else x
            a = moved if condition.endswith("alpha") else base
            out = ev.stylize(noisy_x, a)
            input_file = image_file = ""
            if image_dir is not None:
                tag = condition.replace("+", "_")
                input_file = str(Path(image_dir) / name / f"{tag}_input.png")
                image_file = str(Path(image_dir) / name / f"{tag}.png")
                save_image(noisy_x[0].cpu(), input_file)
                save_image(out[0].cpu(), image_file)
            rows.append({**ev.labels, "style": style_name, "image": name, "condition": condition,
                         "alpha_change": float((a - base).abs().mean()),
                         **change_table(x, clean, noisy_x, out), "clean_file": files["clean"],
                         "input_file": input_file, "image_file": image_file})
    return pd.DataFrame(rows)


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    keys = [*MODEL_KEYS, "condition"]
    return (table.groupby(keys, sort=False)[["alpha_change", "input_change", "output_change", "ratio"]]
            .mean().reset_index())
