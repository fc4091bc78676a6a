"""`arst bench` end to end at tiny sizes: on the CPU always, on CUDA where there is one."""

import importlib.util
import json
import math
import re

import pytest
import torch

from arst.bench import parse_sizes
from arst.cli import main as cli
from arst.errors import ConfigError

TINY = ["--train-size", "32", "--batch", "1", "--sizes", "32,36x22", "--train-steps", "1",
        "--stylize-iters", "1", "--warmup", "0", "--numerics-steps", "3", "--numerics-last", "2",
        "--data-steps", "3", "--workers", "0,1", "--paths", "eager,bf16", "--path-sizes", "37x21"]


def _positive(value) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value > 0


def _run(tmp_path, capsys, *extra):
    out = tmp_path / "bench.json"
    assert cli(["bench", *TINY, "--json", str(out), *extra]) == 0
    return json.loads(out.read_text()), capsys.readouterr().out


def _check_figures(result, printed):
    assert result["errors"] == []
    train = result["train"]
    assert train["size"] == 32 and train["batch"] == 1
    assert all(_positive(train[k]) for k in ("shipped_img_s", "fast_img_s", "ratio"))
    assert [s["size"] for s in result["stylize"]] == ["32x32", "36x22"]
    assert result["stylize"][1]["height"] == 22  # WxH, as screens are named
    for row in result["stylize"]:
        assert all(_positive(row[k]) for k in ("shipped_fps", "fast_fps", "ratio"))
    numerics = result["numerics"]
    assert numerics["steps"] == 3 and numerics["last"] == 2 and numerics["nan"] is False
    assert list(numerics["per_layer"]) == ["content", "relu2_2", "relu3_4", "relu4_4"]
    assert all(_positive(v["fp32"]) and _positive(v["fast"]) for v in numerics["per_layer"].values())
    assert [(d["workers"], d["steps"]) for d in result["data"]] == [(0, 3), (1, 3)]
    assert all(_positive(d["img_s"]) for d in result["data"])
    for line in ("train 32x32 batch 1 img/s", "data path, 0 workers, img/s", "data path, 1 workers, img/s", "stylize 32x32 fps", "stylize 36x22 fps",
                 "max relative difference", "as shipped: baseline recipe", "fast path:  corrected recipe"):
        assert line in printed


def test_bench_on_cpu_compares_a_runtime_that_differs(tmp_path, capsys):
    # On the CPU the default fast path is the plain fp32 one, which the numerics check would
    # find equal to itself whatever it compared; bf16 autocast (which the CPU runs too) makes
    # the two runs differ, so the check must see a difference, and a bounded one.
    result, printed = _run(tmp_path, capsys, "--device", "cpu", "--precision", "bf16")
    _check_figures(result, printed)
    assert result["device"] == "cpu" and (result["shipped"]["dtype"], result["fast"]["dtype"]) == ("fp32", "bf16")
    assert "compile=False" in result["fast"]["runtime"]
    numerics = result["numerics"]
    # bf16's 8 bits over 3 steps at batch 1: about 5% with U(0, 1) alphas; about 21% with
    # corrected's half one-hot draws, whose off layers are unweighted that step and drift freely
    # (the same with either normalisation).
    assert 0 < numerics["max_rel_diff"] < 0.3
    assert numerics["max_rel_diff"] == max(v["rel_diff"] for v in numerics["per_layer"].values())
    assert f"max relative difference {100 * numerics['max_rel_diff']:.3f}% (goal 2%: " in printed
    # The CPU's stylizing paths came first: bf16 autocast's picture is grey levels away from
    # fp32's, so it is never the default however fast it is.
    paths = result["cpu_paths"]
    [row] = paths["sizes"]
    assert row["size"] == "37x21" and set(row["paths"]) == {"eager", "bf16"} and row["gflop"] > 0
    assert row["paths"]["eager"]["max_diff"] == 0 and row["paths"]["eager"]["ratio"] == 1
    assert row["paths"]["bf16"]["max_diff"] > paths["tolerance"] and not row["paths"]["bf16"]["within_tolerance"]
    assert re.search(r"^bf16 .* OVER tolerance$", printed, re.M)
    assert paths["default_path"] != "bf16"


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="needs the onnx extra")
def test_cpu_paths_side_by_side_and_the_default_is_the_fastest_within_tolerance(tmp_path, capsys):
    out = tmp_path / "paths.json"
    assert cli(["bench", "--device", "cpu", "--only-paths", "--paths",
                "eager,channels_last,onnxruntime,onnxruntime_int8", "--path-sizes", "48,36x20", "--stylize-iters", "2",
                "--json", str(out)]) == 0
    paths, printed = json.loads(out.read_text())["cpu_paths"], capsys.readouterr().out
    assert [row["size"] for row in paths["sizes"]] == ["48x48", "36x20"]
    assert paths["sizes"][0]["gflop"] > paths["sizes"][1]["gflop"] > 0
    for row in paths["sizes"]:
        assert set(row["paths"]) == {"eager", "channels_last", "onnxruntime", "onnxruntime_int8"}  # sorted
        for name, p in row["paths"].items():
            # The int8 preview is never within the exact tolerance, however near it is.
            assert _positive(p["ms"]) and _positive(p["gflop_s"]) and p["within_tolerance"] == (name != "onnxruntime_int8")
            assert p["ratio"] == pytest.approx(row["paths"]["eager"]["ms"] / p["ms"])
    # With the onnx extra installed the default is onnxruntime, and the table says so.
    assert paths["default_path"] == "onnxruntime" and "onnxruntime" in paths["default"]
    assert re.search(r"^onnxruntime .* ok  <- default$", printed, re.M)
    assert re.search(r"^onnxruntime_int8 .* preview only$", printed, re.M)
    assert re.search(r"fastest path within tolerance: (eager|channels_last|onnxruntime)(  \(NOT|$)", printed, re.M)
    assert "train " not in printed  # --only-paths


