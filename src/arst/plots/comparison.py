"""Figures of the comparison experiments: content at alpha 0, combinations, noise, diversity,
saddle point, adjusted vs retrained. Each reads tables (and the images they name)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from ..errors import DataError
from .common import first_run, provenance, save


def image_grid(cells: list[list[tuple[str | None, str]]], row_labels: list[str], title: str, png, pdf=None,
               cell=1.6):
    """cells[r][c] = (image file or None, caption)."""
    n_rows, n_cols = len(cells), max(len(r) for r in cells)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(cell * n_cols, cell * n_rows + 0.8), squeeze=False)
    for r, row in enumerate(cells):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.set_xticks([]), ax.set_yticks([])
            if c >= len(row) or not row[c][0]:
                ax.axis("off")
                continue
            ax.imshow(np.asarray(Image.open(row[c][0])))
            ax.set_title(row[c][1], fontsize=6)
            if c == 0:
                ax.set_ylabel(row_labels[r], fontsize=7)
    fig.suptitle(title, fontsize=8)
    save(fig, png, pdf)


def content_identity_figure(table, png, pdf=None):
    rows = first_run(table)
    cells, labels = [], []
    for _, r in rows.iterrows():
        cells.append([(r["content_file"], "content"),
                      (r["image_file"], f"alpha = 0: PSNR {r['psnr']:.1f} dB, SSIM {r['ssim']:.2f}")])
        if _named(r.get("ones_file")):  # the control
            cells[-1].append((r["ones_file"], f"alpha = 1 (control): PSNR {r['ones_psnr']:.1f} dB, "
                                              f"SSIM {r['ones_ssim']:.2f}"))
        labels.append(f"{r['implementation']}\n{r['image']}")
    image_grid(cells, labels, "Does alpha = 0 give back the content image (and alpha = 1 not)?\n"
               + provenance(table), png, pdf, cell=2.4)


def combinations_figure(table, png, pdf=None):
    rows = first_run(table[table["term"] == "content"])
    cells, labels = [], []
    for impl, sub in rows.groupby("implementation", sort=False):
        sub = sub.sort_values("combo")
        cells.append([(r["image_file"], r["combo_label"] + (f"\n(ignored: {r['ignored']})"
                                                            if isinstance(r["ignored"], str) and r["ignored"] else ""))
                      for _, r in sub.iterrows()])
        labels.append(impl)
    image_grid(cells, labels, "Combinations of layers' alphas (missing layers = 0)\n" + provenance(table), png, pdf)


def noise_figure(table, png, pdf=None):
    rows = first_run(table)
    first = rows[rows["implementation"] == rows["implementation"].iloc[0]]
    inputs = [(None, "")] + [(r["input_file"], f"input: {r['condition']}") for _, r in first.iterrows()]
    cells, labels = [inputs], ["noisy inputs"]
    for impl, sub in rows.groupby("implementation", sort=False):
        cells.append([(sub["clean_file"].iloc[0], "noise-free")]
                     + [(r["image_file"], f"{r['condition']}: change {r['output_change']:.1f}")
                        for _, r in sub.iterrows()])
        labels.append(impl)
    image_grid(cells, labels, "Noise in the input, in alpha, and both: output change (0..255) from the "
               "noise-free output\n" + provenance(table), png, pdf)


def diversity_figure(table, png, pdf=None):
    rows = first_run(table)
    cells, labels = [], []
    for impl, sub in rows.groupby("implementation", sort=False):
        cells.append([(r["image_file"], f"alpha {r['alpha_vector'] if len(r['alpha_vector']) < 20 else ''}"
                       .strip() or f"sample {r['sample']}") for _, r in sub.sort_values("sample").iterrows()])
        labels.append(f"{impl}\npix dist {sub['pixel_distance'].mean():.1f}")
    image_grid(cells, labels, "Random alpha vectors: how diverse are the outputs?\n" + provenance(table), png, pdf)


def saddle_figure(curves, summary, png, pdf=None):
    """Rows: implementation/variant; columns: content, style, gradient cosine. Raw thin, EMA thick;
    a dashed line at each detected event."""
    groups = list(dict.fromkeys(zip(curves["implementation"], curves["variant"])))
    fig, axes = plt.subplots(len(groups), 3, figsize=(13, 2.8 * len(groups)), squeeze=False)
    for r, (impl, variant) in enumerate(groups):
        sub = curves[(curves["implementation"] == impl) & (curves["variant"] == variant)]
        for (seed, style), run in sub.groupby(["seed", "style"]):
            label = f"seed {seed}" + (f", {style}" if curves["style"].nunique() > 1 else "")
            for c, (raw, ema) in enumerate((("content_loss", "ema_content"), ("style_loss", "ema_style"))):
                ax = axes[r][c]
                line, = ax.plot(run["step"], run[raw], lw=0.6, alpha=0.5)
                ax.plot(run["step"], run[ema], lw=1.8, color=line.get_color(), label=f"{label} (EMA thick)")
                ax.set_yscale("log")
            cos = run.dropna(subset=["grad_cosine"])
            axes[r][2].plot(cos["step"], cos["grad_cosine"], marker="o", ms=3, label=label)
            hit = summary[(summary["implementation"] == impl) & (summary["variant"] == variant)
                          & (summary["seed"] == seed) & (summary["style"] == style)]
            for event in hit["event"].astype(str):
                if event != "none":
                    for ax in axes[r]:
                        ax.axvline(float(event), ls="--", color="red", lw=0.8)
        events = ", ".join(summary[(summary["implementation"] == impl)
                                   & (summary["variant"] == variant)]["event"].astype(str))
        layer = sub["content_layer"].iloc[0]
        for c, name in enumerate(("content loss", "style loss (sum of layers)", "cos(grad content, grad style)")):
            axes[r][c].set_title(f"{impl} ({variant}, content {layer}): {name}", fontsize=8)
            axes[r][c].set_xlabel("step")
        axes[r][0].legend(fontsize=6, title=f"event: {events}", title_fontsize=7)
        axes[r][2].axhline(0, color="grey", lw=0.5)
    fig.suptitle("Saddle point: does content fall while style rises? (dashed: detected event)\n"
                 + provenance(curves), fontsize=9)
    fig.tight_layout()
    save(fig, png, pdf)


def retrain_figure(table, png, pdf=None):
    """Per implementation and alpha vector: each term's loss, adjusted vs retrained (mean over images, seeds)."""
    groups = list(dict.fromkeys(zip(table["implementation"], table["alpha_vector"])))
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 3.4), squeeze=False)
    for ax, (impl, alpha) in zip(axes[0], groups):
        sub = table[(table["implementation"] == impl) & (table["alpha_vector"] == alpha)]
        mean = sub.groupby("term", sort=False)[["loss_adjusted", "loss_retrained"]].mean()
        x = np.arange(len(mean))
        ax.bar(x - 0.2, mean["loss_adjusted"], 0.4, label="adjustable at alpha")
        ax.bar(x + 0.2, mean["loss_retrained"], 0.4, label="trained at fixed alpha")
        ax.set_xticks(x, mean.index, fontsize=7)
        ax.set_yscale("log")
        ax.set_title(f"{impl}, alpha = ({alpha})", fontsize=8)
        ax.legend(fontsize=7)
    fig.suptitle("Adjusted vs retrained: unweighted per-term losses\n" + provenance(table), fontsize=9)
    fig.tight_layout()
    save(fig, png, pdf)


