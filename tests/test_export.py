"""`arst export`: both implementations, trained a few steps, as ONNX files that onnxruntime runs
at any size (odd ones too) and at any alpha as torch does, within arst.export.TOLERANCE; the
metadata that names the model; the one line that says what to install when onnx is missing; the
exports cached for stylizing (once per checkpoint file); and the dynamo exporter, the fallback.

Each implementation is trained once for the session (tests/conftest.py's tiny_models) and
exported once, by the module's fixture; the cache's tests reuse its files in place of exporting
(an export costs seconds, a dynamo one ten or more)."""

from __future__ import annotations

import io
import logging
import shutil
import warnings
from collections import Counter

import numpy as np
import pytest
import torch

from arst import export as onnx_export
from arst.checkpoint import load_model
from arst.nn.cin import ConditionalInstanceNorm
from arst.nn.inference import FusedConditionalInstanceNorm
from arst.cli import main as cli
from arst.io import sha256
from arst.recipe import load_recipe
from arst.runtime import Runtime
from arst.stylize import load_stylizer, stylize_tensor

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed: pip install -e '.[onnx]'")


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_models):
    """Each implementation (the session's, trained a few steps at 32 px: tests/conftest.py)
    exported through the verb."""
    root = tmp_path_factory.mktemp("export")
    out = {}
    for name in ("baseline", "corrected"):
        onnx_file = root / f"{name}.onnx"
        assert cli(["export", "--checkpoint", str(tiny_models[name]), "--out", str(onnx_file)]) == 0
        out[name] = (tiny_models[name], onnx_file)
    return out


@pytest.mark.parametrize("name", ["baseline", "corrected"])
def test_onnxruntime_matches_torch_at_an_odd_size_and_two_alphas(exported, name):
    checkpoint, onnx_file = exported[name]
    model, meta = load_model(checkpoint)
    engine = onnx_export.OnnxStylizer.from_file(onnx_file)
    image = torch.rand(1, 3, 37, 53, generator=torch.Generator().manual_seed(0)) * 255
    n = meta["recipe"].n_alpha
    outputs, errors = [], []
    for alpha in (torch.zeros(1, n), torch.tensor([[1.0] + [0.25] * (n - 1)])):
        expected = stylize_tensor(model, image, alpha)
        got = engine(image, alpha)
        assert got.shape == expected.shape == (1, 3, 37, 53)
        errors.append(float((got - expected).abs().max()))
        assert errors[-1] <= onnx_export.TOLERANCE
        outputs.append(got)
    # The two alphas give pictures far further apart than the engines are (else the check would
    # pass an engine that ignored alpha). The baseline's output is small (its last layer starts
    # near 0), so this is relative to the error measured, not to the tolerance.
    assert float((outputs[0] - outputs[1]).abs().max()) > 100 * max(errors)


def test_one_file_runs_any_size_and_batch(exported):
    checkpoint, onnx_file = exported["corrected"]
    model, _ = load_model(checkpoint)
    engine = onnx_export.OnnxStylizer.from_file(onnx_file)
    alpha = torch.tensor([[0.5, 1.0, 0.0]])
    for shape in ((1, 3, 64, 64), (2, 3, 21, 30), (1, 3, 16, 17)):
        image = torch.rand(*shape, generator=torch.Generator().manual_seed(sum(shape))) * 255
        got = engine(image, alpha)
        assert got.shape == shape
        assert float((got - stylize_tensor(model, image, alpha)).abs().max()) <= onnx_export.TOLERANCE


@pytest.mark.parametrize("name", ["baseline", "corrected"])
def test_the_file_holds_the_inference_form(exported, name):
    """nn.inference's rewrites reach the file: one InstanceNormalization per CIN and no chain of
    reductions; no Resize, the upsampling layers' 2x2 phase kernels instead; the output layer's
    convolution gives 4 phases of 3 channels (10x10, stride 2); phases interleaved by
    ConvTranspose."""
    import onnx
    from onnx import numpy_helper
    checkpoint, onnx_file = exported[name]
    model, _ = load_model(checkpoint)
    graph = onnx.load(str(onnx_file)).graph
    ops = Counter(node.op_type for node in graph.node)
    assert ops["InstanceNormalization"] == len(model.stylizer.norm_channels())
    assert ops["Resize"] == ops["ReduceMean"] == ops["DepthToSpace"] == 0
    assert ops["ConvTranspose"] == 3  # the interleaves of the two upsampling layers and the output layer
    shapes = {numpy_helper.to_array(t).shape for t in graph.initializer}
    assert {(4 * 64, 128, 2, 2), (4 * 32, 64, 2, 2), (4 * 3, 32, 10, 10)} <= shapes
    assert not {(64, 128, 3, 3), (3, 32, 9, 9)} & shapes, "the layers as built were exported too"


