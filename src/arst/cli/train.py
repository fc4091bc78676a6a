"""`arst train` and `arst stylize`."""

from __future__ import annotations

from . import parse_overrides, parse_steps, runtime_args, runtime_from


def _train(p):
    p.add_argument("--content", required=True, help="folder of images, or a prepared .npy cache")
    p.add_argument("--style", required=True, help="style image")
    p.add_argument("--recipe", default="baseline", help="preset (baseline, corrected) or YAML file (the "
                                                        "workflow writes each model's: results/models/MODEL/recipe.yaml)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a recipe field")
    p.add_argument("--name", help="the model's name in its checkpoint and every table (default: the "
                                  "recipe's; in the workflow's recipe files, the config's implementation key)")
    p.add_argument("--out", required=True, help="output folder (checkpoint.pt, log.csv, model.pt, losses.csv)")
    schedule_args(p)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--loss-weights", default="random", help="random, imagenet, or a state-dict path")
    p.add_argument("--loss-seed", type=int, default=0, help="seed of the random loss network")
    p.add_argument("--no-progress", action="store_true")
    runtime_args(p)

    def run(args):
        from ..recipe import load_recipe
        from ..train import train
        overrides = parse_overrides(args.set)
        if args.name:
            overrides["name"] = args.name
        train(args.content, args.style, args.out, load_recipe(args.recipe, **overrides), schedule_from(args),
              seed=args.seed, loss_weights=args.loss_weights, loss_seed=args.loss_seed,
              runtime=runtime_from(args), progress=not args.no_progress)
    return run


def schedule_args(p):
    """The flags of a Schedule: its fields with dashes (Schedule.argv writes them), its defaults."""
    import dataclasses

    from ..schedule import Schedule  # no torch: --help stays fast
    default = {f.name: f.default for f in dataclasses.fields(Schedule)}
    sched = p.add_mutually_exclusive_group(required=True)
    sched.add_argument("--steps", type=int)
    sched.add_argument("--epochs", type=float, help="passes over the content images")
    p.add_argument("--batch", type=int, help="default: the recipe's batch_size")
    p.add_argument("--size", type=int, help="default: the recipe's image_size")
    p.add_argument("--checkpoint-every", type=int, default=default["checkpoint_every"],
                   help="steps between checkpoints")
    p.add_argument("--log-every", type=int, default=default["log_every"])
    p.add_argument("--diagnostics-every", type=int, default=default["diagnostics_every"],
                   help="every N steps, log the adjustability diagnostic (adjustability.csv) and the "
                        "content/style gradient cosine (0: never)")
    p.add_argument("--workers", type=int, default=default["workers"], help="data-loading worker processes")
    p.add_argument("--divergence-factor", type=float, default=default["divergence_factor"],
                   help="the divergence guard fires when a loss term, gamma/beta spread or saturated share "
                        "exceeds this many times its recent median (0: no guard)")
    p.add_argument("--stop-on-divergence", action="store_true",
                   help="stop when the guard fires, keeping the last checkpoint written before it")
    p.add_argument("--snapshots", type=parse_steps, default=default["snapshots"], metavar="N,N,...",
                   help="also keep the model after each of these steps, as model-stepN.pt beside model.pt "
                        "(each below the last step)")


def schedule_from(args):
    """The Schedule the flags of schedule_args ask for."""
    import dataclasses

    from ..schedule import Schedule
    return Schedule(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Schedule)})


def _stylize(p):
    p.add_argument("--checkpoint", required=True, help="a model.pt (or checkpoint.pt) from arst train")
    p.add_argument("--alpha", help="comma-separated, one per style layer, each in [0, 1] "
                                   "(default: the recipe's inference alpha)")
    p.add_argument("--out", required=True, help="output file (one input image) or folder (NAME.png "
                                                "per input; two inputs with one NAME are refused)")
    p.add_argument("inputs", nargs="+", help="content images, any size, or folders of them")
    runtime_args(p, engine=True)

    def run(args):
        from ..stylize import output_paths, stylize_files
        pairs = output_paths(args.inputs, args.out)
        for path in stylize_files(args.checkpoint, [i for i, _ in pairs], [o for _, o in pairs], args.alpha,
                                  runtime_from(args)):
            print(path)
    return run


SETUP = {
    "train": _train,
    "stylize": _stylize,
}
