"""Conditional instance normalisation: instance norm whose affine comes from outside."""

from __future__ import annotations

import torch
from torch import nn


def instance_norm(x: torch.Tensor, eps: float, unbiased: bool) -> torch.Tensor:
    """(x - mean) / sqrt(var + eps) over H and W, per sample and channel.

    The baseline divides by the unbiased std with no epsilon (as shipped), the paper's
    model by the biased one with eps = 1e-5: both are this one formula.
    """
    mean = x.mean(dim=(2, 3), keepdim=True)
    var = x.var(dim=(2, 3), keepdim=True, correction=int(unbiased))
    return (x - mean) * torch.rsqrt(var + eps)


class ConditionalInstanceNorm(nn.Module):
    """z = gamma * normalised(x) + beta, gamma and beta of shape (B or 1, C); no own affine."""

    def __init__(self, channels: int, eps: float, unbiased: bool):
        super().__init__()
        self.channels, self.eps, self.unbiased = channels, eps, unbiased

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        normed = instance_norm(x, self.eps, self.unbiased)
        return gamma[:, :, None, None] * normed + beta[:, :, None, None]

    def extra_repr(self) -> str:
        return f"{self.channels}, eps={self.eps}, unbiased={self.unbiased}"
