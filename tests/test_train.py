"""The training loop and stylizing, on tiny real images, on the CPU."""

import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
from PIL import Image

from arst import checkpoint
from arst.cli import main as cli
from arst.errors import ConfigError, DataError, TrainingDiverged
from arst.recipe import load_recipe
from arst.stylize import stylize_files
from arst.schedule import Schedule
from arst.train import StepBatches, TrainLog, train


def tiny(steps, **schedule):
    """A schedule of `steps` steps on batches of two 32 px images."""
    return Schedule(steps=steps, batch=2, size=32, **schedule)


@pytest.fixture
def content(tmp_path, shared_images):
    folder = tmp_path / "content" / "nested"
    folder.mkdir(parents=True)
    for name in ("amber.jpg", "candy.jpg", "udnie.jpg"):
        shutil.copy(shared_images / name, folder / name)
    return tmp_path / "content"


@pytest.fixture
def style(shared_images):
    return shared_images / "mosaic.jpg"


def _small(recipe, **kw):
    # A 64 px style keeps the tests fast; the spec's default is the image's own size.
    return load_recipe(recipe, style_size=64, **kw)


def test_step_batches_in_order_straddle_epochs():
    batches = StepBatches(list(range(5)), batch=3, shuffle=False, seed=0)  # only len() is used
    assert [batches.indices(k) for k in range(3)] == [[0, 1, 2], [3, 4, 0], [1, 2, 3]]


def test_step_batches_shuffled_are_a_pure_function_of_seed_and_step():
    walked = StepBatches(list(range(5)), batch=2, shuffle=True, seed=7)
    stream = [i for k in range(10) for i in walked.indices(k)]  # 4 epochs of 5
    epochs = [stream[e * 5:(e + 1) * 5] for e in range(4)]
    assert all(sorted(e) == [0, 1, 2, 3, 4] for e in epochs)  # each epoch a permutation
    assert len({tuple(e) for e in epochs}) > 1  # reshuffled per epoch
    # A fresh object (a data-loading worker, a resumed run) jumping straight to a step agrees
    # with one that walked there, and steps asked for out of order agree too.
    for k in (9, 2, 7, 0):
        assert StepBatches(list(range(5)), batch=2, shuffle=True, seed=7).indices(k) == stream[2 * k:2 * k + 2]
        assert walked.indices(k) == stream[2 * k:2 * k + 2]
    other = StepBatches(list(range(5)), batch=2, shuffle=True, seed=8)
    assert [i for k in range(10) for i in other.indices(k)] != stream


def test_train_writes_outputs_with_provenance(tmp_path, content, style):
    model_path = train(content, style, tmp_path / "run", _small("corrected"), tiny(3), seed=5, progress=False)
    log = pd.read_csv(tmp_path / "run" / "losses.csv")
    assert log["step"].tolist() == [0, 1, 2]
    assert {"loss_content", "loss_relu4_4", "ema_content", "alpha_relu2_2"} <= set(log.columns)
    meta = checkpoint.load(model_path)
    assert meta["step"] == 3 and meta["seed"] == 5 and meta["loss_net"] == "random(seed=0)"
    assert meta["recipe"]["name"] == "corrected" and "optimizer" not in meta
    assert meta["content_images"] == 3 and meta["arst_version"]
    # The stored recipe states what was trained, not the preset's 8 images of 256 px.
    assert (meta["recipe"]["batch_size"], meta["recipe"]["image_size"]) == (2, 32)


def test_conditioner_frozen_unless_trained(tmp_path, content, style):
    def conditioner_after(recipe, out):
        train(content, style, out, recipe, tiny(2), seed=1, progress=False)
        return checkpoint.load(out / "model.pt")["model"]

    from arst.nn.model import build_model
    for flag in (False, True):
        recipe = _small("baseline", train_conditioner=flag)
        before = build_model(recipe, 1).state_dict()
        after = conditioner_after(recipe, tmp_path / f"run{flag}")
        same = all(torch.equal(before[k], after[k]) for k in before if k.startswith("conditioner."))
        stylizer_same = all(torch.equal(before[k], after[k]) for k in before if k.startswith("stylizer."))
        assert same is (not flag) and not stylizer_same


