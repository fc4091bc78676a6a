"""Where device, dtype, memory format and compilation are decided: one place, so the GPU
fast path and the CPU reference path run the same training and stylizing code."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from .errors import ConfigError

PRECISIONS = ("fp32", "bf16")


def _flag(value, name: str, auto: bool) -> bool:
    if value in ("auto", None):
        return auto
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1", "yes", "on"):
        return True
    if str(value).lower() in ("false", "0", "no", "off"):
        return False
    raise ConfigError(f"{name} = {value!r}: expected true, false or auto")


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    precision: str = "fp32"
    compile: bool = False
    channels_last: bool = False

    @classmethod
    def resolve(cls, device: str = "auto", precision: str = "auto", compile="auto",
                channels_last="auto") -> "Runtime":
        """`auto`: CUDA when present; there bf16 autocast, channels_last and torch.compile are on
        (each measured to help on an H100); on the CPU they are off (they do not help there)."""
        if device in ("auto", None):
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dev = torch.device(device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"device = {device!r} but CUDA is not available on this machine")
        cuda = dev.type == "cuda"
        if precision in ("auto", None):
            precision = "bf16" if cuda else "fp32"
        if precision not in PRECISIONS:
            raise ConfigError(f"precision = {precision!r}: expected one of {PRECISIONS} or auto")
        return cls(dev, precision, _flag(compile, "compile", cuda), _flag(channels_last, "channels_last", cuda))

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def describe(self) -> str:
        name = torch.cuda.get_device_name(self.device) if self.cuda else "cpu"
        return (f"{name} ({self.device}), {self.precision}, compile={self.compile}, "
                f"channels_last={self.channels_last}")

    def autocast(self):
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def module(self, module: torch.nn.Module) -> torch.nn.Module:
        module = module.to(self.device)
        if self.channels_last:
            module = module.to(memory_format=torch.channels_last)
        return module

    def images(self, batch: torch.Tensor) -> torch.Tensor:
        """uint8 or float (B, 3, H, W) on the host -> float32 0..255 on the device."""
        x = batch.to(self.device, non_blocking=True).float()
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def compiled(self, fn):
        if not self.compile:
            return fn
        if self.cuda:
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        return torch.compile(fn)
