"""The comparison experiments compute their numbers from the models and logs they are given:
hand-checkable cases (a model whose alpha has no effect, flat and saddle-shaped curves,
identical images, small synthetic tables)."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from arst import checkpoint
from arst.experiments import claims as claims_mod
from arst.experiments.alphaspec import alpha_for, parse_alpha_specs
from arst.experiments.combinations import combinations
from arst.experiments.combinations import summarize as combinations_summary
from arst.experiments.content_identity import content_identity, image_metrics
from arst.experiments.common import load_eval_images, mean_distance_to_others, pairwise, pixel_distance, to_nearest
from arst.experiments.diversity import diversity
from arst.experiments.noise import dot_mask, noise, spot_mask
from arst.experiments.saddle import detect_saddle, saddle
from arst.experiments.sweep import summarize, sweep
from arst.nn.model import build_model
from arst.recipe import load_recipe


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Two small content images, a style image, and a model whose conditioner ignores alpha."""
    root = tmp_path_factory.mktemp("exp")
    rng = np.random.default_rng(0)
    images = []
    for k in range(2):
        yy, xx = np.mgrid[0:40, 0:40]
        arr = np.stack([xx * 6, yy * 6, (xx + yy) * 3], -1) + rng.integers(0, 30, (40, 40, 3))
        path = root / f"img{k}.png"
        Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(path)
        images.append(str(path))
    style = root / "style.png"
    Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(style)
    recipe = load_recipe("corrected", conditioner_width=16, conditioner_depth=1, style_size=32)
    model = build_model(recipe, 0)
    with torch.no_grad():
        model.conditioner.body[0].weight.zero_()  # the conditioner no longer sees alpha
    path = root / "model.pt"
    checkpoint.save(path, checkpoint.provenance(
        recipe=recipe.to_dict(), seed=3, step=7, loss_net="random(seed=0)", loss_weights="random",
        loss_seed=0, model=model.state_dict()))
    return {"model": str(path), "style": str(style), "images": images, "root": root}


def test_alpha_blind_model_gives_rho_zero_and_no_diversity(files):
    table = sweep(files["model"], files["style"], files["images"], size=32, points=2)
    summary = summarize(table)
    assert len(summary) == 2 * 3 and (summary["spearman_rho"].abs() < 1e-6).all()
    assert not summary["monotonic_fall"].any()
    assert set(summary["seed"]) == {3} and set(summary["train_steps"]) == {7}
    div = diversity(files["model"], files["style"], files["images"], samples=2, size=32)
    assert (div["pixel_distance"] == 0).all() and (div["gram_distance"] == 0).all()
    assert div["content_loss"].gt(0).all()
    noisy = noise(files["model"], files["style"], files["images"], size=32, radius=3)
    alpha_only = noisy[noisy["condition"] == "alpha"]
    assert (alpha_only["output_change"] == 0).all() and alpha_only["ratio"].isna().all()
    assert (noisy[noisy["condition"] == "spots"]["input_change"] > 0).all()


def test_content_identity_and_combinations_from_model(files, tmp_path):
    table = content_identity(files["model"], files["style"], files["images"], size=32, image_dir=tmp_path)
    assert len(table) == 2
    for row in table.itertuples():  # PSNR by hand from the two images written, as a viewer sees them
        content, output = (np.asarray(Image.open(f), dtype=np.float64) for f in (row.content_file, row.image_file))
        mse = ((content - output) ** 2).mean()
        assert mse > 0 and row.psnr == pytest.approx(10 * np.log10(255 ** 2 / mse))
        assert row.mean_abs_diff == pytest.approx(np.abs(content - output).mean())
        assert row.ssim < 1  # an output that differs is not structurally identical
        assert Image.open(row.ones_file).size == Image.open(row.image_file).size
    # The model ignores alpha: the all-ones control is exactly as close to the content, so the
    # claim cannot pass whatever the thresholds say.
    assert (table["ones_mean_abs_diff"] == table["mean_abs_diff"]).all() and (table["ones_psnr"] == table["psnr"]).all()
    judged = table.assign(psnr=30.0, ssim=0.9)  # as if it passed the thresholds
    assert claims_mod.combine(claims_mod.claim_content(judged, "corrected")[1]).startswith("no: alpha 1 is not")
    specs = parse_alpha_specs('[{"relu2_2": 1}, {"relu5_4": 1}]')
    combo = combinations(files["model"], files["style"], files["images"], specs, size=32)
    assert set(combo[combo["combo"] == 1]["ignored"]) == {"relu5_4"}
    assert (combo["distance_to_others"] == 0).all()  # the model ignores alpha
    assert (combo["distance_to_nearest"] == 0).all()


