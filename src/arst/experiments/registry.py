"""The registry of experiments: each experiment module declares itself once, as `EXPERIMENT`
(an Experiment), and everything else is built from these declarations: the command line's
verbs (arst.cli.experiments, .figures), the `evaluation:` settings a config may give and their
defaults (arst.plan), the workflow's per-model, summary and figure rules (compare.smk), the
report's categories and the claims table's inputs.

Reading the registry imports the experiment modules, so they keep their top level light (torch,
pandas, scipy and the like are imported inside the functions that use them): `arst --help` and
the workflow's parse read every declaration. Modules outside arst join by naming them in the
environment variable ARST_EXPERIMENTS (comma-separated module names; docs/experiments.md)."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import ConfigError

# The built-in experiments, in the order the command line, the report and the claims table read
# them (the claims name the implementations in the order the tables first show them).
BUILTIN = ("controls", "adjustability", "sweep", "content_identity", "combinations", "diversity", "noise", "saddle",
           "retrain")
EXTRA_MODULES = "ARST_EXPERIMENTS"


@dataclass(frozen=True)
class Setting:
    """One setting of an experiment: where a config gives it (`key`, under `evaluation:`; a dot
    for a key inside the experiment's own mapping, e.g. noise.dots), its default, its help and
    its JSON Schema (type and bounds). `flag`: the verb's option (None: the verb takes none; the
    workflow alone reads it); `param`: the measure function's keyword (default: the flag's)."""
    key: str
    default: Any
    help: str
    schema: dict = field(default_factory=dict)
    flag: str | None = ""
    param: str = ""
    json: bool = False  # travels on the command line as JSON (else a list is comma-separated)
    parse: str = ""  # "module:function" reading the flag's text (default: by the default's type)

    @property
    def option(self) -> str | None:
        """The verb's option name without dashes, or None."""
        if self.flag is None:
            return None
        return (self.flag or self.key.rsplit(".", 1)[-1]).replace("_", "-")

    @property
    def keyword(self) -> str:
        return self.param or (self.option or self.key).replace("-", "_")


@dataclass(frozen=True)
class Figure:
    """A figure: results/figures/{name}.png and .pdf, drawn by `arst plot-{name}` (rule
    plot_{name}) with `draw` ("module:function", called as draw(table, png, pdf)) from the
    per-model `reads` (an output of the experiment's per-model rule: "table", "images" or one of
    its extra `outputs`); the first read is the tables passed on the command line, the others
    only wait. `caption`: under workflow/report/ (or an absolute path)."""
    name: str
    draw: str
    help: str
    caption: str
    reads: tuple[str, ...] = ("table",)


@dataclass(frozen=True)
class Claim:
    """A row of the claims table an experiment adds: `judge` ("module:function") is called as
    judge(summary table or None, implementation) -> (measured text, per-run verdicts or None)
    (arst.experiments.claims.per_run), `need` as claims._applicable reads it."""
    claim: str
    measure: str
    rule: str
    judge: str
    need: str | None = None


@dataclass(frozen=True)
class Experiment:
    """What one experiment is to the pipeline.

    name: its tables' name (results/tables/{name}/{run}.csv per model; the rules' names);
    verb: `arst VERB` that measures one model (default: the name with dashes); None for an
    experiment whose table is made otherwise (saddle: one job over every training log);
    measure: "function" of the module (or "module:function") that `arst VERB` calls with keywords:
    style, images, size, style_name, runtime, the model (checkpoint or adjustable), image_dir
    where `images`, each extra input and every setting's keyword; it returns the table (or
    {"table": ..., output: ...} with its extra `outputs`);
    summarize: "function" merging the per-model tables into the summary (`arst {name}-summary`);
    title: the summary's Markdown title ({nets}: the loss networks);
    table: the summary's file stem (results/tables/{table}.csv);
    claims_key: the name the claims table reads the summary under;
    scope: "all" (every implementation) or "controlled" (those judged by retrained controls;
    none: the experiment is not among the workflow's targets);
    model: the flag naming the model measured ("checkpoint" or "adjustable");
    inputs: extra per-model inputs the workflow provides (training_log, retrained, floor);
    outputs: extra per-model tables, flag -> folder under results/tables/;
    budgets: the experiment also judges the snapshots of its models (`train.snapshots`): its
    job waits for those of the model and of every extra input, and its verb takes --budgets
    (the measure function's keyword `budgets`: the steps of the snapshots, none by default)."""
    name: str
    help: str
    category: str
    summary_help: str
    title: str
    measure: str = ""
    summarize: str = "summarize"
    verb: str | None = ""
    table: str = ""
    claims_key: str = ""
    settings: tuple[Setting, ...] = ()
    figures: tuple[Figure, ...] = ()
    claims: tuple[Claim, ...] = ()
    scope: str = "all"
    model: str = "checkpoint"
    images: bool = False
    inputs: tuple[str, ...] = ()
    outputs: dict[str, str] = field(default_factory=dict)
    budgets: bool = False
    target: str = ""  # a named workflow target that builds its summary and figures
    caption: str = ""  # of its summary's report page (default: {table}.rst under workflow/report/)
    module: str = ""  # filled by the registry: where the declaration was found

    @property
    def per_model_verb(self) -> str | None:
        return None if self.verb is None else (self.verb or self.name.replace("_", "-"))

    @property
    def summary_verb(self) -> str:
        return f"{self.name.replace('_', '-')}-summary"

    @property
    def summary_table(self) -> str:
        return self.table or self.name

    @property
    def summary_caption(self) -> str:
        return self.caption or f"{self.summary_table}.rst"

    @property
    def claims_name(self) -> str:
        return self.claims_key or self.name

    def function(self, ref: str) -> Callable:
        """A "function" of this experiment's module, or a "module:function" anywhere."""
        return resolve(ref if ":" in ref else f"{self.module}:{ref}")