def controls_figure(table, png, pdf=None):
    """Per implementation and run, at its last budget: for each pair of style layers, the
    adjustable model's loss-profile distance between their one-hot settings beside the retrained
    models'; the seed floor and twice it as lines (below twice the floor the objective does not
    separate a pair)."""
    from ..experiments.claims import RUN, SEPARATED, final_budget, onehot_layers, relative_pairs, seed_floor

    table = final_budget(table)  # the budget the claims judge; controls_curves_figure draws the others
    runs = list(table.groupby(["implementation", *RUN], sort=False))
    fig, axes = plt.subplots(1, len(runs), figsize=(max(4.0, 1.6 * 3) * len(runs), 3.6), squeeze=False)
    for ax, ((impl, style, seed), run) in zip(axes[0], runs):
        pairs = relative_pairs(run, onehot_layers(run))
        x = np.arange(len(pairs))
        ax.bar(x - 0.2, pairs["adjustable"], 0.4, label="adjustable: e_i vs e_j")
        ax.bar(x + 0.2, pairs["retrained"], 0.4, label="retrained at e_i vs at e_j")
        for r in pairs.itertuples():
            ax.annotate(f"{r.ratio:.2f}", (r.Index - 0.2, r.adjustable), ha="center", va="bottom", fontsize=7)
        floor = seed_floor(run)
        ax.axhline(floor, color="black", ls="--", lw=0.8, label="seed floor")
        ax.axhline(SEPARATED * floor, color="grey", ls=":", lw=0.8, label=f"{SEPARATED:g}x floor")
        ax.set_xticks(x, [p.replace(" vs ", "\nvs ") for p in pairs["pair"]], fontsize=7)
        ax.set_ylabel("loss-profile distance (log10 units)", fontsize=7)
        ax.set_title(f"{impl}, {style}, seed {seed} (numbers: adjustable / retrained)", fontsize=8)
        ax.legend(fontsize=6)
    fig.suptitle("Does alpha separate the layers as retraining does?\n" + provenance(table), fontsize=9)
    fig.tight_layout()
    save(fig, png, pdf)


def _named(path) -> bool:
    """A table's file cell names a file (a CSV's empty cell reads back as NaN)."""
    return isinstance(path, str) and path != ""