def test_alpha_for_ignores_missing_layers():
    alpha, ignored = alpha_for({"relu2_2": 1.0, "relu5_4": 0.5}, ["relu2_2", "relu3_4", "relu4_4"])
    assert alpha.tolist() == [[1.0, 0.0, 0.0]] and ignored == ["relu5_4"]


def test_summarize_synthetic_sweep():
    rows = []
    for layer, sign in (("relu2_2", -1), ("relu3_4", +1)):
        for a in np.linspace(0, 1, 5):
            rows.append({"implementation": "x", "loss_net": "random", "train_steps": 1, "precision": "fp32",
                         "style": "s", "seed": 1,
                         "others": 0.0, "swept_layer": layer, "term": layer, "alpha": a, "loss": 2 + sign * a})
    out = summarize(pd.DataFrame(rows)).set_index("swept_layer")
    assert out.loc["relu2_2", "spearman_rho"] == pytest.approx(-1) and out.loc["relu2_2", "monotonic_fall"]
    assert out.loc["relu3_4", "spearman_rho"] == pytest.approx(1) and not out.loc["relu3_4", "monotonic_fall"]


def test_detector_flat_and_saddle():
    steps = np.arange(200)
    assert detect_saddle(steps, np.ones(200), np.ones(200), window=10, warmup=0)["event_step"] is None
    content = np.where(steps < 120, 10.0, 3.0)
    style = np.where(steps < 120, 1.0, 1.5)
    event = detect_saddle(steps, content, style, window=10, warmup=0)
    assert event["event_step"] == 120
    assert event["content_change"] == pytest.approx(-0.7) and event["style_change"] == pytest.approx(0.5)
    # both falling (ordinary training) is no event
    assert detect_saddle(steps, content, np.where(steps < 120, 1.0, 0.5), window=10, warmup=0)["event_step"] is None


def test_saddle_reads_logs(files, tmp_path):
    steps = np.arange(60)
    log = pd.DataFrame({"step": steps, "loss_total": 1.0, "loss_content": np.where(steps < 30, 5.0, 1.0),
                        "loss_relu2_2": np.where(steps < 30, 1.0, 2.0), "loss_relu3_4": 1.0, "loss_relu4_4": 1.0,
                        "ema_content": 1.0, "ema_relu2_2": 1.0, "ema_relu3_4": 1.0, "ema_relu4_4": 1.0,
                        "grad_cosine": np.where(steps % 10 == 0, -0.5, np.nan), "elapsed_s": 0.0})
    log.to_csv(tmp_path / "saddle.csv", index=False)
    log.assign(loss_content=1.0).to_csv(tmp_path / "flat.csv", index=False)
    summary, curves = saddle([("adjustable", "s", files["model"], str(tmp_path / "saddle.csv")),
                              ("ablation", "s", files["model"], str(tmp_path / "flat.csv"))], window=5, warmup=0)
    assert summary["event"].tolist() == ["30", "none"]
    assert summary["cosine_mean"].tolist() == [-0.5, -0.5] and summary["content_shares_style_layer"].all()
    assert len(curves) == 120 and set(curves["style"]) == {"s"}
    assert curves["style_loss"].max() == 4.0


def test_metrics_and_distances_on_identical_images():
    img = np.random.default_rng(1).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    m = image_metrics(img, img)
    assert math.isinf(m["psnr"]) and m["ssim"] == pytest.approx(1.0) and m["mean_abs_diff"] == 0
    x = torch.rand(3, 8, 8) * 200  # + 20 stays below the 255 clamp
    assert mean_distance_to_others([x, x.clone(), x.clone()], pixel_distance) == [0.0, 0.0, 0.0]
    assert mean_distance_to_others([x, x + 10, x + 20], pixel_distance) == pytest.approx([15, 10, 15], abs=1e-3)
    d = pairwise([x, x + 10, x + 20], pixel_distance)
    assert to_nearest(d) == pytest.approx([10, 10, 10], abs=1e-3)
    # Items 0 and 1 are the same vector to the model: compared only with item 2.
    assert to_nearest(d, ["a", "a", "b"]) == pytest.approx([20, 10, 10], abs=1e-3)
    assert math.isnan(to_nearest([[0.0]])[0])  # a lone item has no nearest


