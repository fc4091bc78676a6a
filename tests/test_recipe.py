"""Recipes: every field typed as declared, layers the loss network has, alphas in [0, 1]."""

import pytest

from arst.errors import ConfigError
from arst.recipe import PRESETS, check_alpha, load_recipe, vgg_layers


@pytest.mark.parametrize("field, value, message", [
    ("batch_size", "abc", "batch_size = 'abc': expected an integer"),
    ("batch_size", 2.5, "batch_size = 2.5: expected an integer"),
    ("batch_size", True, "batch_size = True: expected an integer"),
    ("lr", "fast", "lr = 'fast': expected a finite number"),
    ("content_weight", float("inf"), "content_weight = inf: expected a finite number"),
    ("train_conditioner", 1, "train_conditioner = 1: expected true or false"),
    ("vgg", 19, "vgg = 19: expected a string"),
    ("style_layers", "relu2_2", "style_layers = 'relu2_2': expected a list of any number of values, "
                                "each a string"),
    ("betas", [0.9], "betas = [0.9]: expected a list of 2 values, each a finite number"),
    ("betas", [0.9, "x"], "betas[1] = 'x': expected a finite number"),
    ("style_size", "big", "style_size = 'big': expected an integer"),
    ("alpha_fixed", [1, 1, None, 1], "alpha_fixed[2] = None: expected a finite number"),
])
def test_every_field_is_checked_against_its_type(field, value, message):
    with pytest.raises(ConfigError) as err:
        load_recipe("baseline", **{field: value})
    assert str(err.value) == f"recipe 'baseline': {message}"


def test_values_of_the_declared_type_are_kept_and_numbers_in_text_become_floats():
    recipe = load_recipe("baseline", lr="1e-3", style_size=64, conditioner_lr=None, betas=[0.5, 0.9],
                         alpha_fixed=[1, 0, 0.5, 0])
    assert recipe.lr == 0.001 and isinstance(recipe.lr, float)  # YAML 1.1 reads 1e-3 as text
    assert recipe.style_size == 64 and recipe.conditioner_lr is None
    assert recipe.betas == (0.5, 0.9) and recipe.alpha_fixed == (1.0, 0.0, 0.5, 0.0)
    for name in PRESETS:  # the presets themselves pass, and survive a round trip
        preset = load_recipe(name)
        assert load_recipe({"base": name, **preset.to_dict()}) == preset


def test_an_unknown_layer_is_named_before_any_count_is_compared():
    with pytest.raises(ConfigError, match=r"style_layers names relu9_9, which vgg19 does not have; "
                                          r"its layers are relu1_1, .*relu5_4$"):
        load_recipe("baseline", style_layers=["relu2_2", "relu9_9"])
    with pytest.raises(ConfigError, match="content_layer names relu3_4, which vgg16 does not have"):
        load_recipe("corrected", vgg="vgg16", style_layers=["relu2_2", "relu3_3", "relu4_3"])
    with pytest.raises(ConfigError, match="repeats a layer"):
        load_recipe("corrected", style_layers=["relu2_2", "relu2_2", "relu4_4"])


def test_vgg_layer_names_agree_with_torchvision():
    import torchvision

    from arst.nn.vgg import layer_names
    for arch, config in (("vgg16", "D"), ("vgg19", "E")):
        built = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs[config])
        assert vgg_layers(arch) == list(layer_names(built)), arch


@pytest.mark.parametrize("values, bad", [([2, 2, 2, 2], "2 does not"), ([-1, 0, 0, 0], "-1 does not"),
                                         ([float("nan"), 0, 1.5], "nan, 1.5 do not")])
def test_alpha_outside_zero_one_is_refused(values, bad):
    with pytest.raises(ConfigError, match=f"every alpha must lie in \\[0, 1\\], and {bad}$"):
        check_alpha(values, "alpha")
    check_alpha([0, 0.5, 1], "alpha")  # the ends are alphas


def test_recipe_alphas_are_checked_too():
    with pytest.raises(ConfigError, match="inference_alpha = .*must lie in"):
        load_recipe("corrected", inference_alpha=[1, 1, 2])
    with pytest.raises(ConfigError, match="alpha_fixed = .*must lie in"):
        load_recipe("corrected", alpha_fixed=[-0.5, 1, 1])
