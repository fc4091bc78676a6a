"""The verdict (results/tables/claims.md): one row per claim of the spec's section 5, the
measured figure per implementation, and whether the claim holds by a rule stated in the row.
Reads only the other experiments' tables.

Each claim is judged in every run (one style, one seed) on its own, against a floor on the
effect that the row states, and the runs' verdicts are then combined: "yes" only if every run
says yes, and a mix says how many runs agree, so one failing style is never averaged away.
A claim about alpha is "not applicable" to a model that does not respond to alpha."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..recipe import onehot_layer
from .saddle import SADDLE_NOISE_K

NOT_RUN = "not run"
RUN = ["style", "seed"]  # one run: one style and one seed of one implementation
# The step near which the report saw its event: a run must search there to refute it.
REPORT_SADDLE_STEP = 3000

# Floors: an effect below them is not an effect (each row states its own).
MIN_RESPONSE = 2.0  # grey levels of 255: 8-bit rounding moves a pixel by <= 0.5
MIN_RELATIVE_CHANGE = 0.01  # a layer's own loss must move by 1% from alpha 0 to 1 to count
MIN_PIXEL_DISTANCE = 5.0  # grey levels between outputs that should look different
MIN_NOISE_RATIO = 2.0  # output change / input change: the mask is amplified, not passed through


def spread(values) -> str:
    """'m ± s (min..max, n=k)' over runs; one run is just its value (n=1)."""
    v = pd.Series(values, dtype=float).replace([np.inf, -np.inf], np.nan).dropna()
    if v.empty:
        return "n/a"
    if len(v) == 1:
        return f"{v.iloc[0]:.4g} (n=1)"
    return f"{v.mean():.4g} ± {v.std(ddof=1):.2g} ({v.min():.3g}..{v.max():.3g}, n={len(v)})"


def combine(verdicts: pd.Series) -> str:
    """The runs' verdicts as one: unanimous, or how many runs say what."""
    verdicts = pd.Series(verdicts, dtype=object)
    if verdicts.empty:
        return NOT_RUN
    counts = verdicts.value_counts(sort=False).sort_values(ascending=False, kind="stable")  # ties: first seen
    if len(counts) == 1:
        return str(counts.index[0])
    parts = ", ".join(f"{v} in {n}/{len(verdicts)}" for v, n in counts.items())
    return f"mixed: {parts} runs"


def per_run(verdicts, index) -> pd.Series:
    """Verdicts as a Series keyed by run, (style, seed): what `claims` gates and combines."""
    return pd.Series(list(verdicts), index=pd.MultiIndex.from_tuples(list(index), names=RUN), dtype=object)


def final_budget(table: pd.DataFrame | None) -> pd.DataFrame | None:
    """Each run's rows at its last budget (its largest train_steps): a table that also measures
    a run's snapshots at earlier budgets (the controls') is judged as one without them."""
    if table is None or table.empty or "train_steps" not in table:
        return table
    run = [key for key in ("implementation", *RUN) if key in table]
    last = table.groupby(run, dropna=False)["train_steps"].transform("max") if run else table["train_steps"].max()
    return table[table["train_steps"] == last]


def _runs(table: pd.DataFrame | None, impl: str, query=None) -> pd.DataFrame | None:
    if table is None or table.empty or impl not in set(table["implementation"]):
        return None
    sub = table[table["implementation"] == impl]
    return sub[query(sub)] if query is not None else sub


# --- the model responds to alpha, differently per layer, as retraining does -------------------

NO_RESPONSE = "no: the model does not respond to alpha"
# The objective separates two alphas only when the models retrained there are farther apart
# than this many seed floors: closer, two seeds at one alpha could be as far apart.
SEPARATED = 2.0


def claim_adjustability(adjust, impl):
    """Does the output depend on alpha at all: each layer's response over 8-bit rounding. Whether
    it depends on it *as retraining would* is the controls' row (claim_relative)."""
    sub = _runs(adjust, impl)
    if sub is None:
        return NOT_RUN, None
    runs = sub.groupby(RUN)
    weakest, distinct = runs["response"].min(), runs["min_layer_distance"].first()
    verdicts = [NO_RESPONSE if w < MIN_RESPONSE else "yes" for w in weakest]
    worst = sub.loc[sub["response"].idxmin()]
    measured = (f"weakest layer's response {spread(weakest)} (worst {worst['layer']}: {worst['response']:.3g}); "
                f"closest two layers {spread(distinct)} apart in pixels; dead conditioner units "
                f"{spread(runs['dead_fraction'].first())}")
    return measured, per_run(verdicts, weakest.index)