def test_noise_masks():
    mask = dot_mask((32, 32), 1, 1.5, np.random.default_rng(0))
    y, x = np.unravel_index(mask.argmin(), mask.shape)
    assert 3 <= y <= 28 and 3 <= x <= 28  # this seed's dot lies clear of the border
    # One black pixel, a Gaussian blob around it: 1 - exp(-r^2 / (2 sigma^2)) at distance r
    # (the sampled kernel's normalisation cancels in the ratio to the centre).
    assert mask[y, x] == 0 and (mask == 0).sum() == 1
    assert mask[y, x + 1] == pytest.approx(1 - np.exp(-1 / (2 * 1.5 ** 2)))
    assert mask[y + 1, x + 1] == pytest.approx(1 - np.exp(-2 / (2 * 1.5 ** 2)))
    assert mask[y, x + 2] == pytest.approx(1 - np.exp(-4 / (2 * 1.5 ** 2)))
    bare = dot_mask((32, 32), 4, 0, np.random.default_rng(1))  # no blur: black pixels where drawn
    rng = np.random.default_rng(1)
    drawn = set(zip(rng.integers(0, 32, 4).tolist(), rng.integers(0, 32, 4).tolist()))
    assert set(np.unique(bare)) == {0.0, 1.0} and set(zip(*map(list, np.nonzero(bare == 0)))) == drawn
    spots = spot_mask((32, 32), 1, 3, np.random.default_rng(0))
    assert (spots == 0).sum() == 29  # a disc of radius 3 has 29 pixels


BASE = {"implementation": "corrected", "loss_net": "random(seed=0)", "train_steps": 150, "precision": "fp32"}
RUNS = [("mosaic", 1), ("mosaic", 2), ("swirl", 1), ("swirl", 2)]


def _table(rows_per_run):
    """One table over the four runs (2 styles x 2 seeds): rows_per_run(style, seed) -> rows."""
    return pd.DataFrame([{**BASE, "style": st, "seed": se, **row} for st, se in RUNS for row in rows_per_run(st, se)])


def _adjust(response=30.0, distinct=5.0, motifs=(3.0, 5.0, 9.0)):
    layers = ("relu2_2", "relu3_4", "relu4_4")
    return _table(lambda st, se: [{"layer": l, "depth": d, "response": response, "min_layer_distance": distinct,
                                   "dead_fraction": 0.3, "motif_px": m}
                                  for l, d, m in zip(layers, (2.2, 3.4, 4.4), motifs)])


def _tables(rho=-0.9, change=-0.2, psnr=30.0, ratio=3.0, ones=40.0, mask_change=3.0, step_change=1.0, **adjust):
    """`ones`: the all-ones control's distance to the content (alpha 0's is 3); `mask_change`
    and `step_change`: the output change under the mask and under the alpha step alone."""
    sweep = _table(lambda st, se: [{"others": o, "swept_layer": "relu2_2", "spearman_rho": rho,
                                    "relative_change": change} for o in (0.0, 1.0)])
    identity = _table(lambda st, se: [{"psnr": psnr + se, "ssim": 0.9, "mean_abs_diff": 3.0,
                                       "ones_psnr": 12.0, "ones_ssim": 0.2, "ones_mean_abs_diff": ones}])
    noise = _table(lambda st, se: [{"condition": "mask", "ratio": ratio, "output_change": mask_change,
                                    "alpha_change": 0.0},
                                   {"condition": "spots", "ratio": ratio, "output_change": 10.0, "alpha_change": 0.0},
                                   {"condition": "alpha", "ratio": np.nan, "output_change": step_change,
                                    "alpha_change": 0.2}])
    return {"adjustability": _adjust(**adjust), "sweep": sweep, "identity": identity, "noise": noise}


def _holds(tables, claim):
    table, _ = claims_mod.claims(tables)
    return table.set_index("claim").loc[claim, "holds (corrected)"], table.set_index("claim").loc[claim, "corrected"]


CLAIM = {fn.__name__: claim for claim, _, _, _, fn, _ in claims_mod.CLAIMS}
RELATIVE, RESPONDS, LAYERS = CLAIM["claim_relative"], CLAIM["claim_adjustability"], CLAIM["claim_layers"]
IDENTITY, MOTIFS, NOISE = CLAIM["claim_content"], CLAIM["claim_motifs"], CLAIM["claim_noise"]
COMBINATIONS = CLAIM["claim_combinations"]


