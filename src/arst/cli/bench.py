"""`arst bench`: the fast path against the port as shipped (arst.bench measures)."""

from __future__ import annotations

from . import runtime_args, runtime_from


def _bench(p):
    from ..bench import DEFAULTS
    p.add_argument("--sizes", help="stylizing sizes, N or WxH, comma-separated "
                                   f"(CUDA: {DEFAULTS['cuda']['sizes']}; CPU: {DEFAULTS['cpu']['sizes']})")
    p.add_argument("--train-size", type=int, help="training image side (CUDA 256, CPU 64)")
    p.add_argument("--batch", type=int, help="training batch (CUDA 8, CPU 2)")
    p.add_argument("--warmup", type=int, help="untimed steps or frames before each timing")
    p.add_argument("--train-steps", type=int, help="timed optimiser steps")
    p.add_argument("--stylize-iters", type=int, help="timed frames per size")
    p.add_argument("--numerics-steps", type=int, help="steps of the fp32-vs-fast check (CUDA 100; 0: skip)")
    p.add_argument("--numerics-last", type=int, help="steps averaged at the end of the check")
    p.add_argument("--data-steps", type=int,
                   help="batches timed through the data path alone (CUDA 500, CPU 20; 0: skip)")
    p.add_argument("--workers", help="data-loading processes of the data path, comma-separated "
                                     "counts each timed (CUDA: 0 and up to 4; CPU: 0)")
    p.add_argument("--loss-weights", default="random", help="random, imagenet, or a state-dict path")
    p.add_argument("--loss-seed", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--compile-mode", default="auto",
                   help="torch.compile mode of the fast path (auto: reduce-overhead, i.e. CUDA "
                        "graphs, on CUDA; default on the CPU)")
    from ..bench import CPU_PATH_SIZES, CPU_PATHS
    p.add_argument("--paths", default=",".join(CPU_PATHS),
                   help="on the CPU: the stylizing paths timed side by side (none: skip)")
    p.add_argument("--path-sizes", default=CPU_PATH_SIZES, help="on the CPU: the sizes the paths are timed at")
    p.add_argument("--only-paths", action="store_true", help="on the CPU: time the stylizing paths only")
    p.add_argument("--json", help="also write the figures to this JSON file (rewritten as they come)")
    p.add_argument("--profile", help="write torch.profiler tables of the fast path to this file")
    runtime_args(p)

    def run(args):
        import dataclasses

        from ..bench import bench, format_table, parse_sizes
        from ..errors import ArstError, ConfigError
        from ..io import write_json, write_text
        rt = runtime_from(args)
        rt = dataclasses.replace(rt, compile_mode=None if args.compile_mode == "auto" else args.compile_mode)
        d = DEFAULTS["cuda" if rt.cuda else "cpu"]
        opt = {k: d[k] if getattr(args, k) is None else getattr(args, k) for k in d}
        if min(opt["train_size"], opt["batch"], opt["train_steps"], opt["stylize_iters"]) < 1 \
                or min(opt["warmup"], opt["numerics_steps"], opt["numerics_last"],
                       opt["data_steps"]) < 0:
            raise ConfigError(f"bench settings out of range: {opt}")
        opt["sizes"] = parse_sizes(opt["sizes"])
        try:
            opt["workers"] = tuple(int(w) for w in str(opt["workers"]).split(",") if w.strip())
        except ValueError:
            raise ConfigError(f"--workers {opt['workers']!r}: expected counts such as 0,4") from None
        if any(w < 0 for w in opt["workers"]):
            raise ConfigError(f"--workers {opt['workers']}: counts must be 0 or more")
        if args.profile:
            write_text(args.profile, "")
        measured = None

        def profile(title: str, table: str) -> None:
            with open(args.profile, "a") as f:
                f.write(f"== {title}\n{table}\n\n")
        paths = [name for name in args.paths.replace(" ", "").split(",") if name and name != "none"]
        if not rt.cuda and paths:
            from ..bench import cpu_paths, format_cpu_paths
            measured = cpu_paths(paths, parse_sizes(args.path_sizes), opt["stylize_iters"], max(1, opt["warmup"]),
                                 args.seed, report=lambda line: print(line, flush=True))
            print("\n" + format_cpu_paths(measured), flush=True)
            if args.json:
                write_json(args.json, {"cpu_paths": measured})
            if measured["errors"]:
                raise ArstError(f"{len(measured['errors'])} path measurement(s) failed: " + "; ".join(measured["errors"]))
            if args.only_paths:
                return
        result = bench(rt, loss_weights=args.loss_weights, loss_seed=args.loss_seed, seed=args.seed,
                       report=lambda line: print(line, flush=True),
                       save=(lambda r: write_json(args.json, {**r, "cpu_paths": measured})) if args.json else None,
                       profile=profile if args.profile else None, **opt)
        print("\n" + format_table(result), flush=True)
        if result["errors"]:
            raise ArstError(f"{len(result['errors'])} measurement(s) failed: " + "; ".join(result["errors"]))
    return run


SETUP = {"bench": _bench}