def test_the_unbiased_norm_follows_the_size_it_runs_at():
    """The baseline's unbiased std scales gamma by sqrt((n - 1) / n): computed in the graph
    from the input's size, not fixed at the traced one (at 2x2 the two differ by 13%)."""
    import onnxruntime

    class Norm(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.norm = FusedConditionalInstanceNorm(ConditionalInstanceNorm(2, 0.0, True))

        def forward(self, x, gamma, beta):
            return self.norm(x, gamma, beta)
    g = torch.Generator().manual_seed(0)
    gamma, beta = torch.rand(1, 2, generator=g) + 0.5, torch.randn(1, 2, generator=g)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Norm(), (torch.randn(1, 2, 8, 8), gamma, beta), buffer, dynamo=False,
                          opset_version=onnx_export.OPSET, input_names=["x", "gamma", "beta"],
                          dynamic_axes={"x": {2: "H", 3: "W"}})
    session = onnxruntime.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    for size in ((2, 2), (5, 3), (8, 8)):
        x = torch.randn(1, 2, *size, generator=g) * 3 + 1
        got = session.run(None, {"x": x.numpy(), "gamma": gamma.numpy(), "beta": beta.numpy()})[0]
        torch.testing.assert_close(torch.from_numpy(got), ConditionalInstanceNorm(2, 0.0, True)(x, gamma, beta),
                                   atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["baseline", "corrected"])
def test_metadata_names_the_model(exported, tiny_models, name):
    checkpoint, onnx_file = exported[name]
    recipe = load_recipe(name)
    values = onnx_export.read_metadata(onnx_file)
    assert set(onnx_export.METADATA_KEYS) <= set(values)
    assert values["implementation"] == name
    assert values["checkpoint_sha256"] == sha256(checkpoint)
    assert values["exported_with"].endswith(f", TorchScript exporter, opset {onnx_export.OPSET}")
    assert values["style_layers"].split(",") == list(recipe.style_layers)
    assert values["loss_network"] == "random(seed=0)"
    assert values["training_steps"] == str(tiny_models["steps"]) and values["seed"] == str(tiny_models["seed"])
    from arst import __version__
    assert values["arst_version"] == __version__


