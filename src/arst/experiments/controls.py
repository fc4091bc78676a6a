"""Retrained controls (spec section 5, "How to judge them"): the adjustable model's one-hot
settings against models retrained at those alphas, with a second seed as the noise floor.

A difference between two outputs means nothing until it is compared with the same
measurement across seeds. At short budgets two seeds of one retrained model are as far apart
in pixels as two alphas are, so the main distance here is the **loss profile**: the log10 of
every unweighted term of the objective (content and each style layer) on the evaluation
images, one vector per output; two outputs are `profile_distance` apart, the L2 norm of the
difference of their profiles, averaged over the images. The pixel distance (mean |y_a - y_b|,
0..255, clamped) is written beside it.

One row per pair of outputs, `kind` saying which pair:
- `adjustable`: the adjustable model at two control alphas (alpha_a, alpha_b);
- `retrained`: the models retrained at alpha_a and at alpha_b (same seed);
- `floor`: the model retrained at alpha_a, at the run's seed and at a second seed;
- `match`: the adjustable model at alpha_a against the model retrained at alpha_b.
Alphas are labelled by the layer a one-hot switches on, `ones` for all ones, and the vector
itself ('1,0.5,0') for any other.

Where both outputs were made at one alpha (a `match` row with alpha_a = alpha_b, the `floor`
row), the profile distance is also split into the terms that alpha weighs (`profile_weighed`:
the content and every style layer it sets above 0) and those it leaves out
(`profile_left_out`: the style layers at 0; empty, so blank, at all ones). A model adjusted to
e_i can match its retrained model on what e_i asks for and still differ on the layers it leaves
out: one shared network keeps what the other corners taught it there.

With budgets (`arst controls --budgets 600,2000`, from the config's `train.snapshots`) the same
pairs are measured again on the snapshots of every model at those steps (model-step600.pt
beside model.pt, ...): one run of each model judged at several budgets, each budget's rows told
apart by `train_steps`. The claims judge each run at its last budget; the figure
`controls_curves` draws the relative measure over them.

With an image folder (`--image-dir`) the last budget's pictures of the first evaluation image
are kept, so that a verdict can be looked at as well as read: at each control alpha the
adjustable model's output and the retrained model's (`adjusted_file`, `retrained_file` on the
`match` row of that alpha with itself), and the second seed's (`floor_file`, on the `floor`
row); the figure `controls_pictures` sets them side by side.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from ..errors import ConfigError, DataError
from ..recipe import onehot_layer
from ..schedule import snapshot_name
from .alphaspec import vector_text
from .common import MODEL_KEYS, load_eval_images
from .registry import SIZE, Experiment, Figure

if TYPE_CHECKING:
    import pandas as pd
    import torch

    from ..evaluate import Evaluator

EXPERIMENT = Experiment(
    name="controls", measure="at_budgets", target="adjusted_vs_retrained", scope="controlled", model="adjustable",
    inputs=("retrained", "floor"), budgets=True, images=True,
    category="Adjusted vs retrained",
    help="the adjustable model's one-hot settings against models retrained there and a second seed: "
         "loss-profile and pixel distances",
    summary_help="merge the retrained-control tables: loss-profile and pixel distances of every pair "
                 "(adjustable, retrained, floor, match)",
    title="Retrained controls: loss-profile distance (L2 of log10 per-term losses) and pixel distance (0..255) "
          "between outputs (loss network: {nets})",
    figures=(Figure("controls", "arst.plots.comparison:controls_figure", "figure: per pair of layers, adjustable vs "
                    "retrained loss-profile distance, the seed floor drawn", "controls_figure.rst"),
             Figure("controls_curves", "arst.plots.comparison:controls_curves_figure", "figure: per pair of layers, "
                    "adjustable / retrained loss-profile distance against training steps (train.snapshots)",
                    "controls_curves_figure.rst"),
             Figure("controls_pictures", "arst.plots.comparison:controls_pictures_figure", "figure: at each control "
                    "alpha, the adjustable model's picture beside the retrained model's (and the second seed's)",
                    "controls_pictures_figure.rst", reads=("table", "images"))),
)

KINDS = ("adjustable", "retrained", "floor", "match")
# The pictures a row may name (a column `{key}_file` each; "" where it names none).
PICTURES = ("adjusted", "retrained", "floor")


def alpha_label(alpha: Sequence[float], layers: Sequence[str]) -> str:
    """The name of a control alpha: the layer of a one-hot, 'ones', else the vector's text."""
    if all(float(a) == 1.0 for a in alpha):
        return "ones"
    return onehot_layer(alpha, layers) or vector_text(alpha)


