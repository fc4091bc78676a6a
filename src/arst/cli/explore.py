"""`arst explore` (the live page), `arst explorer-page` (the static one) and `arst
explorer-in-browser` (the page that runs the model itself)."""

from __future__ import annotations

from . import runtime_args, runtime_from


def _explore(p):
    p.add_argument("--checkpoint", required=True, help="a trained model (model.pt or checkpoint.pt)")
    p.add_argument("images", nargs="*", help="pictures to offer first (the evaluation photos and uploads "
                                             "are offered too)")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one, printed)")
    p.add_argument("--bench", action="store_true",
                   help="print the latency of one update at --bench-sizes and exit without serving")
    p.add_argument("--bench-sizes", default="256,512", help="square sizes timed at the start, comma-separated")
    p.add_argument("--repeats", type=int, default=3,
                   help="timed updates per size, after one untimed (the median is printed; 0: no timing)")
    p.add_argument("--max-megapixels", type=float, default=40.0,
                   help="larger pictures are refused (uploads) or must be shown smaller")
    p.add_argument("--max-upload-mb", type=float, default=50.0, help="larger uploads are refused")
    p.add_argument("--no-preview", action="store_true",
                   help="no int8 preview while a slider moves (by default one is made where the model runs in "
                        "onnxruntime on the CPU, within arst.export.PREVIEW_TOLERANCE of the exact picture)")
    runtime_args(p, engine=True)

    def run(args):
        from ..errors import ConfigError
        from ..explore.live import Explorer
        from ..explore.server import make_server, url
        try:
            sizes = [int(s) for s in args.bench_sizes.split(",") if s.strip()]
        except ValueError:
            raise ConfigError(f"--bench-sizes {args.bench_sizes!r}: expected whole numbers, e.g. 256,512") from None
        if not sizes or min(sizes) < 16 or args.repeats < 0 or (args.bench and args.repeats < 1):
            raise ConfigError("--bench-sizes must name sizes of 16 pixels or more, and --repeats be 0 or "
                              "more (1 or more with --bench)")
        if args.compile == "auto":
            args.compile = "false"  # every picture and size would compile anew (see Explorer)
        explorer = Explorer(args.checkpoint, args.images, runtime_from(args),
                            max_pixels=int(args.max_megapixels * 1e6),
                            max_upload_bytes=int(args.max_upload_mb * 2**20), preview=not args.no_preview)
        info = explorer.info()
        print(f"model: {info['implementation']} ({args.checkpoint}), seed {info['seed']}, trained "
              f"{info['train_steps']} steps; loss network: {info['loss_net_words']}", flush=True)
        print(f"device: {info['device']}; preview while a slider moves: {info['preview']}", flush=True)
        if args.repeats:
            explorer.measure_latency(sizes, args.repeats, warmup=1)
        for line in explorer.latency_lines():
            print(line, flush=True)
        if args.bench:
            return
        try:
            server = make_server(explorer, args.port)
        except OSError as exc:
            raise ConfigError(f"--port {args.port}: cannot listen on 127.0.0.1 ({exc.strerror or exc})") from None
        print(f"arst explore: open {url(server)} (Ctrl-C stops it)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    return run


def _explorer_page(p):
    p.add_argument("tables", nargs="+", help="sweep tables (their image_file columns name the images)")
    p.add_argument("--out", required=True, help="the HTML file to write")

    def run(args):
        from ..explore.static import write_explorer_page
        data = write_explorer_page(args.tables, args.out)
        size = sum(len(u) for u in data["uris"]) / 2**20
        print(f"{args.out}: {data['frame_count']} sweep images ({len(data['uris'])} distinct, {size:.1f} MB "
              f"embedded) of {', '.join(i['name'] for i in data['implementations'])}")
    return run


def _explorer_in_browser(p):
    from ..data.fetch import ORT_WEB_FILE
    p.add_argument("models", nargs="+", metavar="[NAME=]MODEL.onnx",
                   help="models from `arst export`, each shown as NAME (default: its path)")
    p.add_argument("--ort-web", default=f"resources/{ORT_WEB_FILE}",
                   help="onnxruntime-web's npm tarball (`arst fetch-ort-web` downloads it)")
    p.add_argument("--photos", nargs="*", default=[], help="pictures the page offers (shrunk to its largest side)")
    p.add_argument("--weights", choices=["auto", "float32"], default="auto",
                   help="auto: half precision where it is within the tolerance of fp32, checked per model "
                        "(half the bytes); float32: as exported")
    p.add_argument("--out", required=True, help="the folder to write (index.html and the files it loads)")

    def run(args):
        from ..explore.browser import HALF_TOLERANCE, MAX_SIDE, write_explorer_in_browser
        models = []
        for given in args.models:
            name, sep, path = given.partition("=")
            models.append((name, path) if sep else (given, given))
        data = write_explorer_in_browser(models, args.ort_web, args.photos, args.out, half=args.weights == "auto")

        def mb(n: int) -> str:
            return f"{n / 2**20:.1f} MB"
        for m in data["models"]:
            weights = (f"half-precision weights, within {m['difference']:.2g} grey levels of fp32 (tolerance "
                       f"{HALF_TOLERANCE:g})" if m["weights"] == "float16" else "fp32 weights")
            print(f"{args.out}/{m['file']}: {m['name']} ({m['implementation']}), {weights}, {mb(m['bytes'])}")
        print(f"{args.out}/index.html: {len(data['models'])} models, {len(data['photos'])} photos (at most "
              f"{MAX_SIDE} px); onnxruntime-web {data['ort']['version']} {mb(data['ort']['bytes'])}; a view loads at "
              f"most {mb(data['view_bytes'])} (the page, the engine and its largest model: one model at a time)")
    return run


SETUP = {
    "explore": _explore,
    "explorer-page": _explorer_page,
    "explorer-in-browser": _explorer_in_browser,
}
