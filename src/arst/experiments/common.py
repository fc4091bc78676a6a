"""What every experiment shares: the evaluation images and the table writers."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import pandas as pd
import torch

from ..data.images import center_crop_resize, load_rgb
from ..io import atomic_path, write_text


def load_eval_images(paths: Iterable[str | Path], size: int) -> tuple[list[str], torch.Tensor]:
    """Names (file stems) and a float (N, 3, size, size) batch in 0..255: the fixed
    evaluation set, cropped the way training content is."""
    paths = [Path(p) for p in paths]
    arrays = [torch.from_numpy(center_crop_resize(load_rgb(p), size).copy()) for p in paths]
    return [p.stem for p in paths], torch.stack(arrays).permute(0, 3, 1, 2).float()


def evaluation_args(p, checkpoint: bool = True, image_dir: bool = True) -> None:
    """The options every evaluation verb shares: which model, its style, the evaluation
    images and their size, the output table (and images), and the runtime."""
    from ..cli import runtime_args

    if checkpoint:
        p.add_argument("--checkpoint", required=True, help="the trained model.pt")
    p.add_argument("--style", required=True, help="the style image the model was trained on")
    p.add_argument("--style-name", default="style")
    p.add_argument("--images", nargs="+", required=True, help="evaluation content images")
    p.add_argument("--size", type=int, default=128, help="short side of the evaluation crops")
    p.add_argument("--table", required=True, help="output CSV")
    if image_dir:
        p.add_argument("--image-dir", help="write the rendered images here")
    runtime_args(p)


def parse_floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def write_table(frame: pd.DataFrame, csv_path: str | Path, markdown_path: str | Path | None = None,
                title: str | None = None) -> None:
    """CSV for machines, Markdown for people; both atomic."""
    with atomic_path(csv_path) as tmp:
        frame.to_csv(tmp, index=False)
    if markdown_path:
        head = f"# {title}\n\n" if title else ""
        write_text(markdown_path, head + frame.to_markdown(index=False, floatfmt=".4g") + "\n")


def read_tables(paths: Iterable[str | Path]) -> pd.DataFrame:
    return pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)


def summary_verb(name: str, help: str, summarize: Callable[[pd.DataFrame], pd.DataFrame], title: str):
    """Register `arst NAME TABLE... --csv C --md M`: merge an experiment's per-model tables,
    summarize them, and write the CSV and the Markdown table, whose `title` may name
    {nets}, the loss networks the rows came from."""
    from ..cli import verb

    @verb(name, help)
    def setup(p):
        p.add_argument("tables", nargs="+", help="the experiment's per-model CSVs")
        p.add_argument("--csv", required=True)
        p.add_argument("--md", required=True)

        def run(args):
            table = read_tables(args.tables)
            nets = ", ".join(sorted(table["loss_net"].astype(str).unique()))
            write_table(summarize(table), args.csv, args.md, title=title.format(nets=nets))
        return run
    return setup
