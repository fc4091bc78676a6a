"""A Schedule is how long and how one model trains, beside its Recipe (what it is).

One value travels from the config (arst.plan.schedule_of) through `arst train`'s flags
(`Schedule.argv`, read back by cli.train) into `train()`, which writes it, resolved, into every
checkpoint. Its field names are the config's `train:` keys and, with dashes, the flags.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import ConfigError
from .guard import DIVERGENCE_FACTOR

CHECKPOINT_EVERY = 2000  # steps between checkpoints when the caller gives none


@dataclass(frozen=True)
class Schedule:
    steps: int | None = None
    epochs: float | None = None  # passes over the content images (the port's schedule); wins over steps
    batch: int | None = None  # None: the recipe's batch_size
    size: int | None = None  # None: the recipe's image_size
    checkpoint_every: int = CHECKPOINT_EVERY
    log_every: int = 1  # steps between two reads of the loss rows back to the host
    diagnostics_every: int = 0  # adjustability diagnostic and gradient cosine every N steps (0: never)
    divergence_factor: float = DIVERGENCE_FACTOR  # arst.guard's factor (0: no guard)
    stop_on_divergence: bool = False
    workers: int = 0  # data-loading processes: how batches are read, never which
    # Steps after which the model is also kept as it is then (snapshot_name), to judge one run at
    # several budgets; each below `steps`, in order.
    snapshots: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.steps is None and self.epochs is None:
            raise ConfigError("schedule: give steps or epochs")
        for key in ("steps", "batch", "size", "checkpoint_every", "log_every"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ConfigError(f"schedule: {key} = {value}: must be at least 1")
        if self.epochs is not None and not self.epochs > 0:
            raise ConfigError(f"schedule: epochs = {self.epochs}: must be positive")
        for key in ("diagnostics_every", "divergence_factor", "workers"):
            if getattr(self, key) < 0:
                raise ConfigError(f"schedule: {key} = {getattr(self, key)}: must be at least 0")
        snapshots = tuple(self.snapshots)
        for step in snapshots:
            if step < 1:
                raise ConfigError(f"schedule: snapshots = {step}: must be at least 1")
        twice = sorted({step for step in snapshots if snapshots.count(step) > 1})
        if twice:
            raise ConfigError(f"schedule: snapshots = {', '.join(map(str, twice))}: given twice")
        object.__setattr__(self, "snapshots", tuple(sorted(snapshots)))  # frozen: set once, here
        if self.epochs is None:
            self._check_snapshots()

    def resolved(self, batch: int, size: int, images: int) -> "Schedule":
        """This schedule with nothing left to decide: the batch and size (the recipe's where
        this one gives none) and the steps (`epochs` over `images` content images, if given)."""
        batch, size = self.batch or batch, self.size or size
        steps = self.steps if self.epochs is None else math.ceil(self.epochs * images / batch)
        resolved = dataclasses.replace(self, steps=steps, batch=batch, size=size)
        resolved._check_snapshots()  # with epochs, the steps are known only now
        return resolved

    def _check_snapshots(self) -> None:
        """A snapshot at or past the last step is the model itself, or never comes."""
        late = [step for step in self.snapshots if step >= self.steps]
        if late:
            raise ConfigError(f"schedule: snapshots = {', '.join(map(str, late))}: must be below steps = "
                              f"{self.steps} (model.pt is the model at the last step)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "schedule") -> "Schedule":
        """A schedule as a checkpoint stores it; a key added since takes its default."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"{source}: unknown schedule key(s) {unknown}; known keys: {sorted(names)}")
        return cls(**data)

    def argv(self) -> list[str]:
        """`arst train`'s flags for this schedule (cli.train reads them back into it)."""
        args = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "steps" and self.epochs is not None:
                continue  # the flags take one of the two, and epochs wins
            if value is None or value is False or value == ():
                continue
            if isinstance(value, tuple):
                value = ",".join(map(str, value))
            args += [flag(f.name)] if value is True else [flag(f.name), str(value)]
        return args

    def changes(self, before: "Schedule") -> list[str]:
        """'key a -> b' for each field that differs from `before` (a resumed run's checkpoint)."""
        return [f"{f.name} {getattr(before, f.name)} -> {getattr(self, f.name)}"
                for f in dataclasses.fields(self) if getattr(before, f.name) != getattr(self, f.name)]


def flag(key: str) -> str:
    """A field's `arst train` flag: its name with dashes."""
    return f"--{key.replace('_', '-')}"


def snapshot_name(step: int) -> str:
    """The file, beside model.pt, of the model as it was after `step` steps (Schedule.snapshots):
    the same form as model.pt, its `step` that step."""
    return f"model-step{step}.pt"
