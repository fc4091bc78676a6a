"""`arst bench`: training img/s and stylizing fps of the fast path against the port as
shipped, measured in one process on one device, and a numerics check of the fast path.

As shipped: the baseline recipe on a plain fp32 eager runtime. Fast path: the corrected
recipe on the runtime this machine resolves to (bf16 autocast, channels_last and
torch.compile on CUDA; on the CPU that is plain fp32 too, so there the numerics must agree
exactly). Content is synthetic uint8 already on the device, so the figures are the
model's and not the disk's; alpha is drawn per step on the host, as training draws it.
The data path, which must keep up with training, is timed on its own.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .alphas import sample_alpha
from .data.embedded import make_style
from .data.images import ContentCache, load_style
from .errors import ConfigError
from .nn.model import build_model
from .nn.vgg import describe_weights
from .recipe import load_recipe
from .runtime import Runtime
from .stylize import stylize_tensor
from .train import StepBatches, TrainStep

SHIPPED, FAST = "baseline", "corrected"
# Settings per device type: CUDA's are the issue's (256x256, batch 8, 100 numerics steps);
# the CPU's keep a run to seconds.
DEFAULTS = {
    "cuda": dict(sizes="256,512,1920x1080", train_size=256, batch=8, warmup=10, train_steps=50,
                 stylize_iters=100, numerics_steps=100, numerics_last=20, data_steps=500,
                 workers=f"0,{min(4, os.cpu_count() or 1)}"),
    "cpu": dict(sizes="64,128", train_size=64, batch=2, warmup=1, train_steps=3,
                stylize_iters=3, numerics_steps=4, numerics_last=2, data_steps=20, workers="0"),
}
# The issue's goals on one H100, printed beside the figures they apply to.
GOALS = {"train_img_s": 1000.0, "stylize_1920x1080_fps": 300.0, "numerics_max_rel_diff": 0.02}


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """'256,512,1920x1080' -> [(256, 256), (512, 512), (1080, 1920)]: (height, width);
    WxH, as screens are named."""
    sizes = []
    for item in text.replace(" ", "").split(","):
        if not item:
            continue
        try:
            w, _, h = item.lower().partition("x")
            sizes.append((int(h or w), int(w)))
        except ValueError:
            raise ConfigError(f"--sizes item {item!r}: expected N or WxH") from None
    return sizes


def size_name(size: tuple[int, int]) -> str:
    return f"{size[1]}x{size[0]}"


def synthetic_content(n: int, size: int, seed: int) -> torch.Tensor:
    """n uint8 images: smooth random colour fields with fine noise, closer to photographs'
    statistics than white noise, so the numerics check trains on something image-like."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, 8, 8, generator=g) * 255
    smooth = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)
    noisy = smooth + 12 * torch.randn(n, 3, size, size, generator=g)
    return noisy.clamp(0, 255).round().to(torch.uint8)


def synthetic_style(size: int) -> torch.Tensor:
    with tempfile.TemporaryDirectory() as tmp:
        return load_style(make_style("mosaic", Path(tmp) / "style.png", size=size))


class Content:
    """A pool of content images on the device; step k takes the k-th batch, round robin."""

    def __init__(self, runtime: Runtime, batch: int, size: int, batches: int = 16, seed: int = 0):
        self.batch, self.batches = batch, batches
        self.pool = runtime.upload(synthetic_content(batch * batches, size, seed))

    def __call__(self, step: int) -> torch.Tensor:
        start = (step % self.batches) * self.batch
        return self.pool[start:start + self.batch]


def timed(runtime: Runtime, fn, first: int, count: int) -> float:
    """Seconds for fn(first), ..., fn(first + count - 1), the device drained before and
    after: fn itself never waits for the device, so this is its throughput."""
    runtime.synchronize()
    began = time.perf_counter()
    for i in range(first, first + count):
        fn(i)
    runtime.synchronize()
    return time.perf_counter() - began


def profiled(runtime: Runtime, fn, first: int, count: int) -> str:
    """torch.profiler's table of `count` calls of fn, by device time (CPU time on the CPU)."""
    from torch.profiler import ProfilerActivity, profile
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if runtime.cuda else [])
    with profile(activities=activities) as prof:
        timed(runtime, fn, first, count)
    key = "self_device_time_total" if runtime.cuda else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=30)


def synthetic_cache(folder: Path, size: int, seed: int, images: int = 512) -> ContentCache:
    """A prepared content cache (a .npy file of uint8 rows) of synthetic images in `folder`."""
    path = folder / "content.npy"
    np.save(path, synthetic_content(images, size, seed).permute(0, 2, 3, 1).numpy())
    return ContentCache(path)


