"""Resumable, verified downloads of the real data (style images, COCO train2014, VGG weights) and
of onnxruntime-web, which the explorer that runs in the browser vendors (arst.explore.browser)."""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
import zipfile
import zlib
from pathlib import Path
from urllib.parse import urlparse

import requests
from tqdm import tqdm

from arst.errors import ConfigError, DataError, FetchError
from arst.io import sha256 as sha256_of

log = logging.getLogger("arst")

_PYTORCH_EXAMPLES = (
    "https://raw.githubusercontent.com/pytorch/examples/"
    "77f55b912142e11fcfdf5b530231fb9c52f181e8/fast_neural_style/images/"
)
# name -> (url, sha256, bytes), pinned to one commit so the bytes cannot change under us.
STYLE_IMAGES = {
    "mosaic": (
        _PYTORCH_EXAMPLES + "style-images/mosaic.jpg",
        "17698add60e1ce8618103c04e6cdddc5ac21b82181a37b7517413f36a5b785a4",
        77378,
    ),
    "candy": (
        _PYTORCH_EXAMPLES + "style-images/candy.jpg",
        "1af09b2c18a6674b7d88849cb87564dd77e1ce04d1517bb085449b614cc0c8d8",
        376101,
    ),
    "udnie": (
        _PYTORCH_EXAMPLES + "style-images/udnie.jpg",
        "270be68e7c6c282c9edb62ab7bcd345b1fb6b6cebb5d1f10d9a2d21915f69a8a",
        39795,
    ),
}
CONTENT_IMAGES = {
    "amber": (
        _PYTORCH_EXAMPLES + "content-images/amber.jpg",
        "f1d583fd322c68de4d116408dcfcee3a137b53206fe7251313ec02ca8aa6d27c",
        108086,
    ),
}
COCO_TRAIN2014 = {"url": "http://images.cocodataset.org/zips/train2014.zip", "bytes": 13510573713}
# onnxruntime-web's npm tarball, the one place its version is pinned (the workflow, .ci/run and
# the explorer in the browser read it here). The sha256 is of the registry's file, whose sha512
# matched the registry's own `dist.integrity` when it was pinned. 1.30.0: the newest release
# then; its wasm build runs the exported graph (nn.inference's nodes) in Chromium 156.
ORT_WEB = {
    "version": "1.30.0",
    "url": "https://registry.npmjs.org/onnxruntime-web/-/onnxruntime-web-1.30.0.tgz",
    "sha256": "d2228df7e4616bc3348bf504ee888f3bec43789a273f0a63f3e68d203ce3bf71",
    "bytes": 33106585,
}
ORT_WEB_FILE = f"onnxruntime-web-{ORT_WEB['version']}.tgz"

# torch.hub's convention: the hex after the last '-' of a checkpoint's name is a sha256 prefix.
_HUB_HASH = re.compile(r"-([a-f0-9]*)\.")


class _Interrupted(Exception):
    """The body ended before its Content-Length: worth resuming."""


def _problem(
    path: Path, sha256: str | None, sha256_prefix: str | None, size: int | None, expect_zip: bool
) -> str | None:
    """Why ``path`` does not verify, or None if it does."""
    actual = path.stat().st_size
    if size is not None and actual != size:
        return f"expected {size} bytes, got {actual}"
    if sha256 or sha256_prefix:
        digest = sha256_of(path)
        if sha256 and digest != sha256.lower():
            return f"expected sha256 {sha256}, got {digest}"
        if sha256_prefix and not digest.startswith(sha256_prefix.lower()):
            return f"expected a sha256 starting with {sha256_prefix}, got {digest}"
    if expect_zip:
        try:
            with zipfile.ZipFile(path) as z:
                bad = z.testzip()
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as e:
            return f"expected a valid zip archive, got an unreadable one ({e})"
        if bad is not None:
            return f"expected a valid zip archive, but member {bad} fails its CRC check"
    return None