# The extra per-model inputs an experiment may ask for (Experiment.inputs): the workflow
# provides each (experiments.smk, model_inputs), the verb takes it as --NAME: help, nargs, required.
INPUTS = {
    "training_log": ("the run's adjustability.csv (beside losses.csv)", None, True),
    "retrained": ("its retrained controls at the same seed (models trained with alpha_fixed)", "+", True),
    "floor": ("one of those alphas retrained at a second seed: the noise floor", None, False),
}

# Settings every evaluation job shares (not an experiment's own).
COMMON = (
    Setting("size", 128, "short side of the evaluation crops", {"type": "integer", "minimum": 32}),
    Setting("threads", 1, "threads of each evaluation job", {"type": "integer", "minimum": 1}, flag=None),
    Setting("gpu", 0, "GPUs each evaluation job asks for", {"type": "integer", "minimum": 0}, flag=None),
)
SIZE = COMMON[0].default


def resolve(ref: str) -> Callable:
    """"module:function" -> the function (its module imported now)."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def _module_names() -> list[str]:
    extra = [m.strip() for m in os.environ.get(EXTRA_MODULES, "").split(",") if m.strip()]
    return [f"{__package__}.{name}" for name in BUILTIN] + extra


def experiments() -> dict[str, Experiment]:
    """name -> Experiment: the built-in ones, then those ARST_EXPERIMENTS names."""
    out = {}
    for module in _module_names():
        try:
            declared = importlib.import_module(module).EXPERIMENT
        except ModuleNotFoundError as exc:
            raise ConfigError(f"{EXTRA_MODULES}: no module {module} ({exc})") from None
        except AttributeError:
            raise ConfigError(f"{EXTRA_MODULES}: {module} declares no EXPERIMENT") from None
        if declared.name in out:
            raise ConfigError(f"{module}: experiment {declared.name!r} is declared twice")
        out[declared.name] = _with_module(declared, module)
    return out


def _with_module(experiment: Experiment, module: str) -> Experiment:
    from dataclasses import replace
    return replace(experiment, module=module)


def by_verb() -> dict[str, Experiment]:
    """Per-model verb -> its experiment."""
    return {e.per_model_verb: e for e in experiments().values() if e.per_model_verb}


def _set(tree: dict, key: str, value: Any) -> None:
    *parents, last = key.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[last] = value


def all_settings() -> list[Setting]:
    return [*COMMON, *(s for e in experiments().values() for s in e.settings)]


def defaults() -> dict[str, Any]:
    """The `evaluation:` section with every default, as a config would write it."""
    out: dict[str, Any] = {}
    for setting in all_settings():
        _set(out, setting.key, _copy(setting.default))
    return out


def _copy(value):
    import copy
    return copy.deepcopy(value)


def schema() -> dict:
    """The JSON Schema of the `evaluation:` section: closed at every level, so a misspelled key
    is named."""
    root: dict = {"type": "object", "properties": {}, "additionalProperties": False}
    for setting in all_settings():
        node = root
        *parents, last = setting.key.split(".")
        for part in parents:
            node = node["properties"].setdefault(
                part, {"type": "object", "properties": {}, "additionalProperties": False})
        node["properties"][last] = {**setting.schema, "description": setting.help}
    return root
