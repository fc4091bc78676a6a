"""Evaluating a trained model: the same objective it was trained with, at any alpha."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .checkpoint import load_model
from .data.images import load_style
from .losses import Objective
from .nn.model import AdjustableStyleTransfer
from .nn.vgg import VGGFeatures
from .recipe import Recipe
from .runtime import Runtime
from .stylize import stylize_tensor


@dataclass
class Evaluator:
    """A trained model beside the objective it was trained on (same loss network, same style)."""

    model: AdjustableStyleTransfer
    objective: Objective
    meta: dict[str, Any]
    runtime: Runtime

    @classmethod
    def load(cls, checkpoint: str | Path, style: str | Path, runtime: Runtime | None = None) -> "Evaluator":
        runtime = runtime or Runtime.resolve(precision="fp32", compile=False, channels_last=False)
        model, meta = load_model(checkpoint)
        recipe: Recipe = meta["recipe"]
        vgg = VGGFeatures(recipe.vgg, [recipe.content_layer, *recipe.style_layers],
                          meta.get("loss_weights", "random"), meta.get("loss_seed", 0))
        objective = Objective(recipe, vgg, load_style(style, recipe.style_size))
        return cls(runtime.module(model), runtime.module(objective), meta, runtime)

    @property
    def recipe(self) -> Recipe:
        return self.meta["recipe"]

    @property
    def labels(self) -> dict[str, Any]:
        """What every table row carries, so a figure can label itself."""
        return {"implementation": self.recipe.name, "seed": self.meta["seed"],
                "loss_net": self.meta["loss_net"], "train_steps": self.meta["step"],
                "precision": self.runtime.precision}

    def stylize(self, images: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        return stylize_tensor(self.model, images, alpha, self.runtime)

    @torch.no_grad()
    def losses(self, output: torch.Tensor, content: torch.Tensor) -> dict[str, torch.Tensor]:
        """Unweighted per-sample losses by term name ('content', 'relu2_2', ...): the
        numbers that compare across implementations, free of the port's 1e5/1e10 scales."""
        mse = self.objective.mse(self.runtime.images(output), self.runtime.images(content)).cpu()
        return {name: mse[:, i] for i, name in enumerate(self.objective.term_names)}