def test_loss_falls(tmp_path, content, style):
    # Fixed alpha and a frozen EMA make the objective a fixed function, so the falls are the model's.
    recipe = _small("baseline", alpha_fixed=[1, 1, 1, 1], ema_rate=0.0)
    train(content, style, tmp_path / "run", recipe, tiny(30), seed=0, progress=False)
    total = pd.read_csv(tmp_path / "run" / "losses.csv")["loss_total"]
    assert total.iloc[-5:].mean() < 0.9 * total.iloc[:5].mean()
    assert total.diff().iloc[1:].lt(0).mean() > 0.8  # it falls at nearly every step


def test_resume_continues_exactly(tmp_path, content, style):
    recipe = _small("corrected", shuffle=True)
    train(content, style, tmp_path / "straight", recipe, tiny(6), seed=3, progress=False)
    train(content, style, tmp_path / "resumed", recipe, tiny(3), seed=3, progress=False)
    with open(tmp_path / "resumed" / "log.csv", "a") as f:
        f.write("3,999,1,1,1,1,1,1,1,1,1,1,1,nan,0\n")  # a row a killed run wrote past its checkpoint
    train(content, style, tmp_path / "resumed", recipe, tiny(6), seed=3, progress=False)
    a = pd.read_csv(tmp_path / "straight" / "losses.csv").drop(columns="elapsed_s")
    b = pd.read_csv(tmp_path / "resumed" / "losses.csv").drop(columns="elapsed_s")
    assert b["step"].tolist() == list(range(6))
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-6)
    with pytest.raises(ConfigError, match="other settings"):
        train(content, style, tmp_path / "resumed", recipe, tiny(8), seed=4, progress=False)


def test_the_checkpoint_holds_the_schedule_and_a_resume_reads_it_back(tmp_path, content, style, caplog):
    recipe = _small("corrected", conditioner_width=16)
    # Two epochs over three images in batches of two: three steps; the size is the recipe's.
    train(content, style, tmp_path / "run", recipe.replace(image_size=32), Schedule(epochs=2, batch=2),
          seed=1, progress=False)
    stored = Schedule.from_dict(checkpoint.load(tmp_path / "run" / "model.pt")["schedule"])
    assert stored == Schedule(steps=3, epochs=2, batch=2, size=32)
    with caplog.at_level("INFO", logger="arst"):
        train(content, style, tmp_path / "run", recipe, tiny(5, log_every=5), seed=1, progress=False)
    resumed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("resuming")]
    assert resumed == [f"resuming {tmp_path / 'run'} from step 3 (steps 3 -> 5, epochs 2 -> None, "
                       "log_every 1 -> 5)"]
    assert Schedule.from_dict(checkpoint.load(tmp_path / "run" / "model.pt")["schedule"]).steps == 5


def test_a_checkpoint_from_before_schedules_were_stored_resumes(tmp_path, content, style):
    recipe = _small("corrected", conditioner_width=16)
    train(content, style, tmp_path / "run", recipe, tiny(2), seed=1, progress=False)
    state = checkpoint.load(tmp_path / "run" / "checkpoint.pt")
    del state["schedule"]  # as written before the Schedule existed
    checkpoint.save(tmp_path / "run" / "checkpoint.pt", state)
    train(content, style, tmp_path / "run", recipe, tiny(3), seed=1, progress=False)
    meta = checkpoint.load(tmp_path / "run" / "model.pt")
    assert meta["step"] == 3 and Schedule.from_dict(meta["schedule"]) == Schedule(steps=3, batch=2, size=32)


@pytest.mark.parametrize("given, key", [(dict(steps=0), "steps = 0"), (dict(steps=2, log_every=0), "log_every = 0"),
                                        (dict(epochs=-1.0), "epochs = -1.0"), ({}, "give steps or epochs"),
                                        (dict(steps=2, workers=-1), "workers = -1"),
                                        (dict(steps=5, snapshots=(0, 2)), "snapshots = 0: must be at least 1"),
                                        (dict(steps=5, snapshots=(2, 5, 7)), "snapshots = 5, 7: must be below steps = 5"),
                                        (dict(steps=5, snapshots=(3, 1, 3)), "snapshots = 3: given twice")])
