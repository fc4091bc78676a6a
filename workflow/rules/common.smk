# Helpers shared by all rule files (names, paths and command-line arguments from config).
# Rules stay thin: they call `arst VERB` with the values these functions compute.
import re
import shlex
from pathlib import Path

from arst.errors import ArstError
from arst.experiments import registry
from arst.plan import (
    check_alpha_names,
    check_evaluation,
    check_eval_not_trained,
    check_named_files,
    control_sources,
    controls,
    floor_seed,
    evaluated_as_argv,
    evaluation_job_argv,
    experiment_argv,
    floor_runs,
    image_argv,
    image_size,
    loss_weights_file,
    model_recipe,
    saddle_models,
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


def model_dir(w):
    return f"results/models/{w.model}/{w.style}/seed{w.seed}"


# One trained model (an implementation, style and seed) and its name in every per-model file.
MODEL = "results/models/{impl}/{style}/seed{seed}/model.pt"
RUN = "{impl}_{style}_seed{seed}"


def per_model(pattern, impls=None):
    """`pattern` for every implementation (or those in `impls`), style and seed."""
    return expand(pattern, impl=impls or IMPLS, style=STYLES, seed=SEEDS)


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


def evaluation_args(experiment):
    """A params function: the experiment's verb's flags for the job's model, rendered by
    arst.plan from the config (the model, its style, the evaluation images and size, the job's
    threads, the implementation's runtime, and the experiment's own settings), then its extra
    inputs and its outputs.
    """

    def args(wildcards, input, output, threads):
        argv = evaluation_job_argv(
            config,
            experiment,
            wildcards.impl,
            wildcards.style,
            dict(input.items()),
            dict(output.items()),
            threads,
        )
        return shlex.join(argv)

    return args


def gif_args(w):
    """`arst alpha-gif`'s size and runtime: the evaluation size, the implementation's runtime."""
    return shlex.join(evaluated_as_argv(config, w.impl))


# --- the experiments (compare.smk): each module of arst.experiments declares one ---

EXPERIMENTS = _plan(registry.experiments)


def model_inputs(experiment):
    """An input function: what the experiment's per-model job reads (the model, any extra
    inputs its module names: registry.INPUTS, the style and the evaluation images)."""

    def inputs(w):
        extra = {
            "training_log": lambda: f"results/models/{w.impl}/{w.style}/seed{w.seed}/adjustability.csv",
            "retrained": lambda: control_models(w),
            "floor": lambda: floor_model(w),
        }
        return {
            "model": MODEL.format(impl=w.impl, style=w.style, seed=w.seed),
            **{name: extra[name]() for name in experiment.inputs},
            "style": style_image(w),
            "images": eval_images(),
        }

    return inputs


def model_outputs(experiment):
    """The experiment's per-model files: its table, its images, and any extra tables."""
    outputs = {"table": f"results/tables/{experiment.name}/{RUN}.csv"}
    if experiment.images:
        outputs["images"] = directory(f"results/images/{experiment.name}/{RUN}")
    for name, folder in experiment.outputs.items():
        outputs[name] = f"results/tables/{folder}/{RUN}.csv"
    return outputs


def scope(experiment):
    """The implementations the experiment measures: all, or those judged by controls (none:
    it runs for all when asked for by name, and no target asks)."""
    return RETRAIN_IMPLS if experiment.scope == "controlled" else IMPLS


def reads(experiment, name):
    """Every model's file `name` of the experiment (an output of model_outputs)."""
    pattern = {
        "table": f"results/tables/{experiment.name}/{RUN}.csv",
        "images": f"results/images/{experiment.name}/{RUN}",
    }
    pattern.update(
        {n: f"results/tables/{f}/{RUN}.csv" for n, f in experiment.outputs.items()}
    )
    return per_model(pattern[name], scope(experiment))


def caption(path):
    """A caption under workflow/report/ (as a rule file names it), or an absolute path."""
    return path if Path(path).is_absolute() else f"../report/{path}"


def experiment_files(experiment):
    """The summary (Markdown) and figures of an experiment: what the targets build."""
    figures = [
        f"results/figures/{f.name}.{ext}"
        for f in experiment.figures
        for ext in ("png", "pdf")
    ]
    return [f"results/tables/{experiment.summary_table}.md", *figures]


def measured(experiment):
    """Whether the workflow's targets (and the claims and the report) include the experiment."""
    return bool(scope(experiment))


EVAL = config["evaluation"]
CONTROLS = _plan(controls, config)  # impl -> {model key: fixed alpha}
CONTROL_SOURCE = _plan(control_sources, config)  # impl -> whose controls judge it
RETRAIN_IMPLS = list(CONTROL_SOURCE)


def control_models(w):
    """The run's retrained controls (its implementation's, or those it borrows, at its style and seed)."""
    keys = CONTROLS[CONTROL_SOURCE[w.impl]]
    return [MODEL.format(impl=key, style=w.style, seed=w.seed) for key in keys]


def floor_model(w):
    """The run's first one-hot control at the floor seed: the noise floor."""
    first = next(iter(CONTROLS[CONTROL_SOURCE[w.impl]]))
    return MODEL.format(impl=first, style=w.style, seed=floor_seed(config, w.seed))


def saddle_runs():
    """(variant, style, model.pt, losses.csv) of every run the saddle table reads: each
    implementation's, and its disjoint-layer ablation's where the config asks for them.
    """
    runs = [
        (variant, style, MODEL.format(impl=model, style=style, seed=seed))
        for variant, model, style, seed in saddle_models(config)
    ]
    return [(v, s, m, m.replace("model.pt", "losses.csv")) for v, s, m in runs]


def claims_inputs(w=None):
    """Every measured experiment's summary, by the name the claims read it under."""
    return {
        e.claims_name: f"results/tables/{e.summary_table}.csv"
        for e in EXPERIMENTS.values()
        if measured(e)
    }


def all_targets():
    """Everything `rule all` builds; each rule file adds its own targets."""
    return [target for targets in TARGETS.values() for target in targets]


TARGETS = {}
