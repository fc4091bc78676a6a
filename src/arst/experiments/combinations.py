"""Combinations of layers (spec section 5, third claim; paper Fig. 6, report Fig. 5): the
outputs for a configured list of alpha vectors, written per layer name, and their losses."""

from __future__ import annotations

from itertools import combinations as pairs
from pathlib import Path

import pandas as pd

from ..data.images import save_image
from ..evaluate import Evaluator
from .alphaspec import alpha_for, spec_label, vector_text
from .common import load_eval_images


def combinations(checkpoint, style, images, specs, size=128, style_name="style", image_dir=None,
                 runtime=None) -> pd.DataFrame:
    """Long table: one row per (alpha vector, image, term); `ignored` names the vector's layers
    this implementation does not have; `distance_to_others` is the mean absolute pixel
    difference (0..255) between this vector's output and the other vectors' outputs."""
    ev = Evaluator.load(checkpoint, style, runtime)
    names, batch = load_eval_images(images, size)
    outputs, rows = [], []
    for k, spec in enumerate(specs):
        alpha, ignored = alpha_for(spec, ev.recipe.style_layers)
        output = ev.stylize(batch, alpha)
        outputs.append(output.clamp(0, 255))
        losses = ev.losses(output, batch)
        for b, image in enumerate(names):
            file = ""
            if image_dir is not None:
                file = str(Path(image_dir) / image / f"combo{k}.png")
                save_image(output[b].cpu(), file)
            for term, values in losses.items():
                rows.append({**ev.labels, "style": style_name, "image": image, "combo": k,
                             "combo_label": spec_label(spec), "alpha_vector": vector_text(alpha),
                             "ignored": ",".join(ignored), "term": term, "loss": float(values[b]),
                             "image_file": file})
    table = pd.DataFrame(rows)
    distance = {k: [] for k in range(len(specs))}
    for i, j in pairs(range(len(specs)), 2):
        d = (outputs[i] - outputs[j]).abs().mean(dim=(1, 2, 3))  # per image
        distance[i].append(d)
        distance[j].append(d)
    table["distance_to_others"] = [
        float(sum(distance[r.combo])[names.index(r.image)] / len(distance[r.combo])) if distance[r.combo] else 0.0
        for r in table.itertuples()]
    return table


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Per alpha vector: each term's loss and the mean pixel distance to the other vectors' outputs."""
    keys = ["implementation", "loss_net", "train_steps", "precision", "style", "seed", "combo", "combo_label",
            "alpha_vector", "ignored"]
    table = table.assign(ignored=table["ignored"].fillna(""))
    wide = table.pivot_table(index=keys, columns="term", values="loss", aggfunc="mean")
    wide.columns = [f"loss_{c}" for c in wide.columns]
    dist = table.groupby(keys)["distance_to_others"].mean().rename("pixel_distance_to_others")
    return wide.join(dist).reset_index()
