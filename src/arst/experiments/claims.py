"""The verdict (results/tables/claims.md): one row per claim of the spec's section 5, the
measured figure per implementation (mean +/- std over seeds), and whether the claim holds
by a rule stated in the row. Reads only the other experiments' tables."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd


NOT_RUN = "not run"
# The step near which the report saw its event: a shorter run cannot refute it.
REPORT_SADDLE_STEP = 3000


def mean_std(values) -> str:
    """'m ± s (n=k)' over per-seed values."""
    v = pd.Series(values, dtype=float).replace([np.inf], 1e300)
    v = v.dropna()
    if v.empty:
        return "n/a"
    mean = v.mean()
    std = v.std(ddof=1) if len(v) > 1 else 0.0
    text = "inf" if mean >= 1e299 else f"{mean:.4g}"
    return f"{text} ± {std:.2g} (n={len(v)})" if mean < 1e299 else f"inf (n={len(v)})"


def _per_seed(table: pd.DataFrame | None, impl: str, column: str, query=None) -> pd.Series:
    if table is None or table.empty:
        return pd.Series(dtype=float)
    sub = table[table["implementation"] == impl]
    if query is not None:
        sub = sub[query(sub)]
    return sub.groupby("seed")[column].mean()


def claim_layers(sweep, impl):
    if sweep is None or sweep[sweep["implementation"] == impl].empty:
        return NOT_RUN, NOT_RUN
    sub = sweep[sweep["implementation"] == impl]
    rho = sub.groupby("seed")["spearman_rho"].mean()
    worst = sub.loc[sub["spearman_rho"].idxmax()]
    measured = (f"mean rho {mean_std(rho)}; worst {worst['swept_layer']} (others {worst['others']:g}) "
                f"rho {worst['spearman_rho']:.2f}; monotonic {int(sub['monotonic_fall'].sum())}/{len(sub)}")
    if (sub["spearman_rho"] <= -0.5).all():
        return measured, "yes"
    if (sub["spearman_rho"] > 0).any():
        return measured, "no"
    return measured, "inconclusive"


def claim_content(identity, impl, min_psnr=20.0, min_ssim=0.7):
    psnr, ssim = _per_seed(identity, impl, "psnr"), _per_seed(identity, impl, "ssim")
    if psnr.empty:
        return NOT_RUN, NOT_RUN
    measured = f"PSNR {mean_std(psnr)} dB; SSIM {mean_std(ssim)}"
    return measured, "yes" if (psnr >= min_psnr).all() and (ssim >= min_ssim).all() else "no"


def claim_combinations(combos, impl, min_distance=5.0):
    dist = _per_seed(combos, impl, "pixel_distance_to_others")
    if dist.empty:
        return NOT_RUN, NOT_RUN
    return f"pixel distance between vectors {mean_std(dist)}", "yes" if (dist >= min_distance).all() else "no"


def claim_diversity(div, impl, min_distance=5.0):
    pix = _per_seed(div, impl, "pixel_distance")
    if pix.empty:
        return NOT_RUN, NOT_RUN
    gram = _per_seed(div, impl, "gram_distance")
    content, style = _per_seed(div, impl, "content_loss"), _per_seed(div, impl, "style_loss")
    measured = (f"pixel {mean_std(pix)}; Gram {mean_std(gram)}; content loss {mean_std(content)}; "
                f"style loss {mean_std(style)}")
    return measured, "yes" if (pix >= min_distance).all() else "no"


def claim_noise(noise, impl, min_change=2.0):
    mask = _per_seed(noise, impl, "output_change", lambda t: t["condition"] == "mask")
    if mask.empty:
        return NOT_RUN, NOT_RUN
    ratio = _per_seed(noise, impl, "ratio", lambda t: t["condition"] == "mask")
    spots = _per_seed(noise, impl, "output_change", lambda t: t["condition"] == "spots")
    measured = f"mask: output change {mean_std(mask)}, ratio {mean_std(ratio)}; spots: {mean_std(spots)}"
    return measured, "yes" if (mask >= min_change).all() else "no"


def claim_saddle(saddle, impl):
    if saddle is None or saddle[saddle["implementation"] == impl].empty:
        return NOT_RUN, NOT_RUN
    sub = saddle[saddle["implementation"] == impl]
    main, ablation = sub[sub["variant"] == "adjustable"], sub[sub["variant"] == "ablation"]
    found = main[main["event"].astype(str) != "none"]
    text = f"event in {len(found)}/{len(main)} seeds"
    if len(found):
        text += f" (steps {', '.join(found['event'].astype(str))})"
    text += f"; grad cosine {mean_std(main.groupby('seed')['cosine_mean'].mean())}"
    if len(ablation):
        abl = ablation[ablation["event"].astype(str) != "none"]
        text += f"; disjoint-layer ablation: event in {len(abl)}/{len(ablation)} seeds"
    if main.empty:
        return text, NOT_RUN
    if len(found) and len(ablation) and (ablation["event"].astype(str) == "none").all():
        return text, "yes"
    if len(found) and len(ablation):
        return text, "no"  # the event survives moving content off the style layers
    if len(found):
        return text, "inconclusive"
    if main["train_steps"].max() < REPORT_SADDLE_STEP:
        return text, "inconclusive"
    return text, "no"


def claim_retrain(retrain, impl, factor=2.0):
    if retrain is None or retrain[retrain["implementation"] == impl].empty:
        return NOT_RUN, NOT_RUN
    sub = retrain[(retrain["implementation"] == impl) & (retrain["term"] != "content")]
    log_ratio = np.log2(sub["loss_adjusted"] / sub["loss_retrained"]).abs()
    per_seed = log_ratio.groupby(sub["seed"]).mean()
    measured = (f"|log2(adjusted/retrained)| {mean_std(per_seed)} over {sub['alpha_vector'].nunique()} "
                f"alpha vectors; worst ratio {2 ** log_ratio.max():.3g}x")
    return measured, "yes" if (log_ratio <= math.log2(factor)).all() else "no"


def claim_adjustability(adjust, impl, min_response=2.0, min_distinct=2.0):
    """Per style and seed: every layer's response >= min_response and the two closest layers'
    outputs >= min_distinct apart (grey levels, 0..255, on the evaluation images)."""
    if adjust is None or adjust[adjust["implementation"] == impl].empty:
        return NOT_RUN, NOT_RUN
    sub = adjust[adjust["implementation"] == impl]
    runs = sub.groupby(["style", "seed"])
    weakest = runs["response"].min()
    distinct = runs["min_layer_distance"].first()
    worst = sub.loc[sub["response"].idxmin()]
    measured = (f"weakest layer's response {mean_std(weakest)} (worst {worst['layer']}: "
                f"{worst['response']:.3g}); closest two layers {mean_std(distinct)} apart; "
                f"dead conditioner units {mean_std(runs['dead_fraction'].first())}")
    if not (weakest >= min_response).all():
        return measured, NO_RESPONSE
    if not (distinct >= min_distinct).all():
        return measured, NOT_DISTINCT
    return measured, "yes"


NO_RESPONSE = "no: the model does not respond to alpha"
NOT_DISTINCT = "no: the layers' effects are not distinct"

CLAIMS = [
    ("The model responds to alpha, differently per layer",
     "per layer: mean |y(e_i) - y(0)|; closest two layers: min mean |y(e_i) - y(e_j)| (0..255, clamped outputs)",
     "yes if in every style and seed every layer's response >= 2 and the closest two layers differ by >= 2 "
     "grey levels (rounding to 8 bits moves a pixel by at most 0.5); the claims below that need it say "
     "'not applicable' when it fails", "adjustability", claim_adjustability),
    ("Each layer's style loss falls as its own alpha rises (others at 0 and at 1)",
     "Spearman rho of own loss vs alpha", "yes if every layer's rho <= -0.5 in every seed; no if any rho > 0; "
     "else inconclusive", "sweep", claim_layers),
    ("alpha all zero gives back the content image", "PSNR and SSIM vs content at alpha 0",
     "yes if PSNR >= 20 dB and SSIM >= 0.7 in every seed", "identity", claim_content),
    ("Combinations of layers give distinct looks (motif size: see the figures)",
     "mean abs pixel difference between the vectors' outputs (0..255)",
     "yes if >= 5 in every seed (distinctness only; motif size is judged by eye)", "combinations",
     claim_combinations),
    ("Random alpha gives diverse outputs that keep content and style",
     "mean pairwise distance of outputs; their losses", "yes if pixel distance >= 5 (of 255) in every seed; "
     "the losses are shown, not judged", "diversity", claim_diversity),
    ("The paper's noise mask changes the output", "mean abs output change (0..255) and ratio to input change",
     "yes if the mask's output change >= 2 in every seed", "noise", claim_noise),
    ("Saddle point: content falls sharply while style rises, caused by a shared VGG layer",
     "detector on the training logs; ablation with disjoint layers",
     f"yes if found and absent from the ablation; no if it survives the ablation, or none in >= "
     f"{REPORT_SADDLE_STEP} steps; inconclusive if none in a shorter run or no ablation", "saddle", claim_saddle),
    ("Adjusting alpha is comparable to retraining with fixed alpha",
     "per-layer style losses, adjustable vs retrained, same alpha",
     "yes if every style layer's loss is within a factor 2 of the retrained one", "retrain", claim_retrain),
]


# What each claim needs of the model before it can be judged: a claim about alpha says nothing
# of a model whose output does not depend on alpha (it would judge rounding noise).
NEEDS = {"sweep": "distinct", "combinations": "distinct", "diversity": "response", "retrain": "response"}


def _applicable(need: str | None, adjustable: str) -> str | None:
    """None if the claim can be judged; else the reason it cannot."""
    if need is None or adjustable in ("yes", NOT_RUN):
        return None
    if adjustable == NO_RESPONSE:
        return "not applicable: the model does not respond to alpha"
    if need == "distinct":
        return "not applicable: the layers' effects are not distinct"
    return None


def claims(tables: dict[str, pd.DataFrame | None]) -> tuple[pd.DataFrame, list[str]]:
    present = [t for t in tables.values() if t is not None and not t.empty]
    impls = list(dict.fromkeys(i for t in present for i in t["implementation"]))
    rows = []
    for claim, measure, rule, key, fn in CLAIMS:
        row = {"claim": claim, "measure": measure, "rule": rule}
        for impl in impls:
            measured, holds = fn(tables.get(key), impl)
            reason = _applicable(NEEDS.get(key), claim_adjustability(tables.get("adjustability"), impl)[1])
            row[impl], row[f"holds ({impl})"] = measured, reason or holds
        rows.append(row)
    return pd.DataFrame(rows), impls


def header(tables: dict[str, pd.DataFrame | None]) -> str:
    present = [t for t in tables.values() if t is not None and not t.empty]
    nets = sorted({str(n) for t in present for n in t.get("loss_net", [])})
    steps = sorted({int(s) for t in present for s in t.get("train_steps", [])})
    seeds = sorted({int(s) for t in present for s in t.get("seed", [])})
    lines = ["# Claims of the paper and the report, measured", "",
             f"- Loss network weights: **{', '.join(nets) or 'unknown'}**",
             f"- Training budget: **{', '.join(map(str, steps)) or 'unknown'} steps**",
             f"- Seeds: {', '.join(map(str, seeds)) or 'unknown'} (figures are mean ± std over seeds)"]
    if any(n.startswith("random") for n in nets):
        lines.append("- **Warning: RANDOM loss-network weights.** These verdicts test the code paths and "
                     "the claims' mechanics; a verdict on random features is not a verdict on the paper.")
    if steps and max(steps) < 10000:
        lines.append(f"- **Warning: short training** ({max(steps)} steps against the paper's 200,000).")
    return "\n".join(lines) + "\n\n"


TABLES = ("adjustability", "sweep", "identity", "combinations", "diversity", "noise", "saddle", "retrain")


def _read(path: str | None) -> pd.DataFrame | None:
    return pd.read_csv(path) if path and Path(path).is_file() else None


def claims_table(paths: dict[str, str | None]) -> tuple[pd.DataFrame, str]:
    """The claims table from the summary CSVs (a missing one: 'not run'), and its Markdown
    with the header that says which loss network and budget the verdicts rest on."""
    tables = {key: _read(paths.get(key)) for key in TABLES}
    table, _ = claims(tables)
    return table, header(tables) + table.to_markdown(index=False) + "\n"
