"""Retrained controls: tiny models whose layers are known to differ (a linear conditioner with
its weights set by hand, its controls the same weights at fixed alphas) or to merge (the same
model with alpha cut off), judged by the claims' first and 'matches retraining' rows."""

import os

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from arst import checkpoint
from arst.errors import ConfigError
from arst.evaluate import Evaluator
from arst.experiments import claims as claims_mod
from arst.experiments.common import load_eval_images
from arst.experiments.controls import alpha_label, at_budgets, controls, summarize
from arst.nn.model import build_model
from arst.recipe import load_recipe

LAYERS = ("relu2_2", "relu3_4", "relu4_4")
ONEHOTS = {layer: [1.0 if other == layer else 0.0 for other in LAYERS] for layer in LAYERS}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("controls")
    rng = np.random.default_rng(1)
    images = []
    for k in range(2):
        path = root / f"photo{k}.png"
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(path)
        images.append(str(path))
    style = root / "style.png"
    Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(style)
    recipe = load_recipe("corrected", conditioner="linear", conditioner_head_init="zero", residual_blocks=1,
                         style_size=32)
    model = build_model(recipe, 0)
    with torch.no_grad():  # each layer's alpha its own gamma and beta: the layers differ
        model.conditioner.head.weight.copy_(torch.randn(model.conditioner.head.weight.shape,
                                                        generator=torch.Generator().manual_seed(0)))

    def save(name, state, alpha=None, seed=1, step=50, **changes):
        path = root / f"{name}.pt"
        checkpoint.save(path, checkpoint.provenance(
            recipe=recipe.replace(alpha_fixed=alpha, **changes).to_dict(), seed=seed, step=step,
            loss_net="random(seed=0)", loss_weights="random", loss_seed=0, model=state))
        return str(path)

    # The controls: the adjustable model's own weights at each fixed alpha, so the model retrained
    # at e_i gives exactly what the adjustable model gives at e_i.
    retrained = [save(f"fixed-{layer}", model.state_dict(), alpha) for layer, alpha in ONEHOTS.items()]
    retrained.append(save("fixed-ones", model.state_dict(), [1.0] * 3))
    noisy = {k: v.clone() for k, v in model.state_dict().items()}
    noisy["stylizer.down.0.conv.weight"] = noisy["stylizer.down.0.conv.weight"] * 1.02  # "another seed"
    floor = save("floor", noisy, ONEHOTS["relu2_2"], seed=2)
    merged = {k: v.clone() for k, v in model.state_dict().items()}
    merged["conditioner.head.weight"].zero_()  # alpha cut off: every layer's one-hot the same
    return {"root": root, "images": images, "style": str(style), "retrained": retrained, "floor": floor,
            "differ": save("differ", model.state_dict()), "merged": save("merged", merged), "save": save,
            "model": model}


def _table(setup, adjustable):
    return summarize(controls(setup[adjustable], setup["retrained"], setup["floor"], setup["style"],
                              setup["images"], size=32, style_name="noise"))


def test_profile_distance_by_hand(setup):
    table = _table(setup, "differ")
    ev = Evaluator.load(setup["differ"], setup["style"])
    _, batch = load_eval_images(setup["images"], 32)
    profiles = {}
    for layer in ("relu2_2", "relu4_4"):
        losses = ev.losses(ev.stylize(batch, torch.tensor([ONEHOTS[layer]])), batch)
        profiles[layer] = np.log10(np.stack([losses[t].double().numpy() for t in ev.objective.term_names], 1))
    expected = np.linalg.norm(profiles["relu2_2"] - profiles["relu4_4"], axis=1).mean()
    row = table[(table["kind"] == "adjustable") & (table["alpha_a"] == "relu2_2") & (table["alpha_b"] == "relu4_4")]
    assert row["profile_distance"].item() == pytest.approx(expected, rel=1e-6)
    assert expected > 0.01
    # The controls are the adjustable model's weights: retraining is matched exactly.
    match = table[(table["kind"] == "match") & (table["alpha_a"] == table["alpha_b"])]
    assert match["profile_distance"].tolist() == pytest.approx([0.0] * 4, abs=1e-9)
    assert set(table["kind"]) == {"adjustable", "retrained", "floor", "match"}
    assert set(table["alpha_a"]) == {*LAYERS, "ones"}


