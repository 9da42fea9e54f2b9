"""SHA-256 helpers for bytes, files, directories and JSON values.

Every fingerprint in the zoo (datasets, locks, checkpoints, exported models, run records) is one of these,
so that the same thing hashed anywhere gives the same digest.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

_CHUNK_SIZE = 1024 * 1024


def sha256_bytes(data: bytes) -> str:
    """The hexadecimal SHA-256 digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    """The hexadecimal SHA-256 digest of a file's content, read in chunks so large files fit in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_directory(path: str | Path) -> str:
    """The SHA-256 digest of every file below a directory: relative paths and contents.

    The files are taken in the order of their relative paths written with forward slashes, so the digest is
    the same on every platform. Renaming, adding, removing or changing any file changes the digest; file
    times do not.
    """
    root = Path(path)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a directory")
    files = {each.relative_to(root).as_posix(): each for each in root.rglob("*") if each.is_file()}
    digest = hashlib.sha256()
    for relative in sorted(files):
        digest.update(f"{relative}\0{sha256_file(files[relative])}\n".encode())
    return digest.hexdigest()


def canonical_json(value: Any) -> bytes:
    """``value`` as canonical JSON bytes: sorted keys, no insignificant white space, UTF-8.

    Two equal values always give the same bytes, so their digests can be compared.
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sha256_json(value: Any) -> str:
    """The SHA-256 digest of ``value``'s canonical JSON."""
    return sha256_bytes(canonical_json(value))
