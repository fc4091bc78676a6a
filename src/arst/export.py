"""A trained model as an ONNX file, and onnxruntime as a stylizing engine.

The file's inputs are `image`, float32 (N, 3, H, W) in 0..255 with any N, H and W (odd sizes
included: the graph pads and cuts as stylize.any_size does), and `alpha`, float32 (1, n), one
weight per style layer, for the whole batch; its output `stylized` is (N, 3, H, W) on the same
0..255 scale, unclamped, exactly what `arst stylize` computes before it saves. Its
metadata_props say which model it is (METADATA_KEYS).

Exporter: torch.onnx.export(dynamo=True), torch.export's graph. It is the default exporter of
this torch (2.14), exports the height and width as symbolic (torch.export.Dim.DYNAMIC) with
the padding to a multiple of 4 a function of them, and needs onnxscript. The TorchScript
exporter (dynamo=False) also exports this model with dynamic height and width, and faster
(about 1 s against 10 s on 2 cores), but it warns that it is deprecated since torch 2.9.

Tolerance: TOLERANCE, the largest difference allowed between onnxruntime's output and torch's
(fp32 eager), in grey levels of 255. Measured on the default's corrected model (onnxruntime
fuses and reorders the same fp32 arithmetic): 0.001 at 37x53, 0.002 at 256x256, 0.004 at
512x512, 0.03 at 1920x1080 (the instance norms' sums grow with the picture: larger pictures
may exceed it). A saved picture is rounded to whole grey levels, so 0.05 changes at most the
rare pixel that sits on a rounding edge, by one level.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import __version__
from .errors import DataError, MissingDependency
from .io import atomic_path
from .nn.model import AdjustableStyleTransfer
from .stylize import any_size

log = logging.getLogger("arst")

INSTALL = "pip install -e '.[onnx]'"
# onnx and onnxruntime to write and run the file; onnxscript for the dynamo exporter.
PACKAGES = ("onnx", "onnxruntime", "onnxscript")
TOLERANCE = 0.05  # grey levels of 255: max |onnxruntime - torch| (see the module's docstring)
# An odd size, so that the check before use meets the padding and the cut too.
PROBE_SIZE = (37, 53)
INPUTS, OUTPUT = ("image", "alpha"), "stylized"
METADATA_KEYS = ("implementation", "style_layers", "default_alpha", "loss_network", "training_steps",
                 "seed", "arst_version", "exported_with", "tolerance", "inputs", "output")


def missing_packages() -> list[str]:
    return [name for name in PACKAGES if importlib.util.find_spec(name) is None]


def onnx_available() -> bool:
    return not missing_packages()


def require_onnx(what: str = "arst export") -> None:
    """Raise MissingDependency, one line saying how to install them, when a package is missing."""
    missing = missing_packages()
    if missing:
        raise MissingDependency(f"{what} needs {', '.join(missing)}, not installed: {INSTALL}")


class AnySize(nn.Module):
    """The model as the ONNX file runs it: any height and width (stylize.any_size)."""

    def __init__(self, model: AdjustableStyleTransfer):
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        return any_size(self.model, image, alpha)


@contextlib.contextmanager
def _quiet(*names: str):
    """The exporter's optimiser logs a line per merged constant at INFO (hundreds a model):
    warnings only while it runs."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def probe(n_alpha: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, *PROBE_SIZE, generator=g) * 255, torch.rand(1, n_alpha, generator=g)


def onnx_model(model: AdjustableStyleTransfer, metadata: dict[str, str] | None = None):
    """`model` (fp32, on the CPU) as an onnx ModelProto, with `metadata` in its metadata_props."""
    require_onnx()
    model = model.float().cpu().eval()
    dynamic = torch.export.Dim.DYNAMIC
    began = time.perf_counter()
    with torch.no_grad(), _quiet("onnxscript", "onnx_ir"):
        program = torch.onnx.export(
            AnySize(model).eval(), probe(model.n_alpha), dynamo=True, verbose=False,
            input_names=list(INPUTS), output_names=[OUTPUT],
            # Batch, height and width symbolic; alpha is (1, n): one setting for the batch.
            dynamic_shapes={"image": {0: dynamic, 2: dynamic, 3: dynamic}, "alpha": None})
    proto = program.model_proto
    for key, value in (metadata or {}).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    log.debug("exported to ONNX in %.1f s", time.perf_counter() - began)
    return proto