def test_claims_judge_every_run_and_say_when_runs_disagree():
    assert _holds(_tables(), LAYERS)[0] == "yes" and _holds(_tables(), IDENTITY)[0] == "yes"
    tables = _tables()
    swirl = tables["sweep"]["style"] == "swirl"
    tables["sweep"].loc[swirl, ["spearman_rho", "relative_change"]] = [0.8, 0.3]  # rises in one style
    assert _holds(tables, LAYERS)[0] == "mixed: yes in 2/4, no in 2/4 runs"  # not averaged away
    assert _holds(_tables(change=-0.001), LAYERS)[0] == "no effect"  # under the 1% floor, rho or not
    assert _holds(_tables(psnr=10.0), IDENTITY)[0] == "no"


def test_one_run_shows_its_value_not_a_zero_spread():
    assert claims_mod.spread([4.5]) == "4.5 (n=1)"
    assert claims_mod.spread([1.0, 3.0]) == "2 ± 1.4 (1..3, n=2)"
    assert claims_mod.spread([]) == "n/a"


def test_noise_is_judged_against_a_pass_through_and_an_alpha_step():
    assert _holds(_tables(ratio=3.0), NOISE)[0] == "yes"
    # The null: the mask passed through (about its own input change), not amplified.
    assert _holds(_tables(ratio=1.2), NOISE)[0] == "no: passed through (< 2x its input change)"
    # The yardstick: amplified, but less than the alpha step alone moves the output.
    verdict, measured = _holds(_tables(ratio=3.0, mask_change=3.0, step_change=8.0), NOISE)
    assert verdict == "no: smaller than an alpha step's change"
    assert "alpha moved by 0.2 ± 0 (0.2..0.2, n=4) without a mask: output change 8 ± 0" in measured
    # A model that ignores alpha (the step moves nothing) is judged by the null alone.
    assert _holds(_tables(ratio=3.0, step_change=0.0), NOISE)[0] == "yes"
    tables = _tables()
    tables["noise"] = tables["noise"][tables["noise"]["condition"] != "alpha"]
    assert _holds(tables, NOISE)[0] == "inconclusive: no alpha-only condition to compare with"


def test_alpha_zero_needs_a_control_that_could_fail_it():
    assert _holds(_tables(), IDENTITY)[0] == "yes"
    # A model that returns its input whatever alpha: alpha 1 is as close to the content.
    assert _holds(_tables(ones=3.0), IDENTITY)[0] == "no: alpha 1 is not 2 grey levels farther from the content"
    assert _holds(_tables(ones=4.9), IDENTITY)[0].startswith("no: alpha 1")  # under the 2-level margin
    assert _holds(_tables(ones=5.1), IDENTITY)[0] == "yes"


def test_psnr_over_images_is_finite_unless_every_image_is_identical():
    # One identical image (PSNR inf) and one at 30 dB: half the MSE of the second, +3.01 dB.
    assert claims_mod.mean_psnr([math.inf, 30.0]) == pytest.approx(30 + 10 * np.log10(2))
    assert claims_mod.mean_psnr([20.0, 40.0]) == pytest.approx(10 * np.log10(2 / 1.01) + 20)
    assert math.isinf(claims_mod.mean_psnr([math.inf, math.inf]))
    tables = _tables()
    identity = tables["identity"]
    tables["identity"] = pd.concat([identity, identity.assign(psnr=math.inf)], ignore_index=True)
    verdict, measured = _holds(tables, IDENTITY)
    assert verdict == "yes" and "inf" not in measured and "nan" not in measured
    assert "PSNR 34.51 ± 0.58 (34..35, n=4) dB" in measured  # 31..32 dB and an identical image: +3 dB
    tables["identity"] = identity.assign(psnr=math.inf, mean_abs_diff=0.0)
    verdict, measured = _holds(tables, IDENTITY)
    assert verdict == "yes" and measured.startswith("PSNR identical to the content in every run;")


def test_motif_size_must_grow_with_depth():
    assert _holds(_tables(), MOTIFS)[0] == "yes"
    assert _holds(_tables(motifs=(9.0, 5.0, 3.0)), MOTIFS)[0] == "no"
    assert _holds(_tables(motifs=(3.0, 9.0, 5.0)), MOTIFS)[0] == "inconclusive"


