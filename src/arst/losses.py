"""Gram matrices, per-layer content and style losses, and the EMA-normalised objective."""

from __future__ import annotations

import torch
from torch import nn

from .nn.vgg import VGGFeatures
from .recipe import Recipe


def gram(features: torch.Tensor) -> torch.Tensor:
    """F F^T / (C H W) per sample, in fp32 even under autocast: bf16 Grams lose the style signal.
    Under autocast the features are bf16, so this is a bf16 product accumulated in fp32, which
    TF32 tensor cores compute exactly (Runtime.backend_flags)."""
    b, c, h, w = features.shape
    with torch.autocast(features.device.type, enabled=False):
        f = features.float().reshape(b, c, h * w)
        return f @ f.transpose(1, 2) / (c * h * w)


class EMANormalizer(nn.Module):
    """The paper's replacement for hand-tuned weights.

    Keeps E_l, an exponential moving average of each raw term L_l (E <- rate * L + (1 - rate) * E
    after each step); term l is weighted by sum_i E_i / E_l, a constant for autograd. `in_scope`
    marks the terms it covers; the others weigh 1.

    `init`: where E starts. `ones` (the spec and the port) takes about ln(L) / ln(1 - rate) steps
    to reach raw losses far from 1: with style losses near 1e-6 and rate 0.01, over 1,000 steps
    in which the style terms weigh a millionth of the content term. `first` starts E at the first
    step's raw losses, so the terms are balanced from the first step (docs/findings.md).
    """

    def __init__(self, in_scope: list[bool], rate: float, init: str = "ones", floor: float = 0.0):
        super().__init__()
        self.rate, self.floor = rate, floor
        self.register_buffer("value", torch.ones(len(in_scope)))
        self.register_buffer("in_scope", torch.tensor(in_scope))
        # Whether E holds losses yet: with init `ones` from the start. A tensor, not a Python
        # bool, so a compiled step reads it without a host sync or a recompilation.
        self.register_buffer("started", torch.tensor(init == "ones"))

    def current(self, raw: torch.Tensor) -> torch.Tensor:
        """E as this step's weights see it: before the first update with `first`, the raw losses."""
        return torch.where(self.started, self.value, raw.detach().float())

    def total(self, raw: torch.Tensor) -> torch.Tensor:
        """sum_i E_i over the terms in scope: the scale every normalised term is brought to."""
        # Not value[in_scope]: a boolean index has a data-dependent shape, so it waits for
        # the GPU (a host sync every step) and splits a compiled step in two.
        return torch.where(self.in_scope, self.current(raw), 0.0).sum()

    def ratios(self, raw: torch.Tensor, own: torch.Tensor | None = None) -> torch.Tensor:
        """Each in-scope term's weight, sum_i E_i over its E_l (or over `own`, the per-sample
        values of normalization: sample), neither below `floor` times sum_i E_i; 1 out of scope."""
        total = self.total(raw)
        value = self.current(raw) if own is None else own
        return torch.where(self.in_scope, total / torch.maximum(value, self.floor * total), 1.0)

    @torch.no_grad()
    def update(self, raw: torch.Tensor) -> None:
        new = self.rate * raw.detach().float() + (1.0 - self.rate) * self.current(raw)
        self.value.copy_(torch.where(self.in_scope, new, self.value))
        self.started.fill_(True)


class Objective(nn.Module):
    """One recipe's training loss: terms are [content, style layer 1, ..., style layer n]."""

    def __init__(self, recipe: Recipe, vgg: VGGFeatures, style_image: torch.Tensor):
        super().__init__()
        self.vgg = vgg
        self.content_layer = recipe.content_layer
        self.style_layers = list(recipe.style_layers)
        self.term_names = ["content", *self.style_layers]
        self.register_buffer("scale", torch.tensor(
            [recipe.content_weight] + [recipe.style_weight] * recipe.n_alpha))
        self.ema = EMANormalizer([recipe.ema_scope == "all"] + [True] * recipe.n_alpha, recipe.ema_rate,
                                 recipe.ema_init, recipe.ema_floor)
        self.per_sample = recipe.normalization == "sample"
        self.set_style(style_image)

    @classmethod
    def for_recipe(cls, recipe: Recipe, style_image: torch.Tensor, loss_weights: str = "random",
                   loss_seed: int = 0, channel_multiple: int = 1) -> "Objective":
        """The recipe's objective on its own loss network (`loss_weights`: random, imagenet or a
        state-dict path): what training minimises and evaluation measures, built one way."""
        vgg = VGGFeatures(recipe.vgg, [recipe.content_layer, *recipe.style_layers], loss_weights, loss_seed,
                          channel_multiple)
        return cls(recipe, vgg, style_image)

    @torch.no_grad()
    def set_style(self, style_image: torch.Tensor) -> None:
        """The style Grams are computed once, not at every step; as buffers they follow the
        module to its device (and, being 3-d, keep their layout under channels_last)."""
        feats = self.vgg(style_image)
        for name in self.style_layers:
            self.register_buffer(f"style_gram_{name}", gram(feats[name]), persistent=False)

    @property
    def style_grams(self) -> list[torch.Tensor]:
        return [getattr(self, f"style_gram_{name}") for name in self.style_layers]

    def mse(self, output: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
        """Unweighted per-sample losses (B, 1 + n): content MSE, then each layer's Gram MSE."""
        out_feats = self.vgg(output)
        with torch.no_grad():  # the target: no autograd, and no deeper than its layer
            target = self.vgg(content, [self.content_layer])[self.content_layer]
        losses = [(out_feats[self.content_layer].float() - target.float()).pow(2).mean(dim=(1, 2, 3))]
        for name, style_gram in zip(self.style_layers, self.style_grams):
            losses.append((gram(out_feats[name]) - style_gram).pow(2).mean(dim=(1, 2)))
        return torch.stack(losses, dim=1)

    def combine(self, mse: torch.Tensor, alpha: torch.Tensor):
        """(total, raw, terms): the loss; the raw per-term losses (scaled by the fixed weights,
        batch means: what the EMA tracks); the weighted per-sample terms (B, 1 + n).

        alpha (B, n) or (1, n) weights the style terms per sample; content has alpha 1.
        """
        raw = mse * self.scale
        ones = torch.ones_like(alpha[:, :1])
        # normalization: sample divides each sample's term by its own (detached) value: the
        # gradient of sum_l alpha_l log L_l, which is what the EMA's weights converge to for a
        # model trained at one alpha (E_l -> L_l). Over a mixture of alphas the EMA's E_l is the
        # mixture's mean instead, which underweighs each corner's own layer (docs/findings.md).
        # The EMA's total keeps the loss on the EMA's scale.
        own = raw.detach().float().clamp_min(torch.finfo(torch.float32).tiny) if self.per_sample else None
        terms = raw * torch.cat([ones, alpha.to(raw.dtype)], dim=1) * self.ema.ratios(raw.mean(dim=0), own)
        return terms.sum(dim=1).mean(), raw.detach().mean(dim=0), terms


def gradient_cosine(output: torch.Tensor, content_term: torch.Tensor, style_term: torch.Tensor) -> torch.Tensor:
    """Cosine between d(content)/d(output) and d(style)/d(output): near -1, the two fight.
    A 0-d tensor on the device (reading it back would sync the host)."""
    g_content, = torch.autograd.grad(content_term, output, retain_graph=True)
    g_style, = torch.autograd.grad(style_term, output, retain_graph=True)
    return torch.nn.functional.cosine_similarity(g_content.flatten(), g_style.flatten(), dim=0)
