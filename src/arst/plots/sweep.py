"""Figures of the alpha sweep: each layer's loss against its alpha, and the grid of outputs."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from .common import first_run, provenance, save


def loss_vs_alpha(table, png, pdf=None):
    """Rows: the others' alpha (0, 1); columns: implementations. Each curve is one layer's
    own style loss relative to its value at alpha 0 (mean over images; band: spread over seeds)."""
    own = table[table["term"] == table["swept_layer"]]
    impls, others = list(dict.fromkeys(own["implementation"])), sorted(own["others"].unique())
    fig, axes = plt.subplots(len(others), len(impls), figsize=(4.5 * len(impls), 3.4 * len(others)),
                             squeeze=False, sharex=True)
    for r, other in enumerate(others):
        for c, impl in enumerate(impls):
            ax = axes[r][c]
            sub = own[(own["implementation"] == impl) & (own["others"] == other)]
            for layer, group in sub.groupby("swept_layer", sort=False):
                per_seed = group.groupby(["seed", "alpha"])["loss"].mean().unstack("alpha")
                relative = per_seed.div(per_seed.iloc[:, 0], axis=0)
                mean, low, high = relative.mean(), relative.min(), relative.max()
                ax.plot(mean.index, mean.values, marker="o", ms=3, label=layer)
                ax.fill_between(mean.index, low.values, high.values, alpha=0.2)
            ax.axhline(1.0, color="grey", lw=0.5)
            ax.set_title(f"{impl}, other alphas = {other:g}", fontsize=10)
            ax.set_xlabel("alpha of the swept layer")
            ax.set_ylabel("own style loss / loss at alpha 0")
            ax.legend(fontsize=8)
    fig.suptitle("Does each layer's style loss fall as its own alpha rises?\n" + provenance(table), fontsize=9)
    save(fig, png, pdf)


def stylization_grid(table, png, pdf=None):
    """For the first style, seed and image of each implementation: rows are layers, columns
    alpha 0..1."""
    rows = first_run(table[(table["others"] == 0.0) & (table["image_file"].fillna("") != "")
                           & (table["term"] == "content")])
    blocks = list(rows.groupby("implementation", sort=False))
    n_rows = sum(b["swept_layer"].nunique() for _, b in blocks)
    n_cols = rows["alpha"].nunique()
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.2 * n_cols, 1.25 * n_rows), squeeze=False)
    r = 0
    for impl, sub in blocks:
        for layer, group in sub.groupby("swept_layer", sort=False):
            for c, (_, row) in enumerate(group.sort_values("alpha").iterrows()):
                ax = axes[r][c]
                ax.imshow(np.asarray(Image.open(row["image_file"])))
                ax.set_xticks([]), ax.set_yticks([])
                if r == 0 or c == 0:
                    ax.set_title(f"{row['alpha']:.1f}", fontsize=7) if r == 0 else None
                if c == 0:
                    ax.set_ylabel(f"{impl}\n{layer}", fontsize=7)
            r += 1
    fig.suptitle("One layer's alpha 0 -> 1, the others 0\n" + provenance(table), fontsize=8)
    save(fig, png, pdf)