def test_an_unknown_cpu_path_is_named(capsys):
    assert cli(["bench", "--device", "cpu", "--only-paths", "--paths", "eager,turbo"]) == 2
    assert "--paths turbo: expected some of eager,channels_last,bf16,compile,onnxruntime,onnxruntime_int8" in capsys.readouterr().err


def test_bench_with_padded_channels_on_cpu(tmp_path, capsys):
    result, printed = _run(tmp_path, capsys, "--device", "cpu", "--channel-multiple", "8")
    _check_figures(result, printed)
    assert result["fast"]["runtime"].endswith("channels padded to 8")
    assert "channels padded to" not in result["shipped"]["runtime"]
    # The same arithmetic summed in another order: 3 Adam steps amplify rounding (0.17% seen
    # here), a wrong padding would not be near.
    assert result["numerics"]["max_rel_diff"] < 0.02


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_bench_bf16_on_cuda(tmp_path, capsys):
    # Eager, so it takes seconds; `arst bench` on the device exercises torch.compile.
    result, printed = _run(tmp_path, capsys, "--device", "cuda", "--compile", "false")
    _check_figures(result, printed)
    assert result["fast"]["dtype"] == "bf16" and result["shipped"]["dtype"] == "fp32"
    # At 32 px, batch 1 and 4 steps the bf16/fp32 gap is larger than the 2% goal, which the
    # full bench measures at 256 px over 100 steps (H200: 7.1% here, 0.7-1.1% there).
    assert result["numerics"]["max_rel_diff"] < 0.15
    padded, _ = _run(tmp_path, capsys, "--device", "cuda", "--compile", "false", "--channel-multiple", "8")
    assert padded["errors"] == [] and padded["numerics"]["max_rel_diff"] < 0.15


@pytest.mark.parametrize("workers,message", [("0,x", "expected counts"), ("-1", "0 or more")])
def test_bench_rejects_bad_worker_counts(workers, message, capsys):
    assert cli(["bench", "--device", "cpu", "--workers", workers]) == 2
    assert message in capsys.readouterr().err


def test_parse_sizes():
    assert parse_sizes("256, 1920x1080,") == [(256, 256), (1080, 1920)]
    with pytest.raises(ConfigError, match="WxH"):
        parse_sizes("big")


def test_claim_gpu_gives_each_process_its_own(tmp_path):
    from arst.runtime import claim_gpu
    # Each claim opens its own lock file description, as a separate process would.
    assert [claim_gpu(3, tmp_path) for _ in range(3)] == [0, 1, 2]
    assert claim_gpu(3, tmp_path) is None
    assert claim_gpu(4, tmp_path) == 3


def test_resolving_a_runtime_claims_no_gpu_and_claiming_is_its_own_step(tmp_path, monkeypatch):
    from arst import runtime
    monkeypatch.setattr(runtime.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(runtime.torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(runtime, "claim_gpu", lambda *a: pytest.fail("Runtime.resolve claimed a GPU"))
    resolved = runtime.Runtime.resolve("auto", precision="fp32", compile=False, channels_last=False)
    assert resolved.device == torch.device("cuda") and resolved.device.index is None
    monkeypatch.undo()
    monkeypatch.setattr(runtime.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(runtime.torch.cuda, "device_count", lambda: 2)
    assert [runtime.claim_device("auto", tmp_path) for _ in range(2)] == ["cuda:0", "cuda:1"]
    assert runtime.claim_device("cuda:1", tmp_path) == "cuda:1"  # a device given is taken as given
    assert runtime.claim_device("cpu", tmp_path) == "cpu"


def test_model_flops_are_the_convolutions_and_the_conditioner_counted_by_hand():
    from arst.bench import model_flops
    from arst.nn.model import build_model
    from arst.recipe import load_recipe
    model = build_model(load_recipe("corrected"), 0)
    h, w = 64, 48

    def conv(k, c_in, c_out, scale):  # 2 FLOPs per multiply-add, output at h*w*scale^2
        return 2 * k * k * c_in * c_out * int(h * scale) * int(w * scale)
    stylizer = (conv(9, 3, 32, 1) + conv(3, 32, 64, 0.5) + conv(3, 64, 128, 0.25)
                + 2 * len(model.stylizer.res) * conv(3, 128, 128, 0.25)
                + conv(3, 128, 64, 0.5) + conv(3, 64, 32, 1) + conv(9, 32, 3, 1))
    conditioner = sum(2 * m.in_features * m.out_features for m in model.conditioner.modules()
                      if isinstance(m, torch.nn.Linear))
    assert model_flops(model, (h, w)) == stylizer + conditioner
    # An odd size is counted as it runs: padded to a multiple of 4.
    assert model_flops(model, (h - 3, w - 1)) == stylizer + conditioner
