"""The experiment verbs, built from the registry of experiments (arst.experiments.registry): each
experiment's verb evaluates one trained model into a table, its summary verb merges the per-model
tables; `saddle` reads training logs, and `claims` reads the summaries."""

from __future__ import annotations

import json

from ..experiments import registry
from . import parse_steps, runtime_args, runtime_from


def evaluation_args(p, checkpoint: bool = True, image_dir: bool = True) -> None:
    """The options every evaluation verb shares: which model, its style, the evaluation
    images and their size, the output table (and images), and the runtime."""
    if checkpoint:
        p.add_argument("--checkpoint", required=True, help="the trained model.pt")
    p.add_argument("--style", required=True, help="the style image the model was trained on")
    p.add_argument("--style-name", default="style")
    p.add_argument("--images", nargs="+", required=True, help="evaluation content images")
    p.add_argument("--size", type=int, default=registry.SIZE, help="short side of the evaluation crops")
    p.add_argument("--table", required=True, help="output CSV")
    if image_dir:
        p.add_argument("--image-dir", help="write the rendered images here")
    runtime_args(p)


def parse_floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def _reader(setting: registry.Setting):
    """How the verb reads a setting's text: by its parse function, else by its default's type
    (a list comma-separated)."""
    if setting.parse:
        return registry.resolve(setting.parse)
    default = setting.default
    if isinstance(default, bool):
        return lambda text: text.strip().lower() in ("1", "true", "yes")
    if isinstance(default, (list, tuple)):
        item = float if default and all(isinstance(v, (int, float)) for v in default) else str
        return lambda text: [item(v) for v in text.split(",") if v.strip()]
    return type(default) if isinstance(default, (int, float)) else str


def _text(setting: registry.Setting) -> str:
    """The default as the command line writes it (argparse reads it like any given value)."""
    value = setting.default
    if setting.json:
        return json.dumps(value)
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def setting_args(p, experiment: registry.Experiment) -> None:
    """One option per setting the experiment's module declares with a flag, its default shown."""
    for setting in experiment.settings:
        if setting.option is not None:
            p.add_argument(f"--{setting.option}", type=_reader(setting), default=_text(setting), help=setting.help)


def settings_of(args, experiment: registry.Experiment) -> dict:
    """The parsed settings, by the measure function's keywords."""
    return {s.keyword: getattr(args, s.option.replace("-", "_")) for s in experiment.settings if s.option}


def _measure(experiment: registry.Experiment):
    """`arst VERB`: one model's table (and images, and extra tables) for a registered experiment."""
    def setup(p):
        evaluation_args(p, checkpoint=experiment.model == "checkpoint", image_dir=experiment.images)
        if experiment.model != "checkpoint":
            p.add_argument(f"--{experiment.model}", required=True, help=f"the {experiment.model} model.pt")
        for name in experiment.inputs:
            help, nargs, required = registry.INPUTS[name]
            p.add_argument(f"--{name.replace('_', '-')}", nargs=nargs, required=required, help=help)
        for name in experiment.outputs:
            p.add_argument(f"--{name}", required=True, help=f"output CSV: the {name}")
        if experiment.budgets:
            p.add_argument("--budgets", type=parse_steps, default=(), metavar="N,N,...",
                           help="also judge the models at these steps: the model-stepN.pt beside each model.pt "
                                "(arst train --snapshots); the table's train_steps tells the budgets apart")
        setting_args(p, experiment)

        def run(args):
            from ..tables import write_table
            given = {"style": args.style, "images": args.images, "size": args.size, "style_name": args.style_name,
                     "runtime": runtime_from(args), experiment.model: getattr(args, experiment.model),
                     **{name: getattr(args, name) for name in experiment.inputs}, **settings_of(args, experiment)}
            if experiment.images:
                given["image_dir"] = args.image_dir
            if experiment.budgets:
                given["budgets"] = args.budgets
            tables = experiment.function(experiment.measure)(**given)
            if not isinstance(tables, dict):
                tables = {"table": tables}
            for name, table in tables.items():
                write_table(table, getattr(args, name))
        return run
    return setup


def _summary(experiment: registry.Experiment):
    """`arst NAME-summary TABLE... --csv --md`: the per-model tables merged."""
    def setup(p):
        p.add_argument("tables", nargs="+", help="the experiment's per-model CSVs")
        p.add_argument("--csv", required=True)
        p.add_argument("--md", required=True)

        def run(args):
            from ..tables import loss_nets, read_tables, write_table
            table = read_tables(args.tables)
            nets = ", ".join(loss_nets(table))
            write_table(experiment.function(experiment.summarize)(table), args.csv, args.md,
                        title=experiment.title.format(nets=nets))
        return run
    return setup


def _saddle(p):
    experiment = registry.experiments()["saddle"]
    p.add_argument("--run", nargs=4, action="append", required=True, dest="runs",
                   metavar=("VARIANT", "STYLE", "MODEL", "LOSSES"),
                   help="one trained run: variant (adjustable, ablation), style name, model.pt, losses.csv")
    setting_args(p, experiment)
    p.add_argument("--csv", required=True)
    p.add_argument("--md", required=True)
    p.add_argument("--curves", required=True, help="long CSV of the curves (for the figure)")

    def run(args):
        from ..experiments.saddle import SADDLE_NOISE_K, saddle
        from ..tables import loss_nets, write_table
        summary, curves = saddle(args.runs, args.window, args.content_drop, args.style_rise, args.warmup)
        write_table(curves, args.curves)
        nets = ", ".join(loss_nets(summary))
        write_table(summary, args.csv, args.md, title=(
            f"Saddle point: content falls by >= {args.content_drop:.0%} while style rises by >= "
            f"{args.style_rise:.0%} within {args.window} steps, each also by >= {SADDLE_NOISE_K:g} standard errors "
            f"of batch noise (content_needed, style_needed), after a warm-up of {args.warmup} steps "
            f"(loss network: {nets})"))
    return run


def _claims(p):
    for experiment in registry.experiments().values():
        p.add_argument(f"--{experiment.claims_name}", help=f"the {experiment.name} summary CSV (missing: 'not run')")
    p.add_argument("--csv", required=True)
    p.add_argument("--md", required=True)

    def run(args):
        from ..experiments.claims import claims_table
        from ..io import write_text
        from ..tables import write_table
        names = [e.claims_name for e in registry.experiments().values()]
        table, text = claims_table({name: getattr(args, name) for name in names})
        write_table(table, args.csv)
        write_text(args.md, text)
    return run


def verbs() -> dict[str, tuple[str, object]]:
    """verb -> (help, setup) of every experiment verb: each registered experiment's own and its
    summary's, then saddle and claims."""
    out = {}
    for experiment in registry.experiments().values():
        if experiment.per_model_verb:
            out[experiment.per_model_verb] = (experiment.help, _measure(experiment))
            out[experiment.summary_verb] = (experiment.summary_help, _summary(experiment))
    out["saddle"] = (registry.experiments()["saddle"].help, _saddle)
    out["claims"] = ("the verdict table: one row per claim in docs/spec.md, section 5", _claims)
    return out


def __getattr__(name: str):
    # SETUP is built at each use, not at import: the registry reads ARST_EXPERIMENTS when asked,
    # so an experiment registered after this module was first imported still gets its verbs.
    if name == "SETUP":
        return {verb: setup for verb, (_, setup) in verbs().items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
