"""Files: atomic writes (a reader never sees a half-written file, a killed job leaves the old
one) and their sha256."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only on success.

    The temporary file is created with mode 0o666, which the kernel reduces by the umask, as
    it does for any file a program opens for writing. (tempfile.mkstemp creates it 0o600, and
    that mode survives the rename: on a shared cluster a colleague could not read the results.)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:  # another writer drew the same name: draw again
            continue
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def link_or_copy(source: str | os.PathLike, path: str | os.PathLike) -> None:
    """`path` made the same file as `source`, atomically: a hard link, which costs no space,
    or a copy where the filesystem allows no hard links."""
    with atomic_path(path) as tmp:
        tmp.unlink()
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def sha256(path: str | os.PathLike) -> str:
    """The file's sha256, hex: what checkpoints record of their style image and downloads are
    checked against."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
