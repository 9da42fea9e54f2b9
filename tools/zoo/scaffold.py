"""The scaffold: a new model package created as a marked copy of an existing one.

``zoo new-model --from digits-classifier-torch --name letters-classifier-torch`` copies the package, renames
every case variant of its name (through placeholders, leaving the names of other packages alone), writes an
origin marker above every top-level object of the model's modules and tests, resets the version to 0.1.0 and the stage
to experimental, leaves out run outputs, caches and the baseline, writes a README model card to fill in,
formats the result with ruff and locks it with ``uv lock`` (the origin's lock, renamed, is the starting point, so
the new package keeps the origin's pinned versions where they still fit). The package is assembled in a hidden
folder beside its destination and moved into place only when every step succeeded, so a failure leaves
nothing behind.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ruff.__main__ import find_ruff_bin

from zoo.abbreviations import name_problems
from zoo.copies import COPIED_PREFIX, DIVERGED_PREFIX, END_COPY
from zoo.discovery import PACKAGES_DIRECTORY, SHARED_CONTRACTS_DIRECTORY, discover_packages, read_package
from zoo.files import ZooError, display_path, kept_folder
from zoo.naming import Renamer, RenameRule, case_variants, package_name_problem, protected_names, split_words

INITIAL_VERSION = "0.1.0"
"""The version of a newly created package."""

INITIAL_STAGE = "experimental"
"""The stage of a newly created package."""

LEFT_OUT_AT_TOP = frozenset({"baseline"})
"""Top-level entries of the origin that the new package does not take over."""

LEFT_OUT_FILES = re.compile(r"\.coverage(\..*)?|coverage\.(xml|json)|.*\.py[cod]|.*\.partial")
"""Files that are outputs of a run or a test, never copied."""

MODEL_CARD_SECTIONS = (
    ("Model", "What the model is: its architecture, its inputs and outputs, its size."),
    ("Intended use", "What it is for, and what it must not be used for."),
    ("Data", "The dataset, its source and license, how it is prepared and split."),
    ("Training", "How it is trained: the configuration, the seed, the hardware, the time it takes."),
    ("Evaluation", "The metrics on the test split, compared with the baseline."),
    ("Limitations", "Where it fails, what it was not tested on, known biases."),
    ("Reproduce", "The one command that runs the whole pipeline, and what it writes."),
)
"""The sections of a model card when the origin's README has none to follow: heading and what to write."""


@dataclass(frozen=True)
class ScaffoldResult:
    """What ``new-model`` created."""

    directory: Path
    """The new package's folder."""
    files: int
    """How many files were written."""
    markers: int
    """How many origin markers were written."""
    locked: bool
    """Whether ``uv lock`` locked the new package (else its lock is the origin's, renamed, not yet updated)."""


def new_model(
    root: Path, origin: str, name: str, *, description: str | None = None, lock: bool = True
) -> ScaffoldResult:
    """Create ``packages/<name>`` as a marked copy of ``packages/<origin>``; raises :class:`ZooError`."""
    packages_directory = root / PACKAGES_DIRECTORY
    origin_directory = packages_directory / origin
    existing = [package.name for package in discover_packages(root)]
    if origin not in existing:
        raise ZooError(
            f"the origin package {origin!r} does not exist under {PACKAGES_DIRECTORY}/; choose one of: "
            + (", ".join(existing) or "(none yet)")
        )
    problem = package_name_problem(name)
    if problem is None and name == SHARED_CONTRACTS_DIRECTORY:
        problem = f"{name!r} is the name of the contracts package: choose another name"
    if problem is None:
        abbreviated = name_problems(name)
        problem = f"{name!r} abbreviates: {abbreviated[0]}" if abbreviated else None
    if problem is not None:
        raise ZooError(problem)
    target = packages_directory / name
    if target.exists():
        raise ZooError(
            f"{display_path(target, root)} already exists: choose another name, or remove that folder first"
        )
    source = read_package(origin_directory)
    rules = [RenameRule(origin, name)]
    renamer = Renamer(rules, protected=protected_names(rules, existing))
    staging = Path(tempfile.mkdtemp(prefix=f".new-model-{name}-", dir=packages_directory))
    try:
        _copy_renamed(origin_directory, staging, renamer)
        _reset_project(staging / "pyproject.toml", description)
        markers = _write_markers(origin_directory, staging, source.module, origin, renamer)
        with (staging / "pyproject.toml").open("rb") as handle:
            new_description = tomllib.load(handle)["project"].get("description", "")
        _write_model_card(origin_directory, staging, origin, name, new_description, renamer)
        _format(staging)
        if lock:
            _lock(staging)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    files = sum(1 for path in target.rglob("*") if path.is_file())
    return ScaffoldResult(target, files, markers, lock)


