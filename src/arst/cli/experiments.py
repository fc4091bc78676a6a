"""The experiment verbs: each evaluates trained models into a table (arst.experiments), each
summary merges an experiment's per-model tables, and `claims` reads the summaries."""

from __future__ import annotations

from ..experiments.defaults import DIVERSITY, NOISE, SADDLE, SADDLE_NOISE_K, SIZE, SWEEP_OTHERS, SWEEP_POINTS
from . import runtime_args, runtime_from


def evaluation_args(p, checkpoint: bool = True, image_dir: bool = True) -> None:
    """The options every evaluation verb shares: which model, its style, the evaluation
    images and their size, the output table (and images), and the runtime."""
    if checkpoint:
        p.add_argument("--checkpoint", required=True, help="the trained model.pt")
    p.add_argument("--style", required=True, help="the style image the model was trained on")
    p.add_argument("--style-name", default="style")
    p.add_argument("--images", nargs="+", required=True, help="evaluation content images")
    p.add_argument("--size", type=int, default=SIZE, help="short side of the evaluation crops")
    p.add_argument("--table", required=True, help="output CSV")
    if image_dir:
        p.add_argument("--image-dir", help="write the rendered images here")
    runtime_args(p)


def parse_floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def _adjustability(p):
    evaluation_args(p, image_dir=False)
    p.add_argument("--training-log", required=True, help="the run's adjustability.csv (beside losses.csv)")
    p.add_argument("--curve", required=True, help="output CSV: the training curve, labelled")

    def run(args):
        from ..experiments.adjustability import adjustability_table, training_curve
        from ..tables import write_table
        write_table(adjustability_table(args.checkpoint, args.style, args.images, args.size, args.style_name,
                                        runtime_from(args)), args.table)
        write_table(training_curve(args.checkpoint, args.training_log, args.style_name), args.curve)
    return run


def _sweep(p):
    evaluation_args(p)
    p.add_argument("--points", type=int, default=SWEEP_POINTS)
    p.add_argument("--others", default=",".join(map(str, SWEEP_OTHERS)), help="values the other alphas are held at")

    def run(args):
        from ..experiments.sweep import sweep
        from ..tables import write_table
        write_table(sweep(args.checkpoint, args.style, args.images, args.size, args.points,
                          parse_floats(args.others), args.style_name, args.image_dir, runtime_from(args)),
                    args.table)
    return run


def _content_identity(p):
    evaluation_args(p)

    def run(args):
        from ..experiments.content_identity import content_identity
        from ..tables import write_table
        write_table(content_identity(args.checkpoint, args.style, args.images, args.size, args.style_name,
                                     args.image_dir, runtime_from(args)), args.table)
    return run


def _combinations(p):
    evaluation_args(p)
    p.add_argument("--alphas", required=True, help='JSON list, e.g. [{"relu2_2": 1}, {"relu4_4": 0.5}]')

    def run(args):
        from ..experiments.alphaspec import parse_alpha_specs
        from ..experiments.combinations import combinations
        from ..tables import write_table
        write_table(combinations(args.checkpoint, args.style, args.images, parse_alpha_specs(args.alphas),
                                 args.size, args.style_name, args.image_dir, runtime_from(args)), args.table)
    return run


def _noise(p):
    evaluation_args(p)
    p.add_argument("--dots", type=int, default=NOISE["dots"], help="black pixels of the paper's mask (< 10)")
    p.add_argument("--sigma", type=float, default=NOISE["sigma"], help="Gaussian of the paper's mask, pixels")
    p.add_argument("--spots", type=int, default=NOISE["spots"], help="larger black spots: how many")
    p.add_argument("--radius", type=float, default=NOISE["radius"], help="larger black spots: radius, pixels")
    p.add_argument("--alpha", type=float, default=NOISE["alpha"], help="the base alpha of every style layer")
    p.add_argument("--alpha-delta", type=float, default=NOISE["alpha_delta"], help="the change of alpha")
    p.add_argument("--seed", type=int, default=NOISE["seed"])

    def run(args):
        from ..experiments.noise import noise
        from ..tables import write_table
        write_table(noise(args.checkpoint, args.style, args.images, args.size, args.dots, args.sigma,
                          args.spots, args.radius, args.alpha, args.alpha_delta, args.seed,
                          args.style_name, args.image_dir, runtime_from(args)), args.table)
    return run


def _diversity(p):
    evaluation_args(p)
    p.add_argument("--samples", type=int, default=DIVERSITY["samples"], help="random alpha vectors per image")
    p.add_argument("--seed", type=int, default=DIVERSITY["seed"])
    p.add_argument("--gram-layers", default="", help="comma-separated (default: the model's style layers)")

    def run(args):
        from ..experiments.diversity import diversity
        from ..tables import write_table
        layers = [name for name in args.gram_layers.split(",") if name] or None
        write_table(diversity(args.checkpoint, args.style, args.images, args.samples, args.seed, args.size,
                              layers, args.style_name, args.image_dir, runtime_from(args)), args.table)
    return run


def _retrain_compare(p):
    evaluation_args(p, checkpoint=False, image_dir=False)
    p.add_argument("--adjustable", required=True, help="the adjustable model.pt")
    p.add_argument("--retrained", nargs="+", required=True, help="models trained with alpha_fixed")

    def run(args):
        from ..experiments.retrain import compare
        from ..tables import write_table
        write_table(compare(args.adjustable, args.retrained, args.style, args.images, args.size,
                            args.style_name, runtime_from(args)), args.table)
    return run