def test_a_layer_without_a_measurable_motif_is_named_not_dropped():
    """Dropped, relu3_4's NaN would leave relu2_2 < relu4_4: a rank correlation of 1, 'yes'."""
    verdict, measured = _holds(_tables(motifs=(3.0, np.nan, 9.0)), MOTIFS)
    assert verdict == "inconclusive: no measurable motif at relu3_4"
    assert "no measurable motif at relu3_4 in 4/4 runs" in measured and "nan" not in measured
    tables = _tables(motifs=(9.0, 5.0, 3.0))  # shrinks with depth: no, in the runs that measure every layer
    swirl = tables["adjustability"]["style"] == "swirl"
    tables["adjustability"].loc[swirl & (tables["adjustability"]["layer"] == "relu4_4"), "motif_px"] = np.nan
    verdict = _holds(tables, MOTIFS)[0]  # (tied counts: either may come first)
    assert verdict.startswith("mixed: ") and verdict.endswith(" runs")
    assert sorted(verdict[len("mixed: "):-len(" runs")].split(", ")) == [
        "inconclusive: no measurable motif at relu4_4 in 2/4", "no in 2/4"]


def _combos(nearest: dict, others=20.0):
    """A combinations summary: per run, each vector's mean distance to its nearest other vector."""
    return pd.DataFrame([{**BASE, "style": st, "seed": se, "combo": k, "combo_label": label,
                          "alpha_vector": label, "ignored": "", "pixel_distance_to_others": others,
                          "pixel_distance_to_nearest": d}
                         for st, se in RUNS for k, (label, d) in enumerate(nearest.items())])


def test_combinations_are_judged_on_the_closest_two_vectors():
    tables = {**_tables(), "combinations": _combos({"relu2_2=1": 9.0, "relu3_4=1": 9.0, "relu4_4=1": 12.0})}
    assert _holds(tables, COMBINATIONS)[0] == "yes"
    # Two vectors whose outputs merge, behind a large mean distance to the others: no.
    tables["combinations"] = _combos({"relu2_2=1": 0.5, "relu3_4=1": 0.5, "relu4_4=1": 30.0}, others=20.0)
    verdict, measured = _holds(tables, COMBINATIONS)
    assert verdict == "no" and "closest: relu2_2=1, 0.5" in measured
    assert "mean distance between vectors 20" in measured
    tables["combinations"] = _combos({"relu2_2=1": np.nan})  # one vector: nothing to compare
    assert _holds(tables, COMBINATIONS)[0] == "inconclusive: fewer than two distinct vectors"


def test_a_run_that_ignores_alpha_is_gated_alone():
    """One run under the response floor makes its own verdict 'not applicable'; the other
    runs' verdicts stand (a combined gate would turn their 'no' into 'not applicable')."""
    tables = _tables()
    tables["sweep"].loc[tables["sweep"]["style"] == "swirl", ["spearman_rho", "relative_change"]] = [0.8, 0.3]
    mute = (tables["adjustability"]["style"] == "mosaic") & (tables["adjustability"]["seed"] == 1)
    tables["adjustability"].loc[mute, "response"] = 0.01
    assert _holds(tables, LAYERS)[0] == ("mixed: no in 2/4, not applicable: the model does not respond to "
                                         "alpha in 1/4, yes in 1/4 runs")


def test_a_diverged_run_is_not_judged():
    tables = _tables()
    tables["adjustability"]["diverged_at"] = np.where(tables["adjustability"]["style"] == "swirl", 7500, np.nan)
    assert _holds(tables, LAYERS)[0] == "mixed: yes in 2/4, not applicable: diverged at step 7500 in 2/4 runs"
    assert _holds(tables, IDENTITY)[0].endswith("not applicable: diverged at step 7500 in 2/4 runs")


def test_alpha_claims_are_not_applicable_to_a_model_that_ignores_alpha():
    tables = _tables(response=0.01)  # under the 2-grey-level floor
    assert _holds(tables, RESPONDS)[0] == claims_mod.NO_RESPONSE
    assert _holds(tables, LAYERS)[0] == "not applicable: the model does not respond to alpha"
    assert _holds(tables, IDENTITY)[0] == "yes" and _holds(tables, NOISE)[0] == "yes"  # not about alpha
    tables = {**_tables(), "controls": _controls(adjustable=0.2, runs=RUNS)}  # responds, every layer alike
    assert _holds(tables, RESPONDS)[0] == "yes"
    assert _holds(tables, RELATIVE)[0].startswith("no: ")
    assert _holds(tables, MOTIFS)[0] == "not applicable: the layers' effects are not distinct (relative to retraining)"