def metadata(meta: dict[str, Any]) -> dict[str, str]:
    """What an exported file says about its model (METADATA_KEYS), from the checkpoint's
    metadata (checkpoint.load_model)."""
    recipe = meta["recipe"]
    return {"implementation": recipe.name, "style_layers": ",".join(recipe.style_layers),
            "default_alpha": ",".join(f"{a:g}" for a in recipe.default_alpha),
            "loss_network": str(meta.get("loss_net", "unknown")),
            "training_steps": str(meta.get("step", "unknown")), "seed": str(meta.get("seed", "unknown")),
            "arst_version": __version__, "exported_with": f"torch {torch.__version__}",
            "tolerance": f"max |onnxruntime - torch fp32| <= {TOLERANCE:g} of 255",
            "inputs": "image: float32 (N, 3, H, W) in 0..255, any N, H, W; alpha: float32 (1, n), "
                      "one weight per style layer in style_layers' order",
            "output": "stylized: float32 (N, 3, H, W), 0..255 scale, unclamped"}


def read_metadata(path: str | Path) -> dict[str, str]:
    require_onnx("reading an ONNX file")
    import onnx
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - a missing or foreign file: say which
        raise DataError(f"{path}: not a readable ONNX file ({exc})") from exc
    return {p.key: p.value for p in proto.metadata_props}


class OnnxStylizer:
    """An ONNX model in an onnxruntime session, called as the torch model is (images, alpha:
    torch tensors on the CPU -> a torch tensor), so stylize_tensor runs either."""

    def __init__(self, proto_bytes: bytes, threads: int | None = None):
        require_onnx("the onnxruntime engine")
        import onnxruntime
        options = onnxruntime.SessionOptions()
        # torch's thread count, so that both engines use the CPUs they are given (--threads).
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        self.threads = options.intra_op_num_threads
        self.session = onnxruntime.InferenceSession(proto_bytes, options, providers=["CPUExecutionProvider"])

    @classmethod
    def from_model(cls, model: AdjustableStyleTransfer, threads: int | None = None) -> "OnnxStylizer":
        return cls(onnx_model(model).SerializeToString(), threads)

    @classmethod
    def from_file(cls, path: str | Path, threads: int | None = None) -> "OnnxStylizer":
        return cls(Path(path).read_bytes(), threads)

    def __call__(self, images: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        feed = {"image": np.ascontiguousarray(images.detach().float().cpu().numpy()),
                "alpha": np.ascontiguousarray(alpha.detach().float().cpu().reshape(1, -1).numpy())}
        return torch.from_numpy(self.session.run([OUTPUT], feed)[0])

    def max_difference(self, model: AdjustableStyleTransfer, alphas: list[torch.Tensor] | None = None) -> float:
        """The largest |onnxruntime - torch fp32 eager| over the probe picture (odd-sized) at
        each of `alphas` (default: a random one and all ones), in grey levels of 255."""
        image, alpha = probe(model.n_alpha)
        worst = 0.0
        with torch.no_grad():
            for a in alphas or [alpha, torch.ones_like(alpha)]:
                expected = any_size(model.float().cpu().eval(), image, a)
                worst = max(worst, float((self(image, a) - expected).abs().max()))
        return worst


def export(checkpoint: str | Path, out: str | Path) -> dict[str, Any]:
    """Write `checkpoint`'s model to `out` (ONNX, atomically) after checking that onnxruntime
    runs it within TOLERANCE of torch. Returns the file's metadata and the measured difference."""
    from .checkpoint import load_model
    require_onnx()
    import onnx
    model, meta = load_model(checkpoint)
    proto = onnx_model(model, metadata(meta))
    difference = OnnxStylizer(proto.SerializeToString()).max_difference(model)
    if not difference <= TOLERANCE:  # NaN too
        raise DataError(f"{checkpoint}: onnxruntime's output differs from torch's by {difference:.4g} grey "
                        f"levels, more than the tolerance {TOLERANCE:g}; nothing written to {out}")
    with atomic_path(out) as tmp:
        onnx.save(proto, str(tmp))
    return {"metadata": {p.key: p.value for p in proto.metadata_props}, "max_difference": difference,
            "bytes": Path(out).stat().st_size}
