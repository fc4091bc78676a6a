# Helpers shared by all rule files (names, paths and command-line arguments from config).
# Rules stay thin: they call `arst VERB` with the values these functions compute.
import json
import re
import shlex
from pathlib import Path

from arst.errors import ArstError
from arst.plan import ablation_model, check_named_files, recipe_of, train_argv, trained_models

IMPLS = list(config["implementations"])
STYLES = list(config["styles"])
SEEDS = [str(s) for s in config["seeds"]]
EVAL_NAMES = list(config["eval_content"])


def _alternatives(names):
    return "|".join(re.escape(n) for n in names)


def _plan(fn, *args):
    """A package answer about the config; a bad config stops the run naming the key."""
    try:
        return fn(*args)
    except ArstError as exc:
        raise ValueError(str(exc)) from None


_plan(check_named_files, config)
TRAINED = _plan(trained_models, config)
RECIPES = {name: _plan(recipe_of, name, spec) for name, spec in TRAINED.items()}


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
    return shlex.join(train_argv(TRAINED[w.model], config))


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


def sweep_image_dirs(w=None):
    return expand(
        "results/images/sweep/{impl}_{style}_seed{seed}",
        impl=IMPLS,
        style=STYLES,
        seed=SEEDS,
    )


# --- the comparison (compare.smk) ---

EVAL = config["evaluation"]
RUN = "{impl}_{style}_seed{seed}"
RETRAIN_IMPLS = [i for i in EVAL["retrain"]["impls"] if i in IMPLS]
RETRAIN_ALPHAS = EVAL["retrain"]["alphas"]


def per_model(pattern, impls=None):
    return expand(pattern, impl=impls or IMPLS, style=STYLES, seed=SEEDS)


def saddle_runs():
    """(variant, style, model.pt, losses.csv) of every run the saddle table reads: each
    implementation's, and its disjoint-layer ablation's where the config asks for them.
    """
    variants = [("adjustable", lambda impl: impl)]
    if EVAL["saddle"]["ablation"]:
        variants.append(("ablation", ablation_model))
    runs = [
        (variant, style, f"results/models/{model(impl)}/{style}/seed{seed}/model.pt")
        for variant, model in variants
        for impl in IMPLS
        for style in STYLES
        for seed in SEEDS
    ]
    return [(v, s, m, m.replace("model.pt", "losses.csv")) for v, s, m in runs]


def claims_inputs(w=None):
    inputs = {
        "adjustability": "results/tables/adjustability.csv",
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