def profile(ev: Evaluator, output: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """(images, terms): log10 of every unweighted term's loss of `output` (content first). A loss
    of exactly 0 is held at 1e-30 so the logarithm stays finite."""
    import torch

    losses = ev.losses(output, content)
    return torch.stack([losses[t].double() for t in ev.objective.term_names], dim=1).clamp_min(1e-30).log10()


def profile_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """L2 over terms of the profiles' difference, averaged over the images."""
    return float((a - b).norm(dim=1).mean())


def pixel_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.clamp(0, 255) - b.clamp(0, 255)).abs().mean())


def split_distance(a: torch.Tensor, b: torch.Tensor, alpha: Sequence[float]) -> dict[str, float]:
    """profile_distance over the terms `alpha` weighs (the content, first, and each style layer
    it sets above 0) and over those it leaves out (NaN where it leaves none out)."""
    weighed = [True, *(float(x) > 0 for x in alpha)]
    left_out = [not w for w in weighed]
    return {"profile_weighed": profile_distance(a[:, weighed], b[:, weighed]),
            "profile_left_out": profile_distance(a[:, left_out], b[:, left_out]) if any(left_out) else float("nan")}


# What a control must share with the adjustable model for a difference to mean "another alpha".
SHARED = {
    "steps": lambda meta: meta["step"],
    "image size": lambda meta: meta["recipe"].image_size,
    "batch": lambda meta: meta["recipe"].batch_size,
    "loss network": lambda meta: (meta["loss_net"], str(meta.get("loss_weights")), meta.get("loss_seed")),
    "style layers": lambda meta: tuple(meta["recipe"].style_layers),
    "content layer": lambda meta: meta["recipe"].content_layer,
}


def check_control(adjustable: Evaluator, control: Evaluator, path: str | Path, adjustable_path) -> None:
    """A control trained with other steps, size, batch, loss network or layers compares two
    budgets, not two alphas: refuse it in one line naming the setting."""
    if control.recipe.alpha_fixed is None:
        raise ConfigError(f"control {path} was not trained at a fixed alpha (its recipe's alpha_fixed is null)")
    for name, read in SHARED.items():
        if read(control.meta) != read(adjustable.meta):
            raise ConfigError(f"control {path} was trained with {name} {read(control.meta)}, the adjustable "
                              f"model {adjustable_path} with {read(adjustable.meta)}: a control must share steps, "
                              "image size, batch, loss network and layers")


