"""Losses against independent computations written straight from the spec."""

import pytest
import torch

from arst.alphas import sample_alpha
from arst.errors import ConfigError
from arst.losses import EMANormalizer, Objective, gram
from arst.nn.vgg import VGGFeatures
from arst.recipe import Recipe, load_recipe

# Layer indices from the spec (RECIPES.md section 1), not from arst's own name table.
SPEC_INDEX = dict(relu2_2=8, relu3_4=17, relu4_4=26, relu5_4=35)


def test_gram_normalisation():
    f = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])  # B=1, C=2, H=1, W=2
    expected = torch.tensor([[[1 + 4, 3 + 8], [3 + 8, 9 + 16]]]) / (2 * 1 * 2)
    torch.testing.assert_close(gram(f), expected)


def test_ema_formula():
    ema = EMANormalizer([True, True, False], rate=0.01)
    raw = torch.tensor([3.0, 0.5, 100.0])
    torch.testing.assert_close(ema.ratios(raw), torch.tensor([2.0, 2.0, 1.0]))  # starts at ones
    ema.update(raw)
    e1, e2 = 0.01 * 3 + 0.99, 0.01 * 0.5 + 0.99
    torch.testing.assert_close(ema.value, torch.tensor([e1, e2, 1.0]))  # out-of-scope stays
    torch.testing.assert_close(ema.ratios(raw), torch.tensor([(e1 + e2) / e1, (e1 + e2) / e2, 1.0]))


def test_ema_started_at_the_first_losses_balances_the_first_step():
    ema = EMANormalizer([True, True, True], rate=0.01, init="first")
    first = torch.tensor([0.3, 2e-6, 5e-7])
    # Before any update E is the step's own raw losses: each term weighs sum(L) / L_l, so every
    # weighted term equals sum(L), however far from 1 the losses are.
    torch.testing.assert_close(ema.ratios(first) * first, first.sum().expand(3))
    ema.update(first)
    torch.testing.assert_close(ema.value, first)  # E_0 = L_0, then the usual update
    second = torch.tensor([0.2, 4e-6, 5e-7])
    ema.update(second)
    torch.testing.assert_close(ema.value, 0.01 * second + 0.99 * first)


def _spec_features(vgg, image):
    """Run torchvision's layers by the spec's indices, normalising as the spec says."""
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x, out = (image / 255.0 - mean) / std, {}
    for i, layer in enumerate(vgg.features):
        x = layer(x)
        out[i] = x
    return out


def _hand_gram(f):
    b, c, h, w = f.shape
    return torch.einsum("bchw,bdhw->bcd", f, f) / (c * h * w)


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(0)
    return (torch.rand(2, 3, 32, 32, generator=g) * 255, torch.rand(2, 3, 32, 32, generator=g) * 255,
            torch.rand(1, 3, 40, 36, generator=g) * 255)


def test_baseline_total_loss_equals_spec(images):
    content, output, style = images
    recipe = load_recipe("baseline")
    vgg = VGGFeatures("vgg19", ["relu3_4", *recipe.style_layers], "random", seed=1)
    objective = Objective(recipe, vgg, style)
    alpha = torch.tensor([[0.2, 0.0, 1.0, 0.7]])  # one vector for the whole batch

    fo, fc, fs = (_spec_features(vgg, x) for x in (output, content, style))
    content_term = 1e5 * ((fo[17] - fc[17]) ** 2).mean()
    style_raw = [1e10 * ((_hand_gram(fo[i]) - _hand_gram(fs[i])) ** 2).mean() for i in SPEC_INDEX.values()]
    # EMA starts at ones: each style ratio is (1+1+1+1)/1; content has neither alpha nor EMA.
    expected = content_term + sum(4.0 * a * s for a, s in zip(alpha[0].tolist(), style_raw))
    total, raw, _ = objective.combine(objective.mse(output, content), alpha)
    torch.testing.assert_close(total, expected, rtol=1e-4, atol=0)
    torch.testing.assert_close(raw, torch.stack([content_term, *style_raw]), rtol=1e-4, atol=0)

    objective.ema.update(raw)
    e = [0.01 * s + 0.99 for s in style_raw]
    expected2 = content_term + sum(sum(e) / el * a * s for el, a, s in zip(e, alpha[0].tolist(), style_raw))
    total2, _, _ = objective.combine(objective.mse(output, content), alpha)
    torch.testing.assert_close(total2, expected2, rtol=1e-4, atol=0)
    assert objective.ema.value[0] == 1.0  # content is outside the baseline's EMA