def _control_pairs(run: pd.DataFrame, kind: str) -> dict[tuple[str, str], float]:
    rows = run[run["kind"] == kind]
    return {(r.alpha_a, r.alpha_b): float(r.profile_distance) for r in rows.itertuples()}


def seed_floor(run: pd.DataFrame) -> float:
    floor = run.loc[run["kind"] == "floor", "profile_distance"]
    return float(floor.mean()) if len(floor) else float("nan")


def relative_pairs(run: pd.DataFrame, layers) -> pd.DataFrame:
    """Per pair of layers of one run: the adjustable model's distance between their one-hot
    settings, the retrained models' distance, their ratio, the seed floor, and the fraction the
    ratio must reach: 1 - floor / retrained, i.e. within one seed floor of retraining."""
    adjusted, retrained, floor = _control_pairs(run, "adjustable"), _control_pairs(run, "retrained"), seed_floor(run)
    rows = []
    for pair in itertools.combinations(layers, 2):
        if pair not in retrained:
            pair = pair[::-1]
        if pair not in retrained:
            continue
        ret, adj = retrained[pair], adjusted[pair]
        rows.append({"pair": " vs ".join(pair), "adjustable": adj, "retrained": ret, "floor": floor,
                     "ratio": adj / ret if ret > 0 else float("nan"), "needed": 1 - floor / ret if ret > 0 else 1.0,
                     "separated": ret >= SEPARATED * floor})
    return pd.DataFrame(rows)


def onehot_layers(run: pd.DataFrame) -> list[str]:
    """The one-hot control alphas of a run (labels that name a layer), in table order."""
    labels = pd.unique(run[["alpha_a", "alpha_b"]].to_numpy().ravel())
    return [str(a) for a in labels if str(a).startswith("relu")]


def claim_relative(controls, impl):
    """Per pair of layers: the adjustable model's loss-profile distance between e_i and e_j over
    the distance between models retrained at e_i and at e_j (same steps, size, batch, seed),
    judged against a second seed of a retrained model (the floor). Each run at its last budget."""
    sub = _runs(final_budget(controls), impl)
    if sub is None:
        return NOT_RUN, None
    verdicts, keys, ratios, worst_text = [], [], [], []
    for key, run in sub.groupby(RUN):
        keys.append(key)
        pairs = relative_pairs(run, onehot_layers(run))
        floor = seed_floor(run)
        if pairs.empty or math.isnan(floor):
            verdicts.append("inconclusive: no retrained pair of layers" if pairs.empty
                            else "inconclusive: no second seed, no floor")
            continue
        ratios.append(pairs["ratio"].min())
        failing = pairs[pairs["separated"] & (pairs["ratio"] < pairs["needed"])]
        merged = pairs[~pairs["separated"]]
        if len(failing):
            worst = failing.loc[failing["ratio"].idxmin()]
            verdicts.append(f"no: {worst['pair']} at {worst['ratio']:.2f} of retraining (needs "
                            f"{worst['needed']:.2f})")
        elif len(merged):
            verdicts.append(f"inconclusive: the objective does not separate {', '.join(merged['pair'])}")
        else:
            verdicts.append("yes")
        worst_text.append("; ".join(f"{r.pair} {r.adjustable:.3g}/{r.retrained:.3g} = {r.ratio:.2f}"
                                    for r in pairs.itertuples()) + f" (floor {floor:.3g})")
    measured = (f"adjustable / retrained loss-profile distance, worst pair {spread(ratios)}; "
                + " | ".join(worst_text))
    return measured, per_run(verdicts, keys)


# --- each layer's own loss falls as its alpha rises -------------------------------------------

