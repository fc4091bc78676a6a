"""The stylizing network T (Johnson et al.'s, with every norm conditional)."""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from .cin import ConditionalInstanceNorm
from .ops import conv2d

Affine = dict[str, tuple[torch.Tensor, torch.Tensor]]


class ConvLayer(nn.Module):
    """Optional nearest x2 upsampling, reflection pad, conv (convolve), then CIN and ReLU in
    either order (activate): two steps, so that nn.inference can compute the first otherwise."""

    def __init__(self, name, c_in, c_out, kernel, stride=1, upsample=False, norm=True,
                 relu=True, cin_eps=1e-5, cin_unbiased=False, norm_after_relu=False, channel_multiple=1):
        super().__init__()
        self.name, self.upsample, self.relu, self.norm_after_relu = name, upsample, relu, norm_after_relu
        self.channel_multiple = channel_multiple  # the convolution's channels padded to it: ops.conv2d
        self.pad = nn.ReflectionPad2d(kernel // 2)
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride)
        self.norm = ConditionalInstanceNorm(c_out, cin_eps, cin_unbiased) if norm else None

    def forward(self, x: torch.Tensor, affine: Affine) -> torch.Tensor:
        return self.activate(self.convolve(x), affine)

    def convolve(self, x: torch.Tensor) -> torch.Tensor:
        """The layer's linear part: upsampling, padding, convolution."""
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return conv2d(self.conv, self.pad(x), self.channel_multiple)

    def activate(self, x: torch.Tensor, affine: Affine) -> torch.Tensor:
        """What follows the convolution: CIN and ReLU, in the recipe's order."""
        if self.relu and self.norm_after_relu:
            x = F.relu(x)
        if self.norm is not None:
            x = self.norm(x, *affine[self.name])
        if self.relu and not self.norm_after_relu:
            x = F.relu(x)
        return x


class ResidualBlock(nn.Module):
    """conv, norm, ReLU, conv, norm, plus the input; no ReLU after the sum."""

    def __init__(self, name: str, channels: int, **norm_kw):
        super().__init__()
        self.a = ConvLayer(f"{name}.a", channels, channels, 3, **norm_kw)
        self.b = ConvLayer(f"{name}.b", channels, channels, 3, relu=False, **norm_kw)

    def forward(self, x: torch.Tensor, affine: Affine) -> torch.Tensor:
        return x + self.b(self.a(x, affine), affine)


class Stylizer(nn.Module):
    def __init__(self, residual_blocks=7, cin_eps=1e-5, cin_unbiased=False,
                 cin_position="before_relu", last_norm=True, last_activation="sigmoid", channel_multiple=1):
        super().__init__()
        kw = dict(cin_eps=cin_eps, cin_unbiased=cin_unbiased,
                  norm_after_relu=cin_position == "after_relu", channel_multiple=channel_multiple)
        self.down = nn.ModuleList([
            ConvLayer("conv1", 3, 32, 9, **kw),
            ConvLayer("conv2", 32, 64, 3, stride=2, **kw),
            ConvLayer("conv3", 64, 128, 3, stride=2, **kw),
        ])
        self.res = nn.ModuleList([ResidualBlock(f"res{i + 1}", 128, **kw) for i in range(residual_blocks)])
        self.up = nn.ModuleList([
            ConvLayer("up1", 128, 64, 3, upsample=True, **kw),
            ConvLayer("up2", 64, 32, 3, upsample=True, **kw),
        ])
        self.out = ConvLayer("out", 32, 3, 9, norm=last_norm, relu=False, **kw)
        self.last_activation = last_activation

    def norm_channels(self) -> "OrderedDict[str, int]":
        """Every CIN's name and width, in forward order."""
        return OrderedDict((m.name, m.norm.channels) for m in self.modules()
                           if isinstance(m, ConvLayer) and m.norm is not None)

    def forward(self, x: torch.Tensor, affine: Affine) -> torch.Tensor:
        for layer in self.down:
            x = layer(x, affine)
        for block in self.res:
            x = block(x, affine)
        for layer in self.up:
            x = layer(x, affine)
        x = self.out(x, affine)
        if self.last_activation == "sigmoid":
            return 255.0 * torch.sigmoid(x)
        return x