def _stream(session: requests.Session, url: str, part: Path, timeout: float, chunk_size: int, progress: bool) -> None:
    have = part.stat().st_size if part.exists() else 0
    # identity: Content-Length and Range must count the file's bytes, not gzip's.
    headers = {"Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    with session.get(url, headers=headers, stream=True, timeout=timeout) as r:
        if r.status_code == 416:
            return  # nothing past `have`: the part is whole, or wrong, and verification decides
        if r.status_code == 206:
            if not r.headers.get("Content-Range", "").startswith(f"bytes {have}-"):
                part.unlink()
                raise _Interrupted(f"asked for bytes {have}- but got {r.headers.get('Content-Range')}")
            mode = "ab"
        elif r.status_code == 200:
            have, mode = 0, "wb"  # the server ignored the Range: start over
        else:
            r.raise_for_status()
            raise requests.HTTPError(f"unexpected HTTP {r.status_code} {r.reason}", response=r)
        length = r.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        with (
            open(part, mode) as f,
            tqdm(
                total=total, initial=have, unit="B", unit_scale=True, desc=part.name, disable=None if progress else True
            ) as bar,
        ):
            for chunk in r.iter_content(chunk_size):
                f.write(chunk)
                bar.update(len(chunk))
    if total is not None and part.stat().st_size < total:
        raise _Interrupted(f"connection closed after {part.stat().st_size} of {total} bytes")


def _retryable(e: Exception) -> bool:
    if isinstance(e, requests.HTTPError):
        status = e.response.status_code if e.response is not None else 0
        return status >= 500 or status == 429
    return isinstance(
        e, (_Interrupted, requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
    )


def _expected(sha256: str | None, sha256_prefix: str | None, size: int | None) -> str:
    facts = [f"sha256 {sha256}" if sha256 else "", f"sha256 starting with {sha256_prefix}" if sha256_prefix else ""]
    facts.append(f"{size} bytes" if size is not None else "")
    return f" ({', '.join(f for f in facts if f)})" if any(facts) else ""


def download(
    url: str,
    dest: str | os.PathLike,
    *,
    sha256: str | None = None,
    sha256_prefix: str | None = None,
    size: int | None = None,
    expect_zip: bool = False,
    retries: int = 5,
    timeout: float = 30,
    chunk_size: int = 1 << 20,
    progress: bool = True,
    backoff: float = 1.0,
) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming and verifying; return ``dest``.

    A ``dest`` that already verifies is returned without touching the network; one
    that does not is downloaded again. A broken connection is resumed with a Range
    request; ``retries`` bounds the tries in a row that add no bytes. Bytes reach
    ``dest`` only once they verify.
    """
    dest = Path(dest)
    checks = (sha256, sha256_prefix, size, expect_zip)
    if dest.exists():
        problem = _problem(dest, *checks)
        if problem is None:
            log.info("%s is present and verified", dest)
            return dest
        log.warning("%s exists but does not verify (%s): downloading it again", dest, problem)
        dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    attempt = 0
    with requests.Session() as session:
        while True:
            before = part.stat().st_size if part.exists() else 0
            try:
                _stream(session, url, part, timeout, chunk_size, progress)
                break
            except (requests.RequestException, _Interrupted) as e:
                if part.exists() and part.stat().st_size > before:
                    attempt = 0  # a long download may break many times: only failures without progress count
                if not _retryable(e) or attempt >= retries:
                    raise FetchError(
                        f"could not download {url} to {dest} ({e}). With no network, copy the file to "
                        f"{dest} yourself{_expected(sha256, sha256_prefix, size)}; it is verified before use."
                    ) from None
                attempt += 1
                log.warning("download of %s interrupted (%s); resuming, try %d of %d", url, e, attempt, retries)
                time.sleep(min(backoff * 2 ** (attempt - 1), 60))
    problem = _problem(part, *checks)
    if problem is not None:
        part.unlink()
        raise FetchError(f"downloaded {url} to {dest} but it does not verify: {problem}; the bad file was deleted")
    os.replace(part, dest)
    log.info("downloaded %s to %s", url, dest)
    return dest


def _fetch_pinned(table: dict, what: str, name: str, dest: str | os.PathLike, base_url: str | None) -> Path:
    if name not in table:
        raise ConfigError(f"unknown {what} {name!r}; valid names: {', '.join(table)}")
    url, sha256, size = table[name]
    if base_url is not None:
        url = base_url.rstrip("/") + "/" + url[len(_PYTORCH_EXAMPLES) :]
    return download(url, dest, sha256=sha256, size=size)


def fetch_style(name: str, dest: str | os.PathLike, base_url: str | None = None) -> Path:
    """Download the pinned style image ``name`` to the file ``dest``.

    ``base_url`` replaces the pytorch/examples ``.../images/`` prefix (a mirror or a test server).
    """
    return _fetch_pinned(STYLE_IMAGES, "style image", name, dest, base_url)


def fetch_content(name: str, dest: str | os.PathLike, base_url: str | None = None) -> Path:
    """Download the pinned content image ``name`` to the file ``dest``; see fetch_style."""
    return _fetch_pinned(CONTENT_IMAGES, "content image", name, dest, base_url)


def fetch_coco(
    dest_dir: str | os.PathLike,
    url: str = COCO_TRAIN2014["url"],
    size: int | None = COCO_TRAIN2014["bytes"],
) -> Path:
    """Download and extract COCO train2014 into ``dest_dir/train2014``; return that folder.

    The zip is verified (size, every member's CRC), extracted into a temporary folder
    beside the target and renamed to ``dest_dir/train2014`` with a ``.complete`` marker,
    so an interrupted extraction never looks finished.
    """
    dest_dir = Path(dest_dir)
    images = dest_dir / "train2014"
    if (images / ".complete").exists():
        return images
    if images.exists():
        raise DataError(
            f"{images} exists but was not extracted by arst (no .complete marker): "
            "remove it, or name it as the config's content.coco_existing to use it as it is"
        )
    archive = download(url, dest_dir / Path(urlparse(url).path).name, size=size, expect_zip=True)
    tmp = Path(tempfile.mkdtemp(prefix=".train2014.", dir=dest_dir))
    try:
        log.info("extracting %s", archive)
        with zipfile.ZipFile(archive) as z:
            z.extractall(tmp)
        # COCO's zip holds one top folder (train2014/); a zip of bare files is taken as is.
        entries = list(tmp.iterdir())
        root = entries[0] if len(entries) == 1 and entries[0].is_dir() else tmp
        (root / ".complete").write_text(f"extracted from {url}\n")
        os.replace(root, images)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return images


def fetch_ort_web(dest: str | os.PathLike, url: str | None = None) -> Path:
    """Download onnxruntime-web's pinned npm tarball (ORT_WEB) to the file ``dest``; ``url``
    replaces the registry's address (a mirror or a test server), the bytes must still verify."""
    return download(url or ORT_WEB["url"], dest, sha256=ORT_WEB["sha256"], size=ORT_WEB["bytes"])


def fetch_vgg(arch: str, torch_home: str | os.PathLike, url: str | None = None) -> Path:
    """Download torchvision's ImageNet weights for ``arch`` where torchvision looks for them.

    The file lands in ``torch_home/hub/checkpoints/`` under torchvision's own name, so with
    TORCH_HOME=torch_home the weights API finds it offline. ``url`` replaces the address only.
    """
    from arst.nn.vgg import imagenet_weights, weights_file

    dest = weights_file(arch, torch_home)
    match = _HUB_HASH.search(dest.name)
    path = download(url or imagenet_weights(arch).url, dest, sha256_prefix=match.group(1) if match else None)
    return _check_state_dict(path)


def _check_state_dict(path: Path) -> Path:
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several unrelated types for a bad file
        raise FetchError(f"{path} does not load as a torch state dict ({e}): delete it and fetch again") from None
    if not isinstance(state, dict) or "features.0.weight" not in state:
        raise FetchError(f"{path} loads but holds no VGG 'features.0.weight': delete it and fetch again")
    return path
