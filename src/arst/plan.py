"""Which models a config trains, and the `arst train` arguments of each.

The workflow asks this module (workflow/rules/common.smk), and so does any script that runs
the same models without Snakemake (scripts/gpu-run.py): one place decides, and it is
unit-tested here. `config` is the validated Snakemake config (a plain dict, defaults filled).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import yaml

from .errors import ArstError, ConfigError
from .recipe import Recipe, load_recipe

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
    implementations, the saddle point's disjoint-layer ablation of each, and the fixed-alpha models of
    'adjusted vs retrained'. A model's name (in its checkpoint and every table) is its
    implementation's config key; the ablation and fixed-alpha models carry the key of the
    implementation they vary."""
    impls = config["implementations"]
    evaluation = config["evaluation"]
    out = {impl: {**spec, "name": impl} for impl, spec in impls.items()}
    if evaluation["saddle"]["ablation"]:
        layer = evaluation["saddle"]["ablation_content_layer"]
        for impl in impls:
            out[ablation_model(impl)] = {**out[impl], "set": {**out[impl].get("set", {}), "content_layer": layer}}
    for impl in [i for i in evaluation["retrain"]["impls"] if i in impls]:
        layers = recipe_of(impl, out[impl]).style_layers
        for k, alpha in enumerate(evaluation["retrain"]["alphas"]):
            vector = [float(alpha.get(layer, 0.0)) for layer in layers]
            out[f"{impl}-fixed{k}"] = {**out[impl], "set": {**out[impl].get("set", {}), "alpha_fixed": vector}}
    return out


def train_argv(spec: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    """`arst train` arguments for one model, beyond its paths, seed and threads."""
    train = {**config["train"], **spec.get("train", {})}
    runtime = {**config["runtime"], **spec.get("runtime", {})}
    args = ["--recipe", spec["recipe"], "--name", spec["name"]]
    for key, value in spec.get("set", {}).items():
        # As YAML, which `--set` reads back: None must arrive as null, not the string 'None'.
        args += ["--set", f"{key}={json.dumps(value)}"]
    args += ["--epochs", str(train["epochs"])] if train.get("epochs") else ["--steps", str(train["steps"])]
    for key in ("batch", "size"):
        if train.get(key):
            args += [f"--{key}", str(train[key])]
    args += ["--checkpoint-every", str(train["checkpoint_every"]), "--log-every", str(train["log_every"]),
             "--diagnostics-every", str(train["diagnostics_every"]),
             "--loss-weights", str(config["loss_network"]["weights"]),
             "--loss-seed", str(config["loss_network"]["seed"]), "--workers", str(runtime["workers"])]
    for key in RUNTIME_FLAGS:
        args += [f"--{key.replace('_', '-')}", str(runtime[key]).lower()]
    return args


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