def test_a_bad_schedule_is_named_by_its_key(given, key):
    with pytest.raises(ConfigError, match=f"^schedule: {re.escape(key)}"):
        Schedule(**given)
    with pytest.raises(ConfigError, match="model.pt: unknown schedule key.*'stpes'"):
        Schedule.from_dict({"stpes": 3}, "model.pt")


def test_snapshots_are_checked_once_epochs_give_the_steps_and_travel_as_flags():
    from arst.cli import build_parser
    from arst.cli.train import schedule_from
    # Two epochs over three images in batches of two are three steps: a snapshot at 3 is the model itself.
    assert Schedule(epochs=2, batch=2, snapshots=(2,)).resolved(2, 32, images=3).snapshots == (2,)
    with pytest.raises(ConfigError, match=r"^schedule: snapshots = 3: must be below steps = 3"):
        Schedule(epochs=2, batch=2, snapshots=(3,)).resolved(2, 32, images=3)
    schedule = Schedule(steps=9, snapshots=(6, 2), checkpoint_every=3)
    assert schedule.snapshots == (2, 6)  # in order, whatever order they were given in
    argv = schedule.argv()
    assert argv[argv.index("--snapshots") + 1] == "2,6"
    args = build_parser("train").parse_args(["train", "--content", "c", "--style", "s", "--out", "o", *argv])
    assert schedule_from(args) == schedule
    assert "--snapshots" not in Schedule(steps=9).argv()  # none: no flag, and the default reads back as none
    assert schedule_from(build_parser("train").parse_args(
        ["train", "--content", "c", "--style", "s", "--out", "o", *Schedule(steps=9).argv()])) == Schedule(steps=9)


def test_snapshots_are_the_model_at_their_step_and_a_resume_keeps_them(tmp_path, content, style, monkeypatch):
    recipe = _small("corrected", conditioner_width=16)
    written = []
    real_save = checkpoint.save
    monkeypatch.setattr(checkpoint, "save", lambda path, state: (written.append(Path(path).name),
                                                                 real_save(path, state)))
    # Step 2 is also a checkpoint's step, step 3 is not.
    long = tmp_path / "long"
    train(content, style, long, recipe, tiny(5, checkpoint_every=2, snapshots=(2, 3)), seed=2, progress=False)
    assert written.count("checkpoint.pt") == 3  # steps 2, 4 and 5: the snapshot at 2 writes none of its own
    train(content, style, tmp_path / "short", recipe, tiny(3), seed=2, progress=False)
    snapshot, short = checkpoint.load(long / "model-step3.pt"), checkpoint.load(tmp_path / "short" / "model.pt")
    assert snapshot["step"] == 3 and checkpoint.load(long / "model-step2.pt")["step"] == 2
    assert set(snapshot) == set(checkpoint.load(long / "model.pt"))  # the form of model.pt: no optimizer
    assert all(torch.equal(snapshot["model"][k], short["model"][k]) for k in short["model"])
    assert os.path.samefile(long / "model-step3.pt", long / "snapshots" / "model-step3.pt")  # one file, two names

    # A workflow deletes a job's outputs before it reruns it: the snapshot comes back from the kept copy.
    (long / "model-step3.pt").unlink()
    train(content, style, long, recipe, tiny(5, checkpoint_every=2, snapshots=(2, 3)), seed=2, progress=False)
    assert torch.equal(checkpoint.load(long / "model-step3.pt")["model"]["stylizer.down.0.conv.weight"],
                       short["model"]["stylizer.down.0.conv.weight"])
    # Both gone, and the checkpoint past the step: it cannot be made without training again.
    (long / "model-step2.pt").unlink()
    (long / "snapshots" / "model-step2.pt").unlink()
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(long / 'model-step2.pt'))} is missing and "
                                          rf".*checkpoint.pt is at step 5: .*; delete .*checkpoint.pt to retrain$"):
        train(content, style, long, recipe, tiny(6, checkpoint_every=2, snapshots=(2, 3)), seed=2, progress=False)


