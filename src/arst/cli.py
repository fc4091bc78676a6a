"""`arst VERB ...`: every step of the pipeline runs alone from a shell with explicit
paths and values; the Snakemake rules only call these verbs."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Callable

import yaml

from .errors import ArstError, ConfigError

log = logging.getLogger("arst")
Setup = Callable[[argparse.ArgumentParser], Callable[[argparse.Namespace], None]]
VERBS: dict[str, tuple[Setup, str]] = {}


def verb(name: str, help: str):
    """Register `arst NAME`: the decorated function adds its arguments and returns its runner."""
    def register(setup: Setup) -> Setup:
        VERBS[name] = (setup, help)
        return setup
    return register


def parse_overrides(pairs: list[str]) -> dict:
    """KEY=VALUE pairs, VALUE read as YAML (so 'true', '1e-3', '[1, 0, 0]' keep their types)."""
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {pair!r}: expected KEY=VALUE")
        out[key.strip()] = yaml.safe_load(value)
    return out


def runtime_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("runtime (auto: fast path on CUDA, plain fp32 on the CPU)")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    g.add_argument("--precision", default="auto", help="auto, fp32 or bf16")
    g.add_argument("--compile", default="auto", help="auto, true or false (torch.compile)")
    g.add_argument("--channels-last", default="auto", help="auto, true or false")
    g.add_argument("--channel-multiple", default="auto",
                   help="pad convolutions' channel counts to this multiple, e.g. 8 for tensor "
                        "cores (auto: 1, no padding; the results are the same either way)")
    g.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's own choice)")


def runtime_from(args):
    import torch
    from .runtime import Runtime
    if args.threads:
        torch.set_num_threads(args.threads)
    return Runtime.resolve(args.device, args.precision, args.compile, args.channels_last,
                           channel_multiple=args.channel_multiple)


# --- train / stylize --------------------------------------------------------------------

@verb("train", "train one implementation (recipe) on a content folder or prepared cache")
def _train(p):
    p.add_argument("--content", required=True, help="folder of images, or a prepared .npy cache")
    p.add_argument("--style", required=True, help="style image")
    p.add_argument("--recipe", default="baseline", help="preset (baseline, corrected) or YAML file")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a recipe field")
    p.add_argument("--name", help="the model's name in its checkpoint and every table (default: the "
                                  "recipe's; the workflow passes the config's implementation key)")
    p.add_argument("--out", required=True, help="output folder (checkpoint.pt, log.csv, model.pt, losses.csv)")
    sched = p.add_mutually_exclusive_group(required=True)
    sched.add_argument("--steps", type=int)
    sched.add_argument("--epochs", type=float)
    p.add_argument("--batch", type=int, help="default: the recipe's batch_size")
    p.add_argument("--size", type=int, help="default: the recipe's image_size")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--loss-weights", default="random", help="random, imagenet, or a state-dict path")
    p.add_argument("--loss-seed", type=int, default=0, help="seed of the random loss network")
    p.add_argument("--checkpoint-every", type=int)
    p.add_argument("--log-every", type=int, default=1)
    p.add_argument("--diagnostics-every", type=int, default=0,
                   help="every N steps, log the adjustability diagnostic (adjustability.csv) and the "
                        "content/style gradient cosine (0: never)")
    p.add_argument("--workers", type=int, default=0, help="data-loading worker processes")
    p.add_argument("--no-progress", action="store_true")
    runtime_args(p)

    def run(args):
        from .recipe import load_recipe
        from .train import train
        overrides = parse_overrides(args.set)
        if args.name:
            overrides["name"] = args.name
        train(args.content, args.style, args.out, load_recipe(args.recipe, **overrides),
              steps=args.steps, epochs=args.epochs, seed=args.seed, batch_size=args.batch,
              image_size=args.size, loss_weights=args.loss_weights, loss_seed=args.loss_seed,
              checkpoint_every=args.checkpoint_every, log_every=args.log_every,
              diagnostics_every=args.diagnostics_every, runtime=runtime_from(args),
              workers=args.workers, progress=not args.no_progress)
    return run


@verb("stylize", "stylize images with a checkpoint at any alpha")
def _stylize(p):
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--alpha", help="comma-separated, one per style layer (default: the recipe's)")
    p.add_argument("--out", required=True, help="output file (one input) or folder")
    p.add_argument("inputs", nargs="+", help="content images, any size")
    runtime_args(p)

    def run(args):
        from .stylize import stylize_files
        out = Path(args.out)
        if len(args.inputs) == 1 and out.suffix:
            outputs = [out]
        else:
            outputs = [out / (Path(i).stem + ".png") for i in args.inputs]
        for path in stylize_files(args.checkpoint, args.inputs, outputs, args.alpha, runtime_from(args)):
            print(path)
    return run


# --- data ---------------------------------------------------------------------------------

@verb("prepare", "decode, resize and crop a content folder once into a .npy cache")
def _prepare(p):
    p.add_argument("--content", required=True, help="folder of content images (searched recursively)")
    p.add_argument("--out", required=True, help="output .npy (a .json listing sits beside it)")
    p.add_argument("--size", type=int, default=256)

    def run(args):
        from .data.images import prepare_cache
        report = prepare_cache(args.content, args.out, args.size)
        print(f"prepared {len(report.kept)} images, skipped {len(report.skipped)} -> {args.out}")
        for path, reason in report.skipped:
            print(f"skipped {path}: {reason}")
    return run


@verb("sample-photos", "write scikit-image's bundled colour photos (offline content images)")
def _photos(p):
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", help="output folder (NAME.png for each photo)")
    out.add_argument("--out-file", help="output file, for exactly one photo")
    p.add_argument("names", nargs="*", help="photo names (default: all bundled colour photos)")

    def run(args):
        from .data.embedded import SAMPLE_PHOTOS, export_sample_photo, export_sample_photos
        if args.out_file:
            if len(args.names) != 1:
                raise ConfigError(f"--out-file takes exactly one photo name, got {args.names}")
            print(export_sample_photo(args.names[0], args.out_file))
            return
        for path in export_sample_photos(args.out, args.names or SAMPLE_PHOTOS):
            print(path)
    return run


@verb("make-style", "generate a procedural style image (offline style)")
def _make_style(p):
    p.add_argument("kind", help="mosaic or swirl")
    p.add_argument("--out", required=True)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)

    def run(args):
        from .data.embedded import make_style
        make_style(args.kind, args.out, size=args.size, seed=args.seed)
        print(args.out)
    return run


@verb("fetch-image", "download a pinned style or content image and verify its sha256")
def _fetch_image(p):
    p.add_argument("name", help="mosaic, candy, udnie (styles) or amber (content)")
    p.add_argument("--out", required=True)
    p.add_argument("--base-url", help="mirror that replaces the pinned address's folder")

    def run(args):
        from .data.fetch import CONTENT_IMAGES, fetch_content, fetch_style
        fetch = fetch_content if args.name in CONTENT_IMAGES else fetch_style
        print(fetch(args.name, args.out, base_url=args.base_url))
    return run


@verb("fetch-coco", "download and unpack COCO train2014 (resumes; verifies size and zip)")
def _fetch_coco(p):
    p.add_argument("--out", required=True, help="folder for the zip and train2014/")
    p.add_argument("--url", help="mirror address of train2014.zip")
    p.add_argument("--existing", help="use this folder of images instead of downloading")

    def run(args):
        from .data.fetch import COCO_TRAIN2014, fetch_coco
        print(fetch_coco(args.out, url=args.url or COCO_TRAIN2014["url"], existing=args.existing))
    return run


@verb("fetch-vgg", "download torchvision's ImageNet VGG weights into TORCH_HOME's cache")
def _fetch_vgg(p):
    p.add_argument("--arch", default="vgg19", choices=["vgg16", "vgg19"])
    p.add_argument("--torch-home", required=True)
    p.add_argument("--url", help="mirror address (the cached file keeps torchvision's name)")

    def run(args):
        from .data.fetch import fetch_vgg
        print(fetch_vgg(args.arch, args.torch_home, url=args.url))
    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arst", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for name, (setup, help) in VERBS.items():
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(run=setup(p))
    return parser


def main(argv: list[str] | None = None) -> int:
    _load_verbs()
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        args.run(args)
    except ArstError as exc:
        print(f"arst {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _load_verbs() -> None:
    """Verbs defined beside their code (each experiment, figure and the benchmark) register
    themselves with @verb when their module is imported."""
    import importlib
    import pkgutil

    from . import experiments, plots
    for package in (experiments, plots):
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package.__name__}.{info.name}")
    importlib.import_module("arst.bench")


if __name__ == "__main__":
    # Run as a script this module is loaded twice; the verbs register in `arst.cli`.
    from arst.cli import main as package_main
    sys.exit(package_main())
