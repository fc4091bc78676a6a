"""`arst bench` end to end at tiny sizes: on the CPU always, on CUDA where there is one."""

import json
import math

import pytest
import torch

from arst.bench import parse_sizes
from arst.cli import main as cli
from arst.errors import ConfigError

TINY = ["--train-size", "32", "--batch", "1", "--sizes", "32,36x22", "--train-steps", "1",
        "--stylize-iters", "1", "--warmup", "0", "--numerics-steps", "3", "--numerics-last", "2",
        "--data-steps", "3", "--workers", "0,1"]


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
    assert 0 < numerics["max_rel_diff"] < 0.15  # bf16's 8 bits over 3 steps (about 4% seen)
    assert numerics["max_rel_diff"] == max(v["rel_diff"] for v in numerics["per_layer"].values())
    assert f"max relative difference {100 * numerics['max_rel_diff']:.3f}% (goal 2%: " in printed


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
