"""The adjustability figure: the training diagnostic of every model, over training."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .common import provenance, save

# (column, title, log scale); "weakest_response" is the smallest layer's response at each step
PANELS = [
    ("weakest_response", "weakest layer's response, band: all layers\nmean |y(e_i) - y(0)| (0..255)", True),
    ("min_layer_distance", "closest two layers\nmin mean |y(e_i) - y(e_j)| (0..255)", True),
    ("saturated_fraction", "output shown as 0 or 255\n(share of values)", False),
    ("gamma_spread", "conditioner: gamma's spread over alpha\n(std, mean over channels)", True),
    ("beta_spread", "conditioner: beta's spread over alpha\n(std, mean over channels)", True),
    ("dead_fraction", "conditioner: dead ReLU units\n(0 for every probe alpha)", False),
]
FLOOR = 1e-4  # log axes: values at or below this (exact zeros) are drawn at it
FLOORS = {"weakest_response": 2.0, "min_layer_distance": 2.0}  # the claims row's floors


def adjustability_figure(table, png, pdf=None, floors=FLOORS):
    """One colour per implementation (seeds share it, styles too); a dashed line marks the
    claims row's floor where it applies."""
    impls = list(dict.fromkeys(table["implementation"]))
    palette = plt.get_cmap("tab20" if len(impls) > 10 else "tab10").colors
    colours = {impl: palette[k % len(palette)] for k, impl in enumerate(impls)}
    response = [c for c in table.columns if c.startswith("response_")]
    table = table.assign(weakest_response=table[response].min(axis=1),
                         strongest_response=table[response].max(axis=1))
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    for ax, (column, title, log) in zip(axes.flat, PANELS):
        for (impl, _, _), run in table.groupby(["implementation", "style", "seed"], sort=False):
            run = run.sort_values("step")
            clip = (lambda v: np.maximum(v, FLOOR)) if log else (lambda v: v)
            ax.plot(run["step"], clip(run[column]), color=colours[impl], lw=1.2)
            if column == "weakest_response":
                ax.fill_between(run["step"], clip(run[column]), clip(run["strongest_response"]),
                                color=colours[impl], alpha=0.12, lw=0)
        if column in floors:
            ax.axhline(floors[column], color="black", ls="--", lw=0.8)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("training step")
        if log:
            ax.set_yscale("log")
    handles = [plt.Line2D([], [], color=colours[impl], lw=2) for impl in impls]
    fig.legend(handles, impls, loc="lower center", ncol=min(len(impls), 6), fontsize=8, frameon=False)
    fig.suptitle("Does the model respond to alpha, differently per layer, as it trains? "
                 "(dashed: the claims row's floor)\n" + provenance(table), fontsize=9)
    fig.tight_layout(rect=(0, 0.04 + 0.025 * ((len(impls) - 1) // 6), 1, 0.95))
    save(fig, png, pdf)
