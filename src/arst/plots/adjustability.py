"""The adjustability figure: the training diagnostic of every model, over training."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .common import figure_verb, provenance, save

# (column or None for the per-layer responses, title, log scale)
PANELS = [
    (None, "response to each layer's alpha\nmean |y(e_i) - y(0)| (0..255)", True),
    ("min_layer_distance", "closest two layers\nmin mean |y(e_i) - y(e_j)| (0..255)", True),
    ("saturated_fraction", "output shown as 0 or 255\n(share of values)", False),
    ("gamma_spread", "conditioner: gamma's spread over alpha\n(std, mean over channels)", True),
    ("beta_spread", "conditioner: beta's spread over alpha\n(std, mean over channels)", True),
    ("dead_fraction", "conditioner: dead ReLU units\n(0 for every probe alpha)", False),
]
FLOOR = 1e-6  # log axes: values at or below this (exact zeros) are drawn at it


def adjustability_figure(table, png, pdf=None):
    impls = list(dict.fromkeys(table["implementation"]))
    colours = dict(zip(impls, plt.rcParams["axes.prop_cycle"].by_key()["color"] * 4))
    styles = ["-", "--", ":", "-."]
    fig, axes = plt.subplots(2, 3, figsize=(14, 7.5))
    for ax, (column, title, log) in zip(axes.flat, PANELS):
        for (impl, style, seed), run in table.groupby(["implementation", "style", "seed"], sort=False):
            run = run.sort_values("step")
            label = f"{impl} ({style}, seed {seed})"
            if column is None:
                layers = [c for c in run.columns if c.startswith("response_") and run[c].notna().any()]
                for k, layer in enumerate(layers):
                    ax.plot(run["step"], np.maximum(run[layer], FLOOR), styles[k % 4], color=colours[impl],
                            label=f"{impl} {layer.removeprefix('response_')}" if seed == run["seed"].min() else None)
                continue
            values = run[column]
            ax.plot(run["step"], np.maximum(values, FLOOR) if log else values, color=colours[impl], label=label)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("training step")
        if log:
            ax.set_yscale("log")
        ax.legend(fontsize=6)
    fig.suptitle("Does the model respond to alpha, differently per layer, as it trains?\n"
                 + provenance(table), fontsize=9)
    fig.tight_layout()
    save(fig, png, pdf)


figure_verb("plot-adjustability", "figure: the adjustability diagnostic of every model over training",
            adjustability_figure)