def test_at_one_alpha_the_distance_splits_into_the_terms_it_weighs_and_those_it_leaves_out(setup):
    """The merged model at relu2_2 against the model retrained there: content and relu2_2 against
    relu3_4 and relu4_4, by hand; rows between two alphas have no split, and at all ones nothing
    is left out."""
    table = _table(setup, "merged")
    ev = Evaluator.load(setup["merged"], setup["style"])
    _, batch = load_eval_images(setup["images"], 32)
    alpha = torch.tensor([ONEHOTS["relu2_2"]])

    def profile(path):
        losses = ev.losses(Evaluator.load(path, setup["style"]).stylize(batch, alpha), batch)
        return np.log10(np.stack([losses[t].double().numpy() for t in ev.objective.term_names], 1))

    gap = profile(setup["merged"]) - profile(setup["retrained"][0])  # terms: content, relu2_2, relu3_4, relu4_4
    match = table[(table["kind"] == "match") & (table["alpha_a"] == "relu2_2") & (table["alpha_b"] == "relu2_2")]
    weighed, left_out = match["profile_weighed"].item(), match["profile_left_out"].item()
    assert weighed == pytest.approx(np.linalg.norm(gap[:, :2], axis=1).mean(), rel=1e-6)
    assert left_out == pytest.approx(np.linalg.norm(gap[:, 2:], axis=1).mean(), rel=1e-6)
    assert weighed > 1e-3 and left_out > 1e-3 and weighed != pytest.approx(left_out)
    assert table.loc[table["alpha_a"] != table["alpha_b"], ["profile_weighed", "profile_left_out"]].isna().all().all()
    ones = table[(table["kind"] == "match") & (table["alpha_a"] == "ones") & (table["alpha_b"] == "ones")]
    assert ones["profile_weighed"].notna().all() and ones["profile_left_out"].isna().all()
    assert table.loc[table["kind"] == "floor", ["profile_weighed", "profile_left_out"]].notna().all().all()


def test_layers_that_differ_as_retraining_pass_and_merged_layers_fail(setup):
    differ, merged = _table(setup, "differ"), _table(setup, "merged")
    floor = differ.loc[differ["kind"] == "floor", "profile_distance"].item()
    retrained = differ.loc[differ["kind"] == "retrained", "profile_distance"]
    assert 0 < floor and retrained.min() > claims_mod.SEPARATED * floor  # a control that can fail it
    judge = lambda fn, table: claims_mod.combine(fn(table, "corrected")[1])  # noqa: E731
    assert judge(claims_mod.claim_relative, differ) == "yes"
    assert judge(claims_mod.claim_retrain, differ) == "yes"
    assert judge(claims_mod.claim_relative, merged).startswith("no: ")
    assert judge(claims_mod.claim_retrain, merged).startswith("no: at ")


def test_a_control_with_another_budget_is_refused_in_one_line(setup):
    other = setup["save"]("short", setup["model"].state_dict(), ONEHOTS["relu3_4"], step=20)
    with pytest.raises(ConfigError, match=r"control .*short\.pt was trained with steps 20, the adjustable model "
                                          r".* with 50: a control must share steps"):
        controls(setup["differ"], [setup["retrained"][0], other], None, setup["style"], setup["images"], size=32)
    small = setup["save"]("small", setup["model"].state_dict(), ONEHOTS["relu3_4"], image_size=64)
    with pytest.raises(ConfigError, match="image size 64"):
        controls(setup["differ"], [small], None, setup["style"], setup["images"], size=32)


def test_alpha_labels():
    assert alpha_label([0, 1, 0], LAYERS) == "relu3_4"
    assert alpha_label([1, 1, 1], LAYERS) == "ones"
    assert alpha_label([1, 0.5, 0], LAYERS) == "1,0.5,0"


@pytest.fixture(scope="module")
def budgets(setup, tmp_path_factory):
    """The setup's models each in its own folder as model.pt (step 50), beside its snapshot at step
    20 (model-step20.pt, the same weights), as training with snapshots writes them."""
    root = tmp_path_factory.mktemp("budgets")
    paths = {}
    for name in ("differ", "retrained", "floor"):
        for k, path in enumerate([setup[name]] if isinstance(setup[name], str) else setup[name]):
            folder = root / f"{name}{k}"
            folder.mkdir()
            state = checkpoint.load(path)
            checkpoint.save(folder / "model.pt", state)
            checkpoint.save(folder / "model-step20.pt", {**state, "step": 20})
            paths.setdefault(name, []).append(str(folder / "model.pt"))
    return {"adjustable": paths["differ"][0], "retrained": paths["retrained"], "floor": paths["floor"][0]}


def test_the_verb_judges_every_budget_into_one_table(setup, budgets, tmp_path):
    from arst.cli import main
    out = tmp_path / "controls.csv"
    assert main(["controls", "--adjustable", budgets["adjustable"], "--retrained", *budgets["retrained"],
                 "--floor", budgets["floor"], "--style", setup["style"], "--images", *setup["images"],
                 "--size", "32", "--table", str(out), "--budgets", "20"]) == 0
    table = pd.read_csv(out)
    by_budget = {steps: rows.drop(columns="train_steps").reset_index(drop=True)
                 for steps, rows in table.groupby("train_steps")}
    assert sorted(by_budget) == [20, 50]  # the snapshot's step, then the model's own
    # The same weights at both budgets: the same pairs and the same distances.
    pd.testing.assert_frame_equal(by_budget[20], by_budget[50])
    assert len(by_budget[50]) == len(_table(setup, "differ"))


def test_a_missing_snapshot_is_named(setup, budgets):
    from arst.errors import DataError
    with pytest.raises(DataError, match=r"snapshot not found: .*differ0/model-step30\.pt \(the model at step 30"):
        at_budgets(budgets["adjustable"], budgets["retrained"], budgets["floor"], setup["style"], setup["images"],
                   budgets=[20, 30], size=32)


