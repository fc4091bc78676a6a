"""Tables on disk: CSV for machines, Markdown for people, both written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pandas as pd

from .io import atomic_path, write_text


def write_table(frame: pd.DataFrame, csv_path: str | Path, markdown_path: str | Path | None = None,
                title: str | None = None) -> None:
    with atomic_path(csv_path) as tmp:
        frame.to_csv(tmp, index=False)
    if markdown_path:
        head = f"# {title}\n\n" if title else ""
        write_text(markdown_path, head + frame.to_markdown(index=False, floatfmt=".4g") + "\n")


def loss_nets(table: pd.DataFrame) -> list[str]:
    """The loss networks a table's rows were measured with (`random(seed=0)`, `imagenet`, ...)."""
    return sorted(table["loss_net"].astype(str).unique())


def read_tables(paths: Iterable[str | Path]) -> pd.DataFrame:
    return pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