def test_nan_stops_and_keeps_last_good_checkpoint(tmp_path, content, style, monkeypatch):
    from arst import losses
    real = losses.Objective.combine
    calls = {"n": 0}

    def poisoned(self, mse, alpha):
        calls["n"] += 1
        total, raw, terms = real(self, mse, alpha)
        return (total * float("nan"), raw, terms) if calls["n"] == 4 else (total, raw, terms)

    monkeypatch.setattr(losses.Objective, "combine", poisoned)
    with pytest.raises(TrainingDiverged, match="step 3"):
        train(content, style, tmp_path / "run", _small("baseline"), tiny(6, checkpoint_every=2), seed=0,
              progress=False)
    assert checkpoint.load(tmp_path / "run" / "checkpoint.pt")["step"] == 2
    assert not (tmp_path / "run" / "model.pt").exists()


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs CUDA"))])
def test_train_log_writes_a_flush_late_and_everything_on_wait(tmp_path, device):
    log = TrainLog(tmp_path / "log.csv", ["step", "loss"])
    log.truncate(0)

    def written():
        return pd.read_csv(tmp_path / "log.csv").values.tolist()

    for step, loss in ((0, 1.5), (1, 2.5)):
        log.add(torch.tensor([step, loss], device=device))
    assert log.flush() == [] and written() == []  # only the copy to the host has started
    log.add(torch.tensor([2, 3.5], device=device))
    assert log.flush() == [[0, 1.5], [1, 2.5]] == written()
    log.add(torch.tensor([3, float("nan")], device=device))
    with pytest.raises(TrainingDiverged, match="step 3"):
        log.flush(wait=True)
    assert written() == [[0, 1.5], [1, 2.5], [2, 3.5]]


def test_bad_inputs(tmp_path, content, style):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=str(empty)):
        train(empty, style, tmp_path / "run", _small("baseline"), tiny(1), progress=False)
    with pytest.raises(DataError, match="nope.jpg"):
        train(content, tmp_path / "nope.jpg", tmp_path / "run", _small("baseline"), tiny(1), progress=False)


def test_stylize_any_size_and_alpha_check(tmp_path, tiny_models, shared_images, capsys):
    model = tiny_models["baseline"]
    src = tmp_path / "odd.png"
    Image.open(shared_images / "amber.jpg").convert("RGB").resize((37, 50)).save(src)
    out = stylize_files(model, [src], [tmp_path / "out.png"], alpha="0,0.5,1,0")
    assert Image.open(out[0]).size == (37, 50)
    with pytest.raises(ConfigError, match="has 3 values.*4 style layers"):
        stylize_files(model, [src], [tmp_path / "x.png"], alpha=[1, 1, 1])
    assert cli(["stylize", "--checkpoint", str(model), "--alpha", "1,1", "--out", str(tmp_path / "y.png"),
                str(src)]) == 2
    assert "has 2 values" in capsys.readouterr().err


def _train_command(content, style, out, steps):
    import sys
    return [sys.executable, "-m", "arst", "train", "--content", str(content), "--style", str(style), "--out",
            str(out), "--steps", str(steps), "--log-every", "2", "--batch", "2", "--size", "32",
            "--set", "style_size=64", "--recipe", "corrected"]


def _small_content(tmp_path, shared_images):
    folder = tmp_path / "small"
    folder.mkdir()
    for name in ("amber.jpg", "candy.jpg"):
        Image.open(shared_images / name).convert("RGB").resize((40, 40)).save(folder / f"{name}.png")
    return folder


def test_progress_in_a_log_file_is_plain_lines(tmp_path, shared_images, style):
    """stdout and stderr to a file, as Snakemake's `> {log} 2>&1`: lines, no bar frames."""
    import re
    import subprocess
    content = _small_content(tmp_path, shared_images)
    log_file = tmp_path / "train.log"
    with open(log_file, "w") as out:
        subprocess.run(_train_command(content, style, tmp_path / "run", 4), stdout=out, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, check=True, timeout=600)
    text = log_file.read_text()
    assert "\r" not in text and "|" not in text, text  # no carriage returns, no bar
    # 4 steps, losses read back every 2: a line every 2 steps (the first multiple of 2 >= 1%).
    steps = [int(m.group(1)) for m in re.finditer(r"train corrected seed 42: step (\d+)/4 ", text)]
    assert steps == [2, 4], text
    assert re.search(r"step 4/4 \(100%\), loss [-\d.e+]+ \(content [-\d.e+]+\) at step \d, [\d.]+ steps/s\n", text)


