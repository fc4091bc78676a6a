"""The report verbs: HTML pages of tables and animations for `snakemake --report`, the
benchmark table, the animated alpha sweep and the training curves."""

from __future__ import annotations

from . import runtime_args, runtime_from


def _report_table(p):
    p.add_argument("table", help="a CSV table")
    p.add_argument("--out", required=True, help="the HTML page")
    p.add_argument("--title", help="default: the table's file name")

    def run(args):
        from ..report import write_table_page
        write_table_page(args.table, args.out, args.title)
    return run


def _report_gifs(p):
    p.add_argument("--gif", nargs=2, action="append", required=True, metavar=("LABEL", "GIF"),
                   help="an animation and the label under it (repeat)")
    p.add_argument("--out", required=True, help="the HTML page")
    p.add_argument("--title", default="Animated alpha sweeps")

    def run(args):
        from ..io import write_text
        from ..report import gif_page
        write_text(args.out, gif_page(args.gif, args.title))
    return run


def _labelled_runs(p, file: str, help: str) -> None:
    """`--run LABEL FILE`, repeated: one per job or run, into args.runs (args.run is the verb's runner)."""
    p.add_argument("--run", nargs=2, action="append", required=True, dest="runs", metavar=("LABEL", file),
                   help=f"{help} (repeat)")


def _benchmarks(p):
    _labelled_runs(p, "TSV", "a job's label and its Snakemake benchmark file")
    p.add_argument("--csv", required=True)
    p.add_argument("--md")

    def run(args):
        from ..report import benchmark_table
        from ..tables import write_table
        write_table(benchmark_table(args.runs), args.csv, args.md, title="Benchmarks: time and memory per job")
    return run


def _alpha_gif(p):
    p.add_argument("--checkpoint", required=True, help="the trained model.pt")
    p.add_argument("--image", required=True, help="the content image (cropped square, as the experiments do)")
    p.add_argument("--size", type=int, default=128, help="side of the stylized square, pixels")
    p.add_argument("--frames-per-leg", type=int, default=4,
                   help="frames from one alpha vector of the path to the next")
    p.add_argument("--frame-ms", type=int, default=120, help="how long each frame shows")
    p.add_argument("--width", type=int, default=192,
                   help="least width of the GIF, pixels (the output is enlarged by a whole factor)")
    p.add_argument("--out", required=True, help="the GIF")
    runtime_args(p)

    def run(args):
        from ..animate import alpha_sweep_gif
        alpha_sweep_gif(args.checkpoint, args.image, args.out, args.size, args.frames_per_leg, args.frame_ms,
                        args.width, runtime_from(args))
    return run


def _plot_training(p):
    _labelled_runs(p, "LOSSES", "a panel's title and a run's losses.csv, with its model.pt beside it")
    p.add_argument("--png", required=True)
    p.add_argument("--pdf")

    def run(args):
        from ..plots.training import training_curves, training_table
        training_curves(training_table(args.runs), args.png, args.pdf)
    return run


SETUP = {
    "report-table": _report_table,
    "report-gifs": _report_gifs,
    "benchmarks": _benchmarks,
    "alpha-gif": _alpha_gif,
    "plot-training": _plot_training,
}