def data_path(runtime: Runtime, cache: ContentCache, batch: int, steps: int, warmup: int,
              workers: int, seed: int) -> float:
    """img/s of training's data path alone, as `train` reads a prepared cache: uint8 rows
    memory-mapped from a .npy file, shuffled batches read by `workers` processes, pinned,
    copied to the device and made float there. The file was just written, so it is read
    from the page cache: the steady state of a machine whose memory holds the cache."""
    batches = StepBatches(cache, batch, shuffle=True, seed=seed)
    stream = iter(batches.loader(0, warmup + steps, workers, pin_memory=runtime.cuda))

    def fetch(_):
        return runtime.images(next(stream))
    timed(runtime, fetch, 0, warmup)  # worker start-up
    return steps * batch / timed(runtime, fetch, warmup, steps)


def trainer(step: TrainStep, content: Content, seed: int):
    """fn(k): optimiser step k on the k-th content batch and step k's alpha; returns the
    step's loss row, on the device."""
    return lambda k: step(content(k), sample_alpha(step.recipe, k, content.batch, seed))[0]


def stylizer(recipe, runtime: Runtime, size: tuple[int, int], frames: int, seed: int):
    """fn(i): stylize one (1, 3, H, W) frame at the i-th of `frames` random alphas (alpha is
    data to a compiled graph: changing it costs no recompilation)."""
    model = runtime.inference(runtime.module(build_model(recipe, seed, runtime.channel_multiple)))
    g = torch.Generator().manual_seed(seed)
    frame = runtime.images(torch.randint(0, 256, (1, 3, *size), generator=g, dtype=torch.uint8))
    alphas = runtime.upload(torch.rand(frames, 1, recipe.n_alpha, generator=g))
    return lambda i: stylize_tensor(model, frame, alphas[i % frames], runtime)


def compare_losses(reference, fast, names: list[str], last: int) -> dict:
    """Per-layer raw losses (loss rows [total, term 0, ...], one per step), each the mean
    of the last `last` steps, fast vs reference; NaN anywhere in either run is flagged."""
    ref, new = torch.stack(reference).cpu().double(), torch.stack(fast).cpu().double()
    nan = not (torch.isfinite(ref).all() and torch.isfinite(new).all())
    a, b = ref[-last:, 1:].mean(0), new[-last:, 1:].mean(0)
    diff = (b - a).abs()
    rel = torch.where(diff == 0, torch.zeros_like(diff), diff / a.abs())
    per_layer = {n: {"fp32": float(a[i]), "fast": float(b[i]), "rel_diff": float(rel[i])}
                 for i, n in enumerate(names)}
    return {"steps": len(reference), "last": last, "per_layer": per_layer,
            "max_rel_diff": float(rel.max()), "nan": nan}


