"""The Snakemake workflow as users run it: dry-runs, the config's checks, the tiny config end to
end (lint and format: tests/test_ci.py runs CI's steps for them)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "config"


def snakemake(*args, cwd=ROOT, check=True):
    """Through the command line, as users run it (profiles are read only there)."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), *args]
    # Jobs call `arst`: put this interpreter's bin folder first, as an activated venv does.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def job_counts(output: str) -> dict[str, int]:
    """Parse Snakemake's 'Job stats' table."""
    counts = {}
    table = output.split("Job stats:", 1)[1]
    for line in table.splitlines()[3:]:
        match = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if not match:
            break
        counts[match.group(1)] = int(match.group(2))
    return counts


def test_onnx_target_writes_each_implementations_onnx_file_with_arst_export(tmp_path):
    """The files are the rule's declared outputs, written by `arst export --out` (not the
    stylizing engine's cache, arst.export.cache_dir)."""
    import yaml
    cfg = yaml.safe_load((CONFIGS / "test.yaml").read_text())
    proc = snakemake("-n", "-p", "onnx", "--configfile", str(CONFIGS / "test.yaml"), "--directory", str(tmp_path))
    runs = [(impl, style, seed) for impl in cfg["implementations"] for style in cfg["styles"] for seed in cfg["seeds"]]
    assert job_counts(proc.stdout)["export_onnx"] == len(runs)
    for impl, style, seed in runs:
        out = f"results/models/{impl}/{style}/seed{seed}/model.onnx"
        assert f"output: {out}" in proc.stdout
        assert f"arst export --checkpoint results/models/{impl}/{style}/seed{seed}/model.pt --out {out}" in proc.stdout


def test_explorer_in_browser_target_fetches_onnxruntime_web_and_reads_every_export(tmp_path):
    """Not part of `all` (which runs offline): its own target fetches onnxruntime-web's pinned
    tarball and builds one folder from every implementation's ONNX export, each named."""
    import yaml

    from arst.data.fetch import ORT_WEB_FILE
    cfg = yaml.safe_load((CONFIGS / "test.yaml").read_text())
    proc = snakemake("-n", "-p", "explorer_in_browser", "--configfile", str(CONFIGS / "test.yaml"),
                     "--directory", str(tmp_path / "target"))
    counts = job_counts(proc.stdout)
    runs = [(impl, style, seed) for impl in cfg["implementations"] for style in cfg["styles"] for seed in cfg["seeds"]]
    assert counts["fetch_ort_web"] == counts["explorer_in_browser_page"] == 1 and counts["export_onnx"] == len(runs)
    assert f"arst fetch-ort-web --out resources/{ORT_WEB_FILE}" in proc.stdout
    command = re.search(r"arst explorer-in-browser .*", proc.stdout).group(0)
    for impl, style, seed in runs:
        assert f"'{impl}, {style}, seed {seed}=results/models/{impl}/{style}/seed{seed}/model.onnx'" in command
    assert f"--ort-web resources/{ORT_WEB_FILE} --photos results/data/eval_content/" in command
    assert command.split(" > ")[0].endswith("--out results/explorer/in-browser")
    default = job_counts(snakemake("-n", "--configfile", str(CONFIGS / "test.yaml"),
                                   "--directory", str(tmp_path / "all")).stdout)
    assert "fetch_ort_web" not in default and "explorer_in_browser_page" not in default and "export_onnx" not in default


# Every config that ships: what CI's "Dry-run every config" step runs (tests/test_ci.py).
SHIPPED = sorted(path.stem for path in CONFIGS.glob("*.yaml"))


