"""How training draws the alpha vector for each step: a pure function of (seed, step),
so a resumed run draws exactly what an unbroken one would."""

from __future__ import annotations

import torch

from .recipe import Recipe


def step_generator(seed: int, step: int, stream: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + step) * 7 + stream)


def sample_alpha(recipe: Recipe, step: int, batch: int, seed: int) -> torch.Tensor:
    """(1, n) for a per-batch alpha, (batch, n) per sample; values in [0, 1].

    With probability alpha_onehot_prob the port uses the one-hot e_k, k = step mod n
    (a cycle over the layers, not a random draw; alpha_onehot_draw: random draws k per row
    instead); otherwise U(0, 1) in every entry. Then, with
    probability alpha_zero_prob, a sample's alpha is all zeros (0, the default, draws nothing
    more, so older runs draw the same alphas).
    """
    n = recipe.n_alpha
    if recipe.alpha_fixed is not None:
        return torch.tensor(recipe.alpha_fixed, dtype=torch.float32)[None]
    rows = 1 if recipe.alpha_per == "batch" else batch
    g = step_generator(seed, step, stream=1)
    alpha = torch.rand(rows, n, generator=g)
    onehot = torch.rand(rows, generator=g) < recipe.alpha_onehot_prob
    if recipe.alpha_onehot_draw == "random":
        # A stream of its own, so the draws from g (and the cycle's runs) stay as they were.
        corner = torch.randint(n, (rows,), generator=step_generator(seed, step, stream=2))
    else:
        corner = torch.tensor(step % n)
    alpha = torch.where(onehot[:, None], torch.nn.functional.one_hot(corner, n).float(), alpha)
    if recipe.alpha_zero_prob > 0:
        alpha = torch.where((torch.rand(rows, generator=g) < recipe.alpha_zero_prob)[:, None], 0.0, alpha)
    return alpha
