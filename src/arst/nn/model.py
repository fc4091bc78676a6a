"""The adjustable model: conditioner(alpha) -> CIN parameters of the stylizer T."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from ..recipe import Recipe
from .conditioner import Conditioner, cin_layout
from .stylizer import Stylizer


class AdjustableStyleTransfer(nn.Module):
    def __init__(self, recipe: Recipe):
        super().__init__()
        self.n_alpha = recipe.n_alpha
        self.stylizer = Stylizer(recipe.residual_blocks, recipe.cin_eps, recipe.cin_unbiased,
                                 recipe.cin_position, recipe.last_norm, recipe.last_activation)
        layout = cin_layout(self.stylizer.norm_channels(), recipe.cin_order)
        self.conditioner = Conditioner(recipe.conditioner, recipe.n_alpha, layout,
                                       recipe.conditioner_width, recipe.conditioner_depth)
        if recipe.init == "normal":
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.normal_(m.weight, 0.0, recipe.init_std)
                    nn.init.zeros_(m.bias)
        if recipe.conditioner == "mlp":
            self.conditioner.reset_head_to_identity(recipe.init_std)

    def forward(self, content: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """content (B, 3, H, W) in 0..255; alpha (B, n) per sample or (1, n) for the batch."""
        if alpha.dim() == 1:
            alpha = alpha[None]
        if alpha.shape[-1] != self.n_alpha:
            raise ConfigError(f"alpha has {alpha.shape[-1]} values, the model expects {self.n_alpha}")
        return self.stylizer(content, self.conditioner(alpha.to(content.dtype)))


def build_model(recipe: Recipe, seed: int) -> AdjustableStyleTransfer:
    """Seeded construction, so the untrained baseline conditioner is the same on every run."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return AdjustableStyleTransfer(recipe)
