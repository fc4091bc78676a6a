"""The one training loop every recipe runs: checkpoint, resume, log.

Everything random in a step (which images, which alpha) is a pure function of (seed,
step), so a run resumed from a checkpoint at step k continues exactly as an unbroken one.
"""

from __future__ import annotations

import csv
import logging
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from . import checkpoint
from .alphas import sample_alpha, step_generator
from .data.images import ContentCache, load_style
from . import diagnostics
from .errors import ConfigError, TrainingDiverged
from .guard import DivergenceGuard
from .io import atomic_path, link_or_copy, sha256
from .losses import Objective, gradient_cosine
from .nn.model import build_model
from .recipe import Recipe
from .runtime import Runtime
from .schedule import Schedule, snapshot_name

log = logging.getLogger("arst")


class StepBatches(torch.utils.data.Dataset):
    """Item k is the uint8 batch of training step k: the sample stream runs through the
    images in order (or a seeded permutation per epoch), batches may straddle epochs."""

    def __init__(self, cache: ContentCache, batch: int, shuffle: bool, seed: int):
        self.cache, self.batch, self.shuffle, self.seed = cache, batch, shuffle, seed
        self._order = (None, None)  # (epoch, its permutation)

    def __len__(self) -> int:
        return 2**62

    def order(self, epoch: int) -> torch.Tensor:
        """Epoch `epoch`'s permutation, kept until the next epoch: drawing it costs about
        1 ms for COCO's 83k images, per sample that would be a CPU core at 1,000 img/s."""
        if self._order[0] != epoch:
            n = len(self.cache)
            self._order = (epoch, torch.randperm(n, generator=step_generator(self.seed, epoch, stream=2)))
        return self._order[1]

    def indices(self, step: int) -> list[int]:
        n, out = len(self.cache), []
        for position in range(step * self.batch, (step + 1) * self.batch):
            epoch, offset = divmod(position, n)
            out.append(int(self.order(epoch)[offset]) if self.shuffle else offset)
        return out

    def __getitem__(self, step: int) -> torch.Tensor:
        return self.cache.batch(self.indices(step))

    def loader(self, start: int, stop: int, workers: int = 0, pin_memory: bool = False):
        """Steps start, ..., stop - 1's batches in order, read by `workers` processes (0: this
        one), each pinned for an asynchronous copy to a GPU when `pin_memory`."""
        return torch.utils.data.DataLoader(self, batch_size=None, sampler=range(start, stop),
                                           num_workers=workers, pin_memory=pin_memory)


