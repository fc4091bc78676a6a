"""Saddle point (spec section 5, sixth claim; report Fig. 2): near batch 3000 the report's
corrected model's content loss dropped sharply while its style loss rose, which it blamed
on content and style sharing a VGG layer. Read the training logs, detect that event
automatically, summarise the content/style gradient cosine, and compare against the
ablation whose content layer is not a style layer."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .registry import Experiment, Figure, Setting

if TYPE_CHECKING:
    import pandas as pd

# The table is made by one job over every training log (`arst saddle`, workflow rule saddle),
# not per model: the experiment has no per-model verb, and its figure reads its own tables.
EXPERIMENT = Experiment(
    name="saddle", verb=None, category="Saddle point", target="saddle_point",
    help="detect the saddle-point event in training logs; gradient cosine; disjoint-layer ablation",
    summary_help="", title="",
    settings=(
        Setting("saddle.window", 20, "steps compared before and after", {"type": "integer", "minimum": 1}),
        # warmup: 3 time constants of the EMA (rate 0.01)
        Setting("saddle.warmup", 300, "steps before the detector looks (3 time constants of an EMA at rate 0.01)",
                {"type": "integer", "minimum": 0}),
        Setting("saddle.content_drop", 0.3, "fraction content must fall", {"type": "number", "minimum": 0, "maximum": 1}),
        Setting("saddle.style_rise", 0.1, "fraction style must rise", {"type": "number", "minimum": 0}),
        Setting("saddle.ablation", True, "train every implementation again with its content layer off the style "
                "layers", {"type": "boolean"}, flag=None),
        Setting("saddle.ablation_content_layer", "relu4_2", "content layer off the style layers (deeper than "
                "relu3_4: a confound the claims row names)", {"type": "string"}, flag=None),
    ),
    figures=(Figure("saddle", "arst.plots.comparison:saddle_figure",
                    "figure: training curves (raw, EMA), gradient cosine, detected events", "saddle_figure.rst",
                    reads=("curves", "table")),),
)
SADDLE = {s.key.split(".")[1]: s.default for s in EXPERIMENT.settings}
# A saddle event must also move both window medians by this many standard errors of what batch
# noise alone moves them: for Gaussian noise a window pair passes one test by chance with
# probability 0.13% (one-sided), and an event needs content and style to pass at once.
SADDLE_NOISE_K = 3.0


def style_curve(log: pd.DataFrame, prefix: str = "loss_") -> pd.Series:
    """The summed style terms (every logged term but content)."""
    cols = [c for c in log.columns if c.startswith(prefix) and c not in (f"{prefix}content", "loss_total")]
    return log[cols].sum(axis=1)


def searchable(steps, window: int, warmup: int = 0) -> tuple[float, float]:
    """The first and last step the detector can place an event at: a full `window` after the
    warm-up before it, and a full `window` after it. (nan, nan) if the log is too short."""
    steps = np.asarray(steps, dtype=float)
    after = np.flatnonzero(steps >= warmup)
    if len(after) == 0 or after[0] + window > len(steps) - window:
        return np.nan, np.nan
    return float(steps[after[0] + window]), float(steps[len(steps) - window])


MAD_TO_SD = 1.4826  # a Gaussian's standard deviation per median absolute deviation
MEDIAN_SE = 1.2533  # a median's standard error, in units of the mean's (sqrt(pi / 2), Gaussian)


def step_spread(values) -> float:
    """The relative step-to-step spread of a logged loss (each step one batch): the robust
    standard deviation of its log differences, over sqrt(2) since a difference holds two steps'
    noise. Robust (a MAD about the median difference), so a trend and the one jump of an event
    do not count as noise. 0 for fewer than two steps."""
    d = np.diff(np.log(np.asarray(values, dtype=float)))
    if len(d) == 0:
        return 0.0
    return float(MAD_TO_SD * np.median(np.abs(d - np.median(d))) / np.sqrt(2))


def median_noise(values, window: int) -> float:
    """What batch noise alone moves the log of the median of `window` steps against the median
    of the `window` steps before: one standard error of that log ratio, from the step-to-step
    spread of `values` (the 2 * window steps around the step)."""
    return float(np.sqrt(2) * MEDIAN_SE * step_spread(values) / np.sqrt(window))


def needed_changes(content, style, window: int, content_drop: float, style_rise: float,
                   k: float = SADDLE_NOISE_K) -> dict:
    """The relative changes an event must reach at a step, from the losses around it: content
    must fall by the configured fraction and by k standard errors of batch noise (a log change
    of -k SE), style must rise by both likewise; whichever is larger."""
    return {"content_spread": step_spread(content), "style_spread": step_spread(style),
            "content_needed": min(-content_drop, float(np.expm1(-k * median_noise(content, window)))),
            "style_needed": max(style_rise, float(np.expm1(k * median_noise(style, window))))}


def detect_saddle(steps, content, style, window: int, content_drop: float = SADDLE["content_drop"],
                  style_rise: float = SADDLE["style_rise"], warmup: int = SADDLE["warmup"],
                  k: float = SADDLE_NOISE_K) -> dict:
    """The step where, comparing the `window` steps after it with the `window` steps before it
    (medians), content falls while style rises, each by at least its configured fraction
    (`content_drop`, `style_rise`) and by at least k standard errors of what batch noise moves
    a window's median (with noisy losses the fractions alone fire on noise); the strongest such
    step, or None. Returns the step, both changes, and the batch noise (`needed_changes`: each
    loss's step-to-step spread and the change it needed; at the event, else the median over
    the steps searched).

    Steps before `warmup` are never compared: at the start the losses move fast whatever the
    layers share (and with the EMA starting at ones its weights sweep through orders of
    magnitude), which the report's mid-training event is not."""
    steps, content, style = (np.asarray(v, dtype=float) for v in (steps, content, style))
    best = {"event_step": None, "content_change": np.nan, "style_change": np.nan}
    score, noise = -np.inf, []
    n = len(steps)
    first = int(np.searchsorted(steps, warmup)) + window
    for t in range(max(window, first), n - window + 1):
        around = slice(t - window, t + window)
        if (content[around] <= 0).any() or (style[around] <= 0).any():
            continue
        c0, c1 = np.median(content[t - window:t]), np.median(content[t:t + window])
        s0, s1 = np.median(style[t - window:t]), np.median(style[t:t + window])
        dc, ds = c1 / c0 - 1.0, s1 / s0 - 1.0
        need = needed_changes(content[around], style[around], window, content_drop, style_rise, k)
        noise.append(need)
        # Thresholds on medians (robust to single noisy steps); the step is placed where the
        # contrast of the means peaks (medians tie over half a window around a jump).
        contrast = (np.mean(style[t:t + window]) / np.mean(style[t - window:t])
                    - np.mean(content[t:t + window]) / np.mean(content[t - window:t]))
        if dc <= need["content_needed"] and ds >= need["style_needed"] and contrast > score:
            score = contrast
            best = {"event_step": int(steps[t]), "content_change": dc, "style_change": ds, **need}
    if best["event_step"] is None:
        best.update({key: float(np.median([need[key] for need in noise])) if noise else np.nan
                     for key in ("content_spread", "style_spread", "content_needed", "style_needed")})
    return best


