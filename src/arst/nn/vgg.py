"""The frozen VGG loss network, returning post-ReLU features by their true names."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from ..errors import ConfigError, DataError, FetchError
from ..recipe import VGG_BLOCKS
from .ops import conv2d

log = logging.getLogger("arst")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Output channels of the convolutions of each block; the convolutions per block are
# recipe.VGG_BLOCKS. Built here, module for module as torchvision's `make_layers` builds them
# (tests/test_nn.py checks it: state dicts and seeded inits match), because importing
# torchvision costs every job about 2.5 s (it imports torch._dynamo), which only jobs that
# load ImageNet weights need.
BLOCK_WIDTHS = (64, 128, 256, 512, 512)
# The ImageNet weights of each loss network are torchvision's: its entry names the file (its
# address, and in its name a sha256 prefix). Loading, fetching and the workflow all ask here.
_IMAGENET_WEIGHTS = {"vgg16": "VGG16_Weights", "vgg19": "VGG19_Weights"}


def make_features(arch: str) -> nn.Sequential:
    """The feature layers of `arch` (freshly initialised as nn.Conv2d does)."""
    layers: list[nn.Module] = []
    channels = 3
    for convs, width in zip(VGG_BLOCKS[arch], BLOCK_WIDTHS):
        for _ in range(convs):
            layers += [nn.Conv2d(channels, width, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = width
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def layer_names(features: nn.Sequential) -> dict[str, int]:
    """relu{block}_{conv} -> index in `features`, counted the way the VGG paper names them."""
    names, block, conv = {}, 1, 0
    for index, module in enumerate(features):
        if isinstance(module, nn.Conv2d):
            conv += 1
        elif isinstance(module, nn.ReLU):
            names[f"relu{block}_{conv}"] = index
        elif isinstance(module, nn.MaxPool2d):
            block, conv = block + 1, 0
    return names


def check_arch(arch: str) -> None:
    if arch not in VGG_BLOCKS:
        raise ConfigError(f"unknown loss network {arch!r}; expected one of {', '.join(VGG_BLOCKS)}")


def imagenet_weights(arch: str):
    """torchvision's entry for the ImageNet weights of `arch` (a WeightsEnum member)."""
    check_arch(arch)
    import torchvision

    return getattr(torchvision.models, _IMAGENET_WEIGHTS[arch]).IMAGENET1K_V1


def weights_file(arch: str, torch_home: str | Path | None = None) -> Path:
    """Where torchvision's weights API looks for this network's ImageNet weights: under
    `torch_home`, or by default torch.hub's folder ($TORCH_HOME/hub)."""
    hub = Path(torch_home) / "hub" if torch_home is not None else Path(torch.hub.get_dir())
    return hub / "checkpoints" / Path(urlparse(imagenet_weights(arch).url).path).name


def describe_weights(weights: str, seed: int = 0) -> str:
    """The label every output carries: a verdict on random features is no verdict on the paper."""
    if weights == "random":
        return f"random(seed={seed})"
    if weights == "imagenet":
        return "imagenet"
    return f"file:{Path(weights).name}"


class VGGFeatures(nn.Module):
    """VGG-16/19 `features`, cut after the deepest layer asked for, frozen, in eval mode.

    weights: "imagenet" (torchvision's weights API and cache), "random" (seeded Kaiming
    normal, fan-in, so activations keep their scale through depth), or a state-dict path
    in torchvision's format. `channel_multiple`: the convolutions compute with their channel
    counts padded to this multiple (ops.conv2d; the features are the same).
    """

    def __init__(self, arch: str, layers, weights: str = "random", seed: int = 0, channel_multiple: int = 1):
        super().__init__()
        check_arch(arch)
        # The feature layers alone: the full model would also build a 120M-parameter classifier.
        full = make_features(arch)
        index = layer_names(full)
        unknown = [name for name in layers if name not in index]
        if unknown:
            raise DataError(f"{arch} has no layer(s) {unknown}; it has {list(index)}")
        self.layers = {name: index[name] for name in layers}
        depth = max(self.layers.values()) + 1
        self.features = full[:depth]
        for m in self.features:
            if isinstance(m, nn.ReLU):
                m.inplace = False  # the post-ReLU tensors are kept as features
        self.kind = describe_weights(weights, seed)
        self.channel_multiple = channel_multiple
        self._load(arch, weights, seed)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255.0)
        self.requires_grad_(False)
        self.eval()

    def _load(self, arch: str, weights: str, seed: int) -> None:
        if weights == "random":
            generator = torch.Generator().manual_seed(seed)
            for m in self.features:
                if isinstance(m, nn.Conv2d):
                    fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
                    with torch.no_grad():
                        m.weight.normal_(0.0, (2.0 / fan_in) ** 0.5, generator=generator)
                        m.bias.zero_()
            log.warning("loss network %s has RANDOM weights (%s): outputs are labelled as such",
                        arch, self.kind)
            return
        if weights == "imagenet":
            path = weights_file(arch)
            if not path.is_file():
                raise FetchError(
                    f"ImageNet weights for {arch} not found at {path}. Download "
                    f"{imagenet_weights(arch).url} to that file (or run `arst fetch-vgg --arch {arch} "
                    f"--torch-home DIR` with TORCH_HOME=DIR), or set the loss weights to a "
                    f"state-dict path or to 'random'")
            state = imagenet_weights(arch).get_state_dict(progress=False, check_hash=True)
        else:
            path = Path(weights)
            if not path.is_file():
                raise DataError(f"loss-network weights file not found: {path}")
            state = torch.load(path, map_location="cpu", weights_only=True)
        prefix = "features."
        own = {k[len(prefix):]: v for k, v in state.items()
               if k.startswith(prefix) and int(k.split(".")[1]) < len(self.features)}
        missing = set(self.features.state_dict()) - set(own)
        if missing:
            raise DataError(f"weights for {arch} lack {sorted(missing)} (file {path})")
        self.features.load_state_dict(own)

    def train(self, mode: bool = True) -> "VGGFeatures":
        return super().train(False)  # frozen: never leaves eval mode

    def forward(self, image: torch.Tensor, layers=None) -> dict[str, torch.Tensor]:
        """image in 0..255 -> {layer name: post-ReLU activation}, for `layers` (default: all
        asked for at construction), running no deeper than the deepest of them."""
        wanted = {self.layers[name]: name for name in (self.layers if layers is None else layers)}
        x = (image - self.mean) / self.std
        out = {}
        for i, module in enumerate(self.features[:max(wanted) + 1]):
            x = conv2d(module, x, self.channel_multiple) if isinstance(module, nn.Conv2d) else module(x)
            if i in wanted:
                out[wanted[i]] = x
        return out