LAYER_NAMES = ("relu2_2", "relu3_4", "relu4_4")


def _controls(adjustable=1.0, retrained=1.5, floor=0.3, match=None, runs=RUNS[:1], labels=LAYER_NAMES):
    """A controls table: every pair of one-hot settings `adjustable` apart for the adjustable
    model and `retrained` apart when retrained (numbers, or {pair: distance}); the floor; and
    `match`[(a, b)], the adjustable model at a against the model retrained at b (default: as
    near its own as a second seed, as far from the others as retraining)."""
    def pick(value, a, b):
        return value[(a, b)] if isinstance(value, dict) else value
    rows = []
    for st, se in runs:
        def row(kind, a, b, d):
            rows.append({**BASE, "style": st, "seed": se, "kind": kind, "alpha_a": a, "alpha_b": b,
                         "profile_distance": d, "pixel_distance": 50.0})
        for a, b in itertools.combinations(labels, 2):
            row("adjustable", a, b, pick(adjustable, a, b))
            row("retrained", a, b, pick(retrained, a, b))
        for a in labels:
            for b in labels:
                default = floor if a == b else pick(retrained, *sorted((a, b), key=labels.index))
                row("match", a, b, (match or {}).get((a, b), default))
        row("floor", labels[0], labels[0], floor)
    return pd.DataFrame(rows)


def test_differently_per_layer_is_judged_against_retraining_and_the_seed_floor():
    judge = lambda table: claims_mod.combine(claims_mod.claim_relative(table, "corrected")[1])  # noqa: E731
    # Retrained pairs 1.5 apart, seeds 0.3: needed 1 - 0.3/1.5 = 0.8 of retraining per pair.
    assert judge(_controls(adjustable=1.3)) == "yes"  # 0.87
    assert judge(_controls(adjustable=1.15)).startswith("no: relu2_2 vs relu3_4 at 0.77 of retraining (needs 0.80)")
    # One pair merged while the others are far: the merged pair is named.
    merged = {("relu2_2", "relu3_4"): 1.4, ("relu2_2", "relu4_4"): 1.4, ("relu3_4", "relu4_4"): 0.1}
    assert judge(_controls(adjustable=merged)) == "no: relu3_4 vs relu4_4 at 0.07 of retraining (needs 0.80)"
    # The objective does not separate two layers (retrained within 2x the floor): no verdict on them.
    close = {("relu2_2", "relu3_4"): 0.5, ("relu2_2", "relu4_4"): 1.5, ("relu3_4", "relu4_4"): 1.5}
    assert judge(_controls(adjustable=1.5, retrained=close)) == ("inconclusive: the objective does not "
                                                                "separate relu2_2 vs relu3_4")
    table = _controls(adjustable=1.3)
    assert judge(table[table["kind"] != "floor"]) == "inconclusive: no second seed, no floor"


def test_adjusting_matches_retraining_only_when_nearest_its_own_by_the_floor():
    judge = lambda table: claims_mod.combine(claims_mod.claim_retrain(table, "corrected")[1])  # noqa: E731
    assert judge(_controls()) == "yes"  # own 0.3 (one floor), others 1.5
    # Nearer the model retrained on another layer at one alpha: no, naming it.
    wrong = {("relu4_4", "relu4_4"): 1.0, ("relu4_4", "relu3_4"): 0.6}
    assert judge(_controls(match=wrong)) == "no: at relu4_4 nearer a model retrained at another alpha"
    # A constant model: as far from every retrained model, nearer none by the floor.
    constant = {(a, b): 0.9 for a in LAYER_NAMES for b in LAYER_NAMES}
    assert judge(_controls(match=constant)).startswith("inconclusive: nearer its own")
    # Retrained models no farther apart than seeds: nothing to match.
    assert judge(_controls(retrained=0.4)) == "inconclusive: the retrained models are within twice the seed floor"


