"""The files of the repository the tool looks at, and safe writing.

Generated and installed trees (virtual environments, tox environments, caches, run outputs, the built site)
are never part of a package's code, so every walk skips them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SKIPPED_DIRECTORIES = frozenset(
    {
        "__pycache__",
        "node_modules",
        "build",
        "dist",
        "site",
        "htmlcov",
        "runs",
        "datasets",
        "model-repository",
        "test-artifacts",
    }
)
"""Folder names that hold generated or installed files; hidden folders (``.venv``, ``.tox``) are skipped
too."""


class ZooError(Exception):
    """A problem the user can fix, with a message that says what is wrong and what to do."""


def kept_folder(name: str) -> bool:
    """Whether a folder is walked: not hidden, not generated (caches, environments, build output)."""
    return not name.startswith(".") and name not in SKIPPED_DIRECTORIES and not name.endswith(".egg-info")


def walk_files(directory: Path, suffix: str) -> Iterator[Path]:
    """Every file below ``directory`` whose name ends with ``suffix``, in a stable order.

    Generated and hidden folders are skipped.
    """
    for current, folders, names in os.walk(directory):
        folders[:] = sorted(folder for folder in folders if kept_folder(folder))
        for name in sorted(names):
            if name.endswith(suffix):
                yield Path(current) / name


def display_path(path: Path, root: Path) -> str:
    """``path`` relative to the repository's root when it is inside it, for messages."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def write_text_atomically(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` all at once: a reader sees the old file or the new one, never a part.

    An existing file keeps its permissions; a new one gets the usual ``rw-r--r--``.
    """
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    descriptor, temporary_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(temporary_name, mode)
        os.replace(temporary_name, path)
    except BaseException:
        Path(temporary_name).unlink(missing_ok=True)
        raise


def counted(number: int, singular: str, plural: str | None = None) -> str:
    """``1 copy``, ``2 copies``: a number with its noun in the right form."""
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


@dataclass(frozen=True)
class Finding:
    """One problem a check found: where it is and what to do about it."""

    path: Path
    """The file the problem is in."""
    line: int
    """The line, counted from 1; 0 when the problem concerns the whole file."""
    message: str
    """What is wrong and what to do."""

    def describe(self, root: Path) -> str:
        """The finding as ``file:line: message``, the file relative to the repository's root."""
        location = display_path(self.path, root) + (f":{self.line}" if self.line else "")
        return f"{location}: {self.message}"
