"""A Recipe is every knob that tells one implementation from another, as data.

`baseline` (Prudnikov's port as shipped) and `corrected` (the paper) are two YAML presets
beside this file; ablations are the same presets with fields overridden from config. Each
field is read in exactly one place in the package, named in its comment below.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
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
    "alpha_onehot_draw": ("cycle", "random"),
    "conditioner": ("prudnikov", "mlp", "linear"),
    "cin_order": ("prudnikov", "forward"),
    "cin_position": ("before_relu", "after_relu"),
    "last_activation": ("none", "sigmoid"),
    "init": ("default", "normal"),
    "conditioner_init": ("default", "normal", "kaiming"),
    "conditioner_norm": ("none", "layer"),
    "conditioner_head_init": ("normal", "zero"),
    "normalization": ("ema", "sample"),
    "gamma_bound": ("none", "tanh"),
}


# Convolutions per block of VGG-16 and VGG-19 (torchvision's layouts "D" and "E"). The names
# are known here without building a network (nn/vgg.py builds them; tests/test_nn.py checks
# that the two agree), so a recipe with a layer its network lacks fails when it is read.
VGG_BLOCKS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}


def vgg_layers(arch: str) -> list[str]:
    """relu{block}_{conv} of every ReLU of `arch`, in network order."""
    return [f"relu{block}_{conv}" for block, convs in enumerate(VGG_BLOCKS[arch], 1)
            for conv in range(1, convs + 1)]


def check_alpha(values: Sequence[float], source: str) -> None:
    """Alpha weighs each style layer's loss between off (0) and fully on (1): a value outside
    [0, 1], or NaN, is no alpha the model was trained for."""
    bad = list(dict.fromkeys(v for v in values if not (0.0 <= v <= 1.0)))  # NaN fails both
    if bad:
        raise ConfigError(f"{source} = {list(values)}: every alpha must lie in [0, 1], and "
                          f"{', '.join(repr(v) for v in bad)} {'does' if len(bad) == 1 else 'do'} not")


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
    # nn/conditioner.py: the last layer's weights of the mlp and linear conditioners, N(0,
    # init_std) or zero (gamma = 1 and beta = 0 exactly at step 0, gradients still flowing).
    # A default, so checkpoints written before the field existed load as they were trained.
    conditioner_head_init: str = "normal"
    # alphas.py: the share of training samples at alpha = 0 (content alone), drawn after the
    # one-hots, so the corner "alpha zero gives the content" is trained, not extrapolated.
    alpha_zero_prob: float = 0.0
    # alphas.py: which one-hot a one-hot sample gets: e_(step mod n) for every sample of a step
    # (the port's cycle, so each step trains one corner), or a corner drawn per sample, so each
    # step's gradient mixes the corners and the conditioner has to tell them apart.
    alpha_onehot_draw: str = "cycle"
    # losses.py: what each in-scope term is divided by: its EMA over training (the paper), or
    # each sample's own detached value, so that the loss at an alpha is the one a model
    # retrained at that alpha converges to, whatever the mixture of alphas around it.
    normalization: str = "ema"
    # Remedies for a run that diverges (docs/findings.md), each off by default.
    # train.py: the gradient's global norm is clipped to this before each step (None: no clip).
    grad_clip: float | None = None
    # losses.py: no E_l falls below this share of sum_i E_i, so a term whose loss falls
    # towards zero weighs at most 1 / ema_floor times the total (0: no floor).
    ema_floor: float = 0.0
    # nn/conditioner.py: gamma as the head writes it (none) or 1 + tanh(head - 1), equal near
    # gamma = 1 and bounded in (0, 2), so no alpha can scale a feature map without bound.
    gamma_bound: str = "none"
    # train.py: the stylizer's learning rate rises linearly from lr / N to lr over the first N
    # steps while the conditioner's starts at its own, so the conditioner can find alpha's
    # directions before the stylizer settles on one output for every alpha (0: no warm-up).
    stylizer_warmup: int = 0

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(Recipe)
        for f in dataclasses.fields(self):
            # Every field, typed as declared: a YAML override (`--set batch_size=abc`) must fail
            # here, naming the field, not later inside torch. Numbers written as text ('1e-3',
            # which YAML 1.1 reads as a string) become floats.
            object.__setattr__(self, f.name, _typed(getattr(self, f.name), hints[f.name],
                                                    f"recipe {self.name!r}: {f.name}"))
        for key, allowed in _CHOICES.items():
            if getattr(self, key) not in allowed:
                raise ConfigError(
                    f"recipe {self.name!r}: {key} = {getattr(self, key)!r}, expected one of {allowed}"
                )
        if not self.style_layers:
            raise ConfigError(f"recipe {self.name!r}: style_layers is empty")
        layers = vgg_layers(self.vgg)
        for key, names in (("style_layers", self.style_layers), ("content_layer", (self.content_layer,))):
            unknown = [n for n in names if n not in layers]
            if unknown:
                raise ConfigError(f"recipe {self.name!r}: {key} names {', '.join(unknown)}, which "
                                  f"{self.vgg} does not have; its layers are {', '.join(layers)}")
        if len(set(self.style_layers)) != len(self.style_layers):
            raise ConfigError(f"recipe {self.name!r}: style_layers {list(self.style_layers)} repeats a layer")
        for key in ("alpha_fixed", "inference_alpha"):
            value = getattr(self, key)
            if value is not None and value != () and len(value) != self.n_alpha:
                raise ConfigError(
                    f"recipe {self.name!r}: {key} has {len(value)} values, "
                    f"expected {self.n_alpha} (one per style layer: {', '.join(self.style_layers)})"
                )
            if value:
                check_alpha(value, f"recipe {self.name!r}: {key}")
        for key in ("alpha_onehot_prob", "alpha_zero_prob"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ConfigError(f"recipe {self.name!r}: {key} must lie in [0, 1]")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ConfigError(f"recipe {self.name!r}: grad_clip must be positive (or null: no clipping)")
        if not 0.0 <= self.ema_floor < 1.0:
            raise ConfigError(f"recipe {self.name!r}: ema_floor must lie in [0, 1)")
        if self.stylizer_warmup < 0:
            raise ConfigError(f"recipe {self.name!r}: stylizer_warmup must be 0 (none) or a number of steps")
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
        return cls(**data)

    def replace(self, **overrides: Any) -> "Recipe":
        return Recipe.from_dict({**self.to_dict(), **overrides}, source=f"recipe {self.name!r}")


def alpha_by_layer(spec: Mapping[str, float], layers: Sequence[str]) -> list[float]:
    """An alpha vector written per layer name ({relu2_2: 1.0, relu4_4: 0.5}) as values over
    `layers`, a recipe's style layers: a layer the mapping leaves out is 0, so one config list
    serves implementations with different layers."""
    return [float(spec.get(layer, 0.0)) for layer in layers]


def onehot_layer(alpha: Sequence[float], layers: Sequence[str]) -> str | None:
    """The layer a one-hot alpha over `layers` switches on, or None for any other vector: the
    inverse of alpha_by_layer on the vectors the retrained controls train at."""
    values = [float(a) for a in alpha]
    if len(values) != len(layers) or sorted(values) != [0.0] * (len(values) - 1) + [1.0]:
        return None
    return layers[values.index(1.0)]


def _typed(value: Any, hint: Any, source: str) -> Any:
    """`value` as the type `hint` declares (bool, int, float, str, tuples of them, or
    Optional), or a ConfigError naming `source`, the value and the type expected."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _typed(value, inner, source)
    if origin is tuple:
        count = None if args[-1] is Ellipsis else len(args)
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or (
                count is not None and len(value) != count):
            raise ConfigError(f"{source} = {value!r}: expected a list of {count or 'any number of'} "
                              f"values, each {_type_name(args[0])}")
        return tuple(_typed(v, args[0] if count is None else args[i], f"{source}[{i}]")
                     for i, v in enumerate(value))
    if hint is float and not isinstance(value, bool):
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = None
        if number is not None and math.isfinite(number):
            return number
    elif hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    elif hint in (bool, str) and isinstance(value, hint):
        return value
    raise ConfigError(f"{source} = {value!r}: expected {_type_name(hint)}")


def _type_name(hint: Any) -> str:
    return {float: "a finite number", int: "an integer", bool: "true or false", str: "a string"}[hint]


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


def save_recipe(recipe: Recipe, path: str | Path) -> None:
    """`recipe` as a YAML file of every field, which load_recipe (`arst train --recipe FILE`)
    reads back as the same Recipe; written atomically."""
    from .io import write_text

    header = f"# The recipe of {recipe.name!r}, every field (arst.recipe.Recipe); arst train --recipe reads it.\n"
    write_text(path, header + yaml.safe_dump(recipe.to_dict(), sort_keys=False))
