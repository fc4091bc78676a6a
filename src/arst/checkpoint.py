"""Checkpoints and models on disk: atomic, and each carries its own provenance."""

from __future__ import annotations

import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .errors import DataError
from .io import atomic_path
from .nn.model import AdjustableStyleTransfer, build_model
from .recipe import Recipe


def provenance(**fields: Any) -> dict[str, Any]:
    return {"arst_version": __version__, "torch": str(torch.__version__), "python": platform.python_version(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), **fields}


def save(path: str | Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: say which
        raise DataError(f"{path}: not a readable arst checkpoint ({exc})") from exc


def load_model(path: str | Path, channel_multiple: int = 1) -> tuple[AdjustableStyleTransfer, dict[str, Any]]:
    """Model in eval mode on the CPU, and the checkpoint's metadata (recipe, seed, step, ...);
    `channel_multiple` as build_model takes it."""
    state = load(path)
    if "recipe" not in state or "model" not in state:
        raise DataError(f"{path}: not an arst checkpoint (no recipe or model inside)")
    recipe = Recipe.from_dict(state["recipe"], source=str(path))
    model = build_model(recipe, state.get("seed", 0), channel_multiple)
    model.load_state_dict(state["model"])
    meta = {k: v for k, v in state.items() if k not in ("model", "optimizer")}
    meta["recipe"] = recipe
    return model.eval(), meta