def test_progress_on_a_terminal_is_a_bar(tmp_path, shared_images, style):
    import os
    import pty
    import subprocess
    import fcntl
    import struct
    import termios
    content = _small_content(tmp_path, shared_images)
    main_fd, terminal = pty.openpty()
    # A terminal 80 columns wide (a new pty has 0, and tqdm draws a bar as wide as the terminal).
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen(_train_command(content, style, tmp_path / "run", 2), stdout=terminal, stderr=terminal,
                            stdin=subprocess.DEVNULL)
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(main_fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main_fd)
    assert proc.wait(timeout=600) == 0
    text = b"".join(chunks).decode(errors="replace")
    assert "2/2" in text and ("step/s" in text or "s/step" in text), text
    assert "\r" in text.replace("\r\n", "")  # frames redrawn in place (the pty writes \n as \r\n)
    assert "train corrected seed 42: step" not in text  # no log lines on a terminal


def test_progress_interval():
    from arst.train import Progress
    assert [Progress.interval(steps, every) for steps, every in
            [(6, 2), (100, 10), (200_000, 10), (1_000, 1), (12, 5)]] == [2, 10, 2_000, 10, 5]


def test_divergence_guard_on_rows():
    from arst.guard import DivergenceGuard
    guard = DivergenceGuard(["step", "loss_total", "loss_content"], ["step", "gamma_spread"], factor=10)
    # Healthy: a falling, noisy loss and a slowly growing spread stay quiet.
    for step in range(40):
        noise = 1.5 if step % 3 else 0.6
        assert guard.check([[step, 9.0, 4.0 * 0.97 ** step * noise]], [[step, 0.05 + 0.002 * step]]) is None
    # A jump of the spread beyond 10x its recent median (and its 0.5 floor) fires, naming it.
    assert guard.check([[40, 9.0, 1.0]], [[40, 3.0]]) == (40, "gamma_spread = 3, over 10x its recent median "
                                                             "(0.089)")  # median of 0.05 + 0.002 s, s < 40
    assert guard.check([[41, 9.0, float("nan")]], []) == (40, guard.fired[1])  # the first firing is kept
    quiet = DivergenceGuard(["step", "loss_content"], [], factor=10)
    assert [quiet.check([[s, 1.0]], []) for s in range(3)] == [None] * 3  # too little history to judge
    assert quiet.check([[3, float("inf")]], [])[0] == 3  # not finite: diverged whatever the history
    # A measure with a floor is judged from its second row: the rows of a run pushed to diverge at
    # 48 px (conditioner lr 3e-4, diagnostics every 100 steps) fire at step 100, not never.
    pushed = DivergenceGuard(["step"], ["step", "saturated_fraction", "gamma_spread"], factor=10)
    assert pushed.check([], [[0, 0.0, 0.068]]) is None
    assert pushed.check([], [[100, 0.592, 5.262]]) == (100, "saturated_fraction = 0.592, over 10x its recent "
                                                            "median (0)")
    # ... and the same rows under the floors stay quiet: 0.1% saturated, a spread of 0.23.
    remedied = DivergenceGuard(["step"], ["step", "saturated_fraction", "gamma_spread"], factor=10)
    assert [remedied.check([], [[s, 0.001 * bool(s), 0.068 + 0.16 * bool(s)]]) for s in (0, 100, 200)] == [None] * 3
    # A healthy run saturates a few percent of its outputs from its first steps, against 0 at step
    # 0: the rows of the one-layer conditioner at lr 3e-4 (swirl, seed 2, diagnostics every 50
    # steps), which the 5% floor this had once took for a divergence at step 50.
    healthy = DivergenceGuard(["step"], ["step", "saturated_fraction", "gamma_spread"], factor=10)
    rows = [[0, 0.0, 0.082], [50, 0.0689, 0.225], [100, 0.0738, 0.253], [150, 0.0704, 0.271], [2000, 0.0287, 0.269]]
    assert [healthy.check([], [row]) for row in rows] == [None] * len(rows)