class TrainStep:
    """One recipe's model, frozen loss network, objective and optimiser on a runtime, and
    its optimiser step: what `train` runs every step, and what `arst bench` times.

    A call only enqueues work: it reads nothing back to the host, since every host sync
    (.item(), a blocking copy, a boolean index) idles the GPU until the host catches up.
    """

    def __init__(self, recipe: Recipe, runtime: Runtime, style_image: torch.Tensor, seed: int,
                 loss_weights: str = "random", loss_seed: int = 0):
        self.recipe, self.runtime = recipe, runtime
        self.model = runtime.module(build_model(recipe, seed, runtime.channel_multiple))
        # The port's optimiser never held the conditioner: freezing it is bit-identical and cheaper.
        self.model.conditioner.requires_grad_(recipe.train_conditioner)
        self.model.train()
        self.objective = runtime.module(Objective.for_recipe(recipe, style_image, loss_weights, loss_seed,
                                                             runtime.channel_multiple))
        groups = [{"params": list(self.model.stylizer.parameters())}]
        if recipe.train_conditioner:
            groups.append({"params": list(self.model.conditioner.parameters()),
                           "lr": recipe.conditioner_lr or recipe.lr})
        self.optimizer = torch.optim.Adam(groups, lr=recipe.lr, betas=recipe.betas,
                                          fused=runtime.cuda or None)
        self.trained = [p for g in groups for p in g["params"]]  # what grad_clip bounds, listed once
        # Model and loss network in one graph, so the compiler fuses across their boundary.
        self.compiled_loss = runtime.compiled(self.loss_of)

    def warm_up(self, step: int) -> None:
        """The stylizer's learning rate at `step` (0-based) under the recipe's stylizer_warmup:
        a function of the step alone, so a resumed run continues the ramp where it stopped."""
        if self.recipe.stylizer_warmup:
            self.optimizer.param_groups[0]["lr"] = self.recipe.lr * min(1.0, (step + 1) / self.recipe.stylizer_warmup)

    def loss_of(self, images: torch.Tensor, alpha: torch.Tensor):
        with self.runtime.autocast():
            output = self.model(images, alpha)
            total, raw, terms = self.objective.combine(self.objective.mse(output, images), alpha)
        return output, total, raw, terms

    def __call__(self, images: torch.Tensor, alpha: torch.Tensor, diagnose: bool = False):
        """images (B, 3, H, W) uint8 or float, on the host or the device; alpha (B or 1, n).

        Returns, on the device: the losses [total, raw term 0, raw term 1, ...] (a fresh
        tensor: a CUDA graph's own outputs do not outlive its next replay), alpha, and the
        content/style gradient cosine (a 1-tensor, NaN unless `diagnose`).
        """
        images = self.runtime.images(images)
        alpha = self.runtime.upload(alpha)
        with self.runtime.backend_flags():
            self.runtime.step_begin()
            output, total, raw, terms = (self.loss_of if diagnose else self.compiled_loss)(images, alpha)
            cosine = torch.full((), math.nan, device=self.runtime.device)
            if diagnose:
                cosine = gradient_cosine(output, terms[:, 0].mean(), terms[:, 1:].sum(1).mean())
            self.optimizer.zero_grad(set_to_none=True)
            total.backward()
            if self.recipe.grad_clip is not None:
                # foreach, and no error on a non-finite norm: nothing here reads back to the host.
                torch.nn.utils.clip_grad_norm_(self.trained, self.recipe.grad_clip, foreach=True)
            self.optimizer.step()
        self.objective.ema.update(raw)
        losses = torch.cat([total.detach().float()[None], raw.float()])
        return losses, alpha, cosine.float().reshape(1)


