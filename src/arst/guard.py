"""The divergence guard: notices a training run going off the rails from what it logs anyway.

At 256 px the corrected conditioner once diverged between steps 7,000 and 10,000 (gamma's
spread over alpha 0.06 -> 28, 72% of the output values saturated) and nothing said so until
the end. The guard watches, as the rows reach the host:
- every raw loss term (`loss_*` of log.csv);
- the conditioner's gamma and beta spread and the saturated share of outputs (the
  adjustability diagnostic, every `diagnostics_every` steps);
and fires when one of them exceeds `factor` times the median of its own recent history
(`history` rows). A median, so one noisy batch does not set the bar; the recent history, so a
loss that fell by 100x over training is judged against where it is now. Values below a
measure's `floor` never fire: a saturated share of 0 rising to 7% is not a divergence.

A loss is judged once its history holds `min_history` rows (a noisy first batch is no bar). A
measure with a floor is judged from its second row on: the floor already keeps noise out, and
the diagnostics come every `diagnostics_every` steps, so five rows can be 500 steps. A run
pushed to diverge at 48 px (conditioner lr 3e-4) had 59% of its outputs saturated and gamma's
spread at 77 times its start by its second row, step 100; by its fifth, the median of its
history was itself diverged and nothing fired.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from statistics import median

# Absolute floors: below them a jump is no divergence. Losses have none (a loss is judged by
# its own history). Healthy runs saturate some outputs from their first steps (the one-layer
# conditioner at lr 1e-4: 3-5%; at 3e-4 on the swirl, seed 2: 6.9% at step 50, 3-4% later),
# against 0 at step 0, so the share's floor is 20%: a run pushed to diverge saturated 59% by its
# second row, the 256 px divergence 72%. (At 5% the guard fired on that healthy 6.9%.)
# The default of train.divergence_factor, `arst train --divergence-factor` and train().
DIVERGENCE_FACTOR = 10.0
FLOORS = {"saturated_fraction": 0.2, "gamma_spread": 0.5, "beta_spread": 0.5}
WATCHED_DIAGNOSTICS = tuple(FLOORS)


@dataclass
class DivergenceGuard:
    """`columns`: names of the rows `check` is given (log.csv's, then the diagnostic's)."""

    loss_columns: list[str]
    diag_columns: list[str]
    factor: float = DIVERGENCE_FACTOR
    history: int = 50
    min_history: int = 5
    _seen: dict[str, deque] = field(default_factory=dict)
    fired: tuple[int, str] | None = None  # (step, what): the first firing, kept

    def _watch(self, name: str, step: int, value: float, judge: bool = True) -> None:
        seen = self._seen.setdefault(name, deque(maxlen=self.history))
        enough = len(seen) >= (1 if name in FLOORS else self.min_history)
        judge = judge and self.fired is None
        if judge and enough and math.isfinite(value):
            bar = self.factor * median(seen)
            if value > max(bar, FLOORS.get(name, 0.0)):
                self.fired = (step, f"{name} = {value:.4g}, over {self.factor:g}x its recent median "
                                    f"({median(seen):.4g})")
        if judge and not math.isfinite(value):
            self.fired = (step, f"{name} = {value}")
        seen.append(value)

    def replay(self, loss_rows: list[list[float]], diag_rows: list[list[float]], every: int) -> None:
        """Judge a resumed run's log up to its checkpoint as the run judged it, `every` (its
        log_every) steps at a time: the guard then goes on as it would have without the break,
        and its verdict on the past (`fired`) is today's guard's, not the one the checkpoint
        recorded (a guard since fixed may have fired on that history by mistake)."""
        chunks: dict[int, tuple[list, list]] = {}
        for rows, side in ((loss_rows, 0), (diag_rows, 1)):
            for row in rows:
                chunks.setdefault(int(row[0]) // every, ([], []))[side].append(row)
        for key in sorted(chunks):
            self.check(*chunks[key])

    def check(self, loss_rows: list[list[float]], diag_rows: list[list[float]], judge: bool = True
              ) -> tuple[int, str] | None:
        """Feed newly written rows (each starts with its step); returns the first firing, or None
        (`judge` False: only take them into the history)."""
        for row in loss_rows:
            for name, value in zip(self.loss_columns, row):
                if name.startswith("loss_") and name != "loss_total":
                    self._watch(name, int(row[0]), float(value), judge)
        for row in diag_rows:
            for name, value in zip(self.diag_columns, row):
                if name in WATCHED_DIAGNOSTICS:
                    self._watch(name, int(row[0]), float(value), judge)
        return self.fired

    def message(self, checkpoint: str) -> str:
        step, what = self.fired
        return f"training diverged at step {step}: {what}; last good checkpoint: {checkpoint}"