def test_a_run_pushed_to_diverge_is_stopped_and_recorded(tmp_path, content, style, caplog):
    # A conditioner learning rate of 0.3 blows gamma's spread up by 1e5 within two steps.
    recipe = _small("corrected", conditioner_width=32, conditioner_lr=0.3)
    with caplog.at_level("WARNING", logger="arst"):
        path = train(content, style, tmp_path / "run", recipe, tiny(30, checkpoint_every=4, log_every=2,
                     diagnostics_every=1, stop_on_divergence=True, snapshots=(28,)), seed=0, progress=False)
    fired = [r.getMessage() for r in caplog.records if "training diverged at step" in r.getMessage()]
    # Its outputs saturate at once: the saturated share fires on the guard's first judged row.
    assert len(fired) == 1 and "saturated_fraction" in fired[0], fired
    meta = checkpoint.load(path)
    assert meta["diverged_at"] is not None and meta["step"] < 30  # stopped early, the diverged step recorded
    assert meta["steps"] == 30
    # A snapshot past the stop is never written, and the log says which file will be missing.
    assert not (tmp_path / "run" / "model-step28.pt").exists()
    assert any(r.getMessage().startswith("no snapshot written at step 28: training stopped at step ")
               and r.getMessage().endswith("so model-step28.pt will be missing") for r in caplog.records)
    # Without stopping, the run goes on to the end and says where it diverged.
    path = train(content, style, tmp_path / "on", recipe, tiny(8, checkpoint_every=4, log_every=2,
                 diagnostics_every=1), seed=0, progress=False)
    meta = checkpoint.load(path)
    assert meta["step"] == 8 and meta["diverged_at"] is not None


def test_a_checkpoint_from_before_a_new_recipe_field_resumes(tmp_path, content, style):
    """A field added to Recipe since (with its default) is no clash: the run resumes."""
    recipe = _small("corrected", conditioner_width=16)
    train(content, style, tmp_path / "run", recipe, tiny(2), seed=1, progress=False)
    state = checkpoint.load(tmp_path / "run" / "checkpoint.pt")
    del state["recipe"]["alpha_zero_prob"]  # as written before the field existed
    checkpoint.save(tmp_path / "run" / "checkpoint.pt", state)
    train(content, style, tmp_path / "run", recipe, tiny(3), seed=1, progress=False)
    assert checkpoint.load(tmp_path / "run" / "model.pt")["step"] == 3


def test_grad_clip_bounds_the_gradient_each_step_takes():
    from arst.runtime import Runtime
    from arst.train import TrainStep

    style_image = torch.rand(1, 3, 64, 64) * 255
    images, alpha = torch.rand(2, 3, 32, 32) * 255, torch.rand(2, 3)
    norms = {}
    for clip in (None, 1e-3):
        step = TrainStep(_small("corrected", grad_clip=clip, conditioner_width=16), Runtime.resolve("cpu"),
                         style_image, seed=0)
        step(images, alpha)  # the gradients stay on the parameters until the next step
        grads = [p.grad for g in step.optimizer.param_groups for p in g["params"] if p.grad is not None]
        norms[clip] = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])).item()
    assert norms[None] > 1e-2  # unclipped, well above the bound: the clip below has work to do
    assert norms[1e-3] == pytest.approx(1e-3, rel=1e-3)


def test_stylizer_warmup_ramps_the_stylizers_lr_and_leaves_the_conditioners():
    from arst.runtime import Runtime
    from arst.train import TrainStep

    recipe = _small("corrected", stylizer_warmup=4, conditioner_width=16)
    step = TrainStep(recipe, Runtime.resolve("cpu"), torch.rand(1, 3, 64, 64) * 255, seed=0)
    stylizer, conditioner = step.optimizer.param_groups
    seen = []
    for k in (0, 1, 3, 4, 100, 2):  # out of order, as a resumed run asks: a function of the step
        step.warm_up(k)
        seen.append((stylizer["lr"], conditioner["lr"]))
    lr, c_lr = recipe.lr, recipe.conditioner_lr
    assert seen == [(pytest.approx(lr / 4), c_lr), (pytest.approx(lr / 2), c_lr), (lr, c_lr), (lr, c_lr),
                    (lr, c_lr), (pytest.approx(3 * lr / 4), c_lr)]
    with pytest.raises(ConfigError, match="stylizer_warmup"):
        _small("corrected", stylizer_warmup=-1)


