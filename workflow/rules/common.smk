# Helpers shared by all rule files (names, paths and command-line arguments from config).
# Rules stay thin: they call `arst VERB` with the values these functions compute.
import re
import shlex
from pathlib import Path

from arst.errors import ArstError
from arst.plan import (
    ablation_model,
    check_alpha_names,
    check_eval_not_trained,
    check_named_files,
    control_sources,
    controls,
    floor_seed,
    evaluated_as_argv,
    evaluation_argv,
    experiment_argv,
    image_size,
    loss_weights_file,
    model_recipe,
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


_plan(check_named_files, config)
_plan(check_eval_not_trained, config)
_plan(check_alpha_names, config)
TRAINED = _plan(trained_models, config)


def model_dir(w):
    return f"results/models/{w.model}/{w.style}/seed{w.seed}"


# One trained model (an implementation, style and seed) and its name in every per-model file.
MODEL = "results/models/{impl}/{style}/seed{seed}/model.pt"
RUN = "{impl}_{style}_seed{seed}"


def per_model(pattern, impls=None):
    """`pattern` for every implementation (or those in `impls`), style and seed."""
    return expand(pattern, impl=impls or IMPLS, style=STYLES, seed=SEEDS)


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
    return _plan(loss_weights_file, TRAINED[w.model], config, "resources/torch") or []


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


def evaluation_args(verb, with_model=True):
    """A params function: `arst VERB`'s flags for the job's model, rendered by arst.plan from
    the config (input.model unless `with_model` is False, its style, the evaluation images and
    size, the job's threads, the implementation's runtime, and the verb's own settings).
    """

    def args(wildcards, input, threads):
        argv = evaluation_argv(
            config,
            wildcards.impl,
            model=input.model if with_model else None,
            style=input.style,
            style_name=wildcards.style,
            images=input.images,
            threads=threads,
        )
        return shlex.join(argv + experiment_argv(config, verb))

    return args


def gif_args(w):
    """`arst alpha-gif`'s size and runtime: the evaluation size, the implementation's runtime."""
    return shlex.join(evaluated_as_argv(config, w.impl))


# --- the comparison (compare.smk) ---

EVAL = config["evaluation"]
CONTROLS = _plan(controls, config)  # impl -> {model key: fixed alpha}
CONTROL_SOURCE = _plan(control_sources, config)  # impl -> whose controls judge it
RETRAIN_IMPLS = list(CONTROL_SOURCE)


def control_models(w):
    """The run's retrained controls (its implementation's, or those it borrows, at its style and seed)."""
    keys = CONTROLS[CONTROL_SOURCE[w.impl]]
    return [MODEL.format(impl=key, style=w.style, seed=w.seed) for key in keys]


def floor_runs():
    """(model, style, seed) of the noise-floor controls whose seed is no run's own."""
    firsts = dict.fromkeys(next(iter(models)) for models in CONTROLS.values())
    seeds = dict.fromkeys(str(floor_seed(config, x)) for x in SEEDS)
    return [(m, s, x) for m in firsts for s in STYLES for x in seeds if x not in SEEDS]


def floor_model(w):
    """The run's first one-hot control at the floor seed: the noise floor."""
    first = next(iter(CONTROLS[CONTROL_SOURCE[w.impl]]))
    return MODEL.format(impl=first, style=w.style, seed=floor_seed(config, w.seed))


def saddle_runs():
    """(variant, style, model.pt, losses.csv) of every run the saddle table reads: each
    implementation's, and its disjoint-layer ablation's where the config asks for them.
    """
    variants = [("adjustable", lambda impl: impl)]
    if EVAL["saddle"]["ablation"]:
        variants.append(("ablation", ablation_model))
    runs = [
        (variant, style, MODEL.format(impl=model(impl), style=style, seed=seed))
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
    if RETRAIN_IMPLS:
        inputs["controls"] = "results/tables/controls.csv"
        inputs["retrain"] = "results/tables/retrain.csv"
    return inputs


def all_targets():
    """Everything `rule all` builds; each rule file adds its own targets."""
    return [target for targets in TARGETS.values() for target in targets]


TARGETS = {}
