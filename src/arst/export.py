"""A trained model as an ONNX file, and onnxruntime as a stylizing engine.

The file's inputs are `image`, float32 (N, 3, H, W) in 0..255 with any N, H and W (odd sizes
included: the graph pads and cuts as nn.model.any_size does), and `alpha`, float32 (1, n), one
weight per style layer, for the whole batch; its output `stylized` is (N, 3, H, W) on the same
0..255 scale, unclamped, exactly what `arst stylize` computes before it saves. Its
metadata_props say which model it is (METADATA_KEYS).

Exporter: the TorchScript one (torch.onnx.export(dynamo=False)) first, torch.export's
(dynamo=True) if it fails (onnx_model). Measured on this torch (2.14, 2 busy cores), both
recipes: the TorchScript exporter took 1.6-3 s, the dynamo one 13-17 s; their files agree within
0.0005 grey levels at 37x53, 64x64, 21x30 (batch 2), 16x17, 255x257 and 40x41, each within
0.0013 of torch. Dynamo is torch's future path, but the TorchScript one is only deprecated
(a DeprecationWarning since torch 2.9, still present), needs no onnxscript, and its speed is
what a first start and the test suite pay. Its one risk, a traced size fixed into the graph,
is checked: the file is traced at EXAMPLE_SIZE and checked at PROBE_SIZE, whose padding
differs, when it is written (export) and whenever it is loaded (checked_stylizer). Its warnings
are known and silenced (_torchscript_proto). When it is gone from torch, the fallback is dynamo.

Graph: the model's inference form (nn.inference.inference_form), which computes the same with
fewer multiplications and memory passes in onnxruntime: the upsampling layers as sub-pixel
convolutions, the 3-channel output layer as a stride-2 convolution per output phase, each
conditional instance norm as one InstanceNormalization node. On the 2-core machine, a trained
corrected model's run took 0.78 and 0.76 of the layers as built at 256 and 512 px (`arst
explore --bench`, A/B under the same load; the rewrites' reasons: nn.inference's docstring).

Cache: stylizing with onnxruntime (stylize.load_stylizer) exports once per checkpoint file,
into cache_dir()/onnx/<sha256 of the checkpoint>-<arst, torch and format versions>.onnx, written
atomically and only after it passed the check; later starts reuse it. Not beside the
checkpoint: in the workflow a model.pt is a write-protected output whose folder also holds
model.onnx, the declared output of rule export_onnx, which a cache there would pre-empt (or
race); and a checkpoint may sit in a folder this process cannot write. Keyed by content, a
changed checkpoint never meets a stale export, and copies of one checkpoint share it.

Tolerance: TOLERANCE, the largest difference allowed between onnxruntime's output and torch's
(fp32 eager), in grey levels of 255. Measured on the default's corrected model (onnxruntime
fuses and reorders the same fp32 arithmetic): 0.001 at 37x53, 0.002 at 256x256, 0.004 at
512x512, 0.03 at 1920x1080 (the instance norms' sums grow with the picture: larger pictures
may exceed it). A corrected model trained 2,000 steps differs more at 1920x1080, 0.14 to 0.26
(the same before and after the inference form): the check at PROBE_SIZE does not bound what a
picture of millions of pixels gets. A saved picture is rounded to whole grey levels, so 0.05 changes at most the
rare pixel that sits on a rounding edge, by one level.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import logging
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import __version__
from .errors import DataError, MissingDependency
from .io import atomic_path, sha256
from .nn.inference import inference_form
from .nn.model import AdjustableStyleTransfer, any_size

log = logging.getLogger("arst")

INSTALL = "pip install -e '.[onnx]'"
# onnx and onnxruntime to write and run the file; onnxscript for the dynamo exporter.
PACKAGES = ("onnx", "onnxruntime", "onnxscript")
TOLERANCE = 0.05  # grey levels of 255: max |onnxruntime - torch| (see the module's docstring)
# An odd size, so that the check before use meets the padding and the cut too.
PROBE_SIZE = (37, 53)
# The size the graph is traced at: padded by 0 and 2 where PROBE_SIZE is padded by 3 and 3, so
# that the check shows the graph pads by its input's size, not by the example's.
EXAMPLE_SIZE = (32, 46)
OPSET = 18
# Part of the cache's key (cache_path): raise it when the exported graph changes (2: the
# inference form, nn.inference).
CACHE_FORMAT = 2
INPUTS, OUTPUT = ("image", "alpha"), "stylized"
METADATA_KEYS = ("implementation", "style_layers", "default_alpha", "loss_network", "training_steps",
                 "seed", "checkpoint_sha256", "arst_version", "exported_with", "tolerance", "inputs",
                 "output")


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
    """The model as the ONNX file runs it: any height and width (nn.model.any_size)."""

    def __init__(self, model: AdjustableStyleTransfer):
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        return any_size(self.model, image, alpha)


@contextlib.contextmanager
def _quiet(*names: str, level: int = logging.WARNING):
    """The exporter's optimiser logs a line per merged constant at INFO (hundreds a model):
    warnings only (`level` and above) while it runs."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(level)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def probe(n_alpha: int, seed: int = 0, size: tuple[int, int] = PROBE_SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, *size, generator=g) * 255, torch.rand(1, n_alpha, generator=g)