# The swirl's raw relu2_2 loss of a healthy corrected run (seed 2, 48 px), steps 1,900 to 2,010:
# near zero, and two orders of magnitude apart from one batch to the next.
RELU2_2_NEAR_ZERO = [8.4e-06, 2.2e-05, 1.1e-05, 8.6e-06, 1e-05, 1e-05, 2e-05, 8.8e-06, 1.8e-05, 2.2e-05, 2.4e-05,
                     1.9e-05, 3e-05, 6.7e-07, 8.4e-06, 2.3e-05, 1e-05, 7.1e-07, 8.7e-06, 8.5e-07, 2.2e-05, 6.6e-07,
                     1e-05, 1e-05, 8.9e-06, 1e-05, 2.7e-05, 4.6e-07, 3.5e-07, 3.1e-05, 2.1e-05, 3.4e-07, 6.1e-07,
                     3.1e-07, 1.9e-07, 3.7e-07, 1.3e-05, 5.4e-08, 1.2e-07, 3.3e-05, 3.6e-07, 9e-06, 3.8e-07, 1.3e-05,
                     1.3e-05, 6.7e-07, 9.1e-06, 1.7e-05, 4.7e-07, 1.4e-05, 2.8e-07, 1.1e-05, 6.3e-07, 7.4e-07,
                     9.2e-07, 1.1e-05, 1.9e-05, 1.1e-05, 1e-05, 1.4e-05, 1.4e-05, 1.7e-05, 9.3e-06, 9.4e-06, 2.3e-05,
                     3.9e-07, 5.7e-07, 6.3e-08, 9e-06, 1.1e-05, 2e-05, 1.4e-05, 2.1e-05, 3.6e-07, 5.7e-07, 1.4e-05,
                     7.7e-06, 8.9e-06, 4.1e-07, 7.9e-06, 2.7e-05, 2.7e-05, 8.1e-06, 9.1e-07, 2.2e-05, 2.1e-05,
                     1.4e-05, 1e-05, 8.5e-06, 1.1e-05, 8.1e-07, 3.2e-05, 6.2e-07, 1e-05, 2.4e-07, 9.6e-08, 8.4e-06,
                     7.4e-07, 5.1e-07, 8.2e-06, 6.7e-07, 9.6e-06, 3.6e-07, 1.4e-05, 6.9e-07, 1.7e-05, 2.3e-05, 1e-05,
                     4.9e-07, 2.6e-07, 9.1e-08]


def test_a_resumed_guard_judges_against_the_history_before_the_break():
    from arst.guard import DivergenceGuard
    rows = [[1900 + k, value] for k, value in enumerate(RELU2_2_NEAR_ZERO)]
    before, after = rows[:100], rows[100:]  # the break at step 2,000

    def guard():
        return DivergenceGuard(["step", "loss_relu2_2"], ["step"], factor=10)
    resumed = guard()
    resumed.replay(before, [], every=20)  # what train() gives a guard after a resume: the log up to the checkpoint
    assert resumed.fired is None and resumed.check(after, []) is None
    # Judged against the five rows after the break alone, the same run "diverged".
    cold = guard()
    # (The run itself logged this: "loss_relu2_2 = 1.686e-05, over 10x its recent median (6.921e-07)".)
    assert cold.check(after, []) == (2005, "loss_relu2_2 = 1.7e-05, over 10x its recent median (6.9e-07)")


