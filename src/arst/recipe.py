"""A Recipe is every knob that tells one implementation from another, as data.

`baseline` (Prudnikov's port as shipped) and `corrected` (the paper) are two YAML presets
beside this file; ablations are the same presets with fields overridden from config. Each
field is read in exactly one place in the package, named in its comment below.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from .errors import ConfigError

PRESETS = ("baseline", "corrected")
_FORMER_FIELDS = ("checkpoint_every",)

_CHOICES = {
    "vgg": ("vgg16", "vgg19"),
    "ema_scope": ("style", "all"),
    "ema_init": ("ones", "first"),
    "alpha_per": ("batch", "sample"),
    "conditioner": ("prudnikov", "mlp"),
    "cin_order": ("prudnikov", "forward"),
    "cin_position": ("before_relu", "after_relu"),
    "last_activation": ("none", "sigmoid"),
    "init": ("default", "normal"),
    "conditioner_init": ("default", "normal", "kaiming"),
    "conditioner_norm": ("none", "layer"),
}


@dataclass(frozen=True)
class Recipe:
    name: str
    # loss network and objective (nn/vgg.py, losses.py)
    vgg: str
    style_layers: tuple[str, ...]
    content_layer: str
    content_weight: float
    style_weight: float
    ema_scope: str  # which terms the EMA normalisation covers
    ema_rate: float
    ema_init: str  # where the EMA starts: ones (the spec) or the first step's raw losses
    # alpha sampling during training (alphas.py)
    alpha_per: str
    alpha_onehot_prob: float
    alpha_fixed: tuple[float, ...] | None  # train at one alpha: the "retrained" models
    # conditioner (nn/conditioner.py; train_conditioner in train.py)
    conditioner: str
    conditioner_width: int
    conditioner_depth: int
    conditioner_init: str  # nn/conditioner.py: default (PyTorch), normal (N(0, init_std)), kaiming (He)
    conditioner_norm: str  # LayerNorm before each hidden ReLU of the mlp conditioner, or none
    conditioner_residual: bool  # hidden layers of the mlp conditioner as x + ReLU(W x + b)
    conditioner_lr: float | None  # train.py; None: lr
    train_conditioner: bool
    # stylizing network (nn/stylizer.py, nn/cin.py)
    residual_blocks: int
    cin_order: str
    cin_unbiased: bool
    cin_eps: float
    cin_position: str
    last_norm: bool
    last_activation: str
    init: str  # the stylizer's (nn/model.py): default (PyTorch) or normal (N(0, init_std))
    init_std: float
    # optimisation and data (train.py)
    lr: float
    betas: tuple[float, float]
    batch_size: int
    shuffle: bool
    image_size: int
    style_size: int | None
    inference_alpha: tuple[float, ...] = field(default=())  # stylize.py

    def __post_init__(self) -> None:
        for key, allowed in _CHOICES.items():
            if getattr(self, key) not in allowed:
                raise ConfigError(
                    f"recipe {self.name!r}: {key} = {getattr(self, key)!r}, expected one of {allowed}"
                )
        if not self.style_layers:
            raise ConfigError(f"recipe {self.name!r}: style_layers is empty")
        for key in ("alpha_fixed", "inference_alpha"):
            value = getattr(self, key)
            if value is not None and value != () and len(value) != self.n_alpha:
                raise ConfigError(
                    f"recipe {self.name!r}: {key} has {len(value)} values, "
                    f"expected {self.n_alpha} (one per style layer: {', '.join(self.style_layers)})"
                )
        if not 0.0 <= self.alpha_onehot_prob <= 1.0:
            raise ConfigError(f"recipe {self.name!r}: alpha_onehot_prob must lie in [0, 1]")
        for key in ("batch_size", "image_size", "conditioner_width"):
            if getattr(self, key) < 1:
                raise ConfigError(f"recipe {self.name!r}: {key} must be at least 1")

    @property
    def n_alpha(self) -> int:
        return len(self.style_layers)

    @property
    def default_alpha(self) -> tuple[float, ...]:
        return self.inference_alpha or (1.0,) * self.n_alpha

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "recipe") -> "Recipe":
        names = {f.name for f in dataclasses.fields(cls)}
        # Older checkpoints and recipe files carry checkpoint_every, a setting of training
        # (the workflow always passed it to train), never a property of the model: skip it.
        data = {k: v for k, v in data.items() if k not in _FORMER_FIELDS}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"{source}: unknown recipe key(s) {unknown}; known keys: {sorted(names)}")
        missing = sorted(f.name for f in dataclasses.fields(cls)
                         if f.name not in data and f.default is dataclasses.MISSING)
        if missing:
            raise ConfigError(f"{source}: missing recipe key(s) {missing}")
        values = dict(data)
        for key in ("style_layers", "betas", "alpha_fixed", "inference_alpha"):
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        for key in ("content_weight", "style_weight", "ema_rate", "alpha_onehot_prob", "cin_eps",
                    "init_std", "lr", "conditioner_lr"):
            if key == "conditioner_lr" and values.get(key) is None:
                continue
            try:
                values[key] = float(values[key])
            except (TypeError, ValueError):
                raise ConfigError(f"{source}: {key} = {values[key]!r} is not a number") from None
        return cls(**values)

    def replace(self, **overrides: Any) -> "Recipe":
        return Recipe.from_dict({**self.to_dict(), **overrides}, source=f"recipe {self.name!r}")


def alpha_by_layer(spec: Mapping[str, float], layers: Sequence[str]) -> list[float]:
    """An alpha vector written per layer name ({relu2_2: 1.0, relu4_4: 0.5}) as values over
    `layers`, a recipe's style layers: a layer the mapping leaves out is 0, so one config list
    serves implementations with different layers."""
    return [float(spec.get(layer, 0.0)) for layer in layers]


def load_recipe(spec: str | Path | Mapping[str, Any], **overrides: Any) -> Recipe:
    """A preset name, a YAML file, or a mapping with `base:` naming a preset to override."""
    if isinstance(spec, Mapping):
        spec = dict(spec)
        base = spec.pop("base", None)
        data = _preset(base).to_dict() if base else {}
        return Recipe.from_dict({**data, **spec, **overrides}, source=f"recipe based on {base!r}")
    if str(spec) in PRESETS:
        return _preset(str(spec)).replace(**overrides) if overrides else _preset(str(spec))
    path = Path(spec)
    if not path.is_file():
        raise ConfigError(f"recipe {str(spec)!r} is neither a preset {PRESETS} nor a YAML file")
    return load_recipe(yaml.safe_load(path.read_text()) or {}, **overrides)


def _preset(name: str) -> Recipe:
    if name not in PRESETS:
        raise ConfigError(f"unknown recipe preset {name!r}; presets: {PRESETS}")
    text = resources.files("arst").joinpath("recipes", f"{name}.yaml").read_text()
    return Recipe.from_dict(yaml.safe_load(text), source=f"preset {name}")