@pytest.mark.parametrize("ema_init", ["ones", "first"])
def test_corrected_total_loss_equals_spec(images, ema_init):
    content, output, style = images
    # The paper's EMA weights (`corrected` divides each sample by its own values instead:
    # test_sample_normalization_weighs_each_term_by_its_own_value).
    recipe = load_recipe("corrected", ema_init=ema_init, normalization="ema")
    vgg = VGGFeatures("vgg19", ["relu3_4", *recipe.style_layers], "random", seed=2)
    objective = Objective(recipe, vgg, style)
    alpha = torch.tensor([[0.1, 0.5, 0.9], [1.0, 0.0, 0.3]])  # per sample

    fo, fc, fs = (_spec_features(vgg, x) for x in (output, content, style))
    raw = []  # per sample: content, then the three style layers
    for b in range(2):
        raw.append([((fo[17][b] - fc[17][b]) ** 2).mean()]
                   + [((_hand_gram(fo[i][b:b + 1]) - _hand_gram(fs[i])) ** 2).mean() for i in (8, 17, 26)])
    # EMA over all four terms. At ones every ratio is 4; started at the first losses (the batch
    # means), term l weighs sum(L) / L_l. alpha_c = 1.
    mean = [(raw[0][t] + raw[1][t]) / 2 for t in range(4)]
    ratio = [4.0] * 4 if ema_init == "ones" else [sum(mean) / m for m in mean]
    per_sample = [sum(r * w * a for r, w, a in zip(raw[b], ratio, [1.0, *alpha[b].tolist()])) for b in range(2)]
    total, _, terms = objective.combine(objective.mse(output, content), alpha)
    torch.testing.assert_close(total, sum(per_sample) / 2, rtol=1e-4, atol=0)
    assert terms.shape == (2, 4)


def test_sample_normalization_weighs_each_term_by_its_own_value(images):
    """normalization: sample divides each sample's term by its own value: every weighted term
    is alpha_l times sum_i E_i, and the gradient is sum_i E_i times that of sum_l alpha_l log L_l,
    whatever the other samples' alphas are."""
    content, output, style = images
    recipe = load_recipe("corrected", normalization="sample")
    objective = Objective(recipe, VGGFeatures("vgg19", ["relu3_4", *recipe.style_layers], "random", seed=2), style)
    alpha = torch.tensor([[0.1, 0.5, 0.9], [1.0, 0.0, 0.3]])
    objective.ema.value.copy_(torch.tensor([4.0, 1.0, 2.0, 3.0]))  # sum_i E_i = 10
    objective.ema.started.fill_(True)
    x = output.clone().requires_grad_(True)
    total, _, terms = objective.combine(objective.mse(x, content), alpha)
    expected = torch.tensor(10.0) * torch.cat([torch.ones(2, 1), alpha], dim=1)
    torch.testing.assert_close(terms.detach(), expected)
    grad, = torch.autograd.grad(total, x)
    y = output.clone().requires_grad_(True)
    logs = objective.mse(y, content).log()
    by_hand, = torch.autograd.grad(10.0 * (logs * torch.cat([torch.ones(2, 1), alpha], dim=1)).sum(1).mean(), y)
    torch.testing.assert_close(grad, by_hand, rtol=1e-4, atol=1e-4 * by_hand.abs().max().item())


def test_ema_floor_caps_a_vanishing_terms_weight():
    ema = EMANormalizer([True, True, True], rate=0.01, floor=0.1)
    ema.value.copy_(torch.tensor([1.0, 1e-6, 0.5]))
    total = 1.0 + 1e-6 + 0.5
    # The vanishing term weighs total / (0.1 total) = 10, not total / 1e-6; the others as before.
    torch.testing.assert_close(ema.ratios(torch.zeros(3)), torch.tensor([total / 1.0, 10.0, total / 0.5]))