def test_a_replay_judges_the_history_in_the_chunks_the_run_judged_it():
    from arst.guard import DivergenceGuard

    def guard():
        return DivergenceGuard(["step", "loss_content"], ["step", "saturated_fraction"], factor=10)
    # A NaN in the history is found at its step, and the first firing is kept.
    wild = guard()
    wild.replay([[step, 1.0] for step in range(6)] + [[6, float("nan")], [7, 1e9]], [], every=4)
    assert wild.fired == (6, "loss_content = nan")
    # Rows are judged a log_every chunk at a time, losses before diagnostics, as train() hands
    # them over: the diagnostic of step 4 (59% saturated, over its 20% floor and 10x its 1%)
    # shares the chunk of steps 4-7 with the loss jump at step 7, and the losses are read first.
    losses = [[step, 1.0] for step in range(7)] + [[7, 50.0]]
    saturated = [[0, 0.01], [4, 0.59]]
    chunked = guard()
    chunked.replay(losses, saturated, every=4)
    assert chunked.fired == (7, "loss_content = 50, over 10x its recent median (1)")
    # In chunks of 2 the diagnostic's chunk (steps 4-5) comes first.
    pairs = guard()
    pairs.replay(losses, saturated, every=2)
    assert pairs.fired[0] == 4 and pairs.fired[1].startswith("saturated_fraction = 0.59")


def test_a_resume_replays_the_kept_log_to_the_guard(tmp_path, monkeypatch, content, style):
    """train() hands the guard the log rows before the checkpoint it resumes from."""
    from arst.guard import DivergenceGuard
    from arst.train import TrainLog
    log = TrainLog(tmp_path / "log.csv", ["step", "loss_content"])
    (tmp_path / "log.csv").write_text("step,loss_content\n1,0.5\n2,0.25\n3,0.125\n")
    assert log.truncate(3) == [[1.0, 0.5], [2.0, 0.25]]  # row 3 is past the checkpoint
    assert (tmp_path / "log.csv").read_text().splitlines() == ["step,loss_content", "1,0.5", "2,0.25"]

    replayed = []
    replay = DivergenceGuard.replay

    def spy(self, loss_rows, diag_rows, every):
        replayed.append(([int(r[0]) for r in loss_rows], [int(r[0]) for r in diag_rows], every))
        replay(self, loss_rows, diag_rows, every)
    monkeypatch.setattr(DivergenceGuard, "replay", spy)
    recipe = _small("corrected")
    train(content, style, tmp_path / "run", recipe, tiny(3, diagnostics_every=2), seed=3, progress=False)
    train(content, style, tmp_path / "run", recipe, tiny(5, diagnostics_every=2), seed=3, progress=False)
    # A fresh run replays nothing; the resumed one with the rows before its checkpoint (step 3):
    # the losses of steps 0 to 2 and the diagnostics of steps 0 and 2 (the end's, at 3, are dropped),
    # in the chunks the run flushed them in (log_every).
    every = tiny(5).log_every
    assert replayed == [([], [], every), ([0, 1, 2], [0, 2], every)]


def test_a_resume_clears_a_divergence_its_log_does_not_show(tmp_path, content, style, caplog):
    """A checkpoint whose older guard fired by mistake (the 5,000-step swirl run recorded step
    2,005) is judged again from its log when it resumes: the healthy log clears the record."""
    from arst import checkpoint
    recipe, run = _small("corrected"), tmp_path / "run"
    train(content, style, run, recipe, tiny(3, diagnostics_every=2), seed=3, progress=False)
    state = checkpoint.load(run / "checkpoint.pt")
    assert state["diverged_at"] is None
    checkpoint.save(run / "checkpoint.pt", {**state, "diverged_at": 2})  # what the older guard wrote
    caplog.set_level("WARNING", logger="arst")
    train(content, style, run, recipe, tiny(5, diagnostics_every=2), seed=3, progress=False)
    assert checkpoint.load(run / "model.pt")["diverged_at"] is None
    assert checkpoint.load(run / "checkpoint.pt")["diverged_at"] is None
    said = [r.getMessage() for r in caplog.records if "replaying its log" in r.getMessage()]
    assert said == [f"{run / 'checkpoint.pt'} recorded a divergence at step 2; the guard, replaying its log up "
                    f"to step 3, finds no divergence: the log's verdict stands"]
