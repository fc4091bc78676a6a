"""Combinations of layers (spec section 5, third claim; paper Fig. 6, report Fig. 5): the
outputs for a configured list of alpha vectors, written per layer name, and their losses."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .alphaspec import alpha_for, spec_label, vector_text
from .common import MODEL_KEYS, load_eval_images, pairwise, pixel_distance, to_nearest, to_others
from .registry import SIZE, Experiment, Figure, Setting

if TYPE_CHECKING:
    import pandas as pd

EXPERIMENT = Experiment(
    name="combinations", measure="combinations", target="combination_grid", images=True, category="Combinations",
    help="outputs and losses for a list of alpha vectors written per layer name",
    summary_help="per alpha vector: losses and distance to the other vectors' outputs",
    title="Combinations of layers (loss network: {nets}; 'ignored': layers of the vector this implementation lacks)",
    settings=(
        Setting("combinations", [{"relu2_2": 1.0}, {"relu3_4": 1.0}, {"relu4_4": 1.0}, {"relu2_2": 1.0, "relu4_4": 1.0},
                                 {"relu2_2": 0.5, "relu3_4": 0.5, "relu4_4": 0.5},
                                 {"relu2_2": 1.0, "relu3_4": 1.0, "relu4_4": 1.0}],
                "alpha vectors per layer name (missing layers 0; layers an implementation lacks are ignored), "
                'as JSON on the command line, e.g. [{"relu2_2": 1}, {"relu4_4": 0.5}]',
                {"type": "array", "items": {"type": "object",
                                            "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1}}},
                flag="alphas", param="specs", json=True, parse="arst.experiments.alphaspec:parse_alpha_specs"),
    ),
    figures=(Figure("combinations", "arst.plots.comparison:combinations_figure",
                    "figure: grid of outputs for the configured alpha vectors", "combinations_figure.rst",
                    reads=("table", "images")),),
)


def combinations(checkpoint, style, images, specs, size=SIZE, style_name="style", image_dir=None,
                 runtime=None) -> pd.DataFrame:
    """Long table: one row per (alpha vector, image, term); `ignored` names the vector's layers
    this implementation does not have; `distance_to_others` is the mean absolute pixel
    difference (0..255) between this vector's output and the other vectors' outputs, and
    `distance_to_nearest` the same to the closest other vector's output (vectors that are the
    same for this implementation are not compared), both on that image."""
    import pandas as pd

    from ..data.images import save_image
    from ..evaluate import Evaluator

    ev = Evaluator.load(checkpoint, style, runtime)
    names, batch = load_eval_images(images, size)
    outputs, vectors, rows = [], [], []
    for k, spec in enumerate(specs):
        alpha, ignored = alpha_for(spec, ev.recipe.style_layers)
        output = ev.stylize(batch, alpha)
        outputs.append(output.clamp(0, 255))
        vectors.append(vector_text(alpha))
        losses = ev.losses(output, batch)
        for b, image in enumerate(names):
            file = ""
            if image_dir is not None:
                file = str(Path(image_dir) / image / f"combo{k}.png")
                save_image(output[b].cpu(), file)
            for term, values in losses.items():
                rows.append({**ev.labels, "style": style_name, "image": image, "combo": k,
                             "combo_label": spec_label(spec), "alpha_vector": vectors[k],
                             "ignored": ",".join(ignored), "term": term, "loss": float(values[b]),
                             "image_file": file})
    table = pd.DataFrame(rows)
    # per image b: the pairwise distances of the vectors' outputs of that image
    pairs = [pairwise([output[b] for output in outputs], pixel_distance) for b in range(len(names))]
    others, nearest = [to_others(d) for d in pairs], [to_nearest(d, vectors) for d in pairs]
    table["distance_to_others"] = [others[names.index(r.image)][r.combo] for r in table.itertuples()]
    table["distance_to_nearest"] = [nearest[names.index(r.image)][r.combo] for r in table.itertuples()]
    return table


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Per alpha vector: each term's loss, and the pixel distance to the other vectors' outputs
    (their mean) and to the nearest one's, each on an image and then averaged over images."""
    keys = [*MODEL_KEYS, "combo", "combo_label", "alpha_vector", "ignored"]
    table = table.assign(ignored=table["ignored"].fillna(""))
    wide = table.pivot_table(index=keys, columns="term", values="loss", aggfunc="mean")
    wide.columns = [f"loss_{c}" for c in wide.columns]
    dist = table.groupby(keys)[["distance_to_others", "distance_to_nearest"]].mean()
    return wide.join(dist.add_prefix("pixel_")).reset_index()
