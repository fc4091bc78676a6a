"""`arst VERB ...`: every step of the pipeline runs alone from a shell with explicit
paths and values; the Snakemake rules only call these verbs.

The command line depends on the science, never the reverse: nothing below this package imports
it. A verb's module (arst.cli.<module>) is imported only when that verb runs, and its runner
imports the science it needs, so `arst --help` imports neither torch nor matplotlib."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable

from .. import __version__
from ..errors import ArstError, ConfigError

log = logging.getLogger("arst")
Setup = Callable[[argparse.ArgumentParser], Callable[[argparse.Namespace], None]]

# verb -> (module under arst.cli that has it in SETUP, one line of help)
VERBS: dict[str, tuple[str, str]] = {
    "train": ("train", "train one implementation (recipe) on a content folder or prepared cache"),
    "stylize": ("train", "stylize images with a checkpoint at any alpha"),
    "export": ("export", "a trained model as an ONNX file (any image size; its metadata names the model), "
                         "checked against torch in onnxruntime"),
    "prepare": ("data", "decode, resize and crop a content folder once into a .npy cache"),
    "sample-photos": ("data", "write scikit-image's bundled colour photos (offline content images)"),
    "make-style": ("data", "generate a procedural style image (offline style)"),
    "fetch-image": ("data", "download a pinned style or content image and verify its sha256"),
    "fetch-coco": ("data", "download and unpack COCO train2014 (resumes; verifies size and zip)"),
    "fetch-vgg": ("data", "download torchvision's ImageNet VGG weights into TORCH_HOME's cache"),
    "fetch-ort-web": ("data", "download onnxruntime-web's pinned npm tarball (for explorer-in-browser) and "
                              "verify its sha256"),
    "bench": ("bench", "training img/s and stylizing fps: the fast path against the port as shipped"),
    "explore": ("explore", "a local web page: one slider per style layer, the picture restylized as "
                           "they move (prints the latency of one update)"),
    "explorer-page": ("explore", "the static alpha explorer: one offline HTML file of sliders over the "
                                 "sweep's images"),
    "explorer-in-browser": ("explore", "the alpha explorer that runs exported models in the browser: a folder "
                                       "that opens offline, every slider free, the reader's own photo"),
    "alpha-gif": ("report", "an animated alpha sweep: one image stylized as each layer's alpha goes 0 -> 1 -> 0"),
    "plot-training": ("report", "figure: every run's raw loss terms over its training steps"),
    "benchmarks": ("report", "one table of the jobs' Snakemake benchmark files: wall time, memory, CPU"),
    "report-table": ("report", "a CSV table as an HTML page (snakemake --report shows HTML inline)"),
    "report-gifs": ("report", "animations on one HTML page (snakemake --report shows HTML inline)"),
}


def parse_overrides(pairs: list[str]) -> dict:
    """KEY=VALUE pairs, VALUE read as YAML (so 'true', '1e-3', '[1, 0, 0]' keep their types)."""
    import yaml

    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {pair!r}: expected KEY=VALUE")
        out[key.strip()] = yaml.safe_load(value)
    return out


def parse_steps(text: str) -> tuple[int, ...]:
    """'600,2000' -> (600, 2000): step counts, comma-separated (an empty text: none), as
    `--snapshots` and `--budgets` take them."""
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected whole numbers of steps, comma-separated") from None


def runtime_args(p: argparse.ArgumentParser, engine: bool = False) -> None:
    """The runtime's flags; with `engine`, --engine too (the stylizing verbs')."""
    g = p.add_argument_group("runtime (auto: fast path on CUDA, plain fp32 on the CPU)")
    if engine:
        g.add_argument("--engine", default="auto",
                       help="what runs the model: auto (on the CPU onnxruntime where the onnx extra is "
                            "installed and no torch setting is asked for, else torch), torch or onnxruntime")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    g.add_argument("--precision", default="auto", help="auto, fp32 or bf16")
    g.add_argument("--compile", default="auto", help="auto, true or false (torch.compile)")
    g.add_argument("--channels-last", default="auto", help="auto, true or false")
    g.add_argument("--channel-multiple", default="auto",
                   help="pad convolutions' channel counts to this multiple, e.g. 8 for tensor "
                        "cores (auto: 1, no padding; the results are the same either way)")
    g.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's own choice)")


def runtime_from(args):
    """The runtime the flags of runtime_args ask for. With `--device auto` on a machine with
    several GPUs this process first claims a free one (runtime.claim_device), for its life."""
    import torch

    from ..runtime import Runtime, claim_device
    if args.threads:
        torch.set_num_threads(args.threads)
    return Runtime.resolve(claim_device(args.device), args.precision, args.compile, args.channels_last,
                           channel_multiple=args.channel_multiple, engine=getattr(args, "engine", "torch"))


def all_verbs() -> dict[str, tuple[str, str]]:
    """VERBS and the experiments' verbs (each registered experiment's own, its summary's and its
    figures'; arst.cli.experiments and .figures build them from arst.experiments.registry),
    read anew at each call: ARST_EXPERIMENTS may register more after this module is imported."""
    from . import experiments, figures
    out = dict(VERBS)
    for module in (experiments, figures):
        for name, (help, _) in module.verbs().items():
            out.setdefault(name, (module.__name__.rsplit(".", 1)[-1], help))
    return out


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """Every verb's name and help; the arguments of `verb` alone (its module is imported)."""
    import importlib

    parser = argparse.ArgumentParser(prog="arst", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"arst {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for name, (module, help) in all_verbs().items():
        p = sub.add_parser(name, help=help, description=help,
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        if name == verb:
            p.set_defaults(run=importlib.import_module(f"{__name__}.{module}").SETUP[name](p))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    verb = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(verb).parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        args.run(args)
    except ArstError as exc:
        print(f"arst {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    return 0
