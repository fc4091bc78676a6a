"""What every figure shares: provenance in the title and atomic PNG/PDF output."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from ..io import atomic_path  # noqa: E402
from ..tables import loss_nets  # noqa: E402


def provenance(table: pd.DataFrame) -> str:
    """The subtitle every figure carries: which loss network, how long, which seeds."""
    nets = loss_nets(table)
    warn = " (RANDOM weights: not the paper's loss network)" if any(n.startswith("random") for n in nets) else ""
    steps = sorted(table["train_steps"].unique()) if "train_steps" in table else []
    seeds = sorted(table["seed"].unique()) if "seed" in table else []
    return (f"loss network: {', '.join(nets)}{warn}; training steps: {', '.join(map(str, steps))}; "
            f"seeds: {', '.join(map(str, seeds))}")


def save(fig, png: str | Path, pdf: str | Path | None = None) -> None:
    for path, fmt in ((png, "png"), (pdf, "pdf")):
        if path:
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight")
    plt.close(fig)


def first_run(table: pd.DataFrame) -> pd.DataFrame:
    """Per implementation: its lowest seed, first style and first image (the grids show one)."""
    parts = []
    for _, sub in table.groupby("implementation", sort=False):
        sub = sub[(sub["seed"] == sub["seed"].min()) & (sub["style"] == sub["style"].iloc[0])]
        parts.append(sub[sub["image"] == sub["image"].iloc[0]])
    return pd.concat(parts)