def run_labels(model_path: str | Path, variant: str) -> dict:
    from .. import checkpoint as ckpt

    meta = ckpt.load(model_path)
    recipe = meta["recipe"]
    return {"implementation": recipe["name"], "variant": variant, "seed": meta["seed"],
            "loss_net": meta["loss_net"], "train_steps": meta["step"],
            "content_layer": recipe["content_layer"], "style_layers": ",".join(recipe["style_layers"]),
            "content_shares_style_layer": recipe["content_layer"] in recipe["style_layers"]}


def saddle(runs: list[tuple[str, str, str, str]], window: int, content_drop: float = SADDLE["content_drop"],
           style_rise: float = SADDLE["style_rise"], warmup: int = SADDLE["warmup"]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """runs: (variant, style name, model.pt, losses.csv). Returns (summary, curves): one row per
    run with the detected event, the batch noise the detector measured (each loss's relative
    step-to-step spread and the change it made an event need), the span of steps the detector
    could search (`searched_from`, `searched_to`: a run that ends before a step cannot refute an
    event there) and the gradient cosine; the long curves the figure draws."""
    import pandas as pd

    rows, curves = [], []
    for variant, style, model_path, log_path in runs:
        labels = {**run_labels(model_path, variant), "style": style}
        log = pd.read_csv(log_path)
        content, style_sum = log["loss_content"], style_curve(log)
        ema_content, ema_style = log["ema_content"], style_curve(log, "ema_")
        event = detect_saddle(log["step"], content, style_sum, window, content_drop, style_rise, warmup)
        searched_from, searched_to = searchable(log["step"], window, warmup)
        cos = log["grad_cosine"].dropna()
        half = len(cos) // 2
        rows.append({**labels, "event": "none" if event["event_step"] is None else str(event["event_step"]),
                     **event, "window": window, "warmup": warmup, "noise_k": SADDLE_NOISE_K, "searched_from": searched_from,
                     "searched_to": searched_to, "cosine_mean": cos.mean(), "cosine_min": cos.min(),
                     "cosine_first_half": cos.iloc[:max(half, 1)].mean(), "cosine_second_half": cos.iloc[half:].mean(),
                     "cosine_negative_fraction": float((cos < 0).mean()) if len(cos) else np.nan,
                     "content_first": content.iloc[0], "content_last": content.iloc[-1],
                     "style_first": style_sum.iloc[0], "style_last": style_sum.iloc[-1]})
        curves.append(pd.DataFrame({**labels, "step": log["step"], "content_loss": content, "style_loss": style_sum,
                                    "ema_content": ema_content, "ema_style": ema_style,
                                    "grad_cosine": log["grad_cosine"]}))
    return pd.DataFrame(rows), pd.concat(curves, ignore_index=True)