def _copy_renamed(origin: Path, staging: Path, renamer: Renamer) -> None:
    """Copy the origin's files into ``staging`` with renamed paths and contents."""
    for current, folders, names in os.walk(origin):
        relative = Path(current).relative_to(origin)
        folders[:] = sorted(
            folder
            for folder in folders
            if kept_folder(folder) and not (relative == Path(".") and folder in LEFT_OUT_AT_TOP)
        )
        for file_name in sorted(names):
            if LEFT_OUT_FILES.fullmatch(file_name) or (
                relative == Path(".") and file_name in LEFT_OUT_AT_TOP
            ):
                continue
            source = Path(current) / file_name
            destination = staging / renamer.apply((relative / file_name).as_posix())
            destination.parent.mkdir(parents=True, exist_ok=True)
            content = source.read_bytes()
            try:
                destination.write_text(renamer.apply(content.decode("utf-8")), encoding="utf-8")
            except UnicodeDecodeError:
                destination.write_bytes(content)
            shutil.copymode(source, destination)


def _reset_project(project_file: Path, description: str | None) -> None:
    """Version 0.1.0, stage experimental and, when given, the new description, in ``pyproject.toml``."""
    text = project_file.read_text(encoding="utf-8")
    text = _set_in_table(text, "project", "version", INITIAL_VERSION, insert=False)  # a dynamic one stays
    text = _set_in_table(text, "tool.zoo", "stage", INITIAL_STAGE, insert=True)
    if description is not None:
        text = _set_in_table(text, "project", "description", description, insert=True)
    project_file.write_text(text, encoding="utf-8")


def _set_in_table(text: str, table: str, key: str, value: str, *, insert: bool) -> str:
    """``text`` (TOML) with ``key = "value"`` in ``[table]``: the key's line replaced, or (``insert``) added.

    A missing table is left missing.
    """
    lines = text.splitlines(keepends=True)
    header = re.compile(r"\[\s*" + re.escape(table) + r"\s*\](\s*#.*)?")
    assignment = re.compile(r"\s*" + re.escape(key) + r"\s*=")
    new_line = f"{key} = " + '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"\n'
    start = end = None
    for index, line in enumerate(lines):
        if not line.strip().startswith("["):
            continue
        if start is not None:
            end = index
            break
        if header.fullmatch(line.strip()):
            start = index + 1
    if start is None:
        return text
    end = len(lines) if end is None else end
    for index in range(start, end):
        if assignment.match(lines[index]):
            lines[index] = new_line
            return "".join(lines)
    if insert:
        position = end
        while position > start and not lines[position - 1].strip():
            position -= 1
        if not lines[position - 1].endswith("\n"):
            lines[position - 1] += "\n"
        lines.insert(position, new_line)
    return "".join(lines)


def _write_markers(
    origin_directory: Path, staging: Path, origin_module: str, origin: str, renamer: Renamer
) -> int:
    """An origin marker above every top-level object of the model's modules and tests; returns how many.

    A test module is named from the package's folder (``tests.test_model``), where the copy check finds it.
    """
    count = 0
    for root, prefix in (
        (origin_directory / "src" / origin_module, origin_module),
        (origin_directory / "tests", "tests"),
    ):
        if not root.is_dir():
            continue
        for origin_file in sorted(root.rglob("*.py")):
            if origin_file.name in ("__init__.py", "__main__.py") or any(
                part.startswith(".") or part == "__pycache__" for part in origin_file.relative_to(root).parts
            ):
                continue
            relative = origin_file.relative_to(origin_directory)
            copy_file = staging / renamer.apply(relative.as_posix())
            dotted = ".".join((prefix, *origin_file.relative_to(root).with_suffix("").parts))
            count += _mark_file(origin_file, copy_file, f"{origin}:{dotted}", renamer)
    return count


