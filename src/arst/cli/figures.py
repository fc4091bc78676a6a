"""The figure verbs: each reads tables (and the images they name) and draws one figure."""

from __future__ import annotations

# verb -> (module under arst.plots, drawing function, help)
FIGURES = {
    "plot-adjustability": ("adjustability", "adjustability_figure",
                           "figure: the adjustability diagnostic of every model over training"),
    "plot-loss-vs-alpha": ("sweep", "loss_vs_alpha", "figure: each layer's own style loss against its alpha"),
    "plot-stylization-grid": ("sweep", "stylization_grid", "figure: outputs as one layer's alpha goes 0 -> 1 "
                              "(the sweep CSVs' image_file columns name the images)"),
    "plot-content-identity": ("comparison", "content_identity_figure",
                              "figure: content image beside the output at alpha 0"),
    "plot-combinations": ("comparison", "combinations_figure",
                          "figure: grid of outputs for the configured alpha vectors"),
    "plot-noise": ("comparison", "noise_figure", "figure: noisy inputs and the outputs' change"),
    "plot-diversity": ("comparison", "diversity_figure", "figure: outputs for random alpha vectors"),
    "plot-retrain": ("comparison", "retrain_figure", "figure: per-term losses, adjustable vs retrained"),
    "plot-controls": ("comparison", "controls_figure", "figure: per pair of layers, adjustable vs retrained "
                      "loss-profile distance, the seed floor drawn"),
}


def _figure(name: str):
    """`arst NAME TABLE... --png P [--pdf F]`: read the tables, draw, save."""
    module, function, _ = FIGURES[name]

    def setup(p):
        p.add_argument("tables", nargs="+")
        p.add_argument("--png", required=True)
        p.add_argument("--pdf")

        def run(args):
            import importlib

            from ..tables import read_tables
            draw = getattr(importlib.import_module(f"arst.plots.{module}"), function)
            draw(read_tables(args.tables), args.png, args.pdf)
        return run
    return setup


def _saddle(p):
    p.add_argument("--curves", required=True)
    p.add_argument("--summary", required=True)
    p.add_argument("--png", required=True)
    p.add_argument("--pdf")

    def run(args):
        import pandas as pd

        from ..plots.comparison import saddle_figure
        saddle_figure(pd.read_csv(args.curves), pd.read_csv(args.summary), args.png, args.pdf)
    return run


FIGURES_HELP_SADDLE = "figure: training curves (raw, EMA), gradient cosine, detected events"
SETUP = {name: _figure(name) for name in FIGURES}
SETUP["plot-saddle"] = _saddle