def controls_pictures_figure(table, png, pdf=None):
    """Per implementation, style and seed (its last budget, the one the claims judge), a row per
    control alpha: the adjustable model's picture there, the retrained model's, and where the
    run has one, the second seed's retrained model (how far apart two seeds of one objective
    look: the pictures' floor)."""
    from ..experiments.claims import RUN, final_budget

    table = final_budget(table)
    cells, labels = [], []
    for (impl, style, seed), run in table.groupby(["implementation", *RUN], sort=False):
        floors = {r["alpha_a"]: r for _, r in run[run["kind"] == "floor"].iterrows() if _named(r.get("floor_file"))}
        own = run[(run["kind"] == "match") & (run["alpha_a"] == run["alpha_b"])]
        for _, r in own.iterrows():
            if not _named(r.get("adjusted_file")):
                continue
            row = [(r["adjusted_file"], f"adjusted to {r['alpha_a']}"),
                   (r["retrained_file"], f"retrained at {r['alpha_a']} ({r['pixel_distance']:.1f} apart)")]
            if r["alpha_a"] in floors:
                f = floors[r["alpha_a"]]
                row.append((f["floor_file"], f"retrained, seed {int(f['floor_seed'])} "
                                             f"({f['pixel_distance']:.1f} from seed {seed})"))
            cells.append(row)
            labels.append(f"{impl}, {style}\nseed {seed}: {r['alpha_a']}")
    if not cells:
        raise DataError("no pictures in the controls tables: run `arst controls` with --image-dir")
    image = str(table["image"].dropna().iloc[0]) if "image" in table else "the first image"
    image_grid(cells, labels, f"The adjustable model at each control alpha beside the model retrained there "
               f"({image}; numbers: mean pixel distance, 0..255)\n" + provenance(table), png, pdf, cell=2.0)


def controls_curves_figure(table, png, pdf=None):
    """Per implementation, style and pair of style layers: the relative measure (adjustable /
    retrained loss-profile distance, as the claims compute it) at every budget the controls
    measured, one line per seed. A marker is filled where the ratio reaches what the claims ask
    of it (1 - floor / retrained: within one seed floor of retraining), hollow where not; 1.0 is
    what retraining does. One budget gives one point per line."""
    import pandas as pd

    from ..experiments.claims import onehot_layers, relative_pairs

    points = []
    for (impl, style, seed, steps), run in table.groupby(["implementation", "style", "seed", "train_steps"],
                                                         sort=False):
        pairs = relative_pairs(run, onehot_layers(run))
        points += [{"implementation": impl, "style": style, "seed": seed, "steps": steps, **r}
                   for r in pairs.to_dict("records")]
    points = pd.DataFrame(points, columns=["implementation", "style", "seed", "steps", "pair", "ratio", "needed"])
    groups = list(dict.fromkeys(zip(points["implementation"], points["style"]))) or [("no pairs", "")]
    columns = max([points[(points["implementation"] == i) & (points["style"] == s)]["pair"].nunique()
                   for i, s in groups] + [1])
    fig, axes = plt.subplots(len(groups), columns, figsize=(3.6 * columns, 3.0 * len(groups)), squeeze=False)
    seeds = sorted(points["seed"].unique())
    colors = {seed: f"C{k % 10}" for k, seed in enumerate(seeds)}
    for r, (impl, style) in enumerate(groups):
        sub = points[(points["implementation"] == impl) & (points["style"] == style)]
        pairs = list(dict.fromkeys(sub["pair"]))
        for c in range(columns):
            ax = axes[r][c]
            if c >= len(pairs):
                ax.axis("off")
                continue
            for seed, line in sub[sub["pair"] == pairs[c]].groupby("seed"):
                line = line.sort_values("steps")
                color = colors[seed]
                ax.plot(line["steps"], line["ratio"], color=color, lw=1.2, label=f"seed {seed}")
                reached = line["ratio"] >= line["needed"]
                ax.scatter(line["steps"], line["ratio"], s=28, zorder=3, edgecolors=color,
                           facecolors=[color if hit else "none" for hit in reached])
            ax.axhline(1.0, color="black", ls="--", lw=0.8, label="as retraining")
            ax.set_xticks(sorted(sub["steps"].unique()))
            ax.set_ylim(bottom=0)
            ax.set_title(f"{impl}, {style}: {pairs[c]}", fontsize=8)
            ax.set_xlabel("training steps", fontsize=7)
            ax.set_ylabel("adjustable / retrained distance", fontsize=7)
            ax.tick_params(labelsize=7)
            ax.legend(fontsize=6)
    fig.suptitle("Adjusted vs retrained over training: per pair of layers, adjustable / retrained loss-profile "
                 "distance\nmarker filled: within one seed floor of retraining, as the claims ask; hollow: not\n"
                 + provenance(table), fontsize=9)
    fig.tight_layout()
    save(fig, png, pdf)
