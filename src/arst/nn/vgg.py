"""The frozen VGG loss network, returning post-ReLU features by their true names."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlparse

import torch
import torchvision
from torch import nn

from ..errors import ConfigError, DataError, FetchError
from .ops import conv2d

log = logging.getLogger("arst")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# The ImageNet weights of each loss network: torchvision's, whose entry names the file (its
# address, and in its name a sha256 prefix). Loading, fetching and the workflow all ask here.
IMAGENET_WEIGHTS = {"vgg16": torchvision.models.VGG16_Weights.IMAGENET1K_V1,
                    "vgg19": torchvision.models.VGG19_Weights.IMAGENET1K_V1}
_CONFIGS = {"vgg16": "D", "vgg19": "E"}  # torchvision's names for the two layouts


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


def imagenet_weights(arch: str) -> torchvision.models.WeightsEnum:
    if arch not in IMAGENET_WEIGHTS:
        raise ConfigError(f"unknown loss network {arch!r}; expected one of {', '.join(IMAGENET_WEIGHTS)}")
    return IMAGENET_WEIGHTS[arch]


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
        imagenet_weights(arch)  # a known network
        # The feature layers alone: the full model would also build a 120M-parameter classifier.
        full = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs[_CONFIGS[arch]])
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
