"""The static alpha explorer: one HTML file, with the sweep's images inside it as data URIs,
so it opens offline and inside the Snakemake report. Per-layer sliders step through the
alphas the sweep computed (one layer moves, the others held at 0 or at 1), every
implementation side by side."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Iterable

import pandas as pd

from .. import __version__
from ..errors import DataError
from ..io import write_text
from ..tables import loss_nets, read_tables
from . import loss_network_words, page

KEYS = ["implementation", "style", "seed", "image", "others", "swept_layer", "alpha"]
COLUMNS = KEYS + ["loss_net", "train_steps", "image_file"]


def run_key(style, seed) -> str:
    return f"{style}|{seed}"


def explorer_data(table: pd.DataFrame, source: str = "the sweep tables") -> dict:
    """The page's data: what to offer (runs, images, others, layers, alphas) and, per
    implementation, run, image, others and layer, one image per alpha (an index into
    `uris`, None where the sweep has none). Identical images are stored once."""
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"{source}: not sweep tables (no column(s) {', '.join(missing)})")
    rows = table[table["image_file"].fillna("").astype(str) != ""]
    if rows.empty:
        raise DataError(f"{source}: no sweep images named (the image_file column is empty: run "
                        "`arst sweep` with --image-dir)")
    rows = rows.assign(alpha=rows["alpha"].round(6)).drop_duplicates(KEYS)
    alphas = sorted(rows["alpha"].unique().tolist())
    others = sorted(rows["others"].unique().tolist())
    layers = list(dict.fromkeys(rows["swept_layer"]))
    uris: list[str] = []
    index_of: dict[bytes, int] = {}
    frames: dict = {}
    implementations = []
    for impl, sub in rows.groupby("implementation", sort=False):
        nets = loss_nets(sub)
        implementations.append({
            "name": impl, "loss_net": ", ".join(nets),
            "loss_net_words": "; ".join(loss_network_words(n) for n in nets),
            "train_steps": sorted(int(s) for s in sub["train_steps"].unique()),
            "layers": list(dict.fromkeys(sub["swept_layer"]))})
        for row in sub.itertuples(index=False):
            path = Path(row.image_file)
            if not path.is_file():
                raise DataError(f"{source}: image {path} (implementation {impl}, {row.swept_layer} = "
                                f"{row.alpha:g}) not found")
            data = path.read_bytes()
            if data not in index_of:
                index_of[data] = len(uris)
                uris.append("data:image/png;base64," + base64.b64encode(data).decode("ascii"))
            per_alpha = (frames.setdefault(impl, {}).setdefault(run_key(row.style, row.seed), {})
                         .setdefault(row.image, {}).setdefault(f"{row.others:g}", {})
                         .setdefault(row.swept_layer, [None] * len(alphas)))
            per_alpha[alphas.index(row.alpha)] = index_of[data]
    runs = rows[["style", "seed"]].drop_duplicates()
    return {
        "version": __version__,
        "runs": [{"key": run_key(s, d), "label": f"style {s}, seed {d}"} for s, d in runs.itertuples(index=False)],
        "images": list(dict.fromkeys(rows["image"])),
        "others": others, "layers": layers, "alphas": alphas,
        "implementations": implementations, "frames": frames, "uris": uris,
        "frame_count": int(len(rows)),
    }


def explorer_html(data: dict) -> str:
    # "</" inside the JSON would end its <script> element early; "<\/" is the same JSON string.
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return page("static.html").replace("/*EXPLORER_DATA*/", payload)


def write_explorer_page(tables: Iterable[str | Path], out: str | Path) -> dict:
    """Read the sweep tables, write the page to `out` (atomically); returns its data."""
    tables = [Path(t) for t in tables]
    for t in tables:
        if not t.is_file():
            raise DataError(f"sweep table not found: {t}")
    data = explorer_data(read_tables(tables), ", ".join(map(str, tables)))
    write_text(out, explorer_html(data))
    return data
