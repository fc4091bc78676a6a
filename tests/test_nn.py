"""The networks against hand computations and the spec's layouts."""

import subprocess
import sys

import pytest
import torch

from arst.errors import ConfigError, DataError, FetchError
from arst.nn import ops
from arst.nn.cin import ConditionalInstanceNorm
from arst.nn.conditioner import cin_layout
from arst.nn.model import build_model
from arst.nn.vgg import VGGFeatures, layer_names
from arst.recipe import load_recipe
from arst.runtime import Runtime


@pytest.mark.parametrize("unbiased,eps", [(True, 0.0), (False, 1e-5)])
def test_cin_matches_hand_computation(unbiased, eps):
    x = torch.tensor([[[[1.0, 2.0], [3.0, 6.0]]]])  # mean 3, squared deviations 4+1+0+9 = 14
    var = 14.0 / (3 if unbiased else 4)
    gamma, beta = torch.tensor([[2.0]]), torch.tensor([[0.5]])
    expected = 2.0 * (x - 3.0) / (var + eps) ** 0.5 + 0.5
    out = ConditionalInstanceNorm(1, eps, unbiased)(x, gamma, beta)
    torch.testing.assert_close(out, expected)


def test_cin_is_per_sample_and_channel():
    x = torch.randn(2, 3, 5, 4) * 7 + 3
    out = ConditionalInstanceNorm(3, 1e-5, False)(x, torch.ones(2, 3), torch.zeros(2, 3))
    torch.testing.assert_close(out.mean(dim=(2, 3)), torch.zeros(2, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.var(dim=(2, 3), correction=0), torch.ones(2, 3), atol=1e-3, rtol=0)


def test_baseline_layout_is_the_ports():
    model = build_model(load_recipe("baseline"), 0)
    layout = model.conditioner.layout
    assert model.conditioner.head.out_features == 4224
    spans = {name: (s.start, s.stop) for name, s in layout.items()}
    assert spans["conv1"] == (0, 32) and spans["conv2"] == (32, 96) and spans["conv3"] == (96, 224)
    assert spans["res1.a"] == (224, 352) and spans["res5.b"] == (1376, 1504)
    assert spans["up1"] == (1504, 1568) and spans["up2"] == (1568, 1600)
    assert spans["res6.a"] == (1600, 1728) and spans["res7.b"] == (1984, 2112)
    assert "out" not in spans  # the port's last conv has no norm


def test_forward_layout_is_network_order():
    layout = cin_layout(build_model(load_recipe("corrected"), 0).stylizer.norm_channels(), "forward")
    assert list(layout)[-3:] == ["up1", "up2", "out"]
    assert layout["out"] == slice(2112, 2115)


def test_conditioners():
    base = build_model(load_recipe("baseline"), 0).conditioner
    assert base.body[0].in_features == 4 and len(base.body) == 2 + 4
    x = torch.randn(3, 1000)
    block = base.body[2]
    torch.testing.assert_close(block(x), x - torch.relu(block.fc2(torch.relu(block.fc1(x)))))

    # Table 1's shape: 3 -> 1000, ten 1000 x 1000 layers, -> 2C; `corrected` keeps one of the ten.
    paper = build_model(load_recipe("corrected", conditioner_depth=10), 0).conditioner
    linears = [m for m in paper.modules() if isinstance(m, torch.nn.Linear)]
    assert [m.in_features for m in linears] == [3] + [1000] * 11
    chosen = build_model(load_recipe("corrected"), 0).conditioner
    assert [m.in_features for m in chosen.modules() if isinstance(m, torch.nn.Linear)] == [3, 1000, 1000]
    assert linears[-1].out_features == 2 * 2115
    affine = paper(torch.rand(5, 3))
    gamma, beta = affine["res3.a"]
    assert gamma.shape == (5, 128)
    # Under He init the hidden units keep their scale, so alpha moves gamma and beta from the
    # start: about 0.01 * sqrt(1000) * rms(h), h of order 1 (docs/findings.md).
    assert 0.1 < (gamma - 1).std() < 1.0 and 0.1 < beta.std() < 1.0
    # The paper's N(0, 0.01) everywhere: gamma 1 and beta 0 whatever alpha is (the signal shrinks
    # 0.22-fold per layer), the start the paper describes and the reason alpha cannot steer it.
    literal = build_model(load_recipe("corrected", conditioner_init="normal", conditioner_depth=10), 0).conditioner
    gamma, beta = literal(torch.rand(5, 3))["res3.a"]
    assert (gamma - 1).abs().max() < 1e-6 and beta.abs().max() < 1e-6


def test_models_keep_shape_and_range():
    x = torch.rand(2, 3, 32, 40) * 255
    for name in ("baseline", "corrected"):
        recipe = load_recipe(name)
        y = build_model(recipe, 1)(x, torch.rand(2, recipe.n_alpha))
        assert y.shape == x.shape
    assert 0 <= y.min() and y.max() <= 255  # corrected ends in 255 * sigmoid
    with pytest.raises(ConfigError, match="alpha has 2 values"):
        build_model(load_recipe("corrected"), 1)(x, torch.rand(1, 2))


def test_seeded_construction_is_reproducible():
    a, b = (build_model(load_recipe("baseline"), 7) for _ in range(2))
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


@pytest.mark.parametrize("c_in,c_out,kernel,stride,padding", [
    (3, 32, 9, 1, 0),   # the stylizer's first convolution
    (32, 3, 9, 1, 0),   # its last
    (3, 64, 3, 1, 1),   # VGG's first (zero padding inside the convolution)
    (5, 13, 3, 2, 0),   # both counts odd, strided
])
def test_channel_padded_conv_is_the_same_convolution(monkeypatch, c_in, c_out, kernel, stride, padding):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(c_in, c_out, kernel, stride, padding).double()
    x = torch.randn(2, c_in, 19, 23, dtype=torch.float64, requires_grad=True)
    expected = conv(x)
    grads = torch.autograd.grad(expected.square().sum(), (x, conv.weight, conv.bias))

    shapes = []
    real_conv2d = ops.F.conv2d
    monkeypatch.setattr(ops.F, "conv2d", lambda x, w, *a: shapes.append((x.shape[1], *w.shape[:2])) or real_conv2d(x, w, *a))
    out = ops.conv2d(conv, x, 8)
    up = lambda c: c + -c % 8  # noqa: E731
    assert shapes == [(up(c_in), up(c_out), up(c_in))]  # input channels, weight's out and in: padded
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    padded_grads = torch.autograd.grad(out.square().sum(), (x, conv.weight, conv.bias))
    for got, want in zip(padded_grads, grads):
        assert got.shape == want.shape  # gradients reach the true tensors only
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    ops.conv2d(conv, x, 1)
    assert shapes[-1] == (c_in, c_out, c_in)  # multiple 1: the plain convolution


def test_networks_built_with_padded_channels_compute_the_same():
    recipe = load_recipe("corrected")
    x, alpha = torch.rand(2, 3, 24, 20) * 255, torch.rand(2, recipe.n_alpha)
    plain, padded = build_model(recipe, 3), build_model(recipe, 3, channel_multiple=8)
    set_to = {m.name: m.channel_multiple for m in padded.modules() if hasattr(m, "name")}
    assert set(set_to.values()) == {8} and "conv1" in set_to and "out" in set_to
    assert {k: v.shape for k, v in padded.state_dict().items()} == {k: v.shape for k, v in plain.state_dict().items()}
    torch.testing.assert_close(padded(x, alpha), plain(x, alpha), rtol=1e-4, atol=1e-3)
    plain_vgg = VGGFeatures("vgg19", ["relu1_2", "relu2_2"], "random", seed=1)
    padded_vgg = VGGFeatures("vgg19", ["relu1_2", "relu2_2"], "random", seed=1, channel_multiple=8)
    for name, value in padded_vgg(x).items():
        torch.testing.assert_close(value, plain_vgg(x)[name], rtol=1e-4, atol=1e-3)
    # Placing a network on a runtime moves it, and changes nothing else in it.
    placed = Runtime(torch.device("cpu"), channel_multiple=8).module(plain)
    assert {m.channel_multiple for m in placed.modules() if hasattr(m, "channel_multiple")} == {1}


@pytest.mark.parametrize("value", ["0", "abc", 65, True, 2.5])
def test_runtime_rejects_bad_channel_multiple(value):
    with pytest.raises(ConfigError, match="channel_multiple"):
        Runtime.resolve("cpu", channel_multiple=value)


def test_runtime_channel_multiple_from_text():
    plain = Runtime.resolve("cpu")  # auto on the CPU: none of the fast path, which does not help there
    assert (plain.precision, plain.compile, plain.channels_last) == ("fp32", False, False)
    assert Runtime.resolve("cpu", channel_multiple="8").channel_multiple == 8
    assert Runtime.resolve("cpu").channel_multiple == 1
    assert "channels padded to 8" in Runtime.resolve("cpu", channel_multiple=8).describe()


def test_vgg_layer_names_match_the_spec():
    import torchvision
    names19 = layer_names(torchvision.models.vgg19().features)
    spec19 = dict(relu1_2=3, relu2_2=8, relu3_1=11, relu3_2=13, relu3_3=15, relu3_4=17, relu4_1=20,
                  relu4_2=22, relu4_3=24, relu4_4=26, relu5_4=35)
    assert {k: names19[k] for k in spec19} == spec19
    names16 = layer_names(torchvision.models.vgg16().features)
    assert (names16["relu2_2"], names16["relu3_3"], names16["relu4_3"]) == (8, 15, 22)
    assert "relu3_4" not in names16


@pytest.mark.parametrize("arch, config", [("vgg16", "D"), ("vgg19", "E")])
def test_vgg_features_are_built_module_for_module_as_torchvision_builds_them(arch, config):
    import torchvision

    from arst.nn.vgg import make_features
    torch.manual_seed(3)
    ours = make_features(arch)
    torch.manual_seed(3)
    theirs = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs[config])
    assert repr(ours) == repr(theirs)
    mine, other = ours.state_dict(), theirs.state_dict()
    assert list(mine) == list(other)  # torchvision's weight files load by these keys
    assert all(torch.equal(mine[k], other[k]) for k in mine)  # the same draws from the same seed


