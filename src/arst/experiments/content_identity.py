"""Content at alpha = 0 (spec section 5, second claim): with every style alpha at 0 the
model should give back its content image. PSNR and SSIM from scikit-image."""

from __future__ import annotations

from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np

from .common import load_eval_images
from .registry import SIZE, Experiment, Figure

if TYPE_CHECKING:
    import pandas as pd
    import torch

EXPERIMENT = Experiment(
    name="content_identity", measure="content_identity", target="alpha_zero", images=True, category="Content at alpha 0",
    claims_key="identity", help="PSNR and SSIM of the output at alpha = 0 against the content image",
    summary_help="merge the content-identity tables into one CSV and Markdown table",
    title="Content at alpha = 0 (loss network: {nets})",
    figures=(Figure("content_identity", "arst.plots.comparison:content_identity_figure",
                    "figure: content image beside the output at alpha 0", "content_identity_figure.rst",
                    reads=("table", "images")),),
)


def to_uint8_hwc(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) float 0..255 (unclamped) -> (H, W, 3) uint8, the image a viewer would see."""
    import torch

    return image.detach().cpu().clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def image_metrics(reference: np.ndarray, output: np.ndarray) -> dict[str, float]:
    """PSNR (dB; inf when identical) and SSIM of output against reference, both uint8 HWC."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    reference, output = np.asarray(reference), np.asarray(output)
    if np.array_equal(reference, output):
        psnr = float("inf")
    else:
        psnr = float(peak_signal_noise_ratio(reference, output, data_range=255))
    # Wang et al.'s SSIM, as published values use it: an 11x11 Gaussian window of sigma 1.5 and
    # population statistics (scikit-image's default is a flat 7x7 window).
    ssim = float(structural_similarity(reference, output, channel_axis=2, data_range=255,
                                       gaussian_weights=True, sigma=1.5, use_sample_covariance=False))
    mad = float(np.abs(reference.astype(np.float64) - output.astype(np.float64)).mean())
    return {"psnr": psnr, "ssim": ssim, "mean_abs_diff": mad}


def content_identity(checkpoint, style, images, size=SIZE, style_name="style", image_dir=None,
                     runtime=None) -> pd.DataFrame:
    """Per image: the output at alpha 0 against the content (psnr, ssim, mean_abs_diff), and the
    control, the output at alpha 1 on every layer against the content (the same with `ones_`):
    a model that returns its input whatever alpha passes the first and fails the control."""
    import pandas as pd
    import torch

    from ..data.images import save_image
    from ..evaluate import Evaluator

    ev = Evaluator.load(checkpoint, style, runtime)
    names, batch = load_eval_images(images, size)
    zeros = ev.stylize(batch, torch.zeros(1, ev.recipe.n_alpha))
    ones = ev.stylize(batch, torch.ones(1, ev.recipe.n_alpha))
    rows = []
    for b, name in enumerate(names):
        content = to_uint8_hwc(batch[b])
        files = {"content_file": "", "image_file": "", "ones_file": ""}
        if image_dir is not None:
            files = {key: str(Path(image_dir) / f"{name}_{tag}.png")
                     for key, tag in (("content_file", "content"), ("image_file", "alpha0"), ("ones_file", "alpha1"))}
            for key, image in (("content_file", batch), ("image_file", zeros), ("ones_file", ones)):
                save_image(image[b].cpu(), files[key])
        control = {f"ones_{k}": v for k, v in image_metrics(content, to_uint8_hwc(ones[b])).items()}
        rows.append({**ev.labels, "style": style_name, "image": name,
                     **image_metrics(content, to_uint8_hwc(zeros[b])), **control, **files})
    return pd.DataFrame(rows)


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=["content_file", "image_file", "ones_file"], errors="ignore")