def claim_layers(sweep, impl):
    sub = _runs(sweep, impl)
    if sub is None:
        return NOT_RUN, None

    def verdict(run: pd.DataFrame) -> str:
        change = run["relative_change"]
        if (change.abs() < MIN_RELATIVE_CHANGE).all():
            return "no effect"
        if ((run["spearman_rho"] <= -0.5) & (change <= -MIN_RELATIVE_CHANGE)).all():
            return "yes"
        if ((run["spearman_rho"] > 0) & (change >= MIN_RELATIVE_CHANGE)).any():
            return "no"
        return "inconclusive"

    verdicts = sub.groupby(RUN).apply(verdict, include_groups=False)
    worst = sub.loc[sub["spearman_rho"].idxmax()]
    measured = (f"rho {spread(sub.groupby(RUN)['spearman_rho'].mean())}; own loss change alpha 0 -> 1 "
                f"{spread(sub['relative_change'] * 100)} %; worst {worst['swept_layer']} (others "
                f"{worst['others']:g}) rho {worst['spearman_rho']:.2f}, change {100 * worst['relative_change']:.2g} %")
    return measured, per_run(verdicts, verdicts.index)


# --- alpha 0 gives back the content -----------------------------------------------------------

def mean_psnr(psnr) -> float:
    """PSNR (dB) over images from their mean squared error (each image's MSE recovered from its
    PSNR, 255^2 / 10^(PSNR / 10); an identical image's is 0): finite unless every image is
    identical, where a mean of the PSNRs is infinite as soon as one image is."""
    mse = float(np.mean(255.0 ** 2 / np.power(10.0, np.asarray(psnr, dtype=float) / 10)))
    return math.inf if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def _psnr_text(psnr: pd.Series) -> str:
    """The runs' PSNR, saying 'identical' for a run whose every output equals its content."""
    same = int(np.isinf(psnr).sum())
    if same == len(psnr):
        return "identical to the content in every run"
    return f"{spread(psnr)} dB" + (f" (identical in {same}/{len(psnr)} runs)" if same else "")


def claim_content(identity, impl, min_psnr=20.0, min_ssim=0.7):
    """alpha 0 must pass the thresholds, and the control must fail them by a margin: the output
    at alpha 1 everywhere must be farther from the content than alpha 0's by MIN_RESPONSE grey
    levels, else the model gives back its input whatever alpha (an identity passes the first)."""
    sub = _runs(identity, impl)
    if sub is None:
        return NOT_RUN, None
    runs = sub.groupby(RUN)
    psnr, ssim, mad = runs["psnr"].apply(mean_psnr), runs["ssim"].mean(), runs["mean_abs_diff"].mean()
    control = runs["ones_mean_abs_diff"].mean() if "ones_mean_abs_diff" in sub else pd.Series(np.nan, psnr.index)
    verdicts = ["no" if not (p >= min_psnr and s >= min_ssim)
                else "inconclusive: no all-ones control" if np.isnan(c)
                else f"no: alpha 1 is not {MIN_RESPONSE:g} grey levels farther from the content" if c - m < MIN_RESPONSE
                else "yes" for p, s, m, c in zip(psnr, ssim, mad, control)]
    measured = f"PSNR {_psnr_text(psnr)}; SSIM {spread(ssim)}; |y - content| at alpha 0 {spread(mad)}"
    if "ones_mean_abs_diff" in sub:
        measured += (f", at alpha 1 (control) {spread(control)} grey levels (PSNR "
                     f"{_psnr_text(runs['ones_psnr'].apply(mean_psnr))})")
    return measured, per_run(verdicts, psnr.index)


# --- distinct looks, larger motifs, diversity ---------------------------------------------------

def _at_least(table, impl, column, floor, query=None):
    sub = _runs(table, impl, query)
    if sub is None:
        return None, None
    values = sub.groupby(RUN)[column].mean()
    return values, per_run(["yes" if v >= floor else "no" for v in values], values.index)


def claim_combinations(combos, impl):
    """Judged on the closest two vectors of a run: a mean over all pairs hides two vectors whose
    outputs merge behind the others' distances."""
    sub = _runs(combos, impl)
    if sub is None or "pixel_distance_to_nearest" not in sub:
        return NOT_RUN, None
    runs = sub.groupby(RUN)
    nearest = runs["pixel_distance_to_nearest"].min()
    verdicts = ["inconclusive: fewer than two distinct vectors" if np.isnan(d)
                else "yes" if d >= MIN_PIXEL_DISTANCE else "no" for d in nearest]
    measured = f"closest two vectors' outputs {spread(nearest)} apart"
    if sub["pixel_distance_to_nearest"].notna().any():
        worst = sub.loc[sub["pixel_distance_to_nearest"].idxmin()]
        measured += f" (closest: {worst['combo_label']}, {worst['pixel_distance_to_nearest']:.3g})"
    measured += f"; mean distance between vectors {spread(runs['pixel_distance_to_others'].mean())}"
    return measured, per_run(verdicts, nearest.index)


