# Helpers of the experiments' rules: compare.smk makes them from the declarations of the
# modules of arst.experiments, and saddle.smk, sweep.smk and report.smk read them. Each
# experiment's per-model inputs and files, the retrained controls that judge each run, and
# what the claims read; arst.plan decides the arguments, these name the files.
from arst.experiments import registry
from arst.plan import (
    control_sources,
    controls,
    evaluated_as_argv,
    evaluation_job_argv,
    experiment_argv,
    floor_runs,
    floor_seed,
    saddle_models,
    snapshot_files,
)

EXPERIMENTS = _plan(registry.experiments)
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


def model_inputs(experiment):
    """An input function: what the experiment's per-model job reads (the model, any extra
    inputs its module names: registry.INPUTS, the snapshots of those models where it judges
    them at every budget: Experiment.budgets, the style and the evaluation images)."""

    def inputs(w):
        extra = {
            "training_log": lambda: f"results/models/{w.impl}/{w.style}/seed{w.seed}/adjustability.csv",
            "retrained": lambda: control_models(w),
            "floor": lambda: floor_model(w),
        }
        models = {
            "model": MODEL.format(impl=w.impl, style=w.style, seed=w.seed),
            **{name: extra[name]() for name in experiment.inputs},
        }
        if experiment.budgets:
            models["snapshots"] = snapshots_beside(models.values())
        return {**models, "style": style_image(w), "images": eval_images()}

    return inputs


def snapshots_beside(files):
    """The snapshots (train.snapshots) beside every model.pt among `files` (paths, or lists of
    them): the verb finds them there, so the job only waits for them."""
    paths = [p for f in files for p in ([f] if isinstance(f, str) else f)]
    models = [p for p in paths if Path(p).name == "model.pt"]
    return [s for model in models for s in snapshot_files(model, config)]


def model_outputs(experiment):
    """The experiment's per-model files: its table, its images, and any extra tables."""
    outputs = {"table": f"results/tables/{experiment.name}/{RUN}.csv"}
    if experiment.images:
        outputs["images"] = directory(f"results/images/{experiment.name}/{RUN}")
    for name, folder in experiment.outputs.items():
        outputs[name] = f"results/tables/{folder}/{RUN}.csv"
    return outputs


def evaluation_args(experiment):
    """A params function: `arst VERB`'s arguments for the job (arst.plan.evaluation_job_argv:
    the model, its style, the evaluation images and size, the job's threads, the
    implementation's runtime and the experiment's own settings, then its extra inputs and its
    outputs)."""

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


def measured(experiment):
    """Whether the workflow's targets (and the claims and the report) include the experiment."""
    return bool(scope(experiment))


def experiment_files(experiment):
    """The summary (Markdown) and figures of an experiment: what the targets build."""
    figures = [
        f"results/figures/{f.name}.{ext}"
        for f in experiment.figures
        for ext in ("png", "pdf")
    ]
    return [f"results/tables/{experiment.summary_table}.md", *figures]


def caption(path):
    """A caption under workflow/report/ (as a rule file names it), or an absolute path."""
    return path if Path(path).is_absolute() else f"../report/{path}"


def saddle_runs():
    """(variant, style, model.pt, losses.csv) of every run the saddle table reads
    (arst.plan.saddle_models: each implementation's, and its disjoint-layer ablation's).
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


def gif_args(w):
    """`arst alpha-gif`'s size and runtime: the evaluation size, the implementation's runtime."""
    return shlex.join(evaluated_as_argv(config, w.impl))