def _controls(p):
    evaluation_args(p, checkpoint=False, image_dir=False)
    p.add_argument("--adjustable", required=True, help="the adjustable model.pt")
    p.add_argument("--retrained", nargs="+", required=True,
                   help="its retrained controls at the same seed (models trained with alpha_fixed)")
    p.add_argument("--floor", help="one of those alphas retrained at a second seed: the noise floor")

    def run(args):
        from ..experiments.controls import controls
        from ..tables import write_table
        write_table(controls(args.adjustable, args.retrained, args.floor, args.style, args.images, args.size,
                             args.style_name, runtime_from(args)), args.table)
    return run


def _saddle(p):
    p.add_argument("--run", nargs=4, action="append", required=True, dest="runs",
                   metavar=("VARIANT", "STYLE", "MODEL", "LOSSES"),
                   help="one trained run: variant (adjustable, ablation), style name, model.pt, losses.csv")
    p.add_argument("--window", type=int, default=SADDLE["window"], help="steps compared before and after")
    p.add_argument("--content-drop", type=float, default=SADDLE["content_drop"], help="fraction content must fall")
    p.add_argument("--style-rise", type=float, default=SADDLE["style_rise"], help="fraction style must rise")
    p.add_argument("--warmup", type=int, default=SADDLE["warmup"], help="steps before the detector looks")
    p.add_argument("--csv", required=True)
    p.add_argument("--md", required=True)
    p.add_argument("--curves", required=True, help="long CSV of the curves (for the figure)")

    def run(args):
        from ..experiments.saddle import saddle
        from ..tables import loss_nets, write_table
        summary, curves = saddle(args.runs, args.window, args.content_drop, args.style_rise, args.warmup)
        write_table(curves, args.curves)
        nets = ", ".join(loss_nets(summary))
        write_table(summary, args.csv, args.md, title=(
            f"Saddle point: content falls by >= {args.content_drop:.0%} while style rises by >= "
            f"{args.style_rise:.0%} within {args.window} steps, each also by >= {SADDLE_NOISE_K:g} standard errors "
            f"of batch noise (content_needed, style_needed), after a warm-up of {args.warmup} steps "
            f"(loss network: {nets})"))
    return run


def _claims(p):
    from ..experiments.claims import TABLES
    for key in TABLES:
        p.add_argument(f"--{key}", help=f"the {key} summary CSV (missing: 'not run')")
    p.add_argument("--csv", required=True)
    p.add_argument("--md", required=True)

    def run(args):
        from ..experiments.claims import claims_table
        from ..io import write_text
        from ..tables import write_table
        table, text = claims_table({key: getattr(args, key) for key in TABLES})
        write_table(table, args.csv)
        write_text(args.md, text)
    return run


# verb -> (experiment module, its summarize function, help, Markdown title; {nets}: the loss networks)
SUMMARIES = {
    "adjustability-summary": ("adjustability", "summarize", "merge the adjustability tables: per-layer "
                              "response, distinctness, conditioner spread and dead units",
                              "Adjustability on the evaluation images (loss network: {nets}; grey levels of 255)"),
    "sweep-summary": ("sweep", "summarize", "Spearman rho and monotonic fall of each layer's own loss against "
                      "its alpha", "Layer loss vs alpha (loss network: {nets})"),
    "content-identity-summary": ("content_identity", "summarize", "merge the content-identity tables into one "
                                 "CSV and Markdown table", "Content at alpha = 0 (loss network: {nets})"),
    "combinations-summary": ("combinations", "summarize", "per alpha vector: losses and distance to the other "
                             "vectors' outputs", "Combinations of layers (loss network: {nets}; 'ignored': "
                             "layers of the vector this implementation lacks)"),
    "noise-summary": ("noise", "summarize", "output change per noise condition (mean over images)",
                      "Noise: output change (0..255) and its ratio to the input change (loss network: {nets})"),
    "diversity-summary": ("diversity", "summarize", "mean pairwise output distance beside content and style "
                          "losses", "Diversity under random alpha (loss network: {nets}; pixel distance in "
                          "0..255)"),
    "controls-summary": ("controls", "summarize", "merge the retrained-control tables: loss-profile and pixel "
                         "distances of every pair (adjustable, retrained, floor, match)",
                         "Retrained controls: loss-profile distance (L2 of log10 per-term losses) and pixel "
                         "distance (0..255) between outputs (loss network: {nets})"),
    "retrain-summary": ("retrain", "summarize", "adjusted vs retrained per-layer losses (mean over images)",
                        "Adjusted vs retrained: per-layer losses at the same alpha; ratio = adjusted / "
                        "retrained (loss network: {nets})"),
}


def _summary(name: str):
    module, function, _, title = SUMMARIES[name]

    def setup(p):
        p.add_argument("tables", nargs="+", help="the experiment's per-model CSVs")
        p.add_argument("--csv", required=True)
        p.add_argument("--md", required=True)

        def run(args):
            import importlib

            from ..tables import loss_nets, read_tables, write_table
            summarize = getattr(importlib.import_module(f"arst.experiments.{module}"), function)
            table = read_tables(args.tables)
            nets = ", ".join(loss_nets(table))
            write_table(summarize(table), args.csv, args.md, title=title.format(nets=nets))
        return run
    return setup


SETUP = {
    "adjustability": _adjustability,
    "sweep": _sweep,
    "content-identity": _content_identity,
    "combinations": _combinations,
    "noise": _noise,
    "diversity": _diversity,
    "retrain-compare": _retrain_compare,
    "controls": _controls,
    "saddle": _saddle,
    "claims": _claims,
    **{name: _summary(name) for name in SUMMARIES},
}