def claim_motifs(adjust, impl):
    """Deeper layers transfer larger motifs: the motif size (1 / the power-weighted mean spatial
    frequency of y(e_i) - y(0), pixels) against the layer's depth, per run. A layer without a
    measurable motif (NaN: its alpha adds no structure) makes its run inconclusive: left out of
    the rank correlation, the others could rank perfectly without it."""
    sub = _runs(adjust, impl)
    if sub is None or "motif_px" not in sub:
        return NOT_RUN, None

    def verdict(run: pd.DataFrame) -> str:
        missing = run.loc[run["motif_px"].isna(), "layer"].tolist()
        if missing:
            return f"inconclusive: no measurable motif at {', '.join(missing)}"
        r = rho(run)
        return "yes" if r == 1.0 else "no" if r <= 0 else "inconclusive"

    def rho(run: pd.DataFrame) -> float:
        """Over the layers with a motif (all of them, for a verdict)."""
        run = run.dropna(subset=["motif_px"])
        if run["motif_px"].nunique() < 2:
            return np.nan if run.empty else 0.0
        return float(run["depth"].rank().corr(run["motif_px"].rank()))

    runs = sub.groupby(RUN)
    verdicts, rhos = runs.apply(verdict, include_groups=False), runs.apply(rho, include_groups=False)
    sizes = sub.groupby("layer", sort=False)["motif_px"].mean()
    measured = (f"motif size by layer {', '.join(f'{k} {v:.3g} px' for k, v in sizes.dropna().items())}; "
                f"rank correlation with depth {spread(rhos)}")
    unmeasured = sub[sub["motif_px"].isna()].groupby("layer", sort=False).size()
    if len(unmeasured):
        measured += "; no measurable motif at " + ", ".join(
            f"{layer} in {n}/{len(verdicts)} runs" for layer, n in unmeasured.items())
    return measured, per_run(verdicts, verdicts.index)


def claim_diversity(div, impl):
    pix, holds = _at_least(div, impl, "pixel_distance", MIN_PIXEL_DISTANCE)
    if pix is None:
        return NOT_RUN, None
    sub = _runs(div, impl).groupby(RUN)
    measured = (f"pixel {spread(pix)}; Gram {spread(sub['gram_distance'].mean())}; content loss "
                f"{spread(sub['content_loss'].mean())}; style loss {spread(sub['style_loss'].mean())}")
    return measured, holds


# --- noise -------------------------------------------------------------------------------------

def claim_noise(noise, impl):
    """Two controls, both measured by the noise experiment against the same noise-free output.
    The null: a model that only carries the mask's dark dots into its output changes it by about
    what the mask changed in the input (ratio 1), so the output change must be MIN_NOISE_RATIO
    times the input change (a ratio, not grey levels: the same mask changes more pixels' worth at
    a larger size). The yardstick: the 'alpha' condition, the same base alpha moved by the
    configured step (alpha_delta) without a mask, a small turn of the knob the paper offers for
    variety; a mask that moves the output less than that is a smaller effect than that turn.
    A model that ignores alpha moves 0 there and is judged by the null alone."""
    sub = _runs(noise, impl)
    if sub is None:
        return NOT_RUN, None
    if "mask" not in set(sub["condition"]):
        return NOT_RUN, None
    by = sub.groupby([*RUN, "condition"])[["ratio", "output_change", "alpha_change"]].mean()
    mask = by.xs("mask", level="condition")
    step = (by.xs("alpha", level="condition") if "alpha" in set(sub["condition"])
            else pd.DataFrame(np.nan, mask.index, by.columns)).reindex(mask.index)
    verdicts = [f"no: passed through (< {MIN_NOISE_RATIO:g}x its input change)" if not r >= MIN_NOISE_RATIO
                else "inconclusive: no alpha-only condition to compare with" if np.isnan(a)
                else "no: smaller than an alpha step's change" if m < a
                else "yes" for r, m, a in zip(mask["ratio"], mask["output_change"], step["output_change"])]
    spots = sub[sub["condition"] == "spots"].groupby(RUN)["ratio"].mean()
    measured = (f"mask: output change {spread(mask['output_change'])} grey levels, {spread(mask['ratio'])}x its "
                f"input change; alpha moved by {spread(step['alpha_change'])} without a mask: output change "
                f"{spread(step['output_change'])}; spots: {spread(spots)}x")
    return measured, per_run(verdicts, mask.index)


