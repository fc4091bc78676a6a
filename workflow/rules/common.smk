# Helpers that all the rule files use. Here are the config's names (checked when the
# workflow loads), where the trained models' files go, the images, and each training job's
# inputs and arguments; the experiments' helpers are in experiments.smk. Rules stay thin:
# they call `arst VERB` with the values these functions compute, and arst.plan decides them.
import re
import shlex
from pathlib import Path

from arst.data.fetch import ORT_WEB_FILE
from arst.errors import ArstError
from arst.plan import (
    check_alpha_names,
    check_evaluation,
    check_eval_not_trained,
    check_named_files,
    image_argv,
    image_size,
    loss_weights_file,
    model_recipe,
    snapshot_files,
    train_argv,
    trained_models,
    write_recipe_file,
)

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


_plan(
    check_evaluation, config
)  # fills the experiments' defaults in config["evaluation"]
_plan(check_named_files, config)
_plan(check_eval_not_trained, config)
_plan(check_alpha_names, config)
TRAINED = _plan(trained_models, config)
EVAL = config["evaluation"]


# Shared by the rules that run a command. Their conda environment (used under --sdm conda, and
# asked of every rule by `snakemake --lint`) is relative to the rule files, which all live in
# this folder; the output and errors of their commands go to the job's `log:`.
ARST_ENV = "../../envs/arst.yaml"


def logged(command):
    """The rule's shell command, its output and errors written to the job's log."""
    return f"{command} > {{log}} 2>&1"


# One trained model (an implementation, style and seed) and its name in every per-model file.
MODEL = "results/models/{impl}/{style}/seed{seed}/model.pt"
RUN = "{impl}_{style}_seed{seed}"


def per_model(pattern, impls=None):
    """`pattern` for every implementation (or those in `impls`), style and seed."""
    return expand(pattern, impl=impls or IMPLS, style=STYLES, seed=SEEDS)


# --- the images and the training photos (data.smk) ---


def image_path(kind, name):
    """Where the image `config[kind][name]` is (or will be made); a file the config names was
    found when the workflow loaded (check_named_files)."""
    source = config[kind][name]
    if "file" in source:
        return str(Path(source["file"]))
    if "pinned" in source:
        return f"resources/images/{source['pinned']}.jpg"
    return f"results/data/{kind}/{name}.png"


def style_image(w):
    return image_path("styles", w.style)


def eval_images():
    return [image_path("eval_content", name) for name in EVAL_NAMES]


def image_command(w):
    """The command that makes a generated image, up to its output file."""
    return shlex.join(image_argv(config, w.kind, w.name))


def content_input(w=None):
    """The training photos: the config's folder (checked when the workflow loaded), COCO, or
    the embedded photos."""
    content = config["content"]
    if content["source"] == "folder":
        return content["folder"]
    if content["source"] == "coco":
        return content["coco_existing"] or "resources/coco/train2014"
    return "results/data/photos"


# --- each model's training (train.smk) ---


def model_dir(w):
    return f"results/models/{w.model}/{w.style}/seed{w.seed}"


def snapshot_outputs(model):
    """A train job's snapshots (train.snapshots, none by default) beside its model.pt pattern."""
    return snapshot_files(model, config)


def loss_weights_input(w):
    """The ImageNet weights file the train job needs (fetched by fetch_vgg), if any."""
    return _plan(loss_weights_file, TRAINED[w.model], config, TORCH_HOME) or []


def recipe_fields(w):
    """Every field of the model's recipe (arst.plan.model_recipe): as a param of the job that
    writes the recipe file, a change to any of them reruns that file and what reads it.
    """
    return _plan(model_recipe, TRAINED[w.model], config).to_dict()


def train_args(w):
    """`arst train`'s schedule, loss network and runtime flags (its recipe is a file)."""
    return shlex.join(_plan(train_argv, TRAINED[w.model], config))


def content_cache(w):
    """The content cache prepared at the size this model trains on (arst.plan decides it)."""
    return f"results/data/content-{_plan(image_size, TRAINED[w.model], config)}px.npy"


# --- the explorer that runs in the browser (sweep.smk) ---

# onnxruntime-web's npm tarball, at the version arst.data.fetch.ORT_WEB pins.
ORT_WEB_TARBALL = f"resources/{ORT_WEB_FILE}"


def browser_models(w=None):
    """`arst explorer-in-browser`'s models, NAME=FILE: every implementation's ONNX export,
    for each style and seed, named as the page offers it."""
    return shlex.join(
        f"{impl}, {style}, seed {seed}=results/models/{impl}/{style}/seed{seed}/model.onnx"
        for impl in IMPLS
        for style in STYLES
        for seed in SEEDS
    )


def all_targets():
    """Everything `rule all` builds; each rule file adds its own targets."""
    return [target for targets in TARGETS.values() for target in targets]


TARGETS = {}
