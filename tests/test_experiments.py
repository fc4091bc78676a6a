"""The comparison experiments compute their numbers from the models and logs they are given:
hand-checkable cases (a model whose alpha has no effect, flat and saddle-shaped curves,
identical images, small synthetic tables)."""

import math
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from arst import checkpoint
from arst.experiments import claims as claims_mod
from arst.experiments.alphaspec import alpha_for, parse_alpha_specs
from arst.experiments.combinations import combinations
from arst.experiments.content_identity import content_identity, image_metrics
from arst.experiments.diversity import diversity, pairwise_mean, pixel_distance
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
    assert len(table) == 2 and table["psnr"].between(0, 100).all() and table["ssim"].le(1).all()
    specs = parse_alpha_specs('[{"relu2_2": 1}, {"relu5_4": 1}]')
    combo = combinations(files["model"], files["style"], files["images"], specs, size=32)
    assert set(combo[combo["combo"] == 1]["ignored"]) == {"relu5_4"}
    assert (combo["distance_to_others"] == 0).all()  # the model ignores alpha


def test_alpha_for_ignores_missing_layers():
    alpha, ignored = alpha_for({"relu2_2": 1.0, "relu5_4": 0.5}, ["relu2_2", "relu3_4", "relu4_4"])
    assert alpha.tolist() == [[1.0, 0.0, 0.0]] and ignored == ["relu5_4"]


def test_summarize_synthetic_sweep():
    rows = []
    for layer, sign in (("relu2_2", -1), ("relu3_4", +1)):
        for a in np.linspace(0, 1, 5):
            rows.append({"implementation": "x", "loss_net": "random", "train_steps": 1, "style": "s", "seed": 1,
                         "others": 0.0, "swept_layer": layer, "term": layer, "alpha": a, "loss": 2 + sign * a})
    out = summarize(pd.DataFrame(rows)).set_index("swept_layer")
    assert out.loc["relu2_2", "spearman_rho"] == pytest.approx(-1) and out.loc["relu2_2", "monotonic_fall"]
    assert out.loc["relu3_4", "spearman_rho"] == pytest.approx(1) and not out.loc["relu3_4", "monotonic_fall"]


def test_detector_flat_and_saddle():
    steps = np.arange(200)
    assert detect_saddle(steps, np.ones(200), np.ones(200), window=10)["event_step"] is None
    content = np.where(steps < 120, 10.0, 3.0)
    style = np.where(steps < 120, 1.0, 1.5)
    event = detect_saddle(steps, content, style, window=10)
    assert event["event_step"] == 120
    assert event["content_change"] == pytest.approx(-0.7) and event["style_change"] == pytest.approx(0.5)
    # both falling (ordinary training) is no event
    assert detect_saddle(steps, content, np.where(steps < 120, 1.0, 0.5), window=10)["event_step"] is None


def test_saddle_reads_logs(files, tmp_path):
    steps = np.arange(60)
    log = pd.DataFrame({"step": steps, "loss_total": 1.0, "loss_content": np.where(steps < 30, 5.0, 1.0),
                        "loss_relu2_2": np.where(steps < 30, 1.0, 2.0), "loss_relu3_4": 1.0, "loss_relu4_4": 1.0,
                        "ema_content": 1.0, "ema_relu2_2": 1.0, "ema_relu3_4": 1.0, "ema_relu4_4": 1.0,
                        "grad_cosine": np.where(steps % 10 == 0, -0.5, np.nan), "elapsed_s": 0.0})
    log.to_csv(tmp_path / "saddle.csv", index=False)
    log.assign(loss_content=1.0).to_csv(tmp_path / "flat.csv", index=False)
    summary, curves = saddle([("adjustable", "s", files["model"], str(tmp_path / "saddle.csv")),
                              ("ablation", "s", files["model"], str(tmp_path / "flat.csv"))], window=5)
    assert summary["event"].tolist() == ["30", "none"]
    assert summary["cosine_mean"].tolist() == [-0.5, -0.5] and summary["content_shares_style_layer"].all()
    assert len(curves) == 120 and set(curves["style"]) == {"s"}
    assert curves["style_loss"].max() == 4.0