# --- saddle point ------------------------------------------------------------------------------

def claim_saddle(saddle, impl):
    sub = _runs(saddle, impl)
    if sub is None:
        return NOT_RUN, None
    main, ablation = sub[sub["variant"] == "adjustable"], sub[sub["variant"] == "ablation"]
    ablated = {(r["style"], r["seed"]): r for _, r in ablation.iterrows()}

    def covers(row) -> bool:
        return bool(row["searched_from"] <= REPORT_SADDLE_STEP <= row["searched_to"])

    verdicts, runs = [], []
    for _, row in main.iterrows():
        runs.append((row["style"], row["seed"]))
        twin = ablated.get((row["style"], row["seed"]))
        if str(row["event"]) != "none":
            if twin is None:
                verdicts.append("inconclusive: no ablation")
            else:
                verdicts.append("yes" if str(twin["event"]) == "none" else "no: it survives the ablation")
        elif covers(row):
            verdicts.append(f"no: none near step {REPORT_SADDLE_STEP}")
        else:
            verdicts.append(f"inconclusive: the run cannot place an event at step {REPORT_SADDLE_STEP}")
    found = main[main["event"].astype(str) != "none"]
    text = f"event in {len(found)}/{len(main)} runs"
    if len(found):
        text += f" (steps {', '.join(found['event'].astype(str))})"
    searched = main[["searched_from", "searched_to"]].dropna()
    text += (f"; searched steps {searched['searched_from'].min():.0f}..{searched['searched_to'].max():.0f}"
             if len(searched) else "; the runs are too short to search")
    if "content_spread" in main and main["content_spread"].notna().any():  # nothing searched: no noise
        text += (f"; batch noise per step: content {spread(100 * main['content_spread'])} %, style "
                 f"{spread(100 * main['style_spread'])} %, so an event needed content "
                 f"{spread(100 * main['content_needed'])} % and style +{spread(100 * main['style_needed'])} %")
    text += f"; grad cosine {spread(main.groupby(RUN)['cosine_mean'].mean())}"
    if len(ablation):
        abl = ablation[ablation["event"].astype(str) != "none"]
        layer = ablation["content_layer"].iloc[0]
        text += (f"; ablation (content at {layer}, off the style layers but also deeper): event in "
                 f"{len(abl)}/{len(ablation)} runs")
    return text, per_run(verdicts, runs)


# --- adjusted vs retrained ---------------------------------------------------------------------

def claim_retrain(controls, impl):
    """At each control alpha a, the adjustable model's output must be nearer (loss profile) the
    model retrained at a than any model retrained at another alpha b, by at least the seed
    floor: a model that does what retraining does sits about one floor from the model retrained
    at a, and at least two floors from those at b. Alphas whose retrained models are within
    SEPARATED floors of each other are no test of one another and are skipped. Each run at its
    last budget."""
    sub = _runs(final_budget(controls), impl)
    if sub is None:
        return NOT_RUN, None
    verdicts, keys, texts = [], [], []
    for key, run in sub.groupby(RUN):
        keys.append(key)
        match, retrained, floor = _control_pairs(run, "match"), _control_pairs(run, "retrained"), seed_floor(run)
        if math.isnan(floor):
            verdicts.append("inconclusive: no second seed, no floor")
            continue
        labels = list(dict.fromkeys(a for a, _ in match))
        margins = {}
        for a in labels:
            others = [b for b in labels if b != a
                      and retrained.get((a, b), retrained.get((b, a), 0.0)) >= SEPARATED * floor]
            if others:
                nearest = min(others, key=lambda b: match[(a, b)])
                margins[a] = (match[(a, nearest)] - match[(a, a)], nearest, match[(a, a)])
        texts.append(", ".join(f"{a}: own {own:.3g}, nearest other ({b}) {own + m:.3g}"
                               for a, (m, b, own) in margins.items()) + f" (floor {floor:.3g})")
        wrong = [a for a, (m, _, _) in margins.items() if m < 0]
        if not margins:
            verdicts.append("inconclusive: the retrained models are within twice the seed floor")
        elif wrong:
            verdicts.append(f"no: at {', '.join(wrong)} nearer a model retrained at another alpha")
        elif all(m >= floor for m, _, _ in margins.values()):
            verdicts.append("yes")
        else:
            verdicts.append("inconclusive: nearer its own alpha's retrained model by less than the seed floor")
    return "loss-profile distance to the retrained models: " + " | ".join(texts), per_run(verdicts, keys)