def _torchscript_proto(model: AdjustableStyleTransfer):
    """The TorchScript exporter's graph. Its warnings, silenced, are known: its deprecation;
    TracerWarnings at the branches on channel counts (nn.ops.conv2d) and on alpha's length
    (model.forward), fixed for a given model; 'Constant folding ... Slice' at the cut to
    the input's size, which stays a graph op, as it must; and 'instance_norm is set to
    train=True', which is how F.instance_norm without running statistics normalises by the
    input's own (nn.inference.FusedConditionalInstanceNorm), as meant."""
    import onnx
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message="Constant folding", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*'instance_norm' is set to train=True", category=UserWarning)
        torch.onnx.export(
            AnySize(model).eval(), probe(model.n_alpha, size=EXAMPLE_SIZE), buffer, dynamo=False,
            opset_version=OPSET, input_names=list(INPUTS), output_names=[OUTPUT],
            # Batch, height and width symbolic; alpha is (1, n): one setting for the batch.
            dynamic_axes={"image": {0: "N", 2: "H", 3: "W"}, OUTPUT: {0: "N", 2: "H", 3: "W"}})
    return onnx.load_from_string(buffer.getvalue())


def _dynamo_proto(model: AdjustableStyleTransfer):
    """torch.export's graph (needs onnxscript): the fallback."""
    dynamic = torch.export.Dim.DYNAMIC
    with _quiet("onnxscript", "onnx_ir"):
        program = torch.onnx.export(
            AnySize(model).eval(), probe(model.n_alpha, size=EXAMPLE_SIZE), dynamo=True, verbose=False,
            input_names=list(INPUTS), output_names=[OUTPUT],
            dynamic_shapes={"image": {0: dynamic, 2: dynamic, 3: dynamic}, "alpha": None})
    return program.model_proto


def onnx_model(model: AdjustableStyleTransfer, metadata: dict[str, str] | None = None):
    """`model` (fp32, on the CPU) as an onnx ModelProto, with `metadata` and `exported_with` in
    its metadata_props: by the TorchScript exporter, or dynamo's where that one fails (see the
    module's docstring)."""
    require_onnx()
    # The form that computes the same with less work in onnxruntime (nn.inference's docstring).
    model = inference_form(model.float().cpu().eval())
    began = time.perf_counter()
    with torch.no_grad():
        try:
            exporter, proto = "TorchScript", _torchscript_proto(model)
        except Exception as exc:  # noqa: BLE001 - removed or broken in this torch: the other one
            log.info("the TorchScript ONNX exporter failed (%s: %s): exporting with dynamo",
                     type(exc).__name__, exc)
            exporter, proto = "dynamo", _dynamo_proto(model)
    opset = max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=0)
    values = {**(metadata or {}), "exported_with": f"torch {torch.__version__}, {exporter} exporter, opset {opset}"}
    for key, value in values.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    log.debug("exported to ONNX (%s exporter) in %.1f s", exporter, time.perf_counter() - began)
    return proto


