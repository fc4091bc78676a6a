"""Train a config's models and measure their adjustability without Snakemake, several at once
on one GPU: for a machine that has the GPU but not the workflow's dependencies (the borrowed
device machine has torch, pandas, matplotlib and scikit-image, not Snakemake). Which models,
and each one's `arst train` arguments, come from the same package functions the workflow
asks (arst.plan), so a run here trains what `snakemake --configfile CONFIG` would.

    PYTHONPATH=src python3 scripts/gpu-run.py --config config/ablations.yaml --out OUT \
        [--set train.steps=10000 ...] [--style FILE] [--parallel 8] [--budget 300]

Writes OUT/models/<model>/<style>/seed<seed>/ (as the workflow does, without model.pt and
checkpoint.pt if --drop-weights), OUT/tables/adjustability.csv and adjustability_curves.csv,
OUT/tables/retrain_gap.csv (pairs of fixed-alpha models), OUT/figures/adjustability.png, and
OUT/log/ with every job's output. Jobs still running at --budget seconds are stopped (their
checkpoints stay) and reported.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from arst.plan import check_evaluation, evaluation_settings, image_size, model_recipe, train_argv, trained_models  # noqa: E402
from arst.recipe import save_recipe  # noqa: E402


def with_defaults(schema: dict, config: dict) -> dict:
    """The schema's defaults filled in, as Snakemake's validate() does (objects recursively)."""
    out = dict(config)
    for key, prop in schema.get("properties", {}).items():
        if key not in out and "default" in prop:
            out[key] = prop["default"]
        if prop.get("type") == "object" and isinstance(out.get(key), dict):
            out[key] = with_defaults(prop, out[key])
    return out


def set_dotted(config: dict, pair: str) -> None:
    key, _, value = pair.partition("=")
    *parents, last = key.split(".")
    node = config
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = yaml.safe_load(value)


def arst(*args: str) -> list[str]:
    return [sys.executable, "-m", "arst", *args]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE")
    p.add_argument("--style", help="style image file (default: the config's first style, generated)")
    p.add_argument("--parallel", type=int, default=8, help="training jobs at once")
    p.add_argument("--budget", type=float, default=300, help="seconds for all training")
    p.add_argument("--drop-weights", action="store_true", help="delete model.pt/checkpoint.pt at the end")
    p.add_argument("--grid", type=int, default=0, metavar="POINTS",
                   help="also sweep each layer's alpha over POINTS values (others 0) and draw the "
                        "stylization grid and loss-vs-alpha figures")
    args = p.parse_args()

    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    config = yaml.safe_load(Path(args.config).read_text())
    for pair in args.set:
        set_dotted(config, pair)
    config = with_defaults(schema, config)
    check_evaluation(config)  # the experiments' settings and defaults (their modules declare them)
    out = Path(args.out)
    logs = out / "log"
    logs.mkdir(parents=True, exist_ok=True)

    # Data: the embedded photos and evaluation images, the style (generated unless given).
    data = out / "data"
    models = trained_models(config)
    subprocess.run(arst("sample-photos", "--out", str(data / "photos"), *config["content"]["photos"]), check=True)
    for size in sorted({image_size(spec, config) for spec in models.values()}):  # the sizes trained at
        subprocess.run(arst("prepare", "--content", str(data / "photos"), "--out", str(data / f"content-{size}px.npy"),
                            "--size", str(size)), check=True)
    evals = []
    for name, source in config["eval_content"].items():
        evals.append(str(data / "eval" / f"{name}.png"))
        subprocess.run(arst("sample-photos", source["embedded"], "--out-file", evals[-1]), check=True)
    style_name, style_source = next(iter(config["styles"].items()))
    style = args.style
    if not style:
        style = str(data / f"{style_name}.png")
        subprocess.run(arst("make-style", style_source["procedural"], "--seed", str(style_source.get("seed", 0)),
                            "--size", str(style_source.get("size", 256)), "--out", style), check=True)

    recipes = {}  # each model's recipe file, where the workflow writes it
    for name, spec in models.items():
        recipes[name] = out / "models" / name / "recipe.yaml"
        save_recipe(model_recipe(spec, config), recipes[name])
    jobs = []  # every model's first seed first: a budget that runs out leaves whole variants
    for seed in config["seeds"]:
        for name, spec in models.items():
            folder = out / "models" / name / style_name / f"seed{seed}"
            cache = data / f"content-{image_size(spec, config)}px.npy"
            cmd = arst("train", "--recipe", str(recipes[name]), "--content", str(cache), "--style", style,
                       "--out", str(folder), "--seed", str(seed), "--threads", str(config["train"]["threads"]),
                       "--no-progress", *train_argv(spec, config))
            jobs.append((name, seed, folder, cmd))

    began, running, done, waiting = time.time(), [], [], list(jobs)
    while waiting or running:
        while waiting and len(running) < args.parallel:
            name, seed, folder, cmd = waiting.pop(0)
            log = open(logs / f"train_{name}_seed{seed}.log", "w")
            running.append((name, seed, folder, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log))
        for job in list(running):
            if job[3].poll() is not None:
                running.remove(job)
                job[4].close()
                done.append((job[0], job[1], job[2], job[3].returncode))
                print(f"{time.time() - began:6.0f}s trained {job[0]} seed {job[1]}: exit {job[3].returncode}",
                      flush=True)
        if time.time() - began > args.budget:
            for name, seed, folder, proc, log in running:
                proc.terminate()
                print(f"stopped {name} seed {seed} at the budget ({args.budget:.0f}s)", flush=True)
            for name, seed, *_ in waiting:
                print(f"not started {name} seed {seed}: budget spent", flush=True)
            break
        time.sleep(1)

    import pandas as pd
    from arst.experiments.adjustability import adjustability_table, training_curve
    from arst.experiments.retrain import fixed_alpha_gap
    from arst.plots.adjustability import adjustability_figure
    from arst.runtime import Runtime

    runtime = Runtime.resolve(precision="fp32", compile=False, channels_last=False)
    tables, curves, fixed = [], [], {}
    eval_size = evaluation_settings(config)["size"]
    for name, seed, folder, code in done:
        if code != 0 or not (folder / "model.pt").is_file():
            continue
        if "-fixed" in name:  # retrained at one alpha: a control, not an adjustable model
            fixed.setdefault((name.split("-fixed")[0], seed), []).append(str(folder / "model.pt"))
            continue
        tables.append(adjustability_table(folder / "model.pt", style, evals, eval_size, style_name, runtime))
        curves.append(training_curve(folder / "model.pt", folder / "adjustability.csv", style_name))
    (out / "tables").mkdir(exist_ok=True)
    if tables:
        summary = pd.concat(tables, ignore_index=True)
        summary.to_csv(out / "tables" / "adjustability.csv", index=False)
        curve = pd.concat(curves, ignore_index=True)
        curve.to_csv(out / "tables" / "adjustability_curves.csv", index=False)
        adjustability_figure(curve, out / "figures" / "adjustability.png")
        wide = summary.pivot_table(index=["implementation", "seed"], columns="layer", values="response")
        rest = summary.groupby(["implementation", "seed"])[
            ["min_layer_distance", "saturated_fraction", "gamma_spread", "dead_fraction"]].first()
        print(wide.join(rest).round(3).to_string())
    if args.grid:
        from arst.experiments.sweep import sweep
        from arst.plots.sweep import loss_vs_alpha, stylization_grid
        sweeps = [sweep(folder / "model.pt", style, evals, eval_size, args.grid, (0.0, 1.0), style_name,
                        out / "images" / f"{name}_seed{seed}", runtime)
                  for name, seed, folder, code in done
                  if code == 0 and "-fixed" not in name and (folder / "model.pt").is_file()]
        if sweeps:
            table = pd.concat(sweeps, ignore_index=True)
            table.to_csv(out / "tables" / "sweep.csv", index=False)
            stylization_grid(table, out / "figures" / "stylization_grid.png")
            loss_vs_alpha(table, out / "figures" / "loss_vs_alpha.png")
    gaps = [fixed_alpha_gap(paths, style, evals, eval_size, runtime) for paths in fixed.values() if len(paths) > 1]
    if gaps:
        gap = pd.concat(gaps, ignore_index=True)
        gap.to_csv(out / "tables" / "retrain_gap.csv", index=False)
        print(gap[["implementation", "seed", "alpha_a", "alpha_b", "distance"]].round(3).to_string())
    if args.drop_weights:
        for path in list((out / "models").rglob("*.pt")):
            path.unlink()
    return 0 if all(code == 0 for *_, code in done) and len(done) == len(jobs) else 1


if __name__ == "__main__":
    sys.exit(main())