def test_an_earlier_budget_changes_no_claim(setup):
    final = _table(setup, "differ")
    # An earlier budget whose layers merge: judged, it would turn both rows' verdicts to no.
    earlier = _table(setup, "merged").assign(train_steps=20)
    both = summarize(pd.concat([earlier, final], ignore_index=True))
    assert set(both["train_steps"]) == {20, 50}
    for judge in (claims_mod.claim_relative, claims_mod.claim_retrain):
        assert judge(both, "corrected")[0] == judge(final, "corrected")[0]
        assert claims_mod.combine(judge(both, "corrected")[1]) == "yes"
    pd.testing.assert_frame_equal(claims_mod.claims({"controls": both})[0], claims_mod.claims({"controls": final})[0])
    assert claims_mod.header({"controls": both}) == claims_mod.header({"controls": final})


def _curves_table(budgets: list[int]) -> pd.DataFrame:
    """A controls table by hand: two seeds of one implementation, three layers, each budget's
    adjustable model a little nearer retraining than the one before."""
    rows = []
    for seed in (1, 2):
        for k, steps in enumerate(budgets):
            run = {"implementation": "corrected", "loss_net": "random(seed=0)", "train_steps": steps,
                   "precision": "fp32", "style": "mosaic", "seed": seed}
            for a, b in [("relu2_2", "relu3_4"), ("relu2_2", "relu4_4"), ("relu3_4", "relu4_4")]:
                rows.append({**run, "kind": "retrained", "alpha_a": a, "alpha_b": b, "profile_distance": 1.0})
                rows.append({**run, "kind": "adjustable", "alpha_a": a, "alpha_b": b,
                             "profile_distance": 0.3 + 0.3 * k + 0.1 * seed})
            rows.append({**run, "kind": "floor", "alpha_a": "relu2_2", "alpha_b": "relu2_2", "profile_distance": 0.2})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("steps", [[600, 2000, 5000], [600]], ids=["budgets", "one budget"])
def test_the_curves_figure_is_drawn_from_a_table(steps, tmp_path):
    from arst.plots.comparison import controls_curves_figure
    controls_curves_figure(_curves_table(steps), tmp_path / "curves.png", tmp_path / "curves.pdf")
    with Image.open(tmp_path / "curves.png") as png:
        png.load()
        assert png.size[0] > 600 and png.size[1] > 200
    assert (tmp_path / "curves.pdf").read_bytes().startswith(b"%PDF")


def test_the_pictures_are_kept_for_the_last_budget_and_drawn(setup, budgets, tmp_path):
    from arst.plots.comparison import controls_pictures_figure
    table = at_budgets(budgets["adjustable"], budgets["retrained"], budgets["floor"], setup["style"],
                       setup["images"], budgets=[20], size=32, image_dir=tmp_path / "pictures")
    named = table[table["adjusted_file"].fillna("") != ""]
    # One row per control alpha, at the last budget only (step 50), each the match of an alpha with itself.
    assert sorted(named["alpha_a"]) == ["ones", "relu2_2", "relu3_4", "relu4_4"]
    assert set(named["train_steps"]) == {50} and (named["alpha_a"] == named["alpha_b"]).all()
    assert (named["kind"] == "match").all()
    for row in named.itertuples():
        with Image.open(row.adjusted_file) as adjusted, Image.open(row.retrained_file) as retrained:
            assert adjusted.size == retrained.size == (32, 32)
            # The controls are the adjustable model's own weights at each fixed alpha: one picture.
            assert np.array_equal(np.asarray(adjusted), np.asarray(retrained))
    floor = table[(table["kind"] == "floor") & (table["train_steps"] == 50)]
    assert Image.open(floor["floor_file"].iloc[0]).size == (32, 32)
    assert table[table["train_steps"] == 20][["adjusted_file", "floor_file"]].fillna("").eq("").all().all()
    assert set(os.listdir(tmp_path / "pictures")) == {f"{a}_{k}.png" for a in ("ones", "relu2_2", "relu3_4", "relu4_4")
                                                       for k in ("adjusted", "retrained")} | {"relu2_2_seed2.png"}
    # Through a CSV, as the workflow passes it: empty cells read back as NaN.
    table.to_csv(tmp_path / "controls.csv", index=False)
    controls_pictures_figure(pd.read_csv(tmp_path / "controls.csv"), tmp_path / "pictures.png")
    with Image.open(tmp_path / "pictures.png") as png:
        assert png.size[1] > png.size[0] > 300  # four rows of three at most
    assert "adjusted_file" not in summarize(table)


def test_the_pictures_figure_without_pictures_says_how_to_get_them(setup, tmp_path):
    from arst.errors import DataError
    from arst.plots.comparison import controls_pictures_figure
    with pytest.raises(DataError, match="--image-dir"):
        controls_pictures_figure(controls(setup["differ"], setup["retrained"], setup["floor"], setup["style"],
                                          setup["images"], size=32), tmp_path / "none.png")
