"""The adjustable model: conditioner(alpha) -> CIN parameters of the stylizer T."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..recipe import Recipe
from .conditioner import Conditioner, cin_layout
from .stylizer import Stylizer


class AdjustableStyleTransfer(nn.Module):
    """`channel_multiple`: the stylizer's convolutions compute with their channel counts padded
    to this multiple (ops.conv2d; a runtime's choice, the results are the same)."""

    def __init__(self, recipe: Recipe, channel_multiple: int = 1):
        super().__init__()
        self.n_alpha = recipe.n_alpha
        stylizer = dict(residual_blocks=recipe.residual_blocks, cin_eps=recipe.cin_eps,
                        cin_unbiased=recipe.cin_unbiased, cin_position=recipe.cin_position,
                        last_norm=recipe.last_norm, last_activation=recipe.last_activation)
        # The port seeds, builds the conditioner, then the stylizer: built in that order, a seed
        # draws the port's weights (for the baseline, whose conditioner is never trained, its
        # alpha map itself). The layout comes from a stylizer on the meta device, which has no
        # storage and draws no random numbers.
        with torch.device("meta"):
            norm_channels = Stylizer(**stylizer).norm_channels()
        self.conditioner = Conditioner(recipe.conditioner, recipe.n_alpha,
                                       cin_layout(norm_channels, recipe.cin_order),
                                       recipe.conditioner_width, recipe.conditioner_depth,
                                       recipe.conditioner_norm, recipe.conditioner_residual, recipe.gamma_bound)
        self.stylizer = Stylizer(**stylizer, channel_multiple=channel_multiple)
        if recipe.init == "normal":
            for m in self.stylizer.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.normal_(m.weight, 0.0, recipe.init_std)
                    nn.init.zeros_(m.bias)
        self.conditioner.init(recipe.conditioner_init, recipe.init_std,
                              identity_head=recipe.conditioner != "prudnikov", head=recipe.conditioner_head_init)

    def forward(self, content: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """content (B, 3, H, W) in 0..255; alpha (B, n) per sample or (1, n) for the batch."""
        if alpha.dim() == 1:
            alpha = alpha[None]
        if alpha.shape[-1] != self.n_alpha:
            raise ConfigError(f"alpha has {alpha.shape[-1]} values, the model expects {self.n_alpha}")
        return self.stylizer(content, self.conditioner(alpha.to(content.dtype)))


def build_model(recipe: Recipe, seed: int, channel_multiple: int = 1) -> AdjustableStyleTransfer:
    """Seeded construction, so the untrained baseline conditioner is the same on every run."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return AdjustableStyleTransfer(recipe, channel_multiple)


def any_size(model: Callable, x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """model(x, alpha) for x of any height and width: padded by reflection to a multiple of 4
    (the two stride-2 convolutions and upsamplings then give back its size), the output cut
    back. One function for stylize.stylize_tensor and the ONNX export (arst.export), so
    both pad alike. Padded even by zero pixels: under torch.export the sizes are symbolic, and a branch
    on them would fix the exported graph to the example's remainder (a copy costs little
    beside the model)."""
    h, w = x.shape[-2:]
    x = F.pad(x, (0, (-w) % 4, 0, (-h) % 4), mode="reflect")
    return model(x, alpha)[..., :h, :w]
