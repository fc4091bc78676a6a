"""The adjustability diagnostic against hand-built models whose answers are known."""

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from arst.diagnostics import adjustability, as_dict, columns, probe_alphas
from arst.nn.conditioner import Conditioner
from arst.nn.model import build_model
from arst.recipe import load_recipe

LAYERS = ["relu2_2", "relu3_4", "relu4_4"]


class BetaIsTheImage(nn.Module):
    """A stand-in stylizer: every pixel of channel c is 100 + beta_c (the 'out' CIN's beta)."""

    def forward(self, content, affine):
        gamma, beta = affine["out"]
        return 100.0 + beta[:, :, None, None].expand_as(content)


def hand_built(k: np.ndarray, first_layer_sign=(1.0, 1.0, 1.0)):
    """alpha (3) -> hidden h = ReLU(s * alpha) (width 3) -> gamma = 1, beta = k @ h."""
    model = build_model(load_recipe("corrected"), 0)
    cond = Conditioner("mlp", 3, OrderedDict(out=slice(0, 3)), width=3, depth=0)
    with torch.no_grad():
        cond.body[0].weight.copy_(torch.diag(torch.tensor(first_layer_sign)))
        cond.body[0].bias.zero_()
        cond.head.weight.zero_()
        cond.head.weight[3:] = torch.tensor(k, dtype=torch.float32)
        cond.head.bias.copy_(torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0, 0.0]))
    model.conditioner, model.stylizer = cond, BetaIsTheImage()
    return model


def test_a_model_that_ignores_alpha_scores_zero():
    model = build_model(load_recipe("corrected"), 0)
    with torch.no_grad():
        model.conditioner.head.weight.zero_()  # gamma, beta = the head's bias, whatever alpha is
    d = as_dict(LAYERS, adjustability(model, torch.rand(2, 3, 16, 16) * 255))
    assert [d[f"response_{layer}"] for layer in LAYERS] == [0.0, 0.0, 0.0]
    assert d["min_layer_distance"] == 0.0
    assert d["gamma_spread"] == 0.0 and d["beta_spread"] == 0.0
    assert 0 < d["output_min"] < d["output_max"] < 255  # 255 * sigmoid of a real image


def test_a_known_dependence_gives_the_hand_computed_numbers():
    # beta_c = k[c] . ReLU(alpha): channel c of y(e_i) - y(0) is k[c, i].
    k = np.array([[6.0, 0.0, -3.0],
                  [6.0, 3.0, 0.0],
                  [0.0, 3.0, 9.0]])
    d = as_dict(LAYERS, adjustability(hand_built(k), torch.zeros(2, 3, 8, 12)))
    assert d["response_relu2_2"] == pytest.approx((6 + 6 + 0) / 3)
    assert d["response_relu3_4"] == pytest.approx((0 + 3 + 3) / 3)
    assert d["response_relu4_4"] == pytest.approx((3 + 0 + 9) / 3)
    # |k[:, i] - k[:, j]| averaged over channels: (0,1) -> (6+3+3)/3 = 4, (0,2) -> (9+6+9)/3 = 8,
    # (1,2) -> (3+3+6)/3 = 4.
    assert d["min_layer_distance"] == pytest.approx(4.0)
    # Over zeros, e_1..e_3 and ones: beta ranges over k's column sums and entries.
    assert d["output_min"] == pytest.approx(100 - 3) and d["output_max"] == pytest.approx(100 + 12)
    assert d["gamma_spread"] == 0.0
    alphas = probe_alphas(3).numpy()
    assert d["beta_spread"] == pytest.approx((alphas @ k.T).std(axis=0, ddof=1).mean(), rel=1e-5)
    assert d["dead_fraction"] == 0.0
    assert d["saturated_fraction"] == 0.0


def test_a_unit_negative_on_every_probe_alpha_is_dead():
    # Hidden unit 3 is ReLU(-alpha_3): 0 for every alpha in [0, 1]^3.
    d = as_dict(LAYERS, adjustability(hand_built(np.eye(3), (1.0, 1.0, -1.0)), torch.zeros(1, 3, 8, 8)))
    assert d["dead_fraction"] == pytest.approx(1 / 3)
    assert d["response_relu4_4"] == 0.0  # layer 3's alpha reaches nothing


def test_outputs_are_judged_as_shown_clamped_to_0_255():
    # beta = +-1000 for e_1: the unclamped output leaves 0..255, the shown one moves 155 (100 -> 255).
    k = np.array([[1000.0, 0, 0], [1000.0, 0, 0], [1000.0, 0, 0]])
    d = as_dict(LAYERS, adjustability(hand_built(k), torch.zeros(1, 3, 8, 8)))
    assert d["response_relu2_2"] == pytest.approx(155.0)
    assert d["output_max"] == pytest.approx(100 + 1000)  # unclamped
    assert d["saturated_fraction"] == pytest.approx(2 / 5)  # e_1 and ones, of zeros, e_1..e_3, ones


def test_columns_follow_the_layers():
    assert columns(["a", "b"])[:3] == ["response_a", "response_b", "min_layer_distance"]
    one = as_dict(["relu2_2"], adjustability(
        build_model(load_recipe("corrected", style_layers=["relu2_2"], inference_alpha=[1.0]), 0),
        torch.rand(1, 3, 8, 8) * 255))
    assert np.isnan(one["min_layer_distance"])  # one layer: no pair to compare


@pytest.mark.parametrize("period", [4, 8, 16])
def test_motif_size_of_a_grating_is_its_period(period):
    from arst.experiments.adjustability import motif_size
    x = torch.arange(64, dtype=torch.float64)
    vertical = torch.sin(2 * np.pi * x / period)[None, None, None, :].expand(2, 3, 64, 64)
    assert motif_size(vertical) == pytest.approx(period, rel=1e-9)
    assert motif_size(vertical.transpose(-1, -2) + 7.0) == pytest.approx(period, rel=1e-9)  # offsets ignored
    assert np.isnan(motif_size(torch.full((1, 3, 8, 8), 5.0)))  # no structure, no size


def test_layers_order_by_depth():
    from arst.experiments.adjustability import depth
    names = ["relu4_4", "relu2_2", "relu5_4", "relu3_4", "relu3_3"]
    assert sorted(names, key=depth) == ["relu2_2", "relu3_3", "relu3_4", "relu4_4", "relu5_4"]
