"""`arst export`: both implementations, trained a few steps, as ONNX files that onnxruntime runs
at any size (odd ones too) and at any alpha as torch does, within arst.export.TOLERANCE; the
metadata that names the model; and the one line that says what to install when onnx is missing."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from arst import export as onnx_export
from arst.checkpoint import load_model
from arst.cli import main as cli
from arst.recipe import load_recipe
from arst.stylize import stylize_tensor
from arst.train import train

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed: pip install -e '.[onnx]'")

TRAIN_STEPS = 2


@pytest.fixture(scope="module")
def exported(tmp_path_factory, shared_images):
    """Each implementation trained TRAIN_STEPS steps at 32 px and exported through the verb."""
    root = tmp_path_factory.mktemp("export")
    content = root / "content"
    content.mkdir()
    for name in ("amber.jpg", "candy.jpg"):
        shutil.copy(shared_images / name, content / name)
    out = {}
    for name in ("baseline", "corrected"):
        model = train(content, shared_images / "mosaic.jpg", root / name, load_recipe(name, style_size=64),
                      steps=TRAIN_STEPS, seed=3, batch_size=2, image_size=32, progress=False)
        onnx_file = root / f"{name}.onnx"
        assert cli(["export", "--checkpoint", str(model), "--out", str(onnx_file)]) == 0
        out[name] = (model, onnx_file)
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
def test_metadata_names_the_model(exported, name):
    checkpoint, onnx_file = exported[name]
    recipe = load_recipe(name)
    values = onnx_export.read_metadata(onnx_file)
    assert set(onnx_export.METADATA_KEYS) <= set(values)
    assert values["implementation"] == name
    assert values["style_layers"].split(",") == list(recipe.style_layers)
    assert values["loss_network"] == "random(seed=0)"
    assert values["training_steps"] == str(TRAIN_STEPS) and values["seed"] == "3"
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
