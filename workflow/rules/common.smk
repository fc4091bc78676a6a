# Helpers shared by all rule files (names, paths and command-line arguments from config).
# Rules stay thin: they call `arst VERB` with the values these functions compute.
import json
import re
import shlex
from pathlib import Path

from arst.errors import ArstError
from arst.recipe import load_recipe

IMPLS = list(config["implementations"])
STYLES = list(config["styles"])
SEEDS = [str(s) for s in config["seeds"]]
EVAL_NAMES = list(config["eval_content"])


def _alternatives(names):
    return "|".join(re.escape(n) for n in names)


def _trained_models():
    """Every model the workflow trains, name -> implementation spec: the configured
    implementations, the saddle point's disjoint-layer ablation, and the fixed-alpha models
    of 'adjusted vs retrained'. All are trained by the one `train` rule."""
    evaluation = config["evaluation"]
    out = {impl: config["implementations"][impl] for impl in IMPLS}
    base = evaluation["saddle"]["ablation_impl"]
    if base:
        spec = config["implementations"][base]
        layer = evaluation["saddle"]["ablation_content_layer"]
        out["ablation"] = {
            **spec,
            "set": {**spec.get("set", {}), "content_layer": layer},
        }
    for impl in [i for i in evaluation["retrain"]["impls"] if i in IMPLS]:
        spec = config["implementations"][impl]
        layers = _recipe(impl, spec).style_layers
        for k, alpha in enumerate(evaluation["retrain"]["alphas"]):
            vector = [float(alpha.get(layer, 0.0)) for layer in layers]
            out[f"{impl}-fixed{k}"] = {
                **spec,
                "set": {**spec.get("set", {}), "alpha_fixed": vector},
            }
    return out


def _recipe(name, spec):
    """Load each recipe once, so a bad override fails before any job runs."""
    try:
        return load_recipe(spec["recipe"], **spec.get("set", {}))
    except ArstError as exc:
        raise ValueError(f"config implementations.{name}: {exc}") from None


TRAINED = _trained_models()
RECIPES = {name: _recipe(name, spec) for name, spec in TRAINED.items()}


def model_dir(w):
    return f"results/models/{w.model}/{w.style}/seed{w.seed}"


def run_name(w):
    return f"{w.impl}_{w.style}_seed{w.seed}"


def models(impls=None):
    return expand(
        "results/models/{impl}/{style}/seed{seed}/model.pt",
        impl=impls or IMPLS,
        style=STYLES,
        seed=SEEDS,
    )


def image_path(kind, name):
    """Where the image `config[kind][name]` is (or will be made)."""
    source = config[kind][name]
    if "file" in source:
        path = Path(source["file"])
        if not path.is_file():
            raise ValueError(f"config {kind}.{name}.file: image not found: {path}")
        return str(path)
    if "pinned" in source:
        return f"resources/images/{source['pinned']}.jpg"
    return f"results/data/{kind}/{name}.png"


def style_image(w):
    return image_path("styles", w.style)


def eval_images():
    return [image_path("eval_content", name) for name in EVAL_NAMES]


def image_command(w):
    source = config[w.kind][w.name]
    if "procedural" in source:
        return (
            f"arst make-style {source['procedural']} --seed {source['seed']} "
            f"--size {source['size']} --out"
        )
    return f"arst sample-photos {source['embedded']} --out-file"


def content_input(w=None):
    content = config["content"]
    if content["source"] == "folder":
        if not content["folder"] or not Path(content["folder"]).is_dir():
            raise ValueError(
                f"config content.folder: content folder not found: {content['folder']}"
            )
        return content["folder"]
    if content["source"] == "coco":
        return content["coco_existing"] or "resources/coco/train2014"
    return "results/data/photos"


def loss_weights_input(w):
    """The ImageNet weights file the train job needs (fetched by fetch_vgg), if any."""
    if config["loss_network"]["weights"] != "imagenet":
        return []
    arch = RECIPES[w.model].vgg
    return f"resources/torch/hub/checkpoints/{VGG_FILES[arch]}"


VGG_FILES = {"vgg16": "vgg16-397923af.pth", "vgg19": "vgg19-dcbb9e9d.pth"}


def train_args(w):
    spec = TRAINED[w.model]
    train = {**config["train"], **spec.get("train", {})}
    runtime = config["runtime"]
    args = ["--recipe", spec["recipe"]]
    for key, value in spec.get("set", {}).items():
        args += ["--set", f"{key}={value}"]
    args += (
        ["--epochs", str(train["epochs"])]
        if train.get("epochs")
        else ["--steps", str(train["steps"])]
    )
    for key in ("batch", "size"):
        if train.get(key):
            args += [f"--{key}", str(train[key])]
    args += [
        "--checkpoint-every",
        str(train["checkpoint_every"]),
        "--log-every",
        str(train["log_every"]),
        "--diagnostics-every",
        str(train["diagnostics_every"]),
        "--loss-weights",
        config["loss_network"]["weights"],
        "--loss-seed",
        str(config["loss_network"]["seed"]),
        "--workers",
        str(runtime["workers"]),
        "--device",
        runtime["device"],
        "--precision",
        runtime["precision"],
        "--compile",
        str(runtime["compile"]).lower(),
        "--channels-last",
        str(runtime["channels_last"]).lower(),
        "--channel-multiple",
        str(runtime["channel_multiple"]),
    ]
    return shlex.join(args)


def eval_args():
    ev = config["evaluation"]
    return shlex.join(
        ["--size", str(ev["size"]), "--device", config["runtime"]["device"]]
    )


def sweep_tables(w=None):
    return expand(
        "results/tables/sweep/{impl}_{style}_seed{seed}.csv",
        impl=IMPLS,
        style=STYLES,
        seed=SEEDS,
    )


# --- the comparison (compare.smk) ---

EVAL = config["evaluation"]
RUN = "{impl}_{style}_seed{seed}"
ABLATION_IMPL = EVAL["saddle"]["ablation_impl"]
RETRAIN_IMPLS = [i for i in EVAL["retrain"]["impls"] if i in IMPLS]
RETRAIN_ALPHAS = EVAL["retrain"]["alphas"]


def per_model(pattern, impls=None):
    return expand(pattern, impl=impls or IMPLS, style=STYLES, seed=SEEDS)


def saddle_runs():
    """(variant, style, model.pt, losses.csv) of every run the saddle table reads."""
    runs = [
        ("adjustable", style, f"results/models/{impl}/{style}/seed{seed}/model.pt")
        for impl in IMPLS
        for style in STYLES
        for seed in SEEDS
    ]
    if ABLATION_IMPL:
        runs += [
            ("ablation", style, f"results/models/ablation/{style}/seed{seed}/model.pt")
            for style in STYLES
            for seed in SEEDS
        ]
    return [(v, s, m, m.replace("model.pt", "losses.csv")) for v, s, m in runs]


def claims_inputs(w=None):
    inputs = {
        "sweep": "results/tables/sweep_summary.csv",
        "identity": "results/tables/content_identity.csv",
        "combinations": "results/tables/combinations.csv",
        "diversity": "results/tables/diversity.csv",
        "noise": "results/tables/noise.csv",
        "saddle": "results/tables/saddle.csv",
    }
    if RETRAIN_IMPLS and RETRAIN_ALPHAS:
        inputs["retrain"] = "results/tables/retrain.csv"
    return inputs


def all_targets():
    """Everything `rule all` builds; each rule file adds its own targets."""
    return [target for targets in TARGETS.values() for target in targets]


TARGETS = {}