def _mark_file(origin_file: Path, copy_file: Path, origin_module: str, renamer: Renamer) -> int:
    """Write the markers of one module; returns how many."""
    origin_text = origin_file.read_text(encoding="utf-8")
    origin_lines = origin_text.splitlines(keepends=True)
    try:
        origin_objects = _top_level_objects(ast.parse(origin_text))
    except SyntaxError:
        return 0  # not Python that parses: copied as it is, without markers
    lines = copy_file.read_text(encoding="utf-8").splitlines(keepends=True)
    rule = renamer.rules[0]
    # Copy and section markers taken over from the origin would name the origin's origins; every top-level
    # object gets a marker naming the package it was copied from instead.
    for index, line in enumerate(lines):
        if (
            line.startswith((COPIED_PREFIX, DIVERGED_PREFIX)) and " section " in line
        ) or line.rstrip() == END_COPY:
            lines[index] = ""
    for name, start, end in reversed(origin_objects):
        above = start - 2
        while above >= 0 and lines[above].startswith((COPIED_PREFIX, DIVERGED_PREFIX)):
            lines[above] = ""
            above -= 1
        region = "".join(origin_lines[start - 1 : end])
        marker = f"{COPIED_PREFIX} {origin_module}.{name}"
        if renamer.changes(region):
            marker += f" with {rule}"
        lines.insert(start - 1, marker + "\n")
    copy_file.write_text("".join(lines), encoding="utf-8")
    return len(origin_objects)


def _top_level_objects(tree: ast.Module) -> list[tuple[str, int, int]]:
    """``(name, first line, last line)`` of every public top-level function, class and assignment."""
    objects = []
    body = tree.body
    for position, node in enumerate(body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = node.name
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            name = node.target.id
        else:
            continue
        if name.startswith("__") and name.endswith("__"):
            continue  # __all__, __version__: module bookkeeping, not a copied object
        start = min([node.lineno] + [decorator.lineno for decorator in getattr(node, "decorator_list", [])])
        end = node.end_lineno or node.lineno
        following = body[position + 1] if position + 1 < len(body) else None
        if (
            isinstance(node, ast.Assign | ast.AnnAssign)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            end = following.end_lineno or end
        objects.append((name, start, end))
    return objects


def _write_model_card(
    origin_directory: Path, staging: Path, origin: str, name: str, description: str, renamer: Renamer
) -> None:
    """A README model card: the origin's headings (or the standard ones), each with what to write."""
    readme = origin_directory / "README.md"
    headings: list[tuple[str, str]] = []
    if readme.is_file():
        fence = False
        for line in readme.read_text(encoding="utf-8").splitlines():
            if line.lstrip().startswith(("```", "~~~")):
                fence = not fence
            elif not fence and re.match(r"#{2,6}\s", line):
                headings.append((renamer.apply(line.rstrip()), ""))
    if not headings:
        headings = [(f"## {heading}", hint) for heading, hint in MODEL_CARD_SECTIONS]
    title = case_variants(split_words(name))["title"]
    lines = [
        f"# {title}",
        "",
        f"<!-- Created by `zoo new-model` as a copy of {origin}. This model card is to be filled in: replace",
        f"every 'To fill in' below. The card of the origin is packages/{origin}/README.md. -->",
        "",
        description,
        "",
    ]
    for heading, hint in headings:
        lines += [heading, "", f"To fill in. {hint}".rstrip(), ""]
    (staging / "README.md").write_text("\n".join(lines), encoding="utf-8")


def _format(staging: Path) -> None:
    """Sort imports and format the new package with the repository's ruff configuration."""
    ruff = find_ruff_bin()
    for command in (["check", "--select", "I", "--fix"], ["format"]):
        subprocess.run(
            [ruff, *command, "--quiet", "--no-cache", "."], cwd=staging, check=False, capture_output=True
        )


def _lock(staging: Path) -> None:
    """Lock the new package with ``uv lock``; raises :class:`ZooError` with uv's message when it fails."""
    uv = shutil.which("uv")
    if uv is None:
        raise ZooError("uv is not installed or not on PATH: install uv, or pass --skip-lock and lock later")
    completed = subprocess.run(
        [uv, "lock", "--quiet"],
        cwd=staging,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise ZooError(
            "`uv lock` failed for the new package, so nothing was created; uv said:\n"
            + completed.stderr.strip()
        )