@pytest.mark.parametrize("name", SHIPPED)
def test_dry_run_plans_expected_jobs(name, tmp_path):
    import yaml
    cfg = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    from arst.plan import recipe_of
    runs = len(cfg["styles"]) * len(cfg["seeds"])
    retrain, saddle = cfg["evaluation"].get("retrain", {}), cfg["evaluation"]["saddle"]
    impls = cfg["implementations"]
    controlled = retrain.get("impls", list(impls))  # null or absent: every implementation
    controlled = list(impls) if controlled is None else controlled
    # Each controlled implementation: a model per one-hot alpha, all ones, and the config's vectors...
    controls = sum(len(recipe_of(i, {**impls[i], "name": i}).style_layers) + 1 + len(retrain.get("alphas", []))
                   for i in controlled)
    # ...and its first one-hot at seed + 1, unless that seed is a run of its own.
    floors = len(controlled) * len(cfg["styles"]) * sum(s + 1 not in cfg["seeds"] for s in cfg["seeds"])
    trained = len(impls) * (1 + bool(saddle["ablation"])) + controls
    counts = job_counts(snakemake("-n", "--configfile", str(CONFIGS / f"{name}.yaml"),
                                  "--directory", str(tmp_path)).stdout)
    assert counts["train"] == trained * runs + floors
    assert counts["recipe"] == trained  # one recipe file per model, whatever its styles and seeds
    judged = set(controlled) | {i for i, spec in impls.items() if "controls" in spec}  # own or borrowed
    assert counts.get("controls", 0) == len(judged) * runs
    for rule in ("sweep", "content_identity", "combinations", "noise", "diversity"):
        assert counts[rule] == len(cfg["implementations"]) * runs, rule
    assert counts.get("retrain_compare", 0) == len(judged) * runs
    assert counts["claims"] == 1 and counts["saddle"] == 1
    assert counts["plot_loss_vs_alpha"] == 1 and counts["plot_stylization_grid"] == 1
    assert counts["explorer_page"] == 1
    if name == "paper":  # the faithful run fetches its inputs
        assert counts["fetch_coco"] == 1 and counts["fetch_vgg"] == 1
        assert counts["fetch_image"] == len(cfg["styles"]) + len(cfg["eval_content"])
    else:
        assert counts["sample_photos"] == 1 and "fetch_coco" not in counts


def test_dry_run_plans_the_snapshots_and_the_controls_read_them(tmp_path):
    """`train.snapshots`: every training job declares its snapshots, and the controls job waits for
    those of the adjustable model, its retrained controls and the floor, and judges each budget."""
    import yaml
    cfg = yaml.safe_load((CONFIGS / "test.yaml").read_text())
    cfg["train"]["snapshots"] = [8, 4]
    config = tmp_path / "snapshots.yaml"
    config.write_text(yaml.safe_dump(cfg))
    out = snakemake("-n", "-p", "--configfile", str(config), "--directory", str(tmp_path)).stdout
    jobs = [(m[1], dict(re.findall(r"^    (\w+): (.*)$", m[2], re.M)))
            for m in re.finditer(r"^(?:local)?rule (\w+):\n((?:    .*\n)+)", out, re.M)]
    trains = [fields["output"].split(", ") for rule, fields in jobs if rule == "train"]
    # Every model: the two implementations, their ablations, the controls (3 one-hots, all ones) and the floor.
    assert len(trains) == 9
    assert all({f.rsplit("/", 1)[1] for f in outputs} == {"model.pt", "losses.csv", "adjustability.csv",
                                                          "model-step4.pt", "model-step8.pt"} for outputs in trains)
    read = next(fields["input"].split(", ") for rule, fields in jobs if rule == "controls")
    models = ["corrected/mosaic/seed1", "corrected-fixed-relu2_2/mosaic/seed2",
              *(f"corrected-fixed-{c}/mosaic/seed1" for c in ("relu2_2", "relu3_4", "relu4_4", "ones"))]
    assert {f"results/models/{m}/model-step{n}.pt" for m in models for n in (4, 8)} <= set(read)
    command = re.search(r"arst controls .*", out).group(0)
    assert "--budgets 4,8" in command and "--snapshots 4,8" in re.search(r"arst train .*", out).group(0)