def bench(runtime: Runtime, sizes: list[tuple[int, int]], train_size: int, batch: int, warmup: int,
          train_steps: int, stylize_iters: int, numerics_steps: int, numerics_last: int,
          data_steps: int = 0, workers: tuple[int, ...] = (0,), loss_weights: str = "random", loss_seed: int = 0,
          seed: int = 0, report=print, save=None, profile=None) -> dict:
    """Every figure, as a dict (see `--json`). `report` gets a line per figure as it is
    measured, `save` the dict so far after each measurement, `profile` (if given) profiler
    tables of the fast path's training step and of its largest frame size.

    A measurement that fails leaves its figure None and a line in "errors", and the others
    still run: one run on a borrowed GPU should bring back everything that worked."""
    shipped_rt = Runtime(runtime.device)
    shipped, fast = load_recipe(SHIPPED), load_recipe(FAST)
    style = synthetic_style(train_size)
    content = Content(runtime, batch, train_size, seed=seed)
    device = torch.cuda.get_device_name(runtime.device) if runtime.cuda else "cpu"
    out = {"device": device, "torch": torch.__version__,
           "shipped": {"recipe": SHIPPED, "runtime": shipped_rt.describe(), "dtype": shipped_rt.precision},
           "fast": {"recipe": FAST, "runtime": runtime.describe(), "dtype": runtime.precision},
           "loss_net": describe_weights(loss_weights, loss_seed),
           "train": {"size": train_size, "batch": batch, "steps": train_steps, "warmup": warmup},
           "data": [],
           "stylize": [], "numerics": {}, "errors": []}

    def attempt(what: str, fn):
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - see the docstring
            traceback.print_exc(file=sys.stderr)
            out["errors"].append(f"{what}: {type(exc).__name__}: {exc}")
            report(f"{what}: FAILED ({type(exc).__name__}: {exc})")
            return None
        finally:
            if runtime.cuda:
                torch.cuda.empty_cache()
            if save:
                save(out)

    if save:
        save(out)

    # First: worker processes fork from this one, best before compilation starts its threads.
    with tempfile.TemporaryDirectory() as tmp:
        cache = synthetic_cache(Path(tmp), train_size, seed) if data_steps and workers else None
        for count in workers if cache is not None else ():
            row = {"workers": count, "steps": data_steps}
            out["data"].append(row)

            def data_rate():
                rate = data_path(runtime, cache, batch, data_steps, warmup, count, seed)
                report(f"data path ({count} workers): {rate:.1f} img/s")
                return rate
            row["img_s"] = attempt(f"data path, {count} workers", data_rate)

    def make_step(recipe, rt):
        return TrainStep(recipe, rt, style, seed, loss_weights, loss_seed)

    def train_rate(run, done: int) -> float:
        """img/s over `train_steps` steps, after warm-up to step `warmup` (compilation
        included) from step `done`."""
        for k in range(done, warmup):
            run(k)
        return train_steps * batch / timed(runtime, run, max(warmup, done), train_steps)

    def shipped_training():
        rate = train_rate(trainer(make_step(shipped, shipped_rt), content, seed), 0)
        report(f"train as shipped ({SHIPPED}, fp32 eager): {rate:.1f} img/s")
        return rate

    out["train"]["shipped_img_s"] = attempt("train as shipped", shipped_training)

    def fast_training():
        # The check's steps double as the fast path's warm-up (and compilation).
        fast_step = make_step(fast, runtime)
        candidate = trainer(fast_step, content, seed)
        reference = trainer(make_step(fast, shipped_rt), content, seed)
        rows = [(reference(k), candidate(k)) for k in range(numerics_steps)]
        if rows:
            n = out["numerics"] = compare_losses(*zip(*rows), names=fast_step.objective.term_names,
                                                 last=min(max(numerics_last, 1), numerics_steps))
            report(f"numerics ({FAST}, {numerics_steps} steps, fp32 vs fast path): max relative "
                   f"difference of per-layer losses {100 * n['max_rel_diff']:.3f}%, NaN: {n['nan']}")
        del reference, rows
        rate = train_rate(candidate, numerics_steps)
        report(f"train fast path ({FAST}, {runtime.precision}): {rate:.1f} img/s")
        if profile:
            profile(f"train fast path, {train_size}x{train_size} batch {batch}, 5 steps",
                    profiled(runtime, candidate, max(warmup, numerics_steps) + train_steps, 5))
        return rate

    out["train"]["fast_img_s"] = attempt("train fast path", fast_training)

    largest = max(sizes, key=lambda hw: hw[0] * hw[1], default=None)
    for size in sizes:
        row = {"size": size_name(size), "height": size[0], "width": size[1], "iters": stylize_iters}
        out["stylize"].append(row)
        for key, recipe, rt in (("shipped_fps", shipped, shipped_rt), ("fast_fps", fast, runtime)):
            label = f"stylize {size_name(size)} {'as shipped' if rt is shipped_rt else 'fast path'}"

            def measure():
                run = stylizer(recipe, rt, size, warmup + stylize_iters, seed)
                for i in range(warmup):
                    run(i)
                fps = stylize_iters / timed(rt, run, warmup, stylize_iters)
                report(f"{label}: {fps:.1f} fps")
                if profile and rt is runtime and size == largest:
                    profile(f"{label}, 5 frames", profiled(rt, run, 0, 5))
                return fps
            row[key] = attempt(label, measure)

    for entry, unit in ((out["train"], "img_s"), *((row, "fps") for row in out["stylize"])):
        a, b = entry.get(f"shipped_{unit}"), entry.get(f"fast_{unit}")
        entry["ratio"] = b / a if a and b else None
    if save:
        save(out)
    return out


