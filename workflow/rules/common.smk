# Helpers shared by every rule file: names, paths and command-line arguments from config.
# Rules stay thin: they call `arst VERB` with the values these functions compute.
import os
import re
import shlex
import sys
from pathlib import Path

from arst.errors import ArstError
from arst.recipe import load_recipe

# Jobs find `arst` beside the Python that runs Snakemake (a venv that was not activated).
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

IMPLS = list(config["implementations"])
STYLES = list(config["styles"])
SEEDS = [str(s) for s in config["seeds"]]
EVAL_NAMES = list(config["eval_content"])


def _alternatives(names):
    return "|".join(re.escape(n) for n in names)


wildcard_constraints:
    impl=_alternatives(IMPLS),
    style=_alternatives(STYLES),
    seed=r"\d+",
    kind="styles|eval_content",


def _recipe(impl):
    """Load each implementation's recipe once, so a bad override fails before any job runs."""
    spec = config["implementations"][impl]
    try:
        return load_recipe(spec["recipe"], **spec.get("set", {}))
    except ArstError as exc:
        raise ValueError(f"config implementations.{impl}: {exc}") from None


RECIPES = {impl: _recipe(impl) for impl in IMPLS}


def model_dir(w):
    return f"results/models/{w.impl}/{w.style}/seed{w.seed}"


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
    arch = RECIPES[w.impl].vgg
    return f"resources/torch/hub/checkpoints/{VGG_FILES[arch]}"


VGG_FILES = {"vgg16": "vgg16-397923af.pth", "vgg19": "vgg19-dcbb9e9d.pth"}


def train_args(w):
    spec = config["implementations"][w.impl]
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
    ]
    return shlex.join(args)


def eval_args():
    ev = config["evaluation"]
    return shlex.join(
        ["--size", str(ev["size"]), "--device", config["runtime"]["device"]]
    )


def all_targets():
    """Everything `rule all` builds; each rule file adds its own targets."""
    return [target for targets in TARGETS.values() for target in targets]


TARGETS = {}