def test_invalid_config_is_rejected_naming_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((CONFIGS / "test.yaml").read_text().replace("steps: 12", "steps: -3"))
    proc = snakemake("-n", "--configfile", str(bad), "--directory", str(tmp_path), check=False)
    assert proc.returncode != 0
    assert "steps" in proc.stderr + proc.stdout and "-3" in proc.stderr + proc.stdout

    bad.write_text((CONFIGS / "test.yaml").read_text().replace("{procedural: mosaic, seed: 0, size: 64}",
                                                               "{file: /no/such/style.jpg}"))
    proc = snakemake("-n", "--configfile", str(bad), "--directory", str(tmp_path), check=False)
    assert proc.returncode != 0 and "/no/such/style.jpg" in proc.stderr + proc.stdout

    bad.write_text((CONFIGS / "test.yaml").read_text().replace("set: {style_size: 64,",
                                                               "set: {cin_eps: oops, style_size: 64,", 1))
    proc = snakemake("-n", "--configfile", str(bad), "--directory", str(tmp_path), check=False)
    assert proc.returncode != 0 and "cin_eps" in proc.stderr + proc.stdout

    bad.write_text((CONFIGS / "test.yaml").read_text() + "runtime: {channel_multiple: 0}\n")
    proc = snakemake("-n", "--configfile", str(bad), "--directory", str(tmp_path), check=False)
    assert proc.returncode != 0 and "channel_multiple" in proc.stderr + proc.stdout