def test_metrics_and_distances_on_identical_images():
    img = np.random.default_rng(1).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    m = image_metrics(img, img)
    assert math.isinf(m["psnr"]) and m["ssim"] == pytest.approx(1.0) and m["mean_abs_diff"] == 0
    x = torch.rand(3, 8, 8) * 200  # + 20 stays below the 255 clamp
    assert pairwise_mean([x, x.clone(), x.clone()], pixel_distance) == [0.0, 0.0, 0.0]
    assert pairwise_mean([x, x + 10, x + 20], pixel_distance) == pytest.approx([15, 10, 15], abs=1e-3)


def test_noise_masks():
    rng = np.random.default_rng(0)
    mask = dot_mask((32, 32), 9, 1.5, rng)
    assert mask.min() == pytest.approx(0.0) and mask.max() <= 1.0 and (mask < 0.05).sum() <= 9
    assert (mask > 0.99).mean() > 0.5  # mostly white
    spots = spot_mask((32, 32), 1, 3, np.random.default_rng(0))
    assert (spots == 0).sum() == 29  # a disc of radius 3 has 29 pixels


def _tables(rho, psnr, events, ratio):
    base = {"implementation": "corrected", "loss_net": "random(seed=0)", "train_steps": 150}
    seeds = [1, 2]
    sweep = pd.DataFrame([{**base, "seed": s, "others": o, "swept_layer": "relu2_2", "spearman_rho": rho,
                           "monotonic_fall": rho < 0} for s in seeds for o in (0.0, 1.0)])
    identity = pd.DataFrame([{**base, "seed": s, "psnr": psnr + s, "ssim": 0.9} for s in seeds])
    saddle = pd.DataFrame([{**base, "seed": s, "variant": v, "event": e, "cosine_mean": -0.1}
                           for s in seeds for v, e in (("adjustable", events[0]), ("ablation", events[1]))])
    retrain = pd.DataFrame([{**base, "seed": s, "alpha_vector": "1,0,0", "term": t, "loss_adjusted": ratio,
                             "loss_retrained": 1.0} for s in seeds for t in ("content", "relu2_2")])
    adjust = pd.DataFrame([{**base, "seed": s, "style": "mosaic", "layer": layer, "response": response,
                            "min_layer_distance": distinct, "dead_fraction": 0.3}
                           for s in seeds for layer in ("relu2_2", "relu3_4")])
    return {"adjustability": adjust, "sweep": sweep, "identity": identity, "saddle": saddle, "retrain": retrain}


response, distinct = 30.0, 5.0


def test_claims_from_synthetic_tables():
    table, impls = claims_mod.claims(_tables(rho=-0.9, psnr=30.0, events=("100", "none"), ratio=1.5))
    assert impls == ["corrected"]
    holds = table.set_index("measure")["holds (corrected)"]
    assert list(holds) == ["yes", "yes", "yes", "not run", "not run", "not run", "yes", "yes"]
    assert "31.5 ± 0.71 (n=2)" in table.loc[2, "corrected"]
    table, _ = claims_mod.claims(_tables(rho=0.3, psnr=10.0, events=("none", "none"), ratio=3.0))
    assert list(table["holds (corrected)"]) == ["yes", "no", "no", "not run", "not run", "not run", "inconclusive",
                                                "no"]


def test_alpha_claims_are_not_applicable_to_a_model_that_ignores_alpha(monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "response", 0.01)  # under the 2-grey-level floor
    table, _ = claims_mod.claims(_tables(rho=-0.9, psnr=30.0, events=("100", "none"), ratio=1.5))
    holds = list(table["holds (corrected)"])
    assert holds[0] == claims_mod.NO_RESPONSE
    # sweep and retrain need a model that responds; content at alpha 0 and the saddle do not.
    assert holds[1] == "not applicable: the model does not respond to alpha" == holds[7]
    assert holds[2] == "yes" and holds[6] == "yes"
    monkeypatch.setattr(sys.modules[__name__], "response", 30.0)
    monkeypatch.setattr(sys.modules[__name__], "distinct", 0.5)  # responds, layers alike
    holds = list(claims_mod.claims(_tables(rho=-0.9, psnr=30.0, events=("100", "none"), ratio=1.5))[0][
        "holds (corrected)"])
    assert holds[0] == claims_mod.NOT_DISTINCT
    assert holds[1] == "not applicable: the layers' effects are not distinct" and holds[7] == "yes"
    head = claims_mod.header(_tables(-1, 30, ("none", "none"), 1))
    assert "random(seed=0)" in head and "150 steps" in head and "RANDOM" in head
