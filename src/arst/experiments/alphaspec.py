"""Alpha vectors written per layer name ({relu2_2: 1.0, relu4_4: 0.5}; missing layers are 0),
so one config list serves implementations with different style layers."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from ..errors import ConfigError
from ..recipe import alpha_by_layer

if TYPE_CHECKING:
    import torch


def parse_alpha_specs(text: str) -> list[dict[str, float]]:
    """A JSON list of {layer: value} mappings (what the rules pass on the command line)."""
    try:
        specs = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"alpha vectors {text!r}: not JSON ({exc})") from None
    if isinstance(specs, Mapping):
        specs = [specs]
    if not isinstance(specs, list) or not all(isinstance(s, Mapping) for s in specs):
        raise ConfigError(f"alpha vectors {text!r}: expected a list of {{layer: value}} mappings")
    return [{str(k): float(v) for k, v in s.items()} for s in specs]


def alpha_for(spec: Mapping[str, float], layers: Sequence[str]) -> tuple[torch.Tensor, list[str]]:
    """(1, n) alpha over `layers`, and the spec's layers this implementation lacks (ignored)."""
    import torch

    ignored = [k for k in spec if k not in layers]
    return torch.tensor(alpha_by_layer(spec, layers), dtype=torch.float32)[None], ignored


def spec_label(spec: Mapping[str, Any]) -> str:
    """'relu2_2=1,relu4_4=0.5' (or 'all 0' for the empty mapping)."""
    return ",".join(f"{k}={float(v):g}" for k, v in spec.items()) or "all 0"


def vector_text(alpha: torch.Tensor) -> str:
    return ",".join(f"{a:g}" for a in np.asarray(alpha).reshape(-1).tolist())