def format_table(r: dict) -> str:
    def num(v, unit="", digits=1):
        return "failed" if v is None else f"{v:,.{digits}f}{unit}"

    def goal(value, target, above=True, shown=None):
        if value is None:
            return ""
        return f"goal {shown or f'{target:g}'}: " + ("met" if (value >= target) == above else "NOT met")

    t = r["train"]
    train_goal = goal(t["fast_img_s"], GOALS["train_img_s"]) if r["fast"]["dtype"] == "bf16" else ""
    lines = [f"device: {r['device']} (torch {r['torch']}), loss network {r['loss_net']}",
             f"as shipped: {r['shipped']['recipe']} recipe, {r['shipped']['runtime']}",
             f"fast path:  {r['fast']['recipe']} recipe, {r['fast']['runtime']}",
             "",
             f"{'':34}{'as shipped':>12}{'fast path':>12}{'ratio':>9}",
             f"{'dtype':34}{r['shipped']['dtype']:>12}{r['fast']['dtype']:>12}",
             f"{'train ' + str(t['size']) + 'x' + str(t['size']) + ' batch ' + str(t['batch']) + ' img/s':34}"
             f"{num(t['shipped_img_s']):>12}{num(t['fast_img_s']):>12}{num(t['ratio'], 'x', 2):>9}  "
             f"{train_goal}".rstrip()]
    for d in r["data"]:
        keeps_up = goal(d["img_s"], GOALS["train_img_s"]) if train_goal else ""  # it must keep up
        lines.append(f"{'data path, ' + str(d['workers']) + ' workers, img/s':34}{'':>12}"
                     f"{num(d['img_s']):>12}{'':>9}  {keeps_up}".rstrip())
    for s in r["stylize"]:
        mark = goal(s["fast_fps"], GOALS["stylize_1920x1080_fps"]) if s["size"] == "1920x1080" else ""
        lines.append(f"{'stylize ' + s['size'] + ' fps':34}{num(s['shipped_fps']):>12}"
                     f"{num(s['fast_fps']):>12}{num(s['ratio'], 'x', 2):>9}  {mark}".rstrip())
    n = r["numerics"]
    if n:
        percent = f"{100 * GOALS['numerics_max_rel_diff']:g}%"
        lines += ["", f"numerics: {r['fast']['recipe']} recipe, {n['steps']} steps from the same start, "
                      f"fp32 eager vs fast path, per-layer raw loss averaged over the last {n['last']}:"]
        for name, v in n["per_layer"].items():
            lines.append(f"  {name:10} fp32 {v['fp32']:.6g}  fast {v['fast']:.6g}  "
                         f"diff {100 * v['rel_diff']:.3f}%")
        lines.append(f"  max relative difference {100 * n['max_rel_diff']:.3f}% "
                     f"({goal(n['max_rel_diff'], GOALS['numerics_max_rel_diff'], above=False, shown=percent)}); "
                     f"NaN: {'YES' if n['nan'] else 'none'}")
    for e in r["errors"]:
        lines.append(f"FAILED {e}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- CPU stylizing paths

# Every way arst can stylize on a CPU, compared by `arst bench --device cpu`: name -> Runtime
# settings (each resolved as Runtime.resolve would, on the CPU).
CPU_PATHS = {
    "eager": dict(),
    "channels_last": dict(channels_last=True),
    "bf16": dict(precision="bf16"),
    "compile": dict(compile=True),
    "onnxruntime": dict(engine="onnxruntime"),
    "onnxruntime_int8": dict(engine="onnxruntime"),  # its convolutions in int8: the live page's preview
}
# Paths that never stylize what is saved or evaluated (arst.export.preview_stylizer): shown for
# their speed, judged by the preview's own tolerance, never the default.
PREVIEW_PATHS = ("onnxruntime_int8",)
CPU_PATH_SIZES = "256,512,1920x1080"


def model_flops(model: torch.nn.Module, size: tuple[int, int]) -> int:
    """FLOPs of one frame of `size` (fp32 eager; torch.utils.flop_counter counts convolutions
    and matrix products, 2 per multiply-add), counted on the meta device: no arithmetic runs."""
    import copy

    from torch.utils.flop_counter import FlopCounterMode
    meta = copy.deepcopy(model).to("meta")
    h, w = size
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        meta(torch.zeros(1, 3, h + (-h) % 4, w + (-w) % 4, device="meta"),
             torch.zeros(1, model.n_alpha, device="meta"))
    return counter.get_total_flops()


def cpu_paths(paths: list[str], sizes: list[tuple[int, int]], iters: int, warmup: int, seed: int = 0,
              report=print) -> dict:
    """ms per frame of the default's corrected model (its architecture; weights as built) on
    each CPU path in `paths` at each size, its ratio to eager fp32, achieved GFLOP/s, and the
    largest difference of its output from eager's on the same frame (grey levels of 255),
    judged against arst.export.TOLERANCE. Also which path Runtime.resolve picks by default."""
    from .export import TOLERANCE
    unknown = [p for p in paths if p not in CPU_PATHS]
    if unknown:
        raise ConfigError(f"--paths {','.join(unknown)}: expected some of {','.join(CPU_PATHS)}")
    recipe = load_recipe(FAST)
    model = build_model(recipe, seed).eval()
    default = Runtime.resolve("cpu", engine="auto")
    out = {"recipe": FAST, "threads": torch.get_num_threads(), "tolerance": TOLERANCE,
           "default": default.describe(), "default_path": "onnxruntime" if default.engine == "onnxruntime"
           else "eager", "sizes": [], "errors": []}
    alpha = torch.tensor([recipe.default_alpha], dtype=torch.float32)

    @functools.cache  # quantized once: its calibration does not depend on the frame's size
    def int8_engine():
        from .export import OnnxStylizer, quantized
        return OnnxStylizer(quantized(OnnxStylizer.from_model(build_model(recipe, seed)).proto))

    for size in sizes:
        frame = synthetic_content(1, max(size), seed)[..., :size[0], :size[1]].float()
        flops = model_flops(model, size)
        row = {"size": size_name(size), "gflop": flops / 1e9, "paths": {}}
        out["sizes"].append(row)
        reference = None
        for name in ["eager"] + [p for p in paths if p != "eager"]:
            rt = Runtime.resolve("cpu", **{"precision": "fp32", "compile": False, "channels_last": False,
                                          "engine": "torch", **CPU_PATHS[name]})
            try:
                run = int8_engine() if name in PREVIEW_PATHS else rt.inference(rt.module(build_model(recipe, seed)))
                for _ in range(warmup):
                    y = stylize_tensor(run, frame, alpha, rt)
                began = time.perf_counter()
                for _ in range(iters):
                    y = stylize_tensor(run, frame, alpha, rt)
                seconds = (time.perf_counter() - began) / iters
            except Exception as exc:  # noqa: BLE001 - one path failing leaves the others' figures
                out["errors"].append(f"{name} {row['size']}: {type(exc).__name__}: {exc}")
                report(f"cpu path {name} {row['size']}: FAILED ({type(exc).__name__}: {exc})")
                continue
            if reference is None:
                reference = y
            diff = float((y - reference).abs().max())
            row["paths"][name] = {"ms": 1e3 * seconds, "gflop_s": flops / 1e9 / seconds, "max_diff": diff,
                                  "within_tolerance": diff <= TOLERANCE and name not in PREVIEW_PATHS}
            report(f"cpu path {name} {row['size']}: {1e3 * seconds:.0f} ms, {flops / 1e9 / seconds:.0f} "
                   f"GFLOP/s, max diff to eager {diff:.3g}")
            del run
        eager = row["paths"].get("eager", {}).get("ms")
        for entry in row["paths"].values():
            entry["ratio"] = eager / entry["ms"] if eager else None
    return out


def format_cpu_paths(r: dict) -> str:
    sizes = r["sizes"]
    names = list(dict.fromkeys(n for s in sizes for n in s["paths"]))
    head = f"{'path':16}" + "".join(f"{s['size'] + ' (' + format(s['gflop'], '.3g') + ' GFLOP)':>30}" for s in sizes)
    lines = [f"CPU stylizing paths: {r['recipe']} model, 1 frame, {r['threads']} threads; ms per frame, "
             f"speed-up over eager, GFLOP/s; max |diff| to eager in grey levels (tolerance {r['tolerance']:g})",
             head]
    for name in names:
        cells, diffs = [], []
        for s in sizes:
            p = s["paths"].get(name)
            if p is None:
                cells.append(f"{'failed':>30}")
                continue
            cells.append(f"{p['ms']:>11,.0f} ms {p['ratio']:>5.2f}x {p['gflop_s']:>5.0f} GF/s")
            diffs.append(p["max_diff"])
        worst = max(diffs, default=float("nan"))
        verdict = ("preview only" if name in PREVIEW_PATHS else "ok" if worst <= r["tolerance"]
                   else "OVER tolerance")
        mark = "  <- default" if name == r["default_path"] else ""
        lines.append(f"{name:16}" + "".join(cells) + f"   diff {worst:.2g} {verdict}{mark}")
    passing = {n: sum(s["paths"][n]["ms"] for s in sizes if n in s["paths"]) for n in names
               if all(n in s["paths"] and s["paths"][n]["within_tolerance"] for s in sizes)}
    fastest = min(passing, key=passing.get, default=None)
    lines.append(f"default runtime here: {r['default']}; fastest path within tolerance: {fastest}"
                 + ("" if fastest == r["default_path"] else "  (NOT the default)"))
    for e in r["errors"]:
        lines.append(f"FAILED {e}")
    return "\n".join(lines)