def test_alpha_sampling():
    base = load_recipe("baseline")
    draws = [sample_alpha(base, step, 4, seed=42) for step in range(200)]
    assert all(d.shape == (1, 4) for d in draws)
    onehots = [(step, d) for step, d in enumerate(draws) if sorted(d[0].tolist()) == [0, 0, 0, 1]]
    assert 60 < len(onehots) < 140  # p = 0.5
    assert all(int(d.argmax()) == step % 4 for step, d in onehots)  # a cycle, not random
    assert torch.equal(sample_alpha(base, 17, 4, 42), draws[17])

    paper = load_recipe("corrected", alpha_onehot_prob=0.0, alpha_zero_prob=0.0)  # the paper: U(0, 1) per sample
    a = sample_alpha(paper, 0, 8, seed=1)
    assert a.shape == (8, 3) and 0 <= a.min() and a.max() <= 1 and len(set(a[:, 0].tolist())) == 8
    # `corrected` draws three samples in four at a one-hot; with the port's cycle, the step's
    # (here e_(step mod 3)).
    draws = torch.cat([sample_alpha(load_recipe("corrected", alpha_onehot_draw="cycle"), step, 8, seed=1)
                       for step in range(100)])
    onehot = (draws == torch.nn.functional.one_hot(torch.arange(100).repeat_interleave(8) % 3, 3)).all(1)
    assert 540 < int(onehot.sum()) < 660  # 800 samples at p = 0.75

    fixed = paper.replace(alpha_fixed=[1, 0, 0.5])
    assert sample_alpha(fixed, 3, 8, 1).tolist() == [[1.0, 0.0, 0.5]]

    # A share of all-zero samples: about alpha_zero_prob of them, the others drawn as before.
    zeros = paper.replace(alpha_zero_prob=0.25)
    draws = torch.cat([sample_alpha(zeros, step, 8, seed=1) for step in range(100)])
    plain = torch.cat([sample_alpha(paper, step, 8, seed=1) for step in range(100)])
    zero = draws.abs().sum(1) == 0
    assert 150 < int(zero.sum()) < 250  # 800 samples at p = 0.25
    assert torch.equal(draws[~zero], plain[~zero])


    # alpha_onehot_draw: random (corrected's) gives the same samples a one-hot, each at a corner
    # of its own, about a third at each; the uniform and the zero samples are the cycle's.
    mixed = load_recipe("corrected", alpha_zero_prob=0.1)
    assert mixed.alpha_onehot_draw == "random"
    cycle = mixed.replace(alpha_onehot_draw="cycle")
    draws = torch.cat([sample_alpha(mixed, step, 8, seed=1) for step in range(100)])
    before = torch.cat([sample_alpha(cycle, step, 8, seed=1) for step in range(100)])
    onehot = (before == 1).any(1) & (before.sum(1) == 1)
    assert torch.equal(draws[~onehot], before[~onehot])
    assert ((draws[onehot] == 1).sum(1) == 1).all() and (draws[onehot].sum(1) == 1).all()
    per_corner = draws[onehot].sum(0)
    assert per_corner.min() > 0.27 * onehot.sum() and per_corner.max() < 0.40 * onehot.sum()
    # Most steps train more than one corner (the cycle: one per step).
    corners = [set(d[o].argmax(1).tolist()) for d, o in zip(draws.view(100, 8, 3), onehot.view(100, 8))]
    assert sum(len(c) > 1 for c in corners) > 80

def test_recipe_validation(tmp_path):
    with pytest.raises(ConfigError, match="unknown recipe key"):
        load_recipe("baseline", style_layerz=["relu1_1"])
    with pytest.raises(ConfigError, match="alpha_fixed has 2 values"):
        load_recipe("corrected", alpha_fixed=[1, 0])
    with pytest.raises(ConfigError, match="cin_position"):
        load_recipe("corrected", cin_position="sideways")
    f = tmp_path / "ablation.yaml"
    f.write_text("base: corrected\nvgg: vgg16\nstyle_layers: [relu2_2, relu3_3, relu4_3]\n"
                 "content_layer: relu3_3\n")
    r = load_recipe(f)
    assert r.vgg == "vgg16" and r.n_alpha == 3 and r.conditioner == "mlp"
    assert load_recipe("baseline").to_dict()["style_layers"] == ["relu2_2", "relu3_4", "relu4_4", "relu5_4"]


def test_a_recipe_saved_with_the_former_checkpoint_every_still_loads():
    saved = {**load_recipe("corrected").to_dict(), "checkpoint_every": 2000}  # as older checkpoints hold it
    assert Recipe.from_dict(saved) == load_recipe("corrected")
    assert "checkpoint_every" not in Recipe.from_dict(saved).to_dict()
