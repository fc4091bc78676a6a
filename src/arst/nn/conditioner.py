"""Conditioners: alpha (one weight per style layer) -> the gamma and beta of every CIN."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn


def cin_layout(norm_channels: "OrderedDict[str, int]", order: str) -> "OrderedDict[str, slice]":
    """Where each CIN's channels sit in the conditioner's gamma (and beta) vector.

    `forward` packs them in network order. `prudnikov` is the port's order: conv1..3,
    res1..res(n-2), up1, up2, then the last two residual blocks (for 7 blocks: res6 at
    1600:1856, res7 at 1856:2112).
    """
    names = list(norm_channels)
    if order == "prudnikov":
        res = sorted({n.split(".")[0] for n in names if n.startswith("res")}, key=lambda s: int(s[3:]))
        late = tuple(f"{r}." for r in res[-2:])
        names = [n for n in names if not n.startswith(late)] + [n for n in names if n.startswith(late)]
    layout, start = OrderedDict(), 0
    for name in names:
        layout[name] = slice(start, start + norm_channels[name])
        start += norm_channels[name]
    return layout


class SubtractBlock(nn.Module):
    """The port's residual block: x - ReLU(W2 ReLU(W1 x)). The minus sign is as shipped."""

    def __init__(self, width: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(width, width), nn.Linear(width, width)
        self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()  # modules, so diagnostics can watch them

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - self.relu2(self.fc2(self.relu1(self.fc1(x))))


class DenseBlock(nn.Module):
    """One hidden layer of the paper's MLP, ReLU(W x + b); with `norm`, a LayerNorm before
    the ReLU; with `residual`, x + that."""

    def __init__(self, width: int, norm: str = "none", residual: bool = False):
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.norm = nn.LayerNorm(width) if norm == "layer" else nn.Identity()
        self.relu = nn.ReLU()
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.norm(self.fc(x)))
        return x + y if self.residual else y


class Conditioner(nn.Module):
    """Maps alpha (B, n) to gamma, beta (B, C), each CIN's slice given by `layout`.

    `prudnikov`: the port's 1x1 convolutions on a 1x1 map, which are dense layers (nn.Linear
    has the same default init and draws the same random numbers), n -> width, ReLU, `depth`
    SubtractBlocks, width -> 2C; gamma is used as is.
    `mlp`: the paper's Table 1, n -> width, `depth` dense width -> width (DenseBlock), -> 2C,
    ReLU after all but the last, whose bias starts at gamma = 1, beta = 0 (`init`).
    `linear`: alpha -> 2C in one affine map, so gamma = 1 + W_gamma alpha and beta = W_beta alpha
    once trained from a zero head: each one-hot alpha owns one column, as each style owns its
    gamma and beta in Dumoulin et al.'s conditional instance norm, and alpha = 0 is plain
    instance norm (up to the trained bias).
    """

    def __init__(self, kind: str, n_alpha: int, layout: "OrderedDict[str, slice]", width=1000, depth=4,
                 norm: str = "none", residual: bool = False, gamma_bound: str = "none"):
        super().__init__()
        self.layout, self.gamma_bound = layout, gamma_bound
        self.channels = max(s.stop for s in layout.values())
        if kind == "prudnikov":
            body = [nn.Linear(n_alpha, width), nn.ReLU()] + [SubtractBlock(width) for _ in range(depth)]
        elif kind == "linear":
            body, width = [], n_alpha
        else:
            body = [nn.Linear(n_alpha, width), nn.ReLU()]
            body += [DenseBlock(width, norm, residual) for _ in range(depth)]
        self.body = nn.Sequential(*body)
        self.head = nn.Linear(width, 2 * self.channels)

    def init(self, scheme: str, std: float, identity_head: bool, head: str = "normal") -> None:
        """`normal`: N(0, std) weights, zero biases (the paper's Table 1); `kaiming`: He's
        normal init (fan-in, for ReLU), zero biases; `default`: PyTorch's, as constructed.
        With `identity_head` the last layer's weights are N(0, std) (`head` normal) or zero
        (`head` zero) and its bias puts every gamma at 1 and every beta at 0, so training
        starts from plain instance norm: near it, or exactly."""
        for m in self.modules():
            if isinstance(m, nn.Linear) and scheme != "default":
                if scheme == "normal":
                    nn.init.normal_(m.weight, 0.0, std)
                else:
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        if identity_head:
            if head == "zero":
                nn.init.zeros_(self.head.weight)
            else:
                nn.init.normal_(self.head.weight, 0.0, std)
            with torch.no_grad():
                self.head.bias[: self.channels] = 1.0
                self.head.bias[self.channels:] = 0.0

    def hidden(self) -> list[nn.ReLU]:
        """The ReLUs whose units can die (a unit is dead when it is 0 for every alpha)."""
        return [m for m in self.body.modules() if isinstance(m, nn.ReLU)]

    def forward(self, alpha: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        out = self.head(self.body(alpha))
        gamma, beta = out[:, : self.channels], out[:, self.channels:]
        if self.gamma_bound == "tanh":
            gamma = 1.0 + torch.tanh(gamma - 1.0)
        return {name: (gamma[:, s], beta[:, s]) for name, s in self.layout.items()}