@dataclass
class TrainLog:
    """Per-step rows, kept on the device between flushes so the hot loop never syncs.

    A flush only starts the copy of its rows to the host (pinned memory, on the stream, with an
    event behind it) and writes the rows the flush before it started: by then that copy is long
    done, so the GPU never waits on the host. `flush(wait=True)`, before a checkpoint and at the
    end, writes everything, so a checkpoint never follows a loss nobody has checked.
    """

    path: Path
    columns: list[str]
    check_finite: bool = True  # column 1 (the loss) must be finite: a NaN stops training

    def __post_init__(self):
        self.pending: list[torch.Tensor] = []
        self.in_flight: list[tuple[torch.Tensor, torch.cuda.Event | None]] = []

    def truncate(self, start_step: int) -> list[list[float]]:
        """Drop rows a killed run wrote past its last checkpoint; returns the rows kept."""
        rows = []
        if self.path.exists():
            with open(self.path, newline="") as f:
                rows = [r for r in csv.reader(f)][1:]
            rows = [r for r in rows if r and int(float(r[0])) < start_step]
        with atomic_path(self.path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(self.columns)
            writer.writerows(rows)
        return [[float(v) if v != "" else float("nan") for v in r] for r in rows]

    def add(self, row: torch.Tensor) -> None:
        self.pending.append(row)

    def flush(self, wait: bool = False) -> list[list[float]]:
        """Start copying the pending rows to the host; write (and check for NaN) the rows of
        earlier flushes, all of them if `wait`. Returns the rows written."""
        if self.pending:
            rows = torch.stack(self.pending)
            self.pending.clear()
            event = None
            if rows.is_cuda:
                host = torch.empty(rows.shape, dtype=rows.dtype, pin_memory=True)
                host.copy_(rows, non_blocking=True)
                event = torch.cuda.Event()
                event.record()
                rows = host
            self.in_flight.append((rows, event))
        ready = self.in_flight if wait else self.in_flight[:-1]
        self.in_flight = self.in_flight[len(ready):]
        written = []
        for rows, event in ready:
            if event is not None:
                event.synchronize()
            written += self._write(rows.tolist())
        return written

    def _write(self, rows: list[list[float]]) -> list[list[float]]:
        bad = next((r for r in rows if self.check_finite and not math.isfinite(r[1])), None)
        if bad is not None:
            raise TrainingDiverged(
                f"loss became {bad[1]} at step {int(bad[0])}; training stopped and the last "
                f"good checkpoint is kept in {self.path.parent}")
        with open(self.path, "a", newline="") as f:
            csv.writer(f).writerows([[int(r[0])] + r[1:] for r in rows])
        return rows


class Progress:
    """Training progress: a tqdm bar on a terminal; anywhere else (a Snakemake log file, a
    SLURM output file) one plain log line every `every` steps, since a bar's carriage-return
    frames pile up in a file (about 70 per 100 steps, 86,000 in a 200,000-step job)."""

    def __init__(self, steps: int, start: int, desc: str, every: int, enabled: bool = True, stream=None):
        stream = stream or sys.stderr
        self.steps, self.start, self.desc, self.every = steps, start, desc, every
        terminal = enabled and stream.isatty()
        self.bar = tqdm(total=steps, initial=start, unit="step", mininterval=1.0, desc=desc, file=stream,
                        disable=not terminal)
        self.lines = enabled and not terminal
        self.began = time.perf_counter()
        self.row = None

    @staticmethod
    def interval(steps: int, log_every: int) -> int:
        """The steps between two lines: the first multiple of log_every (when the losses are
        read back) at or above 1% of the run, so a run logs about 100 lines at most."""
        return log_every * max(1, math.ceil(steps / 100 / log_every))

    def update(self, done: int, row: list[float] | None) -> None:
        """Step `done` is finished; `row` is the newest loss row read back (or None)."""
        self.bar.update(1)
        if row is not None and row is not self.row:
            self.bar.set_postfix(loss=f"{row[1]:.4g}", content=f"{row[2]:.3g}", refresh=False)
        self.row = row
        if self.lines and (done % self.every == 0 or done == self.steps):
            rate = (done - self.start) / max(time.perf_counter() - self.began, 1e-9)
            losses = f", loss {row[1]:.4g} (content {row[2]:.3g}) at step {int(row[0]) + 1}" if row else ""
            left = f", about {(self.steps - done) / rate:.0f} s left" if done < self.steps else ""
            log.info("%s: step %d/%d (%.0f%%)%s, %.2f steps/s%s", self.desc, done, self.steps,
                     100 * done / self.steps, losses, rate, left)

    def close(self) -> None:
        self.bar.close()


def without_optimizer(state: dict) -> dict:
    """A checkpoint as model.pt and the snapshots hold it: everything but the optimizer's state."""
    return {k: v for k, v in state.items() if k != "optimizer"}


def train(content: str | Path, style: str | Path, out_dir: str | Path, recipe: Recipe, schedule: Schedule,
          seed: int = 42, loss_weights: str = "random", loss_seed: int = 0, runtime: Runtime | None = None,
          progress: bool = True) -> Path:
    """Train `recipe` on `schedule` (its steps, or epochs: passes over the content images, the
    port's schedule); resume from out_dir/checkpoint.pt if it is there.

    Writes out_dir/checkpoint.pt (every `schedule.checkpoint_every` steps and at the end),
    out_dir/log.csv (step rows), out_dir/adjustability_log.csv (every `diagnostics_every`
    steps and at the end: diagnostics.adjustability on a fixed probe batch, the first four
    content images), and at the end out_dir/model.pt, out_dir/losses.csv and
    out_dir/adjustability.csv. Every checkpoint holds the schedule, resolved (its steps, batch
    and size as trained).

    The divergence guard (arst.guard) watches the logged losses and diagnostics: when one jumps
    beyond `schedule.divergence_factor` times its recent median (0: never), the log says so in
    one line, and every checkpoint from then on records `diverged_at`; with
    `schedule.stop_on_divergence` training stops there and model.pt is the last checkpoint
    written before the guard fired.

    After each step N of `schedule.snapshots` it writes the model as it is then, in the form of
    model.pt (its `step` N), as out_dir/model-stepN.pt, and first as
    out_dir/snapshots/model-stepN.pt, the same file where hard links are allowed: a workflow
    deletes its job's outputs before it reruns a killed job, and a run resumed past step N could
    not make it again without starting over. A snapshot is written, like a checkpoint, only after
    the guard has read every loss row up to it; none past a stop.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runtime = runtime or Runtime.resolve()
    size = schedule.size or recipe.image_size  # the cache's; the rest of the schedule needs its length
    content = Path(content)
    # The style first: a missing style must not wait for the whole content folder to decode
    # (COCO's 83,000 images).
    style_image = load_style(style, recipe.style_size)
    cache = ContentCache(content) if content.suffix == ".npy" else ContentCache.from_folder(content, size)
    schedule = schedule.resolved(recipe.batch_size, recipe.image_size, len(cache))
    steps, batch, every, log_every = schedule.steps, schedule.batch, schedule.checkpoint_every, schedule.log_every
    diagnostics_every = schedule.diagnostics_every
    if cache.size != size:
        raise ConfigError(f"content cache {content} holds {cache.size}px images, training asks for {size}px")
    # The recipe the checkpoint stores states what was trained, batch and size overrides included.
    recipe = recipe.replace(batch_size=batch, image_size=size)

    train_step = TrainStep(recipe, runtime, style_image, seed, loss_weights, loss_seed)
    model, objective = train_step.model, train_step.objective
    vgg = objective.vgg
    optimizer = train_step.optimizer

    identity = {"recipe": recipe.to_dict(), "seed": seed, "loss_net": vgg.kind,
                "loss_weights": str(loss_weights), "loss_seed": loss_seed, "batch": batch,
                "image_size": size, "style_sha256": sha256(style)}
    ckpt_path, start, diverged_at = out / "checkpoint.pt", 0, None

    def kept(step: int) -> Path:
        """Where the snapshot of `step` is kept: not a workflow's output, so never deleted by one."""
        return out / "snapshots" / snapshot_name(step)

    if ckpt_path.exists():
        state = checkpoint.load(ckpt_path)
        # The stored recipe read as today's Recipe reads it: a field added since, with its
        # default, is no clash (a checkpoint from before alpha_zero_prob resumes).
        state["recipe"] = Recipe.from_dict(state["recipe"], source=str(ckpt_path)).to_dict()
        clash = {k: (state.get(k), v) for k, v in identity.items() if state.get(k) != v}
        if clash:
            raise ConfigError(f"{ckpt_path} was made with other settings {sorted(clash)}: "
                              f"delete it to start over, or train into another folder")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        objective.ema.value.copy_(state["ema"])
        objective.ema.started.fill_(True)  # a checkpoint follows at least one update
        start = state["step"]
        diverged_at = state.get("diverged_at")
        # A checkpoint from before schedules were stored has none: nothing to compare.
        before = Schedule.from_dict(state["schedule"], str(ckpt_path)) if "schedule" in state else schedule
        changed = schedule.changes(before)
        log.info("resuming %s from step %d%s", out, start, f" ({', '.join(changed)})" if changed else "")
        for step in (step for step in schedule.snapshots if step <= start and not kept(step).exists()):
            if (out / snapshot_name(step)).exists():  # the same model, only its kept copy gone
                link_or_copy(out / snapshot_name(step), kept(step))
            elif step == start:  # the checkpoint is the model at that step
                checkpoint.save(kept(step), without_optimizer(state))
            else:
                raise ConfigError(f"{out / snapshot_name(step)} is missing and {ckpt_path} is at step {start}: a "
                                  f"snapshot cannot be made again without retraining; delete {ckpt_path} to retrain")

    names = objective.term_names
    columns = (["step", "loss_total"] + [f"loss_{n}" for n in names] + [f"ema_{n}" for n in names]
               + [f"alpha_{n}" for n in recipe.style_layers] + ["grad_cosine", "elapsed_s"])
    train_log = TrainLog(out / "log.csv", columns)
    loss_rows = train_log.truncate(start)
    diag_log = TrainLog(out / "adjustability_log.csv", ["step", *diagnostics.columns(recipe.style_layers)],
                        check_finite=False)
    diag_rows = diag_log.truncate(start)
    guard = (DivergenceGuard(columns, diag_log.columns, schedule.divergence_factor)
             if schedule.divergence_factor > 0 else None)
    if guard is not None:
        # A resumed run's guard starts from the history an unbroken one would have: judged
        # against five rows, a raw loss near zero (relu2_2's swirl term at 1e-7 to 2e-5 from one
        # batch to the next) fired 5 steps after a resume at step 2,000 on a healthy run. The
        # replay also judges that history again: the log, not the checkpoint, says whether the
        # run diverged, so a false alarm recorded by an older guard is cleared when it resumes.
        recorded = diverged_at
        guard.replay(loss_rows, diag_rows, log_every)
        diverged_at = guard.fired[0] if guard.fired else None
        if recorded != diverged_at:
            def said(step: int | None) -> str:
                return "no divergence" if step is None else f"a divergence at step {step}"
            found = f"{said(diverged_at)} ({guard.fired[1]})" if guard.fired else said(None)
            log.warning("%s recorded %s; the guard, replaying its log up to step %d, finds %s: the log's verdict "
                        "stands", ckpt_path, said(recorded), start, found)
    probe = runtime.images(cache.batch(list(range(min(4, len(cache))))))
    probe_alphas = runtime.upload(diagnostics.probe_alphas(recipe.n_alpha))

    def diagnose_adjustability(step: int) -> None:
        """Enqueued like a training step, read back with the loss rows: no host sync."""
        diag_log.add(torch.cat([torch.full((1,), step, device=runtime.device, dtype=torch.float32),
                                diagnostics.adjustability(model, probe, runtime, probe_alphas)]))

    def watch(rows: list[list[float]], diag_rows: list[list[float]]) -> bool:
        """Feed the guard the rows just written; True when training must stop here."""
        nonlocal diverged_at
        if guard is None or diverged_at is not None or guard.check(rows, diag_rows) is None:
            return False
        diverged_at = guard.fired[0]
        log.warning("%s", guard.message(str(ckpt_path) if ckpt_path.exists() else "none yet"))
        return schedule.stop_on_divergence

    def save_checkpoint(step: int, keep: bool = True, snapshot: bool = False) -> tuple[list[list[float]], bool]:
        """Write every pending row, then, unless the guard stops training on those rows, the
        snapshot of this step (where `snapshot`) and the checkpoint (where `keep`); on a stop, the
        checkpoint only if none from before is there to keep. One state, built once, serves both.
        Returns the loss rows written, and whether to stop."""
        rows = train_log.flush(wait=True)
        stop = watch(rows, diag_log.flush(wait=True))
        state = checkpoint.provenance(
            **identity, step=step, steps=steps, schedule=schedule.to_dict(), content=str(content),
            content_images=len(cache),
            style=str(style), model=model.state_dict(), optimizer=optimizer.state_dict(),
            ema=objective.ema.value.detach().cpu(), runtime=runtime.describe(), diverged_at=diverged_at)
        if snapshot and not stop:
            # Before the checkpoint: a run killed between the two resumes before this step and writes both.
            checkpoint.save(kept(step), without_optimizer(state))
            link_or_copy(kept(step), out / snapshot_name(step))
        if (keep or stop) and not (stop and ckpt_path.exists()):
            checkpoint.save(ckpt_path, state)
        return rows, stop

    batches = StepBatches(cache, batch, recipe.shuffle, seed).loader(start, steps, schedule.workers, runtime.cuda)
    began = time.perf_counter()
    shown = Progress(steps, start, f"train {recipe.name} seed {seed}", Progress.interval(steps, log_every),
                     enabled=progress)
    newest = None  # the newest loss row read back from the device
    stopped = False
    for step, images in zip(range(start, steps), batches):
        diagnose = bool(diagnostics_every) and step % diagnostics_every == 0
        if diagnose:
            diagnose_adjustability(step)
        train_step.warm_up(step)
        losses, alpha, cosine = train_step(images, sample_alpha(recipe, step, batch, seed), diagnose)
        # torch.full, not torch.tensor: a host value copied to the device would sync.
        train_log.add(torch.cat([torch.full((1,), step, device=runtime.device, dtype=torch.float32),
                                 losses, objective.ema.value.clone(), alpha.float().mean(0), cosine,
                                 torch.full((1,), time.perf_counter() - began, device=runtime.device)]))
        done = step + 1
        if done % log_every == 0 or done == steps:
            rows = train_log.flush()
            stopped = watch(rows, diag_log.flush())
            newest = rows[-1] if rows else newest  # the rows of the flush before this one
        if stopped:  # the rows just read fired the guard: keep the checkpoint from before them
            train_log.flush(wait=True), diag_log.flush(wait=True)
            if not ckpt_path.exists():
                save_checkpoint(done)
        elif (done % every == 0 and done != steps) or done in schedule.snapshots:
            rows, stopped = save_checkpoint(done, keep=done % every == 0, snapshot=done in schedule.snapshots)
            newest = (rows or [newest])[-1]
        shown.update(done, newest)
        if stopped:
            break
    shown.close()
    if stopped:
        log.warning("stopped at step %d (train.stop_on_divergence); model.pt is the checkpoint of step %d",
                    done, checkpoint.load(ckpt_path)["step"])
        missed = [step for step in schedule.snapshots if step >= done]  # the guard fired on rows up to `done`
        if missed:
            log.warning("no snapshot written at step %s: training stopped at step %d, so %s will be missing",
                        ", ".join(map(str, missed)), done, ", ".join(snapshot_name(step) for step in missed))
    elif start < steps:
        if diagnostics_every:
            diagnose_adjustability(steps)
        save_checkpoint(steps)
    final = without_optimizer(checkpoint.load(ckpt_path))
    final["diverged_at"] = diverged_at  # also when the checkpoint predates the guard's firing
    checkpoint.save(out / "model.pt", final)
    for step in schedule.snapshots:  # those a workflow deleted before it reran this job
        passed = not stopped or step < done
        if passed and kept(step).exists() and not (out / snapshot_name(step)).exists():
            link_or_copy(kept(step), out / snapshot_name(step))
    for log_file, result in (("log.csv", "losses.csv"), ("adjustability_log.csv", "adjustability.csv")):
        with atomic_path(out / result) as tmp:
            tmp.write_bytes((out / log_file).read_bytes())
    log.info("trained %s (%s) for %d steps in %.1fs -> %s", recipe.name, vgg.kind,
             (done if stopped else steps) - start, time.perf_counter() - began, out / "model.pt")
    return out / "model.pt"
