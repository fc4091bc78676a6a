"""Where device, dtype, memory format and compilation are decided: one place, so the GPU
fast path and the CPU reference path run the same training and stylizing code."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import ConfigError

PRECISIONS = ("fp32", "bf16")
# What runs the stylizer at inference: torch itself, or an ONNX export of it in onnxruntime
# (arst.export; fp32 on the CPU only). Training and the losses always run in torch.
ENGINES = ("torch", "onnxruntime")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
_CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")


_HELD_LOCKS = []  # open lock files: each GPU stays claimed until this process exits


def claim_device(device: str | None = "auto", lock_dir: str | os.PathLike | None = None) -> str | None:
    """The device a training or evaluation process should run on: `device` as given, except
    `auto` on a machine with several GPUs (no scheduler chose one), which becomes the first GPU
    no other arst process has claimed, held until this process ends (claim_gpu).

    An explicit step, called by the command line's entry points before Runtime.resolve:
    resolving a runtime claims nothing."""
    if device in ("auto", None) and torch.cuda.is_available() and torch.cuda.device_count() > 1:
        return f"cuda:{claim_gpu(torch.cuda.device_count(), lock_dir) or 0}"
    return device


def claim_gpu(count: int, lock_dir: str | os.PathLike | None = None) -> int | None:
    """The first of `count` GPUs that no other arst process on this machine has claimed.

    Snakemake caps concurrent GPU jobs (`--resources gpu=N`) but never assigns devices; with
    this, N training jobs on an N-GPU machine each take their own GPU. The claim is an
    flock on a file per GPU, released by the kernel when the process ends, even if killed.
    None when every GPU is taken."""
    folder = Path(lock_dir or os.environ.get("ARST_GPU_LOCK_DIR", tempfile.gettempdir()))
    for index in range(count):
        handle = open(folder / f"arst-gpu{index}.lock", "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        _HELD_LOCKS.append(handle)
        return index
    return None


def default_engine(device: torch.device, precision: str, compile: bool, channels_last: bool,
                   channel_multiple: int) -> str:
    """The one place that chooses what stylizes by default: on the CPU, onnxruntime where the
    onnx extra is installed (on the 2-core machine, shared with training jobs: 5.9 and 2.5
    times eager fp32 at 256 and 512 px, ahead of channels_last, 1.2 and 1.1, and
    torch.compile, 0.9 and 2.2, which also compiles anew for every size; within
    arst.export.TOLERANCE of eager, which bf16 autocast is not: `arst bench --device cpu`),
    unless a torch setting was asked for (bf16, compile, channels_last, padded channels);
    otherwise torch, fp32 eager (the gains of channels_last, measured under load, are within
    the noise). Whether a given model's export stays within the tolerance is checked when it is loaded
    (stylize.load_stylizer), which falls back to torch if not."""
    from .export import onnx_available
    if device.type == "cpu" and precision == "fp32" and not compile and not channels_last \
            and channel_multiple == 1 and onnx_available():
        return "onnxruntime"
    return "torch"


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
    # torch.compile's mode; None: "reduce-overhead" (CUDA graphs) on CUDA, where a step's
    # hundreds of kernels are shorter than their launches (training 256x256 batch 8 on an
    # H200: 742 img/s with CUDA graphs, 364 without), "default" elsewhere.
    compile_mode: str | None = None
    # Convolutions' channel counts padded to this multiple (nn.ops.conv2d); 1: none. Off
    # by default everywhere until a GPU run measures it (`arst bench --channel-multiple 8`).
    # The networks are built with it (build_model, load_model, Objective.for_recipe).
    channel_multiple: int = 1
    engine: str = "torch"  # ENGINES; resolve's `auto` is default_engine's choice

    def __post_init__(self):
        if self.engine not in ENGINES:
            raise ConfigError(f"engine = {self.engine!r}: expected one of {ENGINES} or auto")
        if self.engine == "onnxruntime" and (self.cuda or self.precision != "fp32" or self.compile
                                            or self.channels_last or self.channel_multiple != 1):
            raise ConfigError("engine = onnxruntime runs the model in fp32 on the CPU: it takes no CUDA "
                              "device, bf16, compile, channels_last or channel_multiple (use engine torch)")
        if self.compile_mode not in (None, *COMPILE_MODES):
            raise ConfigError(f"compile_mode = {self.compile_mode!r}: expected one of "
                              f"{COMPILE_MODES} or auto")
        if isinstance(self.channel_multiple, bool) or not isinstance(self.channel_multiple, int) \
                or not 1 <= self.channel_multiple <= 64:
            raise ConfigError(f"channel_multiple = {self.channel_multiple!r}: expected an integer "
                              f"from 1 (no padding) to 64, or auto")

    @classmethod
    def resolve(cls, device: str = "auto", precision: str = "auto", compile="auto",
                channels_last="auto", compile_mode: str | None = "auto",
                channel_multiple="auto", engine: str = "torch") -> "Runtime":
        """`auto`: CUDA when present; there bf16 autocast, channels_last and torch.compile are on
        (each measured to help on an H100); on the CPU they are off (they do not help there).
        `engine` auto: default_engine's choice (stylizing verbs ask for it; training cannot use
        onnxruntime, so the default here is torch)."""
        if device in ("auto", None):
            device = "cuda" if torch.cuda.is_available() else "cpu"  # which GPU: claim_device
        dev = torch.device(device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"device = {device!r} but CUDA is not available on this machine")
        cuda = dev.type == "cuda"
        if precision in ("auto", None):
            precision = "bf16" if cuda else "fp32"
        if precision not in PRECISIONS:
            raise ConfigError(f"precision = {precision!r}: expected one of {PRECISIONS} or auto")
        if channel_multiple in ("auto", None):
            channel_multiple = 1
        elif isinstance(channel_multiple, str) and channel_multiple.strip().isdigit():
            channel_multiple = int(channel_multiple)
        compile, channels_last = _flag(compile, "compile", cuda), _flag(channels_last, "channels_last", cuda)
        if engine in ("auto", None):
            engine = default_engine(dev, precision, compile, channels_last, channel_multiple)
        return cls(dev, precision, compile, channels_last,
                   None if compile_mode in ("auto", None) else compile_mode, channel_multiple, engine)

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def describe(self) -> str:
        """The device and engine, as every log line that states the runtime says them."""
        name = torch.cuda.get_device_name(self.device) if self.cuda else "cpu"
        where = f"{name} ({self.device}{'' if self.cuda else f', {torch.get_num_threads()} threads'})"
        if self.engine == "onnxruntime":
            import onnxruntime
            return f"{where}, onnxruntime {onnxruntime.__version__} (the model exported to ONNX), fp32"
        mode = f" ({self.default_mode})" if self.compile else ""
        padded = f", channels padded to {self.channel_multiple}" if self.channel_multiple > 1 else ""
        return (f"{where}, torch {self.precision}, compile={self.compile}{mode}, "
                f"channels_last={self.channels_last}{padded}")

    @property
    def default_mode(self) -> str:
        return self.compile_mode or ("reduce-overhead" if self.cuda else "default")

    def synchronize(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def autocast(self):
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def module(self, module: torch.nn.Module) -> torch.nn.Module:
        """`module` on this device, in this memory format. Channel padding is the module's own,
        given when it is built (build_model, load_model, Objective.for_recipe)."""
        module = module.to(self.device)
        if self.channels_last:
            module = module.to(memory_format=torch.channels_last)
        return module

    def upload(self, tensor: torch.Tensor) -> torch.Tensor:
        """Host -> device without a host sync: a blocking copy (or one from pageable memory)
        waits for the whole GPU queue, and a training step that waits each time starves it."""
        if self.cuda and tensor.device.type == "cpu":
            tensor = tensor.pin_memory()
        return tensor.to(self.device, non_blocking=True)

    def images(self, batch: torch.Tensor) -> torch.Tensor:
        """uint8 or float (B, 3, H, W), host or device -> float32 0..255 on the device."""
        layout = torch.channels_last if self.channels_last else torch.preserve_format
        return self.upload(batch).to(dtype=torch.float32, memory_format=layout)

    @contextlib.contextmanager
    def backend_flags(self):
        """On the CUDA bf16 path: cuDNN picks its convolutions by timing them (the shapes are
        fixed), and fp32 matrix products run as TF32. That costs no precision here: the only
        fp32 products under autocast are the Grams of bf16 features (losses.gram), exact in
        TF32 (bf16's 8 significant bits fit in its 11), and their backward, whose results are
        rounded to bf16 gradients anyway. Scoped, so an fp32 path in the same process (the
        as-shipped one, the numerics reference) keeps PyTorch's defaults."""
        if not (self.cuda and self.precision == "bf16"):
            yield
            return
        saved = torch.get_float32_matmul_precision(), torch.backends.cudnn.benchmark
        torch.set_float32_matmul_precision("high")
        torch.backends.cudnn.benchmark = True
        try:
            yield
        finally:
            torch.set_float32_matmul_precision(saved[0])
            torch.backends.cudnn.benchmark = saved[1]

    @property
    def cuda_graphs(self) -> bool:
        return self.compile and self.cuda and self.default_mode in _CUDA_GRAPH_MODES

    def compiled(self, fn):
        """`fn` through torch.compile when compiling. Static shapes: a training run has one
        shape, and a stylizing run a few, each worth its own specialised graph."""
        if not self.compile:
            return fn
        return torch.compile(fn, mode=self.default_mode, dynamic=False)

    def step_begin(self) -> None:
        """Tell CUDA graphs a new step starts, so replaying may overwrite the last one's outputs."""
        if self.cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()

    def inference(self, model: torch.nn.Module):
        """`model` as stylizing calls it, model(images, alpha), on this runtime's fast path:
        compiled, by default as CUDA graphs, which replay a frame's hundred-odd kernels as one
        launch. A CUDA graph's output is overwritten by its next replay, so it is cloned.
        With the onnxruntime engine: the model exported (arst.export.OnnxStylizer; unchecked
        and uncached here: stylize.load_stylizer loads a checkpoint's export from the cache and
        checks it against torch)."""
        model.eval()
        if self.engine == "onnxruntime":
            from .export import OnnxStylizer
            return OnnxStylizer.from_model(model)
        run = self.compiled(model)

        def stylize(images: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
            with self.backend_flags():
                self.step_begin()
                out = run(images, alpha)
                return out.clone() if self.cuda_graphs else out
        return stylize