def test_controls_sanity_check_names_a_starved_layer():
    def retrain(relu4_4_own):
        losses = {"1,0,0": {"relu2_2": 1.0, "relu3_4": 5.0, "relu4_4": 5.0},
                  "0,1,0": {"relu2_2": 5.0, "relu3_4": 1.0, "relu4_4": 4.0},
                  "0,0,1": {"relu2_2": 5.0, "relu3_4": 5.0, "relu4_4": relu4_4_own},
                  "1,1,1": {"relu2_2": 0.5, "relu3_4": 0.5, "relu4_4": 0.5}}  # lower on all: not a one-hot
        return pd.DataFrame([{**BASE, "style": "mosaic", "seed": 1, "alpha_vector": a, "term": t,
                              "loss_adjusted": 1.0, "loss_retrained": v}
                             for a, terms in losses.items() for t, v in {"content": 1.0, **terms}.items()])
    judge = lambda table: claims_mod.combine(claims_mod.claim_own_term(table, "corrected")[1])  # noqa: E731
    assert judge(retrain(1.0)) == "yes"
    assert judge(retrain(6.0)) == "no: relu4_4 lowest in a model not trained on it"


def test_saddle_verdicts_need_a_run_that_searched_the_step_and_an_ablation():
    def table(event, searched_to, ablation_event=None):
        rows = [{**BASE, "style": "s", "seed": 1, "variant": "adjustable", "event": event, "cosine_mean": -0.2,
                 "searched_from": 400, "searched_to": searched_to, "content_layer": "relu3_4"}]
        if ablation_event is not None:
            rows.append({**rows[0], "variant": "ablation", "event": ablation_event, "content_layer": "relu4_2"})
        return pd.DataFrame(rows)
    judge = lambda *a: claims_mod.combine(claims_mod.claim_saddle(table(*a), "corrected")[1])  # noqa: E731
    assert judge("2900", 5000, "none") == "yes"
    assert judge("2900", 5000, "3100") == "no: it survives the ablation"
    assert judge("2900", 5000) == "inconclusive: no ablation"
    assert judge("none", 5000) == "no: none near step 3000"
    # 3,000 steps with a window of 500 cannot place an event at step 3,000: no refutation.
    assert judge("none", 2500).startswith("inconclusive: the run cannot place an event")


def test_detector_skips_the_warm_up_transient():
    steps = np.arange(600)
    # Only a transient at the start (content falls, style rises while the EMA settles).
    content = np.where(steps < 30, 10.0, 3.0)
    style = np.where(steps < 30, 1.0, 2.0)
    assert detect_saddle(steps, content, style, window=20, warmup=0)["event_step"] == 30  # the old detector fires
    assert detect_saddle(steps, content, style, window=20, warmup=300)["event_step"] is None
    # A real event after the warm-up is still found, at its step.
    content, style = np.where(steps < 450, 10.0, 3.0), np.where(steps < 450, 1.0, 2.0)
    assert detect_saddle(steps, content, style, window=20, warmup=300)["event_step"] == 450


def test_detector_needs_an_event_above_batch_noise():
    """Losses with a batch-to-batch spread of 40% per step and no event: the configured fractions
    alone fire somewhere in every such curve; 3 standard errors of the measured noise do not.
    The same noise with a real event (content x0.2, style x3 at step 300) is still found."""
    steps = np.arange(600)
    for seed in range(3):
        rng = np.random.default_rng(seed)
        content, style = 10 * np.exp(rng.normal(0, 0.4, 600)), np.exp(rng.normal(0, 0.4, 600))
        assert detect_saddle(steps, content, style, window=10, warmup=0, k=0)["event_step"] is not None
        quiet = detect_saddle(steps, content, style, window=10, warmup=0)
        assert quiet["event_step"] is None
        assert quiet["content_spread"] == pytest.approx(0.4, rel=0.15) and quiet["style_spread"] == pytest.approx(0.4, rel=0.15)
        # 3 SE of two medians of 10 steps: 3 * sqrt(2) * 1.2533 * 0.4 / sqrt(10), as a log change
        se = np.sqrt(2) * 1.2533 * quiet["style_spread"] / np.sqrt(10)
        assert quiet["style_needed"] == pytest.approx(np.expm1(3 * se), rel=0.1) and quiet["style_needed"] > 0.1
        event = detect_saddle(steps, content * np.where(steps < 300, 1.0, 0.2),
                              style * np.where(steps < 300, 1.0, 3.0), window=10, warmup=0)
        assert abs(event["event_step"] - 300) <= 3
    # Without noise the spread is 0 and the configured fractions alone decide.
    flat = detect_saddle(steps, np.ones(600), np.ones(600), window=10, warmup=0)
    assert flat["content_spread"] == 0 and (flat["content_needed"], flat["style_needed"]) == (-0.3, 0.1)


