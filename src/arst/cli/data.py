"""The data verbs: prepare a content cache, offline photos and styles, verified downloads."""

from __future__ import annotations

from ..errors import ConfigError


def _prepare(p):
    p.add_argument("--content", required=True, help="folder of content images (searched recursively)")
    p.add_argument("--out", required=True, help="output .npy (a .json listing sits beside it)")
    p.add_argument("--size", type=int, default=256)

    def run(args):
        from ..data.images import prepare_cache
        report = prepare_cache(args.content, args.out, args.size)
        print(f"prepared {len(report.kept)} images, skipped {len(report.skipped)} -> {args.out}")
        for path, reason in report.skipped:
            print(f"skipped {path}: {reason}")
    return run


def _photos(p):
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", help="output folder (NAME.png for each photo)")
    out.add_argument("--out-file", help="output file, for exactly one photo")
    p.add_argument("names", nargs="*", help="photo names (default: all bundled colour photos)")

    def run(args):
        from ..data.embedded import SAMPLE_PHOTOS, export_sample_photo, export_sample_photos
        if args.out_file:
            if len(args.names) != 1:
                raise ConfigError(f"--out-file takes exactly one photo name, got {args.names}")
            print(export_sample_photo(args.names[0], args.out_file))
            return
        for path in export_sample_photos(args.out, args.names or SAMPLE_PHOTOS):
            print(path)
    return run


def _make_style(p):
    p.add_argument("kind", help="mosaic or swirl")
    p.add_argument("--out", required=True)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)

    def run(args):
        from ..data.embedded import make_style
        make_style(args.kind, args.out, size=args.size, seed=args.seed)
        print(args.out)
    return run


def _fetch_image(p):
    p.add_argument("name", help="mosaic, candy, udnie (styles) or amber (content)")
    p.add_argument("--out", required=True)
    p.add_argument("--base-url", help="mirror that replaces the pinned address's folder")

    def run(args):
        from ..data.fetch import CONTENT_IMAGES, fetch_content, fetch_style
        fetch = fetch_content if args.name in CONTENT_IMAGES else fetch_style
        print(fetch(args.name, args.out, base_url=args.base_url))
    return run


def _fetch_coco(p):
    p.add_argument("--out", required=True, help="folder for the zip and train2014/")
    p.add_argument("--url", help="mirror address of train2014.zip")

    def run(args):
        from ..data.fetch import COCO_TRAIN2014, fetch_coco
        print(fetch_coco(args.out, url=args.url or COCO_TRAIN2014["url"]))
    return run


def _fetch_vgg(p):
    p.add_argument("--arch", default="vgg19", choices=["vgg16", "vgg19"])
    p.add_argument("--torch-home", required=True)
    p.add_argument("--url", help="mirror address (the cached file keeps torchvision's name)")

    def run(args):
        from ..data.fetch import fetch_vgg
        print(fetch_vgg(args.arch, args.torch_home, url=args.url))
    return run


def _fetch_ort_web(p):
    from ..data.fetch import ORT_WEB_FILE
    p.add_argument("--out", default=f"resources/{ORT_WEB_FILE}", help="the tarball to write")
    p.add_argument("--url", help="mirror address of the tarball (its bytes must still verify)")

    def run(args):
        from ..data.fetch import fetch_ort_web
        print(fetch_ort_web(args.out, url=args.url))
    return run


SETUP = {
    "prepare": _prepare,
    "sample-photos": _photos,
    "make-style": _make_style,
    "fetch-image": _fetch_image,
    "fetch-coco": _fetch_coco,
    "fetch-vgg": _fetch_vgg,
    "fetch-ort-web": _fetch_ort_web,
}