def test_a_random_loss_network_does_not_import_torchvision():
    """torchvision imports torch._dynamo (about 2.5 s a job); only ImageNet weights need it."""
    code = ("import sys, torch; from arst.nn.vgg import VGGFeatures; "
            "VGGFeatures('vgg19', ['relu2_2', 'relu4_4']); import arst.train, arst.evaluate; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torchvision'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_vgg_features_stop_at_deepest_layer_and_are_frozen():
    vgg = VGGFeatures("vgg19", ["relu2_2", "relu3_4"], "random", seed=3)
    assert len(vgg.features) == 18 and vgg.kind == "random(seed=3)"
    assert not any(p.requires_grad for p in vgg.parameters())
    vgg.train()
    assert not vgg.training
    out = vgg(torch.rand(1, 3, 32, 32) * 255)
    assert set(out) == {"relu2_2", "relu3_4"} and out["relu3_4"].shape == (1, 256, 8, 8)
    assert (out["relu2_2"] >= 0).all()
    again = VGGFeatures("vgg19", ["relu2_2", "relu3_4"], "random", seed=3)
    assert torch.equal(again.features[0].weight, vgg.features[0].weight)
    with pytest.raises(DataError, match="relu3_4"):
        VGGFeatures("vgg16", ["relu3_4"])


def test_vgg_runs_no_deeper_than_the_layers_asked_for():
    vgg = VGGFeatures("vgg19", ["relu2_2", "relu3_4"], "random", seed=3)
    x = torch.rand(1, 3, 32, 32) * 255
    full = vgg(x)
    ran = []
    vgg.features[9].register_forward_hook(lambda *_: ran.append(9))  # the first layer past relu2_2
    shallow = vgg(x, ["relu2_2"])
    assert list(shallow) == ["relu2_2"] and ran == []
    assert torch.equal(shallow["relu2_2"], full["relu2_2"])


def test_imagenet_weights_load_from_torchvision_cache(tmp_path, monkeypatch):
    import torchvision
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    name = torchvision.models.VGG16_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[-1]
    with pytest.raises(FetchError, match=name):  # offline: names the missing file
        VGGFeatures("vgg16", ["relu2_2"], "imagenet")
    reference = torchvision.models.vgg16().features[:9]
    state = {f"features.{k}": v for k, v in reference.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(1)  # the rest of torchvision's file is ignored
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(state, tmp_path / "hub" / "checkpoints" / name)
    vgg = VGGFeatures("vgg16", ["relu2_2"], "imagenet")
    assert vgg.kind == "imagenet"
    assert torch.equal(vgg.features[7].weight, reference[7].weight)


def test_baseline_at_seed_42_draws_the_ports_weights():
    """The port seeds 42, builds its conditioner (1x1 convolutions: 4 -> 1000, four blocks of
    1000 -> 1000 -> 1000, 1000 -> 4224), then its transformer (conv1, conv2, conv3, two
    convolutions in each of 7 residual blocks, two upsampling convolutions, the last 9x9), all
    with PyTorch's default init. Built here from plain layers in that order, the weights must
    be arst's baseline at seed 42, bit for bit: the baseline's never-trained conditioner is
    its alpha map, so another draw would be another model."""
    from torch import nn
    torch.manual_seed(42)
    conditioner = [nn.Conv2d(4, 1000, 1)]
    for _ in range(4):
        conditioner += [nn.Conv2d(1000, 1000, 1), nn.Conv2d(1000, 1000, 1)]
    conditioner.append(nn.Conv2d(1000, 4224, 1))
    transformer = [nn.Conv2d(3, 32, 9, 1), nn.Conv2d(32, 64, 3, 2), nn.Conv2d(64, 128, 3, 2)]
    transformer += [nn.Conv2d(128, 128, 3, 1) for _ in range(14)]
    transformer += [nn.Conv2d(128, 64, 3, 1), nn.Conv2d(64, 32, 3, 1), nn.Conv2d(32, 3, 9, 1)]

    model = build_model(load_recipe("baseline"), 42)
    ours_c = [m for m in model.conditioner.modules() if isinstance(m, torch.nn.Linear)]
    ours_t = [m for m in model.stylizer.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(ours_c) == len(conditioner) and len(ours_t) == len(transformer)
    for ours, port in zip(ours_c, conditioner):
        assert torch.equal(ours.weight, port.weight.reshape(ours.weight.shape))
        assert torch.equal(ours.bias, port.bias)
    for ours, port in zip(ours_t, transformer):
        assert torch.equal(ours.weight, port.weight) and torch.equal(ours.bias, port.bias)


@pytest.mark.parametrize("scheme,std", [("normal", 0.01), ("kaiming", (2 / 1000) ** 0.5)])
def test_conditioner_init_is_separate_from_the_stylizers(scheme, std):
    recipe = load_recipe("corrected", conditioner_init=scheme)
    model = build_model(recipe, 0)
    hidden = model.conditioner.body[2].fc.weight  # a 1000 -> 1000 layer
    assert hidden.std().item() == pytest.approx(std, rel=0.02)
    assert model.stylizer.res[0].a.conv.weight.std().item() == pytest.approx(0.01, rel=0.05)  # N(0, 0.01)
    head = model.conditioner.head
    assert head.weight.std().item() == pytest.approx(0.01, rel=0.02)  # gamma 1, beta 0 at the start
    assert torch.equal(head.bias, torch.cat([torch.ones(head.out_features // 2), torch.zeros(head.out_features // 2)]))


def test_a_deep_relu_conditioner_sees_the_one_hots_as_nearly_one_input_at_the_start():
    """Why the 10-deep mlp let the swirl's layers merge (docs/findings.md 2.8): each He-init
    ReLU layer maps the cosine c of two inputs to the arc-cosine kernel's
    (sqrt(1 - c^2) + (pi - arccos c) c) / pi, so the one-hots (c = 0) reach the head 0.32, 0.49
    and 0.89 alike after 1, 2 and 11 ReLU layers (depth 0, 1, 10); the measured cosines of
    1000-wide layers follow the formula within sampling noise."""
    import math

    def kernel(c):
        return (math.sqrt(1 - c * c) + (math.pi - math.acos(c)) * c) / math.pi

    for depth in (0, 1, 10):
        expected = 0.0
        for _ in range(depth + 1):
            expected = kernel(expected)
        cosines = []
        for seed in (1, 2):
            cond = build_model(load_recipe("corrected", conditioner_depth=depth), seed).conditioner
            h = torch.nn.functional.normalize(cond.body(torch.eye(3)), dim=1)
            cosines += (h @ h.T)[tuple(torch.triu_indices(3, 3, 1))].tolist()
        assert sum(cosines) / len(cosines) == pytest.approx(expected, abs=0.04), depth
    assert expected > 0.88  # depth 10: the head starts from three nearly parallel inputs


def test_residual_and_normalised_conditioner_layers():
    from arst.nn.conditioner import DenseBlock
    torch.manual_seed(0)
    x = torch.randn(5, 16)
    block = DenseBlock(16, norm="layer", residual=True)
    h = block.fc(x)
    normed = (h - h.mean(1, keepdim=True)) / (h.var(1, keepdim=True, correction=0) + 1e-5).sqrt()
    torch.testing.assert_close(block(x), x + torch.relu(normed))
    plain = DenseBlock(16)
    torch.testing.assert_close(plain(x), torch.relu(plain.fc(x)))


def test_linear_conditioner_from_a_zero_head_starts_at_instance_norm_and_gives_each_layer_a_column():
    recipe = load_recipe("corrected", conditioner="linear", conditioner_head_init="zero")
    model = build_model(recipe, 0)
    cond = model.conditioner
    assert len(list(cond.body)) == 0 and cond.head.in_features == 3  # alpha -> 2C in one map
    alphas = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.3, 0.9, 0.5]])
    for gamma, beta in cond(alphas).values():  # exactly gamma = 1, beta = 0 for every alpha
        assert torch.equal(gamma, torch.ones_like(gamma)) and torch.equal(beta, torch.zeros_like(beta))
    with torch.no_grad():
        cond.head.weight.normal_()
    out = cond.head(cond.body(alphas))
    # Linear in alpha: each one-hot adds its own column of W to the alpha-0 parameters.
    torch.testing.assert_close(out[1] - out[0], cond.head.weight[:, 0])
    torch.testing.assert_close(out[2] - out[0], cond.head.weight @ alphas[2])
    # The mlp's head can start at zero too: gamma exactly 1 while its hidden layers are He's.
    mlp = build_model(load_recipe("corrected", conditioner_head_init="zero", conditioner_width=16), 0).conditioner
    gamma, _ = next(iter(mlp(alphas).values()))
    assert torch.equal(gamma, torch.ones_like(gamma))


def test_tanh_bounded_gamma_is_one_at_one_and_stays_in_zero_to_two():
    cond = build_model(load_recipe("corrected", conditioner="linear", gamma_bound="tanh"), 0).conditioner
    alphas = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    with torch.no_grad():
        cond.head.weight.zero_()
    gamma, beta = next(iter(cond(alphas).values()))
    assert torch.equal(gamma, torch.ones_like(gamma)) and torch.equal(beta, torch.zeros_like(beta))
    with torch.no_grad():
        cond.head.weight.normal_(0.0, 100.0)  # far beyond any bound
    out = cond.head(alphas)[:, : cond.channels]
    gammas = torch.cat([g for g, _ in cond(alphas).values()], dim=1)
    torch.testing.assert_close(gammas, 1.0 + torch.tanh(out - 1.0))
    assert gammas.min() >= 0.0 and gammas.max() <= 2.0 and out.abs().max() > 50