def test_claims_header_names_the_runs_and_the_precision():
    head = claims_mod.header(_tables())
    assert "random(seed=0)" in head and "150 steps" in head and "RANDOM" in head
    assert "styles mosaic, swirl x seeds 1, 2" in head and "precision: fp32" in head


def test_combinations_distance_to_others_by_hand(files, tmp_path):
    """A model that responds to alpha: each vector's distance is the mean, over the other
    vectors, of the mean absolute difference of the clamped outputs of that image."""
    recipe = load_recipe("corrected", conditioner_width=16, conditioner_depth=1, style_size=32)
    path = tmp_path / "responds.pt"
    checkpoint.save(path, checkpoint.provenance(
        recipe=recipe.to_dict(), seed=3, step=7, loss_net="random(seed=0)", loss_weights="random",
        loss_seed=0, model=build_model(recipe, 0).state_dict()))
    specs = [{"relu2_2": 1.0}, {"relu3_4": 1.0}, {}]
    table = combinations(str(path), files["style"], files["images"], specs, size=32)
    model = build_model(recipe, 0).eval()
    names, batch = load_eval_images(files["images"], 32)
    with torch.no_grad():
        outputs = [model(batch, torch.tensor([[s.get(l, 0.0) for l in recipe.style_layers]])).clamp(0, 255)
                   for s in specs]
    for b, image in enumerate(names):
        d = {(i, j): float((outputs[i][b] - outputs[j][b]).abs().mean()) for i in range(3) for j in range(3)}
        assert d[0, 1] > 0.01  # the vectors give different outputs
        for k in range(3):
            got = table[(table["image"] == image) & (table["combo"] == k)]["distance_to_others"]
            expected = sum(d[k, j] for j in range(3) if j != k) / 2
            assert got.tolist() == pytest.approx([expected] * len(got), rel=1e-5)
            got = table[(table["image"] == image) & (table["combo"] == k)]["distance_to_nearest"]
            expected = min(d[k, j] for j in range(3) if j != k)
            assert got.tolist() == pytest.approx([expected] * len(got), rel=1e-5)
    # The summary averages each over images; the claim takes the run's closest vector.
    summary = combinations_summary(table).set_index("combo")
    for k in range(3):
        nearest = [min(float((outputs[k][b] - outputs[j][b]).abs().mean()) for j in range(3) if j != k)
                   for b in range(len(names))]
        assert summary.loc[k, "pixel_distance_to_nearest"] == pytest.approx(np.mean(nearest), rel=1e-5)
    measured, verdicts = claims_mod.claim_combinations(summary.reset_index(), "corrected")
    expected = summary["pixel_distance_to_nearest"].min()
    assert verdicts.tolist() == ["yes" if expected >= claims_mod.MIN_PIXEL_DISTANCE else "no"]
    assert "apart (closest: " in measured and f"{expected:.3g}" in measured


def test_combinations_do_not_compare_vectors_the_model_cannot_tell_apart(files):
    """{relu2_2: 1} and {relu2_2: 1, relu5_4: 1} are the same vector to the corrected model (it
    has no relu5_4): their zero distance is not a merge of its layers."""
    specs = [{"relu2_2": 1.0}, {"relu2_2": 1.0, "relu5_4": 1.0}, {}]
    combo = combinations(files["model"], files["style"], files["images"], specs, size=32)
    assert combo[combo["combo"] == 1]["alpha_vector"].iloc[0] == combo[combo["combo"] == 0]["alpha_vector"].iloc[0]
    assert (combo["distance_to_nearest"] == 0).all()  # alpha-blind: 0 to vector 2 all the same
    lone = combinations(files["model"], files["style"], files["images"], specs[:2], size=32)
    assert lone["distance_to_nearest"].isna().all()  # nothing left to compare with


def test_diversity_needs_outputs_that_differ_beyond_rounding():
    def table(pixels):
        return _table(lambda st, se: [{"pixel_distance": pixels, "gram_distance": 1e-7, "content_loss": 0.4,
                                       "style_loss": 3e-6}])
    judge = lambda t: claims_mod.combine(claims_mod.claim_diversity(t, "corrected")[1])  # noqa: E731
    assert judge(table(12.0)) == "yes"
    assert judge(table(1.5)) == "no"  # random alphas, nearly one output: no diversity
