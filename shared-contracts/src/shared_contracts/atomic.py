"""Atomic file writing: a temporary file beside the target, flushed, synchronised, then renamed.

After a crash there is either the old file or the complete new one, never a partial file that looks
complete. Every contract file, checkpoint and exported artifact is written through here. The file gets the
permissions a newly created file would get (``0o666`` less the process's umask), not the owner-only
permissions of a temporary file, so that a server running as another user (Triton in a container) can read
an exported model.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from shared_contracts.errors import ContractError


def _read_umask() -> int:
    """The process's umask (it can only be read by setting it, so it is read once, at import)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_NEW_FILE_PERMISSIONS = 0o666 & ~_read_umask()


def write_bytes_atomically(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, creating parent directories; returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".partial", dir=target.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            os.chmod(temporary_name, _NEW_FILE_PERMISSIONS)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary_name, target)
    except BaseException:
        Path(temporary_name).unlink(missing_ok=True)
        raise
    _synchronise_directory(target.parent)
    return target


def write_text_atomically(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; returns the path."""
    return write_bytes_atomically(path, text.encode("utf-8"))


def write_json_atomically(path: str | Path, value: Any) -> Path:
    """Write ``value`` as indented, key-sorted JSON to ``path`` atomically; returns the path."""
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    return write_text_atomically(path, text + "\n")


def _synchronise_directory(directory: Path) -> None:
    """Make a rename inside ``directory`` durable (POSIX: synchronise the directory itself)."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_json(path: str | Path, what: str) -> Any:
    """Read a JSON file, raising :class:`ContractError` that names the file if it is missing or invalid.

    ``what`` says what the file is ("dataset manifest", "run record", ...) so the message can say what to
    do about it.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContractError(f"the {what} does not exist", source=source) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ContractError(f"the {what} cannot be read ({error})", source=source) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ContractError(
            f"the {what} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); "
            "it may be corrupt or truncated",
            source=source,
        ) from None
