"""The figure verbs, one per figure an experiment declares (arst.experiments.registry): each reads
tables (and the images they name) and draws one figure."""

from __future__ import annotations

from ..experiments import registry


def _figure(figure: registry.Figure):
    """`arst plot-NAME TABLE... --png P [--pdf F]`: read the tables, draw, save."""
    def setup(p):
        p.add_argument("tables", nargs="+")
        p.add_argument("--png", required=True)
        p.add_argument("--pdf")

        def run(args):
            from ..tables import read_tables
            registry.resolve(figure.draw)(read_tables(args.tables), args.png, args.pdf)
        return run
    return setup


def _saddle(figure: registry.Figure):
    """The saddle figure reads the saddle job's two tables (the curves and the summary)."""
    def setup(p):
        p.add_argument("--curves", required=True)
        p.add_argument("--summary", required=True)
        p.add_argument("--png", required=True)
        p.add_argument("--pdf")

        def run(args):
            import pandas as pd
            registry.resolve(figure.draw)(pd.read_csv(args.curves), pd.read_csv(args.summary), args.png, args.pdf)
        return run
    return setup


def verbs() -> dict[str, tuple[str, object]]:
    """plot-NAME -> (help, setup) for every registered figure."""
    return {f"plot-{figure.name.replace('_', '-')}": (figure.help, (_figure if e.per_model_verb else _saddle)(figure))
            for e in registry.experiments().values() for figure in e.figures}


def __getattr__(name: str):
    # Built at each use, as arst.cli.experiments.SETUP is: the registry may have grown since import.
    if name == "SETUP":
        return {verb: setup for verb, (_, setup) in verbs().items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