def claim_own_term(retrain, impl):
    """The controls' own sanity check: the model retrained on one style layer alone must end
    with the lowest loss on that layer of all the one-hot retrained models, else the budget
    starves that layer and the controls say nothing about it."""
    sub = _runs(retrain, impl)
    if sub is None:
        return NOT_RUN, None
    verdicts, keys, starved = [], [], []
    for key, run in sub.groupby(RUN):
        keys.append(key)
        layers = [t for t in dict.fromkeys(run["term"]) if t != "content"]
        loss = run.pivot_table(index="alpha_vector", columns="term", values="loss_retrained")
        onehot = {}
        for vector in loss.index:
            layer = onehot_layer(str(vector).split(","), layers)
            if layer is not None:
                onehot[layer] = vector
        among = loss.loc[list(onehot.values())]  # the one-hot models only: all ones trains every layer
        bad = [layer for layer, vector in onehot.items() if among[layer].idxmin() != vector]
        starved += bad
        if len(onehot) < 2:
            verdicts.append("inconclusive: fewer than two one-hot retrained models")
        else:
            verdicts.append(f"no: {', '.join(bad)} lowest in a model not trained on it" if bad else "yes")
    measured = ("layers whose own retrained model does not end lowest on them: "
                + (", ".join(sorted(set(starved))) or "none"))
    return measured, per_run(verdicts, keys)


