"""The stylizer rewritten for onnxruntime's CPU engine: the same function, computed with fewer
multiplications and fewer passes over memory (inference_form). The ONNX export traces this form
(arst.export); training and torch's stylizing run the model as built.

Why each rewrite, from onnxruntime's own profile of the corrected model at 256x256 (2 cores,
share of one run's node time; the convolutions run near the machine's peak, so the time is
theirs to save):
- Upsampling layers (up1, up2: 12% together). Nearest x2 upsampling, reflection padding by 1
  and a 3x3 convolution read each low-resolution pixel 2 or 3 times with the same weights: as a
  2x2 convolution at the input's resolution per output phase (a sub-pixel convolution) they
  take 4/9 of the multiplications, and no upsampled copy is made or padded.
- The output layer (out: 12%, from 4% of the multiplications). onnxruntime computes
  convolutions in blocks of 16 output channels (its NCHWc layout, on AVX-512), so a
  convolution to 3 channels costs as much as one to 16. As a stride-2 convolution that gives
  each output pixel's phase (2x2) as a channel, it has 12 channels and a 10x10 kernel: a third
  of the work.
- Conditional instance norm (a chain of 10 elementwise and reduction nodes per layer, about
  6%): one InstanceNormalization node that takes gamma and beta as its scale and bias.

Each rewrite is exact up to float rounding (the tests compare it with the model as built).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from .cin import ConditionalInstanceNorm
from .model import AdjustableStyleTransfer
from .stylizer import Affine, ConvLayer

# Nearest x2 upsampling then a 3x3 convolution: output row 2i + p reads upsampled rows
# 2i + p - 1 .. 2i + p + 1, which are input rows i - 1, i, i (p = 0) or i, i, i + 1 (p = 1). Row p
# of this table sums the 3x3 kernel's taps onto the 2 input rows that phase p reads.
_PHASE_TAPS = torch.tensor([[[1., 0., 0.], [0., 1., 1.]],
                            [[1., 1., 0.], [0., 0., 1.]]])


class PhaseInterleave(nn.Module):
    """(N, 4C, H, W) phases -> (N, C, 2H - 2 cut, 2W - 2 cut): channel c*4 + g_y*2 + g_x at (a, b)
    goes to (2a + g_y - cut, 2b + g_x - cut), as pixel_shuffle and then a cut of `cut` pixels
    per side would. Computed as a transposed convolution, one group per output channel, with
    one-hot 2x2 kernels, stride 2 and padding `cut`: onnxruntime runs that one node faster than
    DepthToSpace and the cut's two Slices (0.96 of the model's time at 256 and at 512 px, A/B
    under the same load)."""

    def __init__(self, channels: int, cut: int):
        super().__init__()
        self.channels, self.cut = channels, cut  # Python ints: fixed in the exported graph
        self.register_buffer("kernel", torch.eye(4).reshape(4, 1, 2, 2).repeat(channels, 1, 1, 1))

    def forward(self, phases: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose2d(phases, self.kernel.to(phases), stride=2, padding=self.cut, groups=self.channels)


class SubpixelUpsamplingLayer(nn.Module):
    """An upsampling ConvLayer (nearest x2, reflection pad 1, 3x3 convolution, then its CIN and
    ReLU) with its linear part computed as one 2x2 convolution at the input's resolution.

    Nearest upsampling then reflection padding by 1 is the input padded by replication, then
    upsampled. Output pixel (2i + p, 2j + q) is then a 2x2 convolution of that padded input at
    (i + p, j + q), with the kernel of phase (p, q) (_PHASE_TAPS). One convolution computes all
    four phases as channels c*4 + g_y*2 + g_x at every position a of the padded input, and
    PhaseInterleave puts them at rows 2a + g_y: with phase p in group g = 1 - p, row
    2(i + p) + 1 - p = 2i + p + 1, so the output is the interleaved one cut by 1 on each side."""

    def __init__(self, layer: ConvLayer):
        super().__init__()
        conv = layer.conv
        if not (layer.upsample and conv.kernel_size == (3, 3) and conv.stride == (1, 1)
                and isinstance(layer.pad, nn.ReflectionPad2d) and tuple(layer.pad.padding) == (1, 1, 1, 1)):
            raise ValueError(f"{layer.name}: not an upsampling 3x3 layer with reflection padding 1")
        self.layer = layer  # its CIN and ReLU (activate); its convolution's weights are read here
        w = conv.weight.detach()
        # phases[o, p, q, c] = _PHASE_TAPS[p] @ w[o, c] @ _PHASE_TAPS[q].T, a 2x2 kernel
        phases = torch.einsum("pai,ocij,qbj->opqcab", _PHASE_TAPS.to(w), w, _PHASE_TAPS.to(w))
        # Group g holds phase 1 - g (see the docstring).
        self.register_buffer("weight", phases.flip(1, 2).reshape(-1, w.shape[1], 2, 2).contiguous())
        self.register_buffer("bias", conv.bias.detach().repeat_interleave(4))
        self.interleave = PhaseInterleave(w.shape[0], cut=1)

    def convolve(self, x: torch.Tensor) -> torch.Tensor:
        return self.interleave(F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), self.weight, self.bias))

    def forward(self, x: torch.Tensor, affine: Affine) -> torch.Tensor:
        return self.layer.activate(self.convolve(x), affine)


class PhaseStridedLayer(nn.Module):
    """A stride-1 ConvLayer (reflection pad k // 2, k x k convolution, then its CIN and ReLU)
    with its convolution computed as a stride-2 one with a (k + 1) x (k + 1) kernel and 4 times
    the output channels, one per output phase, interleaved (PhaseInterleave): channel
    o*4 + p*2 + q at position (i, j) is output o at (2i + p, 2j + q), its kernel the original
    one shifted by (p, q). For even heights and widths (the output layer's input is a multiple
    of 4: nn.model.any_size)."""

    def __init__(self, layer: ConvLayer):
        super().__init__()
        conv = layer.conv
        k = conv.kernel_size[0]
        if layer.upsample or conv.stride != (1, 1) or conv.kernel_size != (k, k) or k % 2 != 1:
            raise ValueError(f"{layer.name}: not a stride-1 layer with an odd square kernel")
        self.layer = layer  # its padding, CIN and ReLU; its convolution's weights are read here
        w = conv.weight.detach()
        shifted = w.new_zeros(w.shape[0], 2, 2, w.shape[1], k + 1, k + 1)
        for p in range(2):
            for q in range(2):
                shifted[:, p, q, :, p:p + k, q:q + k] = w
        self.register_buffer("weight", shifted.reshape(-1, w.shape[1], k + 1, k + 1))
        self.register_buffer("bias", conv.bias.detach().repeat_interleave(4))
        self.interleave = PhaseInterleave(w.shape[0], cut=0)

    def convolve(self, x: torch.Tensor) -> torch.Tensor:
        return self.interleave(F.conv2d(self.layer.pad(x), self.weight, self.bias, stride=2))

    def forward(self, x: torch.Tensor, affine: Affine) -> torch.Tensor:
        return self.layer.activate(self.convolve(x), affine)


class FusedConditionalInstanceNorm(nn.Module):
    """ConditionalInstanceNorm as one F.instance_norm with gamma and beta as its affine, which
    the ONNX exporters write as one InstanceNormalization node. One gamma and beta for the
    batch (the ONNX file takes one alpha for it).

    F.instance_norm divides by the biased std. The unbiased one (the baseline's) is the biased
    one times sqrt(n / (n - 1)), n = H * W, so gamma is scaled by sqrt((n - 1) / n), computed
    from the input's size (so the exported graph computes it at any size). Exact where eps is 0
    (the baseline) or the std is biased (corrected); with both, eps would be scaled by
    n / (n - 1), a change far below float32's resolution of the result for any picture."""

    def __init__(self, norm: ConditionalInstanceNorm):
        super().__init__()
        self.channels, self.eps, self.unbiased = norm.channels, norm.eps, norm.unbiased

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        if gamma.shape[0] != 1 or beta.shape[0] != 1:
            raise ValueError("the fused instance norm takes one gamma and beta for the batch: alpha (1, n)")
        gamma, beta = gamma[0], beta[0]
        if self.unbiased:
            n = x.shape[-2] * x.shape[-1]
            gamma = gamma * ((n - 1) / n) ** 0.5
        return F.instance_norm(x, weight=gamma, bias=beta, eps=self.eps)


def inference_form(model: AdjustableStyleTransfer) -> AdjustableStyleTransfer:
    """A copy of `model` (unpadded channels) with the stylizer's layers rewritten as the
    module's docstring says: the upsampling layers as SubpixelUpsamplingLayer, the output layer
    as PhaseStridedLayer, every CIN as FusedConditionalInstanceNorm. Takes alpha (1, n); for
    inference only (its derived weights are buffers, copied from the model's at this call)."""
    form = copy.deepcopy(model).eval()
    stylizer = form.stylizer
    for layer in stylizer.modules():
        if isinstance(layer, ConvLayer):
            if layer.channel_multiple != 1:
                raise ValueError("the inference form computes unpadded convolutions: build the model "
                                 "with channel_multiple 1")
            if layer.norm is not None:
                layer.norm = FusedConditionalInstanceNorm(layer.norm)
    stylizer.up = nn.ModuleList(SubpixelUpsamplingLayer(layer) for layer in stylizer.up)
    stylizer.out = PhaseStridedLayer(stylizer.out)
    return form