def controls(adjustable, retrained: Sequence[str], floor: str | None, style, images, size=SIZE,
             style_name="style", runtime=None, image_dir=None) -> pd.DataFrame:
    """The table of pairs (module docstring) for one adjustable model, its models `retrained`
    at fixed alphas (one seed: the adjustable model's), and `floor`, one of those alphas
    retrained at a second seed; with `image_dir`, the pictures of the first image there."""
    import pandas as pd
    import torch

    from ..data.images import save_image
    from ..evaluate import Evaluator

    def picture(output: torch.Tensor, name: str) -> str:
        """The first image's output as image_dir/name.png (its path), or "" without a folder."""
        if image_dir is None:
            return ""
        path = Path(image_dir) / f"{name}.png"
        save_image(output[0].cpu(), str(path))
        return str(path)

    adj = Evaluator.load(adjustable, style, runtime)
    names, batch = load_eval_images(images, size)
    layers = list(adj.recipe.style_layers)
    fixed = {}  # label -> (output, profile) of the retrained model there
    for path in retrained:
        ev = Evaluator.load(path, style, runtime)
        check_control(adj, ev, path, adjustable)
        if ev.meta["seed"] != adj.meta["seed"]:
            raise ConfigError(f"control {path} has seed {ev.meta['seed']}, the adjustable model "
                              f"{adjustable} seed {adj.meta['seed']}: pass the second seed as the floor")
        label = alpha_label(ev.recipe.alpha_fixed, layers)
        output = ev.stylize(batch, torch.tensor([ev.recipe.alpha_fixed]))
        fixed[label] = (ev.recipe.alpha_fixed, output, profile(adj, output, batch))
    adjusted = {}
    for label, (alpha, _, _) in fixed.items():
        output = adj.stylize(batch, torch.tensor([alpha]))
        adjusted[label] = (output, profile(adj, output, batch))

    rows = []

    def add(kind, a, b, x, y, **files):
        at_one_alpha = split_distance(x[1], y[1], fixed[a][0]) if a == b else {}
        rows.append({**adj.labels, "style": style_name, "images": len(names), "size": size, "kind": kind,
                     "alpha_a": a, "alpha_b": b, "profile_distance": profile_distance(x[1], y[1]),
                     "profile_weighed": at_one_alpha.get("profile_weighed", float("nan")),
                     "profile_left_out": at_one_alpha.get("profile_left_out", float("nan")),
                     "pixel_distance": pixel_distance(x[0], y[0]), "image": names[0],
                     **{f"{key}_file": files.get(key, "") for key in PICTURES}})

    for a, b in itertools.combinations(fixed, 2):
        add("adjustable", a, b, adjusted[a], adjusted[b])
        add("retrained", a, b, fixed[a][1:], fixed[b][1:])
    for a, b in itertools.product(fixed, fixed):
        files = {"adjusted": picture(adjusted[a][0], f"{a}_adjusted"),
                 "retrained": picture(fixed[a][1], f"{a}_retrained")} if a == b else {}
        add("match", a, b, adjusted[a], fixed[b][1:], **files)
    if floor is not None:
        ev = Evaluator.load(floor, style, runtime)
        check_control(adj, ev, floor, adjustable)
        label = alpha_label(ev.recipe.alpha_fixed, layers)
        if label not in fixed or ev.meta["seed"] == adj.meta["seed"]:
            raise ConfigError(f"noise-floor control {floor} must repeat one of the retrained alphas "
                              f"({', '.join(fixed)}) at another seed than {adj.meta['seed']}")
        output = ev.stylize(batch, torch.tensor([ev.recipe.alpha_fixed]))
        add("floor", label, label, fixed[label][1:], (output, profile(adj, output, batch)),
            floor=picture(output, f"{label}_seed{ev.meta['seed']}"))
        rows[-1]["floor_seed"] = ev.meta["seed"]
    return pd.DataFrame(rows)


def at_budgets(adjustable, retrained: Sequence[str], floor: str | None, style, images, budgets: Sequence[int] = (),
               size=SIZE, style_name="style", runtime=None, image_dir=None) -> pd.DataFrame:
    """`controls` at each of `budgets`, on the snapshots beside the models (model-stepN.pt, as
    training writes them), then on the models themselves: one table; the pictures (`image_dir`)
    of the models themselves, the budget the claims judge."""
    import pandas as pd

    def snapshot(path: str, step: int) -> str:
        found = Path(path).with_name(snapshot_name(step))
        if not found.is_file():
            raise DataError(f"snapshot not found: {found} (the model at step {step}; train with --snapshots "
                            f"{step}, in the workflow the config's train.snapshots)")
        return str(found)

    # Every snapshot found before any is measured: a missing one fails in seconds, not after the others.
    models = [(snapshot(adjustable, step), [snapshot(path, step) for path in retrained],
               None if floor is None else snapshot(floor, step)) for step in sorted(budgets)]
    models.append((adjustable, list(retrained), floor))
    last = len(models) - 1
    return pd.concat([controls(a, r, f, style, images, size, style_name, runtime, image_dir if k == last else None)
                      for k, (a, r, f) in enumerate(models)], ignore_index=True)


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Every pair of every run, in a stable order; the pictures' paths stay in the per-model tables."""
    order = {k: i for i, k in enumerate(KINDS)}
    table = table.drop(columns=["image", *(f"{key}_file" for key in PICTURES)], errors="ignore")
    return table.sort_values([*MODEL_KEYS, "kind", "alpha_a", "alpha_b"],
                             key=lambda c: c.map(order) if c.name == "kind" else c, kind="stable")
