"""Adjustability: does a model's output depend on alpha, and differently for each layer?

One function serves training (every `diagnostics_every` steps, on a fixed probe batch) and
evaluation (the claims' first row, on the evaluation images). It returns tensors on the
model's device and reads nothing back, so a training step that runs it does not sync the host.

Measures, all on outputs clamped to 0..255 as a viewer sees them:
- `response_<layer>`: mean |y(e_i) - y(0)|, how far layer i's one-hot alpha moves the output
  from the all-zero one (grey levels, 0..255);
- `min_layer_distance`: the smallest mean |y(e_i) - y(e_j)| over pairs of layers: near 0 when
  two layers' alphas do the same thing (the effects have collapsed into one);
- `output_min`, `output_max`: the unclamped output's range over those alphas;
- `saturated_fraction`: the share of output values shown as 0 or 255 (below 0.5 or above 254.5):
  a saturated output hides whatever the alphas change underneath;
- `gamma_spread`, `beta_spread`: the conditioner's gamma and beta, their standard deviation over
  a fixed set of alphas, averaged over channels (0: the conditioner ignores alpha);
- `dead_fraction`: the share of the conditioner's hidden ReLU units that are 0 for every alpha of
  that set (a dead unit passes no gradient and carries no alpha).
"""

from __future__ import annotations

import itertools

import torch

from .nn.model import AdjustableStyleTransfer
from .runtime import Runtime
from .stylize import stylize_tensor

# The conditioner's probe set: all zeros, the one-hots, all ones, and this many seeded U(0,1)
# vectors (the same in every run).
PROBE_SAMPLES = 61


def columns(layers: list[str] | tuple[str, ...]) -> list[str]:
    return ([f"response_{layer}" for layer in layers]
            + ["min_layer_distance", "output_min", "output_max", "saturated_fraction", "gamma_spread",
               "beta_spread", "dead_fraction"])


def probe_alphas(n: int, samples: int = PROBE_SAMPLES) -> torch.Tensor:
    """(n + 2 + samples, n): zeros, e_1 .. e_n, ones, then seeded uniform vectors."""
    g = torch.Generator().manual_seed(0)
    return torch.cat([torch.zeros(1, n), torch.eye(n), torch.ones(1, n), torch.rand(samples, n, generator=g)])


@torch.no_grad()
def conditioner_spread(model: AdjustableStyleTransfer, alphas: torch.Tensor) -> torch.Tensor:
    """[gamma_spread, beta_spread, dead_fraction] of the conditioner over `alphas` (K, n)."""
    conditioner = model.conditioner
    alive = []
    hooks = [relu.register_forward_hook(lambda m, i, out: alive.append((out > 0).any(dim=0)))
             for relu in conditioner.hidden()]
    try:
        out = conditioner.head(conditioner.body(alphas))
    finally:
        for hook in hooks:
            hook.remove()
    c = conditioner.channels
    gamma, beta = out[:, :c].float(), out[:, c:].float()
    units = torch.cat(alive) if alive else torch.ones(1, dtype=torch.bool, device=out.device)
    dead = 1.0 - units.float().mean()
    return torch.stack([gamma.std(dim=0).mean(), beta.std(dim=0).mean(), dead])


@torch.no_grad()
def adjustability(model: AdjustableStyleTransfer, images: torch.Tensor, runtime=None,
                  alphas: torch.Tensor | None = None) -> torch.Tensor:
    """The measures of `columns(layers)`, in that order, as one float32 tensor on the model's
    device. `images` (B, 3, H, W) in 0..255, on the host or the device; `alphas`: probe_alphas
    already on the device (a copy from the host would wait for the GPU)."""
    n = model.n_alpha
    device = next(model.parameters()).device
    runtime = runtime or Runtime(device)
    alphas = probe_alphas(n).to(device) if alphas is None else alphas
    onehots = alphas[: n + 2]  # zeros, e_1 .. e_n, ones
    b = images.shape[0]
    y = stylize_tensor(model, images.repeat(n + 2, 1, 1, 1), onehots.repeat_interleave(b, dim=0), runtime)
    y = y.reshape(n + 2, b, *y.shape[1:])
    shown = y.clamp(0, 255)

    def distance(i: int, j: int) -> torch.Tensor:
        return (shown[i] - shown[j]).abs().mean()

    responses = [distance(1 + i, 0) for i in range(n)]
    pairs = [distance(1 + i, 1 + j) for i, j in itertools.combinations(range(n), 2)]
    min_pair = torch.stack(pairs).min() if pairs else torch.full((), float("nan"), device=device)
    saturated = ((y < 0.5) | (y > 254.5)).float().mean()
    return torch.stack([*responses, min_pair, y.min(), y.max(), saturated,
                        *conditioner_spread(model, alphas)]).float()


def as_dict(layers, values: torch.Tensor) -> dict[str, float]:
    return dict(zip(columns(layers), values.cpu().tolist()))
