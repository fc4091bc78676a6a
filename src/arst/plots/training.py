"""Training curves: every model's raw loss terms over its steps, one panel per run."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from .common import plt, provenance, save


def training_curves(table: pd.DataFrame, png: str | Path, pdf: str | Path | None = None,
                    points: int = 400) -> None:
    """`table`: the rows of every run's losses.csv, with columns `run` (the panel's title) and
    `loss_net`. Each raw term (content and every style layer; the total is their weighted sum
    and mostly one of them) is drawn on a log scale as a running mean over about
    steps / `points` steps, so a 200,000-step run stays readable."""
    runs = list(dict.fromkeys(table["run"]))
    # The raw terms are the loss_* columns with an EMA beside them (not the total, nor loss_net).
    terms = [c for c in table.columns if c.startswith("loss_") and f"ema_{c[len('loss_'):]}" in table.columns]
    cols = min(3, len(runs))
    rows = math.ceil(len(runs) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False, sharex=True)
    colours = dict(zip(terms, plt.rcParams["axes.prop_cycle"].by_key()["color"] * 3))
    for ax, run in zip(axes.flat, runs):
        rows_of_run = table[table["run"] == run].sort_values("step")
        window = max(1, len(rows_of_run) // points)
        for term in terms:
            values = rows_of_run[term]
            if values.isna().all():  # a layer this implementation does not have
                continue
            smooth = values.rolling(window, min_periods=1).mean()
            ax.plot(rows_of_run["step"], smooth, color=colours[term], label=term[len("loss_"):], lw=1.2)
        ax.set_yscale("log")
        ax.set_title(run, fontsize=9)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")
    for ax in axes.flat[len(runs):]:
        ax.set_visible(False)
    axes[0][0].set_ylabel("raw loss (running mean)")
    fig.suptitle(f"Training curves\n{provenance(table)}", fontsize=9)
    fig.tight_layout()
    save(fig, png, pdf)


def training_table(runs: list[tuple[str, str | Path]]) -> pd.DataFrame:
    """(label, losses.csv) of each run -> its rows, labelled with the run and, from the model.pt
    beside the log, its loss network, seed and training steps (for the figure's provenance)."""
    from .. import checkpoint
    from ..errors import DataError

    frames = []
    for label, losses in runs:
        losses = Path(losses)
        model = losses.parent / "model.pt"
        for path in (losses, model):
            if not path.is_file():
                raise DataError(f"training curves of {label}: {path} not found")
        meta = checkpoint.load(model)
        frame = pd.read_csv(losses)
        frames.append(frame.assign(run=label, loss_net=meta["loss_net"], seed=meta["seed"], train_steps=meta["step"]))
    return pd.concat(frames, ignore_index=True)