# (claim, measure, rule, summary table, judge, what it needs of the model: None, "response" or
# "distinct" per-layer effects)
CLAIMS = [
    ("The model responds to alpha differently per layer, as retraining does",
     "per pair of layers: the adjustable model's loss-profile distance between e_i and e_j over that of models "
     "retrained at e_i and e_j (profile: log10 of every unweighted term on the evaluation images; same steps, "
     "size, batch, seed); floor: one retrained model at a second seed",
     f"yes if every pair reaches 1 - floor/retrained (within one seed floor of retraining); no if a pair does "
     f"not; inconclusive where the retrained pair is within {SEPARATED:g}x the floor (the objective does not "
     "separate those layers); claims that need distinct layers say 'not applicable' after a 'no'",
     "controls", claim_relative, None),
    ("The model responds to alpha",
     "per layer: mean |y(e_i) - y(0)| (0..255, clamped outputs); closest two layers in pixels, shown",
     f"yes if every layer's response >= {MIN_RESPONSE:g} grey levels (8-bit rounding moves a pixel by <= 0.5); "
     "the claims about alpha say 'not applicable' when it fails", "adjustability", claim_adjustability, None),
    ("Each layer's style loss falls as its own alpha rises (others at 0 and at 1)",
     "Spearman rho of own loss vs alpha; own loss change from alpha 0 to 1",
     f"yes if every curve has rho <= -0.5 and falls by >= {MIN_RELATIVE_CHANGE:.0%}; 'no effect' if every "
     f"curve moves by < {MIN_RELATIVE_CHANGE:.0%}; no if a curve rises (rho > 0) by >= "
     f"{MIN_RELATIVE_CHANGE:.0%}; else inconclusive", "sweep", claim_layers, "distinct"),
    ("alpha all zero gives back the content image",
     "PSNR over images (from their mean squared error); SSIM with the Gaussian window of Wang et al. (sigma 1.5); "
     "control: the output at alpha 1 on every layer, mean |y - content| (0..255)",
     "yes if at alpha 0 PSNR >= 20 dB (an RMS error of 10% of the range, 25.5 grey levels) and SSIM >= 0.7, and the "
     f"control is >= {MIN_RESPONSE:g} grey levels farther from the content (8-bit rounding moves a pixel by "
     "<= 0.5): a model that returns its input whatever alpha passes the first and fails the control; "
     "no otherwise", "identity", claim_content, None),
    ("Combinations of layers give distinct looks",
     "per image, each vector's output against its nearest other vector's (mean abs pixel difference, 0..255), "
     "averaged over images; the run's closest vector",
     f"yes if the closest two vectors' outputs differ by >= {MIN_PIXEL_DISTANCE:g} grey levels (10x what 8-bit "
     "rounding moves a pixel), no if not: a mean over all pairs would let two vectors that merge pass behind "
     "the others; vectors that are the same for the model (differing only in layers it lacks) are not "
     "compared; inconclusive with fewer than two", "combinations", claim_combinations, "response"),
    ("Deeper layers transfer larger motifs",
     "motif size: 1 / power-weighted mean spatial frequency of y(e_i) - y(0), pixels, per layer",
     "yes if the motif size grows with the layer's depth for every pair of layers (rank correlation 1); "
     "no if it does not grow at all (<= 0); inconclusive if a layer has no measurable motif (named: "
     "dropping it would let the others rank alone) or otherwise", "adjustability", claim_motifs, "distinct"),
    ("Random alpha gives diverse outputs that keep content and style",
     "mean pairwise distance of outputs; their losses",
     f"yes if the pixel distance >= {MIN_PIXEL_DISTANCE:g} grey levels; the losses are shown, not judged",
     "diversity", claim_diversity, "response"),
    ("The paper's noise mask changes the output",
     "mean |output change| under the mask (0..255) and its ratio to the input change; null: the input change "
     "(a pass-through); yardstick: the output change of the same base alpha moved by the configured step, "
     "without a mask",
     f"yes if the mask's output change is >= {MIN_NOISE_RATIO:g}x its input change (a model that only carries "
     "the dots into its output gives about 1x; a ratio does not depend on the image size) and >= the output "
     "change of the alpha step alone (alpha_delta, 0.2 by default: a small turn of the knob the paper offers "
     "for variety; a model that ignores alpha moves 0 there and is judged by the null alone); no otherwise",
     "noise", claim_noise, None),
    ("Saddle point: content falls sharply while style rises, caused by a shared VGG layer",
     "detector on the training logs after the warm-up: the medians of the windows after and before a step "
     f"must move by the configured fractions and by {SADDLE_NOISE_K:g} standard errors of the losses' own "
     "batch-to-batch spread (robust, from the log-loss step differences: with noisy losses the fractions alone "
     f"fire on noise; {SADDLE_NOISE_K:g} SE: 0.13% by chance per loss and window pair); "
     "the ablation with content off the style layers",
     f"yes if found and absent from the same run's ablation; no if it survives the ablation, or none in a run "
     f"that searched step {REPORT_SADDLE_STEP}; else inconclusive (moving content to relu4_2 also moves it "
     "deeper: the ablation cannot tell the two apart)", "saddle", claim_saddle, "logs"),
    ("Adjusting alpha is comparable to retraining with fixed alpha",
     "loss-profile distance of the adjustable model at each control alpha to the model retrained there and to "
     "those retrained at the other alphas; floor: a retrained model at a second seed",
     f"yes if at every control alpha the model retrained there is the nearest by at least the floor (a second "
     f"seed is about one floor away); no if one retrained at another alpha is nearer; alphas whose retrained "
     f"models are within {SEPARATED:g}x the floor are not compared", "controls", claim_retrain, "response"),
    ("Training on one style layer lowers that layer's loss most (the controls' sanity check)",
     "each layer's loss, over the models retrained at one-hot alphas",
     "yes if each layer's own model ends lowest on it; no names the layers the budget starves (their "
     "controls then say little about them)", "retrain", claim_own_term, "logs"),
]


def _applicable(need: str | None, gates: dict[str, str]) -> str | None:
    """None if the claim can be judged in a run; else the reason it cannot. A diverged model
    says nothing of the recipe it was meant to train; a claim about alpha says nothing of a
    model whose output does not depend on alpha (it would judge rounding noise); one about what
    each layer does, nothing of a model whose layers do not differ as retraining makes them
    differ. `need`: what the claim needs (None, response, distinct; "logs" for the claims read
    from training logs and controls, which a divergence does not void); `gates`: the run's
    verdicts on divergence, response and distinct layers."""
    if need != "logs" and gates.get("diverged", NOT_RUN).startswith("diverged"):
        return f"not applicable: {gates['diverged']}"
    if need in (None, "logs"):
        return None
    if gates.get("response", NOT_RUN).startswith("no:"):
        return "not applicable: the model does not respond to alpha"
    if need == "distinct" and gates.get("distinct", NOT_RUN).startswith("no:"):
        return "not applicable: the layers' effects are not distinct (relative to retraining)"
    return None


def divergence(adjust, impl) -> pd.Series | None:
    """Per run: 'diverged at step N' where the training's divergence guard fired, else 'no'."""
    sub = _runs(adjust, impl)
    if sub is None:
        return None
    if "diverged_at" not in sub:
        sub = sub.assign(diverged_at=np.nan)
    steps = sub.groupby(RUN)["diverged_at"].first()
    return per_run(["no" if pd.isna(s) else f"diverged at step {int(s)}" for s in steps], steps.index)


