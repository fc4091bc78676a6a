"""Which models a config trains, and the arguments of the verbs that train and evaluate them.

The workflow asks this module (workflow/rules/common.smk and experiments.smk), and so does any
script that runs the same models without Snakemake (scripts/gpu-run.py): one place decides,
and it is unit-tested here. `config` is the validated Snakemake config (a plain dict, defaults filled).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from .errors import ArstError, ConfigError
from .experiments import registry
from .guard import DIVERGENCE_FACTOR
from .io import write_text
from .recipe import Recipe, alpha_by_layer, load_recipe, save_recipe
from .schedule import Schedule, snapshot_name

RUNTIME_FLAGS = ("device", "precision", "compile", "channels_last", "channel_multiple")


def recipe_of(name: str, spec: Mapping[str, Any]) -> Recipe:
    """The model's recipe, named by its key; a bad override names the config entry."""
    try:
        return load_recipe(spec["recipe"], **{**spec.get("set", {}), "name": spec.get("name", name)})
    except ArstError as exc:
        raise ConfigError(f"config implementations.{name}: {exc}") from None


def ablation_model(impl: str) -> str:
    """The key of `impl`'s disjoint-layer ablation (content moved off the style layers)."""
    return f"{impl}-ablation"


def trained_models(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every model the workflow trains, key -> spec (recipe, set, train, name): the configured
    implementations, the saddle point's disjoint-layer ablation of each, and the retrained
    controls of each (`controls`). A model's name (in its checkpoint and every table) is its
    implementation's config key; the ablation and fixed-alpha models carry the key of the
    implementation they vary."""
    impls = config["implementations"]
    evaluation = config["evaluation"]
    out = {impl: {**spec, "name": impl} for impl, spec in impls.items()}
    for impl, spec in out.items():
        recipe_of(impl, spec)  # a bad override stops the run here, naming its key
        schedule_of(spec, config)  # and so does a bad schedule (a snapshot past its steps)
    if evaluation["saddle"]["ablation"]:
        layer = evaluation["saddle"]["ablation_content_layer"]
        for impl in impls:
            out[ablation_model(impl)] = {**out[impl], "set": {**out[impl].get("set", {}), "content_layer": layer}}
    for impl, models in controls(config).items():
        for key, vector in models.items():
            out[key] = {**out[impl], "set": {**out[impl].get("set", {}), "alpha_fixed": vector}}
    return out


def retrained_impls(config: Mapping[str, Any]) -> list[str]:
    """The implementations that get retrained controls: `evaluation.retrain.impls`, or every
    implementation that is not itself trained at a fixed alpha (null, the default)."""
    impls = config["implementations"]
    chosen = config["evaluation"]["retrain"].get("impls")
    if chosen is None:
        chosen = [i for i in impls if recipe_of(i, {**impls[i], "name": i}).alpha_fixed is None]
    return list(chosen)


def controls(config: Mapping[str, Any]) -> dict[str, dict[str, list[float]]]:
    """impl -> {model key: fixed alpha} of its retrained controls: the same recipe trained at
    every one-hot alpha of its style layers (`{impl}-fixed-{layer}`) and at all ones
    (`{impl}-fixed-ones`), then at each vector `evaluation.retrain.alphas` adds
    (`{impl}-fixed{k}`). They train with the implementation's steps, size, batch and seeds; the
    first one-hot also trains at the floor seeds (floor_seed)."""
    impls, out = config["implementations"], {}
    for impl in retrained_impls(config):
        layers = recipe_of(impl, {**impls[impl], "name": impl}).style_layers
        models = {f"{impl}-fixed-{layer}": [1.0 if other == layer else 0.0 for other in layers] for layer in layers}
        models[f"{impl}-fixed-ones"] = [1.0] * len(layers)
        for k, alpha in enumerate(config["evaluation"]["retrain"].get("alphas", [])):
            models[f"{impl}-fixed{k}"] = alpha_by_layer(alpha, layers)
        out[impl] = models
    return out


def control_sources(config: Mapping[str, Any]) -> dict[str, str]:
    """impl -> the implementation whose retrained controls judge it: its own, or the one its
    `controls:` key names (which must have controls of its own)."""
    impls, own = config["implementations"], set(controls(config))
    out = {}
    for impl, spec in impls.items():
        source = spec.get("controls", impl if impl in own else None)
        if source is not None and source not in own:
            raise ConfigError(f"config implementations.{impl}.controls: {source} has no retrained controls "
                              f"(those with controls: {', '.join(own) or 'none'}; see evaluation.retrain.impls)")
        if source not in (None, impl):
            _check_shared(config, impl, source)
        if source is not None:
            out[impl] = source
    return out


def _check_shared(config: Mapping[str, Any], impl: str, source: str) -> None:
    """A borrowed control must have trained as the implementation it judges did (the controls
    job checks the checkpoints too; this says so before anything trains)."""
    impls = config["implementations"]
    a, b = ({**impls[k], "name": k} for k in (impl, source))
    mine, theirs = recipe_of(impl, a), recipe_of(source, b)
    settings = {
        "steps": lambda spec, _: schedule_of(spec, config).epochs or schedule_of(spec, config).steps,
        "image size": lambda spec, _: image_size(spec, config),
        "batch": lambda spec, _: batch_size(spec, config),
        "style layers": lambda _, recipe: list(recipe.style_layers),
        "content layer": lambda _, recipe: recipe.content_layer,
        "loss network": lambda _, recipe: recipe.vgg,
    }
    for name, read in settings.items():
        if read(a, mine) != read(b, theirs):
            raise ConfigError(f"config implementations.{impl}.controls: {source} trains with {name} "
                              f"{read(b, theirs)}, {impl} with {read(a, mine)}: a control must share steps, "
                              "image size, batch, loss network and layers")


def floor_seed(config: Mapping[str, Any], seed: int | str) -> int:
    """The second seed at which a run's first one-hot control is retrained: its noise floor."""
    return int(seed) + int(config["evaluation"]["retrain"].get("floor_seed_offset", 1))


def floor_runs(config: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(model, style, seed) of the noise-floor controls that train beyond the runs: each
    controlled implementation's first one-hot control at every style and floor seed that is no
    run's own seed (a floor seed that is one is trained anyway)."""
    seeds = [str(seed) for seed in config["seeds"]]
    firsts = dict.fromkeys(next(iter(models)) for models in controls(config).values())
    floors = dict.fromkeys(str(floor_seed(config, seed)) for seed in seeds)
    return [(m, s, x) for m in firsts for s in config["styles"] for x in floors if x not in seeds]


def saddle_models(config: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """(variant, model, style, seed) of every run the saddle table reads: each implementation's
    ("adjustable"), then its disjoint-layer ablation's ("ablation") where
    `evaluation.saddle.ablation` asks for them."""
    variants = [("adjustable", lambda impl: impl)]
    if config["evaluation"]["saddle"]["ablation"]:
        variants.append(("ablation", ablation_model))
    return [(variant, model(impl), style, str(seed))
            for variant, model in variants
            for impl in config["implementations"]
            for style in config["styles"]
            for seed in config["seeds"]]


def _train(spec: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """The config's `train:` with the implementation's own `train:` over it."""
    return {**config["train"], **spec.get("train", {})}


def _runtime(spec: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """The config's `runtime:` with the implementation's own `runtime:` over it."""
    return {**config["runtime"], **spec.get("runtime", {})}


def image_size(spec: Mapping[str, Any], config: Mapping[str, Any]) -> int:
    """The side of the images a model trains on, which its content cache is prepared at: its
    implementation's `train.size`, else the config's, else its recipe's image_size."""
    return _train(spec, config)["size"] or recipe_of(spec["name"], spec).image_size


def batch_size(spec: Mapping[str, Any], config: Mapping[str, Any]) -> int:
    """A model's batch: its implementation's `train.batch`, else the config's, else its recipe's."""
    return _train(spec, config)["batch"] or recipe_of(spec["name"], spec).batch_size


def model_recipe(spec: Mapping[str, Any], config: Mapping[str, Any]) -> Recipe:
    """A model's whole recipe, as it trains and as its checkpoint stores it: its preset (or
    file) with its `set:` overrides, its name, and the batch and image size it trains at (the
    config's `train.batch` and `train.size` where given). The workflow writes it once per model
    (results/models/{model}/recipe.yaml, every field a param of the job that writes it, so a
    changed field reruns that file, its model's training and all that follows, and nothing else)."""
    return recipe_of(spec["name"], spec).replace(batch_size=batch_size(spec, config),
                                                 image_size=image_size(spec, config))


def write_recipe_file(fields: Mapping[str, Any], path: str | Path, log: str | Path) -> None:
    """The workflow's `recipe` job: the fields of model_recipe as the file `arst train --recipe`
    reads, and one line saying so in its log."""
    recipe = Recipe.from_dict(fields, source=str(path))
    save_recipe(recipe, path)
    write_text(log, f"wrote {path}: the recipe of {recipe.name}, {len(fields)} fields\n")


def schedule_of(spec: Mapping[str, Any], config: Mapping[str, Any]) -> Schedule:
    """How a model trains: the config's `train:` with the implementation's over it, and the
    runtime's data-loading `workers`. Batch and size are left to the model's recipe file, which
    holds them (model_recipe)."""
    train = _train(spec, config)
    try:
        return Schedule(steps=train["steps"], epochs=train.get("epochs"),
                        checkpoint_every=train["checkpoint_every"], log_every=train["log_every"],
                        diagnostics_every=train["diagnostics_every"],
                        divergence_factor=train.get("divergence_factor", DIVERGENCE_FACTOR),
                        stop_on_divergence=train.get("stop_on_divergence", False),
                        workers=_runtime(spec, config)["workers"], snapshots=snapshots(config))
    except ArstError as exc:
        raise ConfigError(f"config train (or implementations.{spec['name']}.train): {exc}") from None


def snapshots(config: Mapping[str, Any]) -> list[int]:
    """The steps after which every model is also kept (`train.snapshots`): the same for every
    model, so that an adjustable model and its controls can be compared at each (an
    implementation's `train:` cannot set it; the schema says so)."""
    return sorted(config["train"].get("snapshots", []))


def snapshot_files(model: str, config: Mapping[str, Any]) -> list[str]:
    """The snapshots beside a model.pt (its path, or a pattern of it), one per `train.snapshots`."""
    return [str(Path(model).with_name(snapshot_name(step))) for step in snapshots(config)]


def train_argv(spec: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    """`arst train` arguments for one model beyond its recipe file, paths, seed and threads:
    its schedule, the loss network and its runtime."""
    return [*schedule_of(spec, config).argv(), "--loss-weights", str(config["loss_network"]["weights"]),
            "--loss-seed", str(config["loss_network"]["seed"]), *runtime_argv(spec, config)]


def runtime_argv(spec: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    """The runtime flags every verb that runs a model takes (cli.runtime_args): the config's
    `runtime:`, with the implementation's own `runtime:` over it."""
    runtime = _runtime(spec, config)
    return [arg for key in RUNTIME_FLAGS for arg in (_flag(key), str(runtime[key]).lower())]


def evaluation_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config's `evaluation:` with the experiments' defaults (their modules declare them:
    arst.experiments.registry) where it is silent: a mapping of settings is filled key by key."""
    given = config.get("evaluation", {})
    merged = {**registry.defaults(), **given}
    for key, default in registry.defaults().items():
        if isinstance(default, dict) and isinstance(given.get(key), Mapping):
            merged[key] = {**default, **given[key]}
    return merged


def check_evaluation(config: dict[str, Any]) -> None:
    """The config's `evaluation:` against the settings the experiments declare, its defaults
    filled in (in place, as Snakemake's validate fills the schema's): a ConfigError names the
    key at fault in one line. (The schema leaves `evaluation:` to this: experiments come and go
    with their modules.)"""
    import jsonschema

    given = config.get("evaluation") or {}
    if not isinstance(given, Mapping):
        raise ConfigError("config evaluation: expected a mapping of settings")
    settings = evaluation_settings({"evaluation": given})
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(registry.schema()).iter_errors(settings))
    if error is not None:
        where = ".".join(["evaluation", *map(str, error.absolute_path)])
        raise ConfigError(f"config {where}: {error.message}")
    config["evaluation"] = settings


def evaluation_argv(config: Mapping[str, Any], impl: str, *, model: str | None, style: str,
                    style_name: str, images: Sequence[str], threads: int) -> list[str]:
    """The flags every evaluation verb shares (cli.experiments.evaluation_args): the model.pt
    (None: the verb names its models itself), its style, the evaluation images and their size,
    and the threads and runtime to run it on (the implementation's, as it was trained)."""
    args = [] if model is None else ["--checkpoint", str(model)]
    args += ["--style", str(style), "--style-name", style_name, "--images", *map(str, images),
             "--threads", str(threads)]
    return args + evaluated_as_argv(config, impl)


def evaluated_as_argv(config: Mapping[str, Any], impl: str) -> list[str]:
    """How every verb that runs an implementation's trained model runs it: at the evaluation
    size, on the implementation's runtime (as it was trained)."""
    return ["--size", str(evaluation_settings(config)["size"]), *runtime_argv(config["implementations"][impl], config)]


def experiment_argv(config: Mapping[str, Any], name: str) -> list[str]:
    """The flags of experiment `name`'s own settings (those its module declares with a flag),
    from the config's `evaluation:`; none for a name no experiment has."""
    experiment = registry.experiments().get(name)
    if experiment is None:
        return []
    ev = evaluation_settings(config)
    out = []
    for setting in experiment.settings:
        if setting.option is None:
            continue
        value = ev
        for part in setting.key.split("."):
            value = value[part]
        out += [f"--{setting.option}", json.dumps(value) if setting.json else _value(value)]
    return out


def evaluation_job_argv(config: Mapping[str, Any], experiment: registry.Experiment, impl: str, style_name: str,
                        inputs: Mapping[str, str | Sequence[str]], outputs: Mapping[str, str],
                        threads: int) -> list[str]:
    """`arst VERB`'s arguments for the workflow's job of `experiment` on one model of `impl`:
    the flags every evaluation verb shares (evaluation_argv, from the job's inputs `model`,
    `style` and `images`), the experiment's own settings (experiment_argv), the model under
    the experiment's flag where that is not --checkpoint, each extra input the experiment
    declares (Experiment.inputs) as --NAME, the earlier budgets it is judged at too
    (`train.snapshots`, where the experiment takes them: Experiment.budgets) as --budgets, and
    each of the job's outputs as --NAME (its `images` folder as --image-dir)."""
    named_checkpoint = experiment.model == "checkpoint"
    argv = evaluation_argv(config, impl, model=inputs["model"] if named_checkpoint else None,
                           style=inputs["style"], style_name=style_name, images=inputs["images"],
                           threads=threads)
    argv += experiment_argv(config, experiment.name)
    argv += [] if named_checkpoint else [f"--{experiment.model}", inputs["model"]]
    if experiment.budgets and snapshots(config):
        argv += ["--budgets", _value(snapshots(config))]
    for name in experiment.inputs:
        value = inputs[name]
        argv += [_flag(name), *([value] if isinstance(value, str) else value)]
    for name, path in outputs.items():
        argv += ["--image-dir" if name == "images" else f"--{name}", path]
    return argv


def _flag(key: str) -> str:
    return f"--{key.replace('_', '-')}"


def _value(value: Any) -> str:
    """A list as the verbs read one: comma-separated."""
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def loss_weights_file(spec: Mapping[str, Any], config: Mapping[str, Any], torch_home: str) -> str | None:
    """The ImageNet weights file a model's training needs under `torch_home` (the loss
    network's, named by torchvision), or None when the config's loss network is not ImageNet's."""
    if config["loss_network"]["weights"] != "imagenet":
        return None
    from .nn.vgg import weights_file  # torch (and torchvision): only for configs that use its weights

    return str(weights_file(recipe_of(spec["name"], spec).vgg, torch_home))


def image_argv(config: Mapping[str, Any], kind: str, name: str) -> list[str]:
    """The `arst` command that makes the config's image `config[kind][name]` (a procedural
    style, or an embedded photo), up to its output flag: the workflow appends the file."""
    source = config[kind][name]
    if "procedural" in source:
        return ["arst", "make-style", source["procedural"], "--seed", str(source["seed"]),
                "--size", str(source["size"]), "--out"]
    return ["arst", "sample-photos", source["embedded"], "--out-file"]


def check_named_files(config: Mapping[str, Any]) -> None:
    """Every file and folder the config names exists, or a ConfigError lists each one missing
    with its key. Relative paths are read from the working directory, as Snakemake reads them.

    The workflow calls this when it loads: a missing input found only while the DAG is built
    goes unnoticed when the outputs are already there (a dry run after a completed run exits
    0 and plans jobs whose inputs nothing produces)."""
    missing = []
    for kind in ("styles", "eval_content"):
        for name, source in config[kind].items():
            if "file" in source and not Path(source["file"]).is_file():
                missing.append(f"config {kind}.{name}.file: image not found: {source['file']}")
    content = config["content"]
    if content["source"] == "folder" and not content["folder"]:
        missing.append("config content.folder: content.source is folder, but no folder is given")
    for key in ("folder", "coco_existing"):
        if content[key] and not Path(content[key]).is_dir():
            missing.append(f"config content.{key}: folder not found: {content[key]}")
    weights = config["loss_network"]["weights"]
    if weights not in ("random", "imagenet") and not Path(weights).is_file():
        missing.append(f"config loss_network.weights: not random, imagenet or an existing file: {weights}")
    if missing:
        raise ConfigError("\n".join(missing))


def check_eval_not_trained(config: Mapping[str, Any]) -> None:
    """No evaluation photo is also a training photo, or a ConfigError names each one: a model
    scored on an image it was trained on measures its memory, not its style transfer (PSNR at
    alpha 0 and every other row would flatter it). Checked where the config says so: an embedded
    photo named in both `content.photos` and `eval_content`, and an evaluation file inside the
    content folder."""
    content, clashes = config["content"], []
    for name, source in config["eval_content"].items():
        if content["source"] == "embedded" and source.get("embedded") in content.get("photos", []):
            clashes.append(f"config eval_content.{name}: the embedded photo {source['embedded']} is also a "
                           "training photo (content.photos); evaluate on photos the model was not trained on")
        folder = content.get("folder") if content["source"] == "folder" else None
        if folder and "file" in source and Path(source["file"]).resolve().is_relative_to(Path(folder).resolve()):
            clashes.append(f"config eval_content.{name}: {source['file']} is inside the content folder {folder}, "
                           "a training photo; evaluate on photos the model was not trained on")
    if clashes:
        raise ConfigError("\n".join(clashes))


def check_alpha_names(config: Mapping[str, Any]) -> None:
    """Every layer an alpha map names exists in some implementation, and every implementation
    `evaluation.retrain.impls` names is configured, or a ConfigError names each key at fault.
    A misspelled layer would otherwise become alpha 0 without a word, and a misspelled
    implementation would be retrained never. A layer only some implementations have (relu5_4:
    the baseline's alone) is accepted: the others ignore it, and their tables say so."""
    impls = config["implementations"]
    layers = list(dict.fromkeys(layer for name, spec in impls.items()
                                for layer in recipe_of(name, spec).style_layers))
    evaluation = config.get("evaluation", {})
    retrain = evaluation.get("retrain", {})
    maps = [(f"evaluation.combinations[{k}]", alphas) for k, alphas in enumerate(evaluation.get("combinations", []))]
    maps += [(f"evaluation.retrain.alphas[{k}]", alphas) for k, alphas in enumerate(retrain.get("alphas", []))]
    unknown = [f"config {key}: no implementation has the layer {layer} (layers: {', '.join(layers)})"
               for key, alphas in maps for layer in alphas if layer not in layers]
    unknown += [f"config evaluation.retrain.impls: {impl} is not in implementations ({', '.join(impls)}); "
                "name the ones to retrain at fixed alpha, null for all, or [] for none"
                for impl in retrain.get("impls") or [] if impl not in impls]
    if unknown:
        raise ConfigError("\n".join(unknown))


def read_config_file(path: str | Path) -> dict:
    """A YAML config file, or a ConfigError naming the file and the line at fault (Snakemake's
    own message for a broken file names neither)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"config file {path} is not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a mapping of keys at the top level")
    return data