def metadata(meta: dict[str, Any], checkpoint_sha256: str = "unknown") -> dict[str, str]:
    """What an exported file says about its model (METADATA_KEYS, but exported_with, which
    onnx_model adds), from the checkpoint's metadata (checkpoint.load_model) and file's hash."""
    recipe = meta["recipe"]
    return {"implementation": recipe.name, "style_layers": ",".join(recipe.style_layers),
            "default_alpha": ",".join(f"{a:g}" for a in recipe.default_alpha),
            "loss_network": str(meta.get("loss_net", "unknown")),
            "training_steps": str(meta.get("step", "unknown")), "seed": str(meta.get("seed", "unknown")),
            "checkpoint_sha256": checkpoint_sha256, "arst_version": __version__,
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
        self._proto_bytes = proto_bytes

    @property
    def proto(self):
        """The model this session runs, as an onnx ModelProto."""
        import onnx
        return onnx.load_from_string(self._proto_bytes)

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
    proto = onnx_model(model, metadata(meta, sha256(checkpoint)))
    difference = OnnxStylizer(proto.SerializeToString()).max_difference(model)
    if not difference <= TOLERANCE:  # NaN too
        raise DataError(f"{checkpoint}: onnxruntime's output differs from torch's by {difference:.4g} grey "
                        f"levels, more than the tolerance {TOLERANCE:g}; nothing written to {out}")
    with atomic_path(out) as tmp:
        onnx.save(proto, str(tmp))
    return {"metadata": {p.key: p.value for p in proto.metadata_props}, "max_difference": difference,
            "bytes": Path(out).stat().st_size}


def cache_dir() -> Path:
    """Where arst caches what it derives from files: $ARST_CACHE_DIR, else $XDG_CACHE_HOME/arst,
    else ~/.cache/arst."""
    if os.environ.get("ARST_CACHE_DIR"):
        return Path(os.environ["ARST_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "arst"


def cache_path(checkpoint_sha256: str, variant: str = "") -> Path:
    """The cached export of the checkpoint whose file has this sha256, by this arst and torch
    (`variant`: "int8", the preview's quantized form)."""
    versions = hashlib.sha256(f"{__version__}|{torch.__version__}|{CACHE_FORMAT}".encode()).hexdigest()
    return cache_dir() / "onnx" / f"{checkpoint_sha256}-{versions[:12]}{'-' + variant if variant else ''}.onnx"


def checked_stylizer(checkpoint: str | Path, model: AdjustableStyleTransfer, meta: dict[str, Any],
                     threads: int | None = None) -> tuple[OnnxStylizer | None, float, str]:
    """`checkpoint`'s model (`model`, `meta`: load_model's) in onnxruntime, its largest
    difference to torch at PROBE_SIZE (max_difference), and how it came (reused from the cache,
    or exported). Exported only when the cache has no export of this checkpoint file that is
    within TOLERANCE; an export within it is written to the cache (atomically; a cache that
    cannot be written costs a warning and the next start's export). None, and why, when the
    export is not within TOLERANCE or fails: the caller stylizes with torch."""
    digest = sha256(checkpoint)
    path = cache_path(digest)
    if path.is_file():
        try:
            engine = OnnxStylizer.from_file(path, threads)
            difference = engine.max_difference(model)
        except Exception as exc:  # noqa: BLE001 - a foreign or broken file: export anew
            log.warning("%s: the cached ONNX export %s is unreadable (%s): exporting again", checkpoint, path, exc)
        else:
            if difference <= TOLERANCE:
                return engine, difference, f"reused the ONNX export cached in {path}"
            log.warning("%s: the cached ONNX export %s differs from torch by %.3g grey levels: exporting again",
                        checkpoint, path, difference)
        with contextlib.suppress(OSError):  # not to meet it again if this export fails too
            path.unlink()
    began = time.perf_counter()
    try:
        data = onnx_model(model, metadata(meta, digest)).SerializeToString()
        engine = OnnxStylizer(data, threads)
        difference = engine.max_difference(model)
    except Exception as exc:  # noqa: BLE001 - neither exporter, or onnxruntime, takes it: torch runs it
        return None, float("nan"), f"could not export to ONNX ({type(exc).__name__}: {exc})"
    if not difference <= TOLERANCE:  # NaN too
        return None, difference, (f"onnxruntime's output differs from torch's by {difference:.3g} grey levels, "
                                  f"more than the tolerance {TOLERANCE:g}")
    try:
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
        cached = f"cached in {path}"
    except OSError as exc:
        log.warning("%s: could not cache the ONNX export in %s (%s): the next start exports again",
                    checkpoint, path, exc)
        cached = "not cached"
    return engine, difference, f"exported to ONNX in {time.perf_counter() - began:.1f} s, {cached}"


# The preview, for the live explorer while a slider moves (the exact fp32 picture replaces it
# when the slider stops; nothing saved or evaluated ever uses it): the exported graph with its
# convolutions in int8, by onnxruntime's static quantization (QDQ; weights per output channel;
# activations per tensor, each range the 99.999th percentile of its values on calibration
# photos, which gave 2.9-3.6 mean grey levels from fp32 where min-max gave 3.8-4.9). Measured on
# the 2-core machine (AVX-512 VNNI) with a corrected model trained 1,000 steps, at 256 px under
# the same load: 141-163 ms per frame against fp32's 315-364; its pictures 3.4-3.6 grey levels
# from fp32 on average (at a single alpha: 99th percentile 15, largest 47, at the texture's
# edges), which the eye does not tell apart side by side.
# The largest mean |int8 - fp32| over CHECK_PHOTO's settings a preview may have, in grey levels
# of 255: room above that model's 3.6 for models trained otherwise.
PREVIEW_TOLERANCE = 6.0
CALIBRATION_PHOTOS = ("coffee", "rocket", "motorcycle_left")  # the offline default's training photos
CHECK_PHOTO = "astronaut"  # not among them: an evaluation photo
# The calibration's pictures are 128 px squares, the check's 256 (the live page's size on a CPU):
# calibrated at 128 that model was as near (3.4 grey levels) as at 256 (3.6), in 3.7 s, not 11.9.
CALIBRATION_SIZE, CHECK_SIZE = 128, 256


def _preview_inputs(n_alpha: int, photos: tuple[str, ...], size: int) -> list[dict[str, np.ndarray]]:
    """Feeds of `photos` (embedded, their centre as a `size` square) at all ones, each one-hot, all zeros."""
    from PIL import Image, ImageOps

    from .data.embedded import sample_photo
    alphas = [np.ones((1, n_alpha), np.float32), *np.eye(n_alpha, dtype=np.float32)[:, None],
              np.zeros((1, n_alpha), np.float32)]
    feeds = []
    for name in photos:
        # Square (the centre, shrunk): one shape, which the calibrators other than min-max need.
        image = ImageOps.fit(Image.fromarray(sample_photo(name)), (size, size), Image.Resampling.LANCZOS)
        pixels = np.asarray(image, dtype=np.float32).transpose(2, 0, 1)[None].copy()
        feeds += [{"image": pixels, "alpha": a} for a in alphas]
    return feeds


def quantized(proto) -> bytes:
    """`proto` (an exported model) with its convolutions in int8, calibrated on
    CALIBRATION_PHOTOS at every corner of alpha (all ones, each one-hot, all zeros)."""
    import tempfile

    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    n_alpha = next(i for i in proto.graph.input if i.name == "alpha").type.tensor_type.shape.dim[1].dim_value

    class Photos(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter(_preview_inputs(n_alpha, CALIBRATION_PHOTOS, CALIBRATION_SIZE))

        def get_next(self):
            return next(self.feeds, None)

    with tempfile.TemporaryDirectory(prefix="arst-int8-") as tmp:
        source, target = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(proto, str(source))
        # The quantizer warns on the root logger of what is known and harmless here: biases that
        # the conditioner computes (not initializers: left in fp32) and that the graph was not
        # pre-processed (shape inference: the graph's sizes are symbolic by design).
        # It also prints its calibration's progress: not on our standard output.
        with _quiet("root", level=logging.ERROR), contextlib.redirect_stdout(io.StringIO()):
            quantize_static(str(source), str(target), Photos(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            op_types_to_quantize=["Conv", "ConvTranspose"],
                            calibrate_method=CalibrationMethod.Percentile)
        return target.read_bytes()


def preview_difference(preview: OnnxStylizer, exact: OnnxStylizer, n_alpha: int) -> float:
    """The largest mean |preview - exact| (pictures clamped to 0..255, as shown) over CHECK_PHOTO
    (a CHECK_SIZE square) at all ones, each one-hot and all zeros, in grey levels of 255."""
    worst = 0.0
    for feed in _preview_inputs(n_alpha, (CHECK_PHOTO,), CHECK_SIZE):
        image, alpha = torch.from_numpy(feed["image"]), torch.from_numpy(feed["alpha"])
        worst = max(worst, float((preview(image, alpha).clamp(0, 255) - exact(image, alpha).clamp(0, 255))
                                 .abs().mean()))
    return worst


def preview_stylizer(checkpoint: str | Path, exact: OnnxStylizer, n_alpha: int, threads: int | None = None
                     ) -> tuple[OnnxStylizer | None, float, str]:
    """The int8 preview of `checkpoint`'s model (`exact`: its checked fp32 engine), its
    preview_difference, and how it came (reused from the cache, or quantized now); None and why
    when it is not within PREVIEW_TOLERANCE or cannot be made: the caller previews with the
    exact engine. A quantized model is cached (atomically, keyed as cache_path) whether or not
    it passes, so that a model over the tolerance costs its check at each start, not a new
    calibration; the check is made at every load."""
    path = cache_path(sha256(checkpoint), "int8")
    began = time.perf_counter()
    try:
        if path.is_file():
            data, how = path.read_bytes(), f"reused the int8 preview cached in {path}"
        else:
            data = quantized(exact.proto)
            how = f"quantized to int8 in {time.perf_counter() - began:.1f} s"
            try:
                with atomic_path(path) as tmp:
                    tmp.write_bytes(data)
                how += f", cached in {path}"
            except OSError as exc:
                how += f", not cached ({exc})"
        engine = OnnxStylizer(data, threads)
        difference = preview_difference(engine, exact, n_alpha)
    except Exception as exc:  # noqa: BLE001 - an onnxruntime without the quantizer, a broken file
        with contextlib.suppress(OSError):
            path.unlink()
        return None, float("nan"), f"no int8 preview ({type(exc).__name__}: {exc})"
    if not difference <= PREVIEW_TOLERANCE:  # NaN too
        return None, difference, (f"the int8 preview differs from fp32 by {difference:.3g} grey levels on average, "
                                  f"more than its tolerance {PREVIEW_TOLERANCE:g}")
    return engine, difference, how