@pytest.mark.parametrize("addition, unexpected, where", [
    ("train: {stpes: 12}", "stpes", "['train']"),
    ("implementations: {b: {recipe: baseline, train: {gpu: 1}}}", "gpu", "['implementations']['b']['train']"),
    # One set of snapshots for every model: a model and its controls are compared at each.
    ("implementations: {b: {recipe: baseline, train: {snapshots: [2]}}}", "snapshots",
     "['implementations']['b']['train']"),
    ("implementations: {b: {recipe: baseline, runtime: {precison: fp32}}}", "precison",
     "['implementations']['b']['runtime']"),
    ("styles: {m: {procedural: mosaic, sed: 1}}", "sed", "['styles']['m']"),
    ("loss_network: {weight: imagenet}", "weight", "['loss_network']"),
], ids=["train", "impl-train", "impl-snapshots", "impl-runtime", "style", "loss_network"])
def test_an_unknown_key_anywhere_is_named_with_its_path(tmp_path, addition, unexpected, where):
    bad = tmp_path / "bad.yaml"
    bad.write_text(addition + "\n")
    proc = snakemake("-n", "--configfile", str(bad), "--directory", str(tmp_path), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"({unexpected!r} was unexpected)" in out and f"On instance{where}:" in out, out[-3000:]


@pytest.mark.parametrize("addition, line", [
    ("evaluation: {sweep_point: 3}", "config evaluation: Additional properties are not allowed ('sweep_point' was "
                                     "unexpected)"),
    ("evaluation: {noise: {dot: 3}}", "config evaluation.noise: Additional properties are not allowed ('dot' was "
                                      "unexpected)"),
    ("evaluation: {noise: {dots: 30}}", "config evaluation.noise.dots: 30 is greater than the maximum of 9"),
], ids=["evaluation", "noise", "bound"])
def test_an_experiment_setting_at_fault_is_named_in_one_line(tmp_path, addition, line):
    """The experiments declare their settings (arst.experiments.registry); the workflow checks
    the config's `evaluation:` against them when it loads."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(addition + "\n")
    proc = snakemake("-n", "--configfile", str(bad), "--directory", str(tmp_path), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and line in out, out[-3000:]


def test_every_named_file_is_checked_when_the_workflow_loads(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((CONFIGS / "test.yaml").read_text()
                   .replace("{procedural: mosaic, seed: 0, size: 64}", "{file: styles/gone.jpg}")
                   .replace("astronaut: {embedded: astronaut}", "astronaut: {file: /no/astronaut.png}")
                   .replace("  source: embedded", "  source: coco\n  coco_existing: /no/coco\n  folder: photos"))
    proc = snakemake("-n", "--configfile", str(bad), "--directory", str(tmp_path), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    for line in ("config styles.mosaic.file: image not found: styles/gone.jpg",
                 "config eval_content.astronaut.file: image not found: /no/astronaut.png",
                 "config content.folder: folder not found: photos",
                 "config content.coco_existing: folder not found: /no/coco"):
        assert line in out, out[-3000:]


def test_a_broken_default_config_is_named(tmp_path):
    """Without --configfile the workflow reads config/config.yaml in the working directory."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text("train:\n  steps: 3\n   typo: 1\n")
    proc = snakemake("-n", "--directory", str(tmp_path), check=False)
    assert proc.returncode != 0
    assert "config file config/config.yaml is not valid YAML, line 3" in proc.stdout + proc.stderr


@pytest.mark.workflow
def test_a_missing_style_file_is_reported_after_a_completed_run(tiny_run, tmp_path):
    """With every output there, the DAG never asks for the style image: the check must not wait
    for it."""
    bad = tmp_path / "bad.yaml"
    bad.write_text((CONFIGS / "test.yaml").read_text()
                   .replace("{procedural: mosaic, seed: 0, size: 64}", f"{{file: {tmp_path / 'gone.jpg'}}}"))
    proc = snakemake("-n", "--configfile", str(bad), "--directory", str(tiny_run), check=False)
    assert proc.returncode != 0
    assert f"config styles.mosaic.file: image not found: {tmp_path / 'gone.jpg'}" in proc.stdout + proc.stderr


@pytest.mark.workflow
def test_tiny_config_end_to_end(tiny_run):
    results = tiny_run / "results"
    for figure in ("loss_vs_alpha.png", "loss_vs_alpha.pdf", "stylization_grid.png"):
        assert (results / "figures" / figure).stat().st_size > 1000
    summary = pd.read_csv(results / "tables" / "sweep_summary.csv")
    # One row per implementation, held value of the others and swept layer (4 + 3 layers, twice).
    assert summary.groupby("implementation").size().to_dict() == {"baseline": 8, "corrected": 6}
    for row in summary.itertuples():
        # The summary against the sweep's own rows, recomputed another way (pandas' ranks).
        sweep = pd.read_csv(results / "tables" / "sweep" / f"{row.implementation}_mosaic_seed1.csv")
        own = sweep[(sweep["others"] == row.others) & (sweep["swept_layer"] == row.swept_layer)
                    & (sweep["term"] == row.swept_layer)]
        curve = own.groupby("alpha")["loss"].mean()
        assert list(curve.index) == [0.0, 0.5, 1.0]  # sweep_points: 3
        rho = pd.Series(curve.index).corr(pd.Series(curve.values), method="spearman")
        assert row.spearman_rho == pytest.approx(rho)
        assert row.monotonic_fall == (curve.is_monotonic_decreasing and curve.iloc[-1] < curve.iloc[0])
        assert (row.loss_at_0, row.loss_at_1) == pytest.approx((curve.iloc[0], curve.iloc[-1]))
    losses = pd.read_csv(results / "models" / "corrected" / "mosaic" / "seed1" / "losses.csv")
    assert losses["step"].tolist() == list(range(12))
    log = (results / "logs" / "train" / "corrected_mosaic_seed1.log").read_text()
    assert "RANDOM weights" in log
    # The controls: every pair of the corrected model's run at each budget (the snapshot at step 4,
    # then the model), and the claims open with their verdict.
    controls = pd.read_csv(results / "tables" / "controls.csv")
    for steps in (4, 12):
        at = controls[controls["train_steps"] == steps]
        assert at.groupby("kind").size().to_dict() == {"adjustable": 6, "retrained": 6, "floor": 1, "match": 16}
    assert set(controls["train_steps"]) == {4, 12}
    snapshot = torch.load(results / "models" / "corrected-fixed-ones" / "mosaic" / "seed1" / "model-step4.pt",
                          weights_only=True)
    assert snapshot["step"] == 4 and "optimizer" not in snapshot
    assert (results / "figures" / "controls_curves.png").stat().st_size > 1000
    assert (results / "figures" / "controls_pictures.png").stat().st_size > 1000
    claims = pd.read_csv(results / "tables" / "claims.csv")
    assert claims["claim"].iloc[0] == "The model responds to alpha differently per layer, as retraining does"
    assert claims["holds (corrected)"].iloc[0].split(":")[0] in ("yes", "no", "inconclusive")
    # No real run trips the divergence guard.
    for model in (results / "models").glob("*/mosaic/seed*/model.pt"):
        assert torch.load(model, weights_only=True)["diverged_at"] is None, model
    # The static explorer holds every sweep image, with the others at 0 and at 1.
    html = (results / "explorer" / "index.html").read_text()
    data = json.loads(re.search(r'id="explorer-data">(.*?)</script>', html, re.S).group(1))
    assert [i["name"] for i in data["implementations"]] == ["baseline", "corrected"]
    assert data["others"] == [0.0, 1.0] and data["frame_count"] == 2 * 3 * (4 + 3)  # others x points x layers


@pytest.mark.workflow
def test_second_run_has_nothing_to_do(tiny_run):
    proc = snakemake("--cores", "2", "--configfile", str(CONFIGS / "test.yaml"), "--directory", str(tiny_run))
    assert "Nothing to be done" in proc.stdout + proc.stderr


def planned_jobs(output: str) -> list[tuple[str, str, str]]:
    """(rule, output, reason) of every job a dry run plans, from its printed job blocks."""
    blocks = re.finditer(r"^(?:local)?rule (\w+):\n((?:    .*\n)+)", output, re.M)
    fields = [(m[1], dict(re.findall(r"^    (\w+): (.*)$", m[2], re.M))) for m in blocks]
    return [(rule, f.get("output", ""), f.get("reason", "")) for rule, f in fields]


@pytest.mark.workflow
def test_a_changed_recipe_field_reruns_exactly_the_models_it_changes(tiny_run, tmp_path):
    """Each model's recipe is a file written by a job whose params are its fields: one field
    changed for one implementation reruns its recipe files (its own, its ablation's, its
    controls'), their training and what reads them, and nothing of the other implementation."""
    changed = tmp_path / "changed.yaml"
    text = (CONFIGS / "test.yaml").read_text()
    changed.write_text(text.replace("corrected: {recipe: corrected, set: {style_size: 64,",
                                    "corrected: {recipe: corrected, set: {ema_rate: 0.02, style_size: 64,"))
    assert changed.read_text() != text
    # The rerun triggers as the workflow's profile leaves them: Snakemake's defaults, params among them.
    jobs = planned_jobs(snakemake("-n", "--configfile", str(changed), "--directory", str(tiny_run)).stdout)
    corrected = ["corrected", "corrected-ablation", "corrected-fixed-ones",
                 *(f"corrected-fixed-{layer}" for layer in ("relu2_2", "relu3_4", "relu4_4"))]
    recipes = {out: reason for rule, out, reason in jobs if rule == "recipe"}
    assert set(recipes) == {f"results/models/{m}/recipe.yaml" for m in corrected}
    assert all(reason.startswith("Params have changed since last execution") for reason in recipes.values())
    trains = [(out.split("/")[2], reason) for rule, out, reason in jobs if rule == "train"]
    # Every model it varies, and the noise floor (corrected-fixed-relu2_2 at seed 2), because its recipe file is new.
    assert sorted(m for m, _ in trains) == sorted([*corrected, "corrected-fixed-relu2_2"])
    assert all(reason == f"Input files updated by another job: results/models/{m}/recipe.yaml" for m, reason in trains)
    swept = [out for rule, out, _ in jobs if rule == "sweep"]
    assert len(swept) == 1 and "corrected_mosaic_seed1" in swept[0]
    assert not [out for _, out, _ in jobs if "baseline" in out], "a job of the unchanged implementation reruns"
    assert {"claims", "plot_loss_vs_alpha"} <= {rule for rule, _, _ in jobs}  # the summaries follow


@pytest.mark.workflow
def test_deleting_one_figure_rebuilds_only_it(tiny_run):
    figure = tiny_run / "results" / "figures" / "loss_vs_alpha.png"
    figure.unlink()
    proc = snakemake("--cores", "2", "--configfile", str(CONFIGS / "test.yaml"), "--directory", str(tiny_run),
                     "results/figures/loss_vs_alpha.png")
    counts = job_counts(proc.stdout + proc.stderr)
    assert counts == {"plot_loss_vs_alpha": 1, "total": 1}
    assert figure.exists()


@pytest.fixture(scope="session")
def tiny_report(tiny_run) -> Path:
    """The tiny run's report, written once (`snakemake --report` reads the whole run: tens of seconds)."""
    snakemake("--configfile", str(CONFIGS / "test.yaml"), "--directory", str(tiny_run),
              "--report", "report.zip")
    return tiny_run / "report.zip"


@pytest.mark.workflow
def test_report_has_every_figure_with_a_caption(tiny_run, tiny_report):
    import zipfile
    with zipfile.ZipFile(tiny_report) as report:
        names = report.namelist()
    figures = sorted(p.name for p in (tiny_run / "results" / "figures").glob("*.png"))
    assert figures and all(any(n.endswith(f) for n in names) for f in figures), (figures, names)
    assert any(n.endswith("/index.html") for n in names), names  # the explorer, by its file name
    for rule_file in (ROOT / "workflow" / "rules").glob("*.smk"):
        for caption in re.findall(r'caption="\.\./report/([\w.]+)"', rule_file.read_text()):
            assert (ROOT / "workflow" / "report" / caption).stat().st_size > 50, caption


@pytest.mark.workflow
def test_report_is_organised_by_experiment_with_html_tables(tiny_run, tiny_report):
    import json
    import zipfile
    with zipfile.ZipFile(tiny_report) as report:
        page = report.read("report/report.html").decode()
    categories = json.loads(re.search(r"var categories = (\{.*?\});", page, re.S).group(1))
    # Every result sits in an experiment's category and a named subcategory, never "Other".
    assert "Other" not in categories and all("Other" not in subs for subs in categories.values()), categories
    shown = {path for subs in categories.values() for paths in subs.values() for path in paths}
    # Every summary table (those with a Markdown version for people), as an HTML page.
    tables = {f"results/report/{p.stem}.html" for p in (tiny_run / "results" / "tables").glob("*.md")}
    assert len(tables) >= 10 and tables <= shown, tables - shown
    assert categories["Verdict"] == {"Tables": ["results/report/claims.html"]}
    assert categories["Training"] == {"Figures": ["results/figures/training_curves.png"],
                                      "Tables": ["results/report/benchmarks.html"]}
    assert categories["Alpha sweep"] == {"Animations": ["results/report/alpha_sweep.html"]}
    assert set(categories["Layer loss vs alpha"]) == {"Figures", "Tables"}
    # The description of the run, rendered from the config.
    assert "Implementations in this run: baseline, corrected." in page and "random weights" in page
    claims = (tiny_run / "results" / "report" / "claims.html").read_text()
    assert claims.count("<tr") == len(pd.read_csv(tiny_run / "results" / "tables" / "claims.csv")) + 1


@pytest.mark.workflow
def test_animated_sweeps_and_training_curves_are_targets(tiny_run):
    from PIL import Image
    for impl in ("baseline", "corrected"):
        with Image.open(tiny_run / "results" / "figures" / "alpha_sweep" / f"{impl}_mosaic_seed1.gif") as gif:
            layers = 4 if impl == "baseline" else 3
            assert gif.n_frames == (2 * layers + 2) * 4 and gif.info["loop"] == 0  # 4 frames per leg
    sweep_page = (tiny_run / "results" / "report" / "alpha_sweep.html").read_text()
    assert sweep_page.count("data:image/gif;base64,") == 2
    bench = pd.read_csv(tiny_run / "results" / "tables" / "benchmarks.csv")
    controls = [f"corrected-fixed-{c}_mosaic_seed1" for c in ("ones", "relu2_2", "relu3_4", "relu4_4")]
    assert sorted(bench["job"]) == sorted(["baseline-ablation_mosaic_seed1", "baseline_mosaic_seed1",
                                           "corrected-ablation_mosaic_seed1", *controls,
                                           "corrected-fixed-relu2_2_mosaic_seed2",  # the noise floor
                                           "corrected_mosaic_seed1"])
    assert (bench["wall_s"] > 0).all()
    assert (tiny_run / "results" / "figures" / "training_curves.png").stat().st_size > 1000


NAMES_CONFIG = """
content: {source: embedded, photos: [coffee, rocket]}
eval_content: {astronaut: {embedded: astronaut}}
styles:
  mosaic: {procedural: mosaic, seed: 0, size: 64}
loss_network: {weights: random, seed: 0}
implementations:   # the README's ablation example: two entries from one preset (conditioners 64 wide)
  corrected: {recipe: corrected, set: {style_size: 32, conditioner_width: 64}}
  corrected_vgg16:
    recipe: corrected
    set: {style_size: 32, conditioner_width: 64, vgg: vgg16, style_layers: [relu2_2, relu3_3, relu4_3],
          content_layer: relu3_3}
seeds: [1]   # the floor trains seed 2 of one control: two seeds in the controls' tables still
train: {steps: 2, batch: 1, size: 32, checkpoint_every: 2, log_every: 1, diagnostics_every: 1}
evaluation:
  size: 32
  sweep_points: 2
  combinations: [{relu2_2: 1.0}]
  noise: {dots: 3, sigma: 1.0, spots: 1, radius: 2}
  diversity: {samples: 2, gram_layers: [relu2_2]}
  saddle: {window: 1, warmup: 0, ablation: false}
  retrain: {impls: [corrected_vgg16], alphas: [{relu2_2: 1.0, relu4_3: 1.0}]}
"""


@pytest.mark.workflow
def test_two_models_from_one_preset_keep_their_names_in_every_table(tmp_path):
    """Two implementations made from the corrected preset: every table and the claims keep them
    apart (a model's name is its config key, not its preset's). One style and one seed: the tiny
    run and the dry-runs cover styles and seeds; a second style here nearly doubled the test's
    38 jobs (66; it was the suite's longest test at 197 s)."""
    config = tmp_path / "names.yaml"
    config.write_text(NAMES_CONFIG)
    per_run = ("adjustability", "sweep_summary", "content_identity", "combinations", "noise", "diversity")
    # The tables and the claims, not the figures, pages and report (the tiny run checks those).
    snakemake(*(f"results/tables/{name}.csv" for name in (*per_run, "retrain", "claims")),
              "--cores", "2", "--configfile", str(config), "--directory", str(tmp_path))
    runs = {(impl, "mosaic", 1) for impl in ("corrected", "corrected_vgg16")}
    tables = tmp_path / "results" / "tables"
    for name in per_run:
        table = pd.read_csv(tables / f"{name}.csv")
        assert set(zip(table["implementation"], table["style"], table["seed"])) == runs, name
    vgg16 = pd.read_csv(tables / "adjustability.csv").query("implementation == 'corrected_vgg16'")
    assert set(vgg16["layer"]) == {"relu2_2", "relu3_3", "relu4_3"}  # its own layers, not corrected's
    retrain = pd.read_csv(tables / "retrain.csv")
    # Its controls: three one-hots of its own layers, all ones, and the config's one vector.
    assert set(retrain["implementation"]) == {"corrected_vgg16"} and retrain["alpha_vector"].nunique() == 5
    claims = pd.read_csv(tables / "claims.csv").set_index("claim")
    assert {"corrected", "corrected_vgg16"} <= set(claims.columns)
    assert "n=1" in claims.loc["Combinations of layers give distinct looks", "corrected"] or \
        claims.loc["Combinations of layers give distinct looks", "holds (corrected)"].startswith("not applicable")
    assert "n=1)" in claims.loc["The model responds to alpha", "corrected"]
    # The relative row: judged over the run of the one with controls, not run for the other.
    assert "n=1)" in claims.iloc[0]["corrected_vgg16"] and claims.iloc[0]["corrected"] == "not run"