def test_export_without_onnx_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    real = onnx_export.importlib.util.find_spec
    monkeypatch.setattr(onnx_export.importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    assert cli(["export", "--checkpoint", str(tmp_path / "model.pt"), "--out", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["arst export: error: arst export needs onnxruntime, not installed: pip install -e '.[onnx]'"]
    assert not (tmp_path / "m.onnx").exists()


def test_a_missing_checkpoint_is_named(tmp_path, capsys):
    assert cli(["export", "--checkpoint", str(tmp_path / "nope.pt"), "--out", str(tmp_path / "m.onnx")]) == 2
    assert f"checkpoint not found: {tmp_path / 'nope.pt'}" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_a_file_that_is_not_onnx_is_named(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(np.arange(100, dtype=np.uint8).tobytes())
    with pytest.raises(onnx_export.DataError, match="bad.onnx: not a readable ONNX file"):
        onnx_export.read_metadata(bad)


# --------------------------------------------------------------------------- the cache


@pytest.fixture
def counted_export(exported, monkeypatch, tmp_path):
    """A cache of this test's own, and onnx_model replaced by one that counts its calls and
    gives the fixture's export of the corrected model (no export's seconds)."""
    import onnx
    monkeypatch.setenv("ARST_CACHE_DIR", str(tmp_path / "cache"))
    checkpoint, onnx_file = exported["corrected"]
    calls = []

    def onnx_model(model, metadata=None):
        calls.append(metadata)
        return onnx.load(str(onnx_file))
    monkeypatch.setattr(onnx_export, "onnx_model", onnx_model)
    copy = tmp_path / "model.pt"
    shutil.copy(checkpoint, copy)
    return copy, calls


ONNX = Runtime(torch.device("cpu"), engine="onnxruntime")


def test_the_export_is_cached_and_a_changed_checkpoint_exports_again(counted_export, caplog):
    checkpoint, calls = counted_export
    caplog.set_level(logging.INFO, logger="arst")
    first, meta = load_stylizer(checkpoint, ONNX)
    assert len(calls) == 1 and calls[0]["checkpoint_sha256"] == sha256(checkpoint)
    [cached] = (onnx_export.cache_dir() / "onnx").iterdir()
    assert cached == onnx_export.cache_path(sha256(checkpoint)) and cached.name.startswith(sha256(checkpoint))
    assert meta["runtime"].engine == "onnxruntime" and "exported to ONNX in" in caplog.text
    caplog.clear()
    second, meta = load_stylizer(checkpoint, ONNX)
    assert len(calls) == 1, "the second load exported again"
    assert meta["runtime"].engine == "onnxruntime" and f"reused the ONNX export cached in {cached}" in caplog.text
    image, alpha = onnx_export.probe(3)
    assert torch.equal(first(image, alpha), second(image, alpha))
    # The same weights saved anew (another step count): another file, so exported again.
    state = torch.load(checkpoint, weights_only=True)
    torch.save({**state, "step": state["step"] + 1}, checkpoint)
    load_stylizer(checkpoint, ONNX)
    assert len(calls) == 2 and len(list((onnx_export.cache_dir() / "onnx").iterdir())) == 2


def test_the_cache_key_holds_the_arst_and_torch_versions(monkeypatch):
    before = onnx_export.cache_path("0" * 64)
    monkeypatch.setattr(onnx_export.torch, "__version__", "9.9.9")
    assert onnx_export.cache_path("0" * 64) != before
    monkeypatch.undo()
    monkeypatch.setattr(onnx_export, "__version__", "9.9.9")
    assert onnx_export.cache_path("0" * 64) != before


def test_a_broken_cache_file_is_exported_again(counted_export, caplog):
    checkpoint, calls = counted_export
    cached = onnx_export.cache_path(sha256(checkpoint))
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not onnx")
    _, meta = load_stylizer(checkpoint, ONNX)
    assert len(calls) == 1 and meta["runtime"].engine == "onnxruntime"
    assert f"the cached ONNX export {cached} is unreadable" in caplog.text
    assert onnx_export.read_metadata(cached)["implementation"] == "corrected"  # replaced


def test_an_export_over_the_tolerance_is_not_cached_and_stylizes_with_torch(exported, counted_export, monkeypatch,
                                                                           caplog):
    """A cached export that no longer matches its checkpoint (here one weight changed) is
    exported again; an export over the tolerance leaves torch to stylize, and no cache."""
    import onnx
    from onnx import numpy_helper
    checkpoint, calls = counted_export
    wrong = onnx.load(str(exported["corrected"][1]))
    largest = max(wrong.graph.initializer, key=lambda t: numpy_helper.to_array(t).size)
    largest.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(largest) * 1.5, largest.name))
    cached = onnx_export.cache_path(sha256(checkpoint))
    cached.parent.mkdir(parents=True)
    onnx.save(wrong, str(cached))
    monkeypatch.setattr(onnx_export, "onnx_model", lambda model, metadata=None: calls.append(metadata) or wrong)
    model, meta = load_stylizer(checkpoint, ONNX)
    assert len(calls) == 1 and meta["runtime"].engine == "torch"
    assert f"the cached ONNX export {cached} differs from torch by" in caplog.text
    assert f"more than the tolerance {onnx_export.TOLERANCE:g}: stylizing with torch" in caplog.text
    assert not cached.exists()


def test_a_cache_that_cannot_be_written_costs_a_warning(counted_export, monkeypatch, tmp_path, caplog):
    checkpoint, calls = counted_export
    (tmp_path / "a file").write_text("")
    monkeypatch.setenv("ARST_CACHE_DIR", str(tmp_path / "a file"))  # no folder can be made under it
    model, meta = load_stylizer(checkpoint, ONNX)
    assert meta["runtime"].engine == "onnxruntime" and len(calls) == 1
    assert "could not cache the ONNX export" in caplog.text


def test_an_export_that_fails_stylizes_with_torch(counted_export, monkeypatch, caplog):
    checkpoint, _ = counted_export

    def broken(model, metadata=None):
        raise RuntimeError("no exporter takes it")
    monkeypatch.setattr(onnx_export, "onnx_model", broken)
    model, meta = load_stylizer(checkpoint, ONNX)
    assert meta["runtime"].engine == "torch" and isinstance(model(*onnx_export.probe(3)), torch.Tensor)
    assert f"{checkpoint}: could not export to ONNX (RuntimeError: no exporter takes it): stylizing with torch" \
        in caplog.text
    assert not (onnx_export.cache_dir() / "onnx").exists()


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("ARST_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert onnx_export.cache_dir() == tmp_path / "arst"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert onnx_export.cache_dir() == onnx_export.Path.home() / ".cache" / "arst"


def test_without_the_torchscript_exporter_dynamo_exports(exported, monkeypatch, caplog):
    """The fallback for a torch without the TorchScript exporter; the one dynamo export of the
    suite (about 10 s)."""
    def gone(model):
        raise RuntimeError("the TorchScript exporter was removed")
    monkeypatch.setattr(onnx_export, "_torchscript_proto", gone)
    caplog.set_level(logging.INFO, logger="arst")
    model, _ = load_model(exported["corrected"][0])
    proto = onnx_export.onnx_model(model)
    assert "the TorchScript ONNX exporter failed (RuntimeError" in caplog.text
    values = {p.key: p.value for p in proto.metadata_props}
    assert ", dynamo exporter, opset " in values["exported_with"]
    engine = onnx_export.OnnxStylizer(proto.SerializeToString())
    assert engine.max_difference(model) <= onnx_export.TOLERANCE
    image, alpha = torch.rand(2, 3, 21, 30) * 255, torch.tensor([[0.5, 1.0, 0.0]])
    assert float((engine(image, alpha) - stylize_tensor(model, image, alpha)).abs().max()) <= onnx_export.TOLERANCE
