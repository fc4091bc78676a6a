"""Pages for `snakemake --report`: it shows an HTML result inline, but a CSV or a GIF only as a
download. So each table becomes an HTML page, the animated sweeps one page with every GIF in it,
and the per-job benchmarks one table. Every page is self-contained (no network, no other file)."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Sequence

import pandas as pd

from .errors import DataError
from .io import write_text

_STYLE = """<style>
body { font-family: sans-serif; margin: 1em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f4f4f4; }
td:first-child, th:first-child { text-align: left; }
figure { display: inline-block; margin: 0.5em; text-align: center; }
</style>"""


def page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"{_STYLE}</head>\n<body><h3>{html.escape(title)}</h3>\n{body}\n</body></html>\n")


def table_page(frame: pd.DataFrame, title: str) -> str:
    """The table as HTML, numbers to 4 significant digits (the Markdown tables' format)."""
    return page(title, frame.to_html(index=False, border=0, na_rep="", escape=True,
                                     float_format=lambda v: f"{v:.4g}"))


def write_table_page(csv: str | Path, out: str | Path, title: str | None = None) -> Path:
    write_text(out, table_page(_read_csv(csv), title or Path(csv).stem.replace("_", " ")))
    return Path(out)


def gif_page(gifs: Sequence[tuple[str, str | Path]], title: str) -> str:
    """Each (label, GIF file) inline, as a data URI, with its label under it."""
    figures = []
    for label, path in gifs:
        path = Path(path)
        if not path.is_file():
            raise DataError(f"animation not found: {path}")
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        figures.append(f"<figure><img src=\"data:image/gif;base64,{data}\" alt=\"{html.escape(label)}\">"
                       f"<figcaption>{html.escape(label)}</figcaption></figure>")
    return page(title, "\n".join(figures))


# Snakemake's benchmark files: seconds, wall time as h:m:s, memory in MB (max_rss etc.), I/O
# in MB, mean CPU load in percent and CPU seconds. The table keeps what sizes a job.
BENCHMARK_COLUMNS = {"s": "wall_s", "max_rss": "max_rss_mb", "mean_load": "mean_load_pct", "cpu_time": "cpu_s"}


def benchmark_table(runs: Sequence[tuple[str, str | Path]]) -> pd.DataFrame:
    """One row per (job label, Snakemake benchmark TSV): wall time, peak memory, CPU."""
    rows = []
    for label, path in runs:
        bench = _read_csv(path, sep="\t")
        missing = sorted(set(BENCHMARK_COLUMNS) - set(bench.columns))
        if missing:
            raise DataError(f"{path}: not a Snakemake benchmark file (no column {', '.join(missing)})")
        for _, row in bench.iterrows():  # one row per repetition
            rows.append({"job": label, **{new: row[old] for old, new in BENCHMARK_COLUMNS.items()}})
    return pd.DataFrame(rows, columns=["job", *BENCHMARK_COLUMNS.values()])


def _read_csv(path: str | Path, sep: str = ",") -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"table not found: {path}")
    try:
        return pd.read_csv(path, sep=sep)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable table ({exc})") from None