def judge(verdicts: pd.Series | None, need: str | None, gates: dict[str, pd.Series | None]) -> str:
    """The runs' verdicts as one, each first gated by its own run's verdicts on divergence,
    response and distinct layers (`gates`, each keyed like `verdicts`): one run that does not
    respond to alpha makes that run's verdict 'not applicable', never another run's."""
    if verdicts is None:
        return NOT_RUN
    gated = [_applicable(need, {k: (g.get(run, NOT_RUN) if g is not None else NOT_RUN)
                                for k, g in gates.items()}) or verdict
             for run, verdict in verdicts.items()]
    return combine(pd.Series(gated, dtype=object))


def registered_claims() -> list[tuple]:
    """The rows the registered experiments add (Experiment.claims), after the built-in ones, in
    the form of CLAIMS."""
    from . import registry
    return [(c.claim, c.measure, c.rule, e.claims_name, registry.resolve(c.judge if ":" in c.judge
                                                                         else f"{e.module}:{c.judge}"), c.need)
            for e in registry.experiments().values() for c in e.claims]


def claims(tables: dict[str, pd.DataFrame | None]) -> tuple[pd.DataFrame, list[str]]:
    present = [t for t in tables.values() if t is not None and not t.empty]
    impls = list(dict.fromkeys(i for t in present for i in t["implementation"]))
    rows = []
    for claim, measure, rule, key, fn, need in [*CLAIMS, *registered_claims()]:
        row = {"claim": claim, "measure": measure, "rule": rule}
        for impl in impls:
            measured, verdicts = fn(tables.get(key), impl)
            gates = {"diverged": divergence(tables.get("adjustability"), impl),
                     "response": claim_adjustability(tables.get("adjustability"), impl)[1],
                     "distinct": claim_relative(tables.get("controls"), impl)[1]}
            row[impl], row[f"holds ({impl})"] = measured, judge(verdicts, need, gates)
        rows.append(row)
    return pd.DataFrame(rows), impls


def header(tables: dict[str, pd.DataFrame | None]) -> str:
    # The budget the verdicts rest on: a run's snapshots at earlier budgets are no verdict's.
    present = [final_budget(t) for t in tables.values() if t is not None and not t.empty]
    nets = sorted({str(n) for t in present for n in t.get("loss_net", [])})
    steps = sorted({int(s) for t in present for s in t.get("train_steps", [])})
    seeds = sorted({int(s) for t in present for s in t.get("seed", [])})
    styles = sorted({str(s) for t in present for s in t.get("style", [])})
    precisions = sorted({str(p) for t in present for p in t.get("precision", [])})
    lines = ["# Claims of the paper and the report, measured", "",
             f"- Loss network weights: **{', '.join(nets) or 'unknown'}**",
             f"- Training budget: **{', '.join(map(str, steps)) or 'unknown'} steps**",
             f"- Runs: styles {', '.join(styles) or 'unknown'} x seeds {', '.join(map(str, seeds)) or 'unknown'}; "
             "each claim is judged in every run, then combined (figures: mean ± std (min..max, n) over runs)",
             f"- Evaluation precision: {', '.join(precisions) or 'unknown'}"]
    if any(n.startswith("random") for n in nets):
        lines.append("- **Warning: RANDOM loss-network weights.** These verdicts test the code paths and "
                     "the claims' mechanics; a verdict on random features is not a verdict on the paper.")
    if steps and max(steps) < 10000:
        lines.append(f"- **Warning: short training** ({max(steps)} steps against the paper's 200,000).")
    return "\n".join(lines) + "\n\n"


def _read(path: str | None) -> pd.DataFrame | None:
    return pd.read_csv(path) if path and Path(path).is_file() else None


def claims_table(paths: dict[str, str | None]) -> tuple[pd.DataFrame, str]:
    """The claims table from the summary CSVs, by the name each experiment's claims read it under
    (arst.experiments.registry; a missing one: 'not run'), and its Markdown with the header that
    says which loss network and budget the verdicts rest on."""
    tables = {key: _read(path) for key, path in paths.items()}
    table, _ = claims(tables)
    return table, header(tables) + table.to_markdown(index=False) + "\n"
