"""nn.inference: each rewritten layer computes what the layer as built computes (random weights,
odd and even sizes), with the work the rewrite is for; the whole form matches the model for
both recipes; and what the form refuses."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from arst.nn.cin import ConditionalInstanceNorm
from arst.nn.inference import (FusedConditionalInstanceNorm, PhaseInterleave, PhaseStridedLayer,
                               SubpixelUpsamplingLayer, inference_form)
from arst.nn.model import any_size, build_model
from arst.nn.stylizer import ConvLayer
from arst.recipe import load_recipe


def random_layer(seed: int, *args, **kw) -> ConvLayer:
    torch.manual_seed(seed)
    layer = ConvLayer("layer", *args, **kw).eval()
    with torch.no_grad():
        layer.conv.bias.normal_()  # the default init's biases are small: make a wrong one show
    return layer


def flops(fn, *args) -> int:
    with FlopCounterMode(display=False) as counter:
        fn(*args)
    return counter.get_total_flops()


@pytest.mark.parametrize("cut", [0, 1])
def test_phase_interleave_is_pixel_shuffle_and_a_cut(cut):
    phases = torch.randn(2, 12, 5, 4)
    expected = F.pixel_shuffle(phases, 2)
    expected = expected[..., cut:expected.shape[-2] - cut, cut:expected.shape[-1] - cut]
    torch.testing.assert_close(PhaseInterleave(3, cut)(phases), expected, atol=0, rtol=0)


@pytest.mark.parametrize("size", [(5, 7), (8, 8), (1, 2)])
def test_subpixel_upsampling_is_nearest_upsampling_padding_and_convolution(size):
    layer = random_layer(0, 6, 5, 3, upsample=True)
    fast = SubpixelUpsamplingLayer(layer)
    x = torch.randn(2, 6, *size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = layer.convolve(x), fast.convolve(x)
    assert got.shape == expected.shape == (2, 5, 2 * size[0], 2 * size[1])
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_subpixel_upsampling_takes_four_ninths_of_the_multiplications():
    """2x2 kernels at the padded input's 33x33 positions, against 3x3 ones at 64x64; the
    interleave (a transposed convolution with one-hot kernels) adds one per output value."""
    layer = random_layer(0, 16, 8, 3, upsample=True)
    fast = SubpixelUpsamplingLayer(layer)
    x = torch.randn(1, 16, 32, 32)
    interleave = flops(fast.interleave, torch.randn(1, 4 * 8, 33, 33))
    assert interleave == 2 * 4 * 8 * 33 * 33 * 4
    ratio = (flops(fast.convolve, x) - interleave) / flops(layer.convolve, x)
    assert ratio == pytest.approx(4 / 9 * (33 / 32) ** 2)


@pytest.mark.parametrize("kernel,size", [(9, (6, 10)), (3, (4, 4)), (9, (12, 8))])
def test_phase_strided_layer_is_the_stride_one_convolution(kernel, size):
    layer = random_layer(2, 4, 3, kernel)
    fast = PhaseStridedLayer(layer)
    x = torch.randn(2, 4, *size, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected, got = layer.convolve(x), fast.convolve(x)
    assert got.shape == expected.shape == (2, 3, *size)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("unbiased,eps", [(True, 0.0), (False, 1e-5)])
@pytest.mark.parametrize("size", [(2, 2), (5, 3)])
def test_fused_instance_norm_is_the_conditional_one(unbiased, eps, size):
    """At 2x2 the unbiased std is the biased one times sqrt(4/3): a fusion that missed it
    would be 13% off."""
    norm = ConditionalInstanceNorm(3, eps, unbiased)
    g = torch.Generator().manual_seed(4)
    x = torch.randn(2, 3, *size, generator=g) * 5 + 2
    gamma, beta = torch.rand(1, 3, generator=g) + 0.5, torch.randn(1, 3, generator=g)
    torch.testing.assert_close(FusedConditionalInstanceNorm(norm)(x, gamma, beta), norm(x, gamma, beta))


def test_fused_instance_norm_refuses_a_gamma_per_sample():
    fused = FusedConditionalInstanceNorm(ConditionalInstanceNorm(3, 1e-5, False))
    with pytest.raises(ValueError, match=r"one gamma and beta for the batch: alpha \(1, n\)"):
        fused(torch.randn(2, 3, 4, 4), torch.ones(2, 3), torch.zeros(2, 3))


@pytest.mark.parametrize("name", ["baseline", "corrected"])
def test_the_inference_form_computes_what_the_model_does(name):
    model = build_model(load_recipe(name), seed=5).eval()
    form = inference_form(model)
    stylizer = form.stylizer
    assert all(isinstance(layer, SubpixelUpsamplingLayer) for layer in stylizer.up)
    assert isinstance(stylizer.out, PhaseStridedLayer)
    norms = [m for m in form.modules() if isinstance(m, (ConditionalInstanceNorm, FusedConditionalInstanceNorm))]
    assert norms and all(isinstance(m, FusedConditionalInstanceNorm) for m in norms)
    assert not any(isinstance(m, SubpixelUpsamplingLayer) for m in model.modules()), "the model itself changed"
    g = torch.Generator().manual_seed(6)
    alpha = torch.rand(1, model.n_alpha, generator=g)
    with torch.no_grad():
        for shape in ((1, 3, 37, 53), (2, 3, 16, 17)):
            image = torch.rand(*shape, generator=g) * 255
            expected = any_size(model, image, alpha)
            scale = float(expected.abs().max())  # the untrained baseline's output is small
            assert float((any_size(form, image, alpha) - expected).abs().max()) <= 1e-5 * max(scale, 1.0)


def test_the_inference_form_refuses_padded_channels():
    with pytest.raises(ValueError, match="channel_multiple 1"):
        inference_form(build_model(load_recipe("corrected"), seed=0, channel_multiple=8))
