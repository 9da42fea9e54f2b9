"""Origin markers and the copy check: copied code stays visibly tied to where it came from.

A copy carries a marker comment naming its origin, ``<package>:<module>.<object>``, and optional rename
rules; the check compares the copy with its origin after the renames, ignoring formatting, and reports every
difference as a unified diff with the file and line of both sides. The markers:

``# Copied from digits-classifier-torch:digits_classifier_torch.model.train with Digits->Letters``
    directly above a function, a class (its decorators included) or an assignment (with the string that
    documents it): that object is a copy of the named one.
``# Copied from <package>:<module> section <name> [with ...]`` ... ``# End copy``
    the lines between are a copy of the section ``<name>`` of that module. The origin marks the section
    with ``# Origin section <name>`` ... ``# End origin section`` (or is itself a copied section).
``# Diverged from <origin> [section <name>] [with ...]: <reason>``
    a copy that departs from its origin on purpose; the reason is recorded, the comparison is skipped,
    and the origin must still exist.

Formatting is normalised by comparing syntax trees (so line wrapping, quotes, parentheses and trailing commas
do not count) together with the sequence of comments; docstrings are compared after removing their
indentation. ``--fix`` rewrites a drifted copy from its origin and formats the rewritten lines with ruff.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import io
import re
import subprocess
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from ruff.__main__ import find_ruff_bin

from zoo.discovery import PACKAGES_DIRECTORY, SHARED_CONTRACTS_DIRECTORY
from zoo.files import Finding, counted, display_path, walk_files, write_text_atomically
from zoo.naming import Renamer, RenameRule, protected_names

COPIED_PREFIX = "# Copied from"
"""How an origin marker starts."""

DIVERGED_PREFIX = "# Diverged from"
"""How the marker of an intentional divergence starts."""

END_COPY = "# End copy"
"""The line that closes a copied (or diverged) section."""

ORIGIN_SECTION_PREFIX = "# Origin section"
"""How the origin of a section marks its start."""

END_ORIGIN_SECTION = "# End origin section"
"""The line that closes an origin section."""

IN_SYNC, DRIFTED, DIVERGED = "in sync", "drifted", "diverged"
"""The status of a copy: the same as its origin after renames, different, or different on purpose."""

_MARKER_TEXTS = (COPIED_PREFIX, DIVERGED_PREFIX, END_COPY, ORIGIN_SECTION_PREFIX, END_ORIGIN_SECTION)
_ORIGIN = r"(?P<origin>[^\s:]+:[^\s:]+)"
_SECTION = r"(?:\s+section\s+(?P<section>[A-Za-z0-9][\w-]*))?"
_COPIED = re.compile(r"#\s*Copied from\s+" + _ORIGIN + _SECTION + r"(?:\s+with\s+(?P<rules>[^:]+?))?\s*")
_DIVERGED = re.compile(
    r"#\s*Diverged from\s+"
    + _ORIGIN
    + _SECTION
    + r"(?:\s+with\s+(?P<rules>[^:]+?))?\s*:\s*(?P<reason>.*?)\s*"
)
_ORIGIN_SECTION = re.compile(r"#\s*Origin section\s+(?P<section>[A-Za-z0-9][\w-]*)\s*")
_OBJECT_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)


@dataclass(frozen=True)
class Region:
    """A run of whole lines of a file: a copied object or section, or its origin."""

    path: Path
    """The file."""
    start: int
    """The first line, counted from 1."""
    end: int
    """The last line, included."""
    lines: tuple[str, ...]
    """The lines, with their line endings."""

    @property
    def indentation(self) -> str:
        """The leading whitespace of the first line that is not blank."""
        return _indentation_of(self.lines)

    def location(self, root: Path) -> str:
        """``file:start-end`` relative to the repository's root."""
        return f"{display_path(self.path, root)}:{self.start}-{self.end}"


@dataclass(frozen=True)
class Marker:
    """One origin marker (``Copied from`` or ``Diverged from``) found in a file."""

    path: Path
    """The file holding the copy."""
    line: int
    """The marker's line."""
    origin: str
    """The origin as written: ``<package>:<module>.<object>`` or, for a section, ``<package>:<module>``."""
    section: str | None
    """The section's name, for a section copy."""
    rules: tuple[RenameRule, ...]
    """The rename rules, applied to the origin before comparing."""
    reason: str | None
    """Why the copy diverges, for a ``Diverged from`` marker; ``None`` for a copy."""

    @property
    def package(self) -> str:
        """The origin's package."""
        return self.origin.split(":", 1)[0]

    @property
    def dotted(self) -> str:
        """The origin's module and object, dotted."""
        return self.origin.split(":", 1)[1]

    @property
    def diverged(self) -> bool:
        """Whether the copy departs from its origin on purpose."""
        return self.reason is not None

    def describe_origin(self) -> str:
        """The origin with its section and rename rules, for reports."""
        text = self.origin + (f" section {self.section}" if self.section else "")
        if self.rules:
            text += " with " + ", ".join(str(rule) for rule in self.rules)
        return text


@dataclass(frozen=True)
class CopyResult:
    """The outcome of comparing one copy with its origin."""

    marker: Marker
    """The copy's marker."""
    copy: Region
    """The copied lines."""
    origin: Region
    """The origin's lines."""
    status: str
    """:data:`IN_SYNC`, :data:`DRIFTED` or :data:`DIVERGED`."""
    diff: str
    """For a drifted copy, the unified diff from the origin (after renames) to the copy; else empty."""
    replacement: tuple[str, ...]
    """The origin's lines after the renames, indented like the copy: what ``--fix`` writes."""


@dataclass
class CopyReport:
    """Every copy of the repository (or of one origin) with its status, and the markers that are wrong."""

    results: list[CopyResult] = field(default_factory=list)
    """One result per copy whose origin was found."""
    problems: list[Finding] = field(default_factory=list)
    """Markers that cannot be checked: malformed, misplaced, or naming an origin that does not exist."""

    def count(self, status: str) -> int:
        """How many copies have ``status``."""
        return sum(result.status == status for result in self.results)

    @property
    def passed(self) -> bool:
        """Whether every copy is in sync (or diverged on purpose) and every marker is valid."""
        return not self.problems and not self.count(DRIFTED)


class _SourceFile:
    """One Python file, parsed on demand: its markers, objects and sections."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self.problems: list[Finding] = []
        self._tree: ast.Module | None = None
        self._parsed = False
        self._comments: dict[int, str] | None = None
        self._objects: dict[str, tuple[int, int]] | None = None
        self._object_starts: dict[int, tuple[int, int]] = {}
        self._sections: dict[str, tuple[int, int]] | None = None
        self._section_markers: list[tuple[Marker, int]] = []

    def region(self, start: int, end: int) -> Region:
        """Lines ``start`` to ``end`` (counted from 1, both included)."""
        return Region(self.path, start, end, tuple(self.lines[start - 1 : end]))

    @property
    def tree(self) -> ast.Module | None:
        """The syntax tree, or ``None`` (with a problem recorded) when the file does not parse."""
        if not self._parsed:
            self._parsed = True
            try:
                self._tree = ast.parse(self.text, filename=str(self.path))
            except SyntaxError as error:
                self.problems.append(
                    Finding(self.path, error.lineno or 0, f"the file cannot be parsed ({error.msg})")
                )
        return self._tree

    @property
    def comments(self) -> dict[int, str]:
        """Every comment that stands alone on its line, by line number."""
        if self._comments is None:
            self._comments = {}
            tree = self.tree
            if tree is not None:  # a file that does not parse has its problem recorded, and no markers read
                # A line that starts with '#' is a comment unless it is inside a string that spans lines;
                # the syntax tree knows where those are (much faster than tokenising the whole file).
                inside_strings: set[int] = set()
                for node in ast.walk(tree):
                    if (
                        isinstance(node, ast.Constant | ast.JoinedStr)
                        and (node.end_lineno or 0) > node.lineno
                    ):
                        inside_strings.update(range(node.lineno + 1, (node.end_lineno or 0) + 1))
                self._comments = {
                    number: line.strip()
                    for number, line in enumerate(self.lines, start=1)
                    if line.lstrip().startswith("#") and number not in inside_strings
                }
        return self._comments

    def objects(self) -> dict[str, tuple[int, int]]:
        """Every function, class and assignment at module or class level, by qualified name: its lines."""
        if self._objects is None:
            self._objects = {}
            if self.tree is not None:
                self._collect(self.tree.body, "")
        return self._objects

    def object_starting_at(self, line: int) -> tuple[int, int] | None:
        """The lines of the object whose first line (its first decorator) is ``line``."""
        self.objects()
        return self._object_starts.get(line)

    def _collect(self, body: list[ast.stmt], prefix: str) -> None:
        for position, node in enumerate(body):
            if not isinstance(node, _OBJECT_TYPES):
                continue
            names = _defined_names(node)
            start = min([node.lineno] + [decorator.lineno for decorator in _decorators(node)])
            end = node.end_lineno or node.lineno
            following = body[position + 1] if position + 1 < len(body) else None
            if isinstance(node, ast.Assign | ast.AnnAssign) and _is_string_statement(following):
                end = following.end_lineno or end
            for name in names:
                self._objects[prefix + name] = (start, end)
            if names:
                self._object_starts[start] = (start, end)
            if isinstance(node, ast.ClassDef):
                self._collect(node.body, prefix + node.name + ".")

    @property
    def sections(self) -> dict[str, tuple[int, int]]:
        """Every marked section (origin sections and copied sections), by name, with the lines inside it."""
        return self._section_index()[0]

    @property
    def section_markers(self) -> list[tuple[Marker, int]]:
        """The marker of every copied or diverged section with the line of its ``# End copy``."""
        return self._section_index()[1]

    def _section_index(self) -> tuple[dict[str, tuple[int, int]], list[tuple[Marker, int]]]:
        if self._sections is None:
            self._sections = self._read_sections()
        return self._sections, self._section_markers

    def _read_sections(self) -> dict[str, tuple[int, int]]:
        """Pair every section start with its end; record copied sections for the check."""
        sections: dict[str, tuple[int, int]] = {}
        opened: tuple[int, str, str, Marker | None] | None = None  # line, name, closing text, marker
        for line, comment in sorted(self.comments.items()):
            start = None
            if comment.startswith(ORIGIN_SECTION_PREFIX):
                match = _ORIGIN_SECTION.fullmatch(comment)
                if match is None:
                    self.problems.append(
                        Finding(
                            self.path,
                            line,
                            "malformed origin section marker: write '# Origin section <name>'",
                        )
                    )
                    continue
                start = (line, match.group("section"), END_ORIGIN_SECTION, None)
            elif comment.startswith((COPIED_PREFIX, DIVERGED_PREFIX)):
                marker = parse_marker(self.path, line, comment, self.problems)
                if marker is None or marker.section is None:
                    continue
                start = (line, marker.section, END_COPY, marker)
            elif comment.strip() in (END_COPY, END_ORIGIN_SECTION):
                if opened is None or comment.strip() != opened[2]:
                    self.problems.append(
                        Finding(self.path, line, f"'{comment.strip()}' closes no open section: remove it")
                    )
                    continue
                opening_line, name, _, marker = opened
                opened = None
                if name in sections:
                    self.problems.append(
                        Finding(
                            self.path,
                            opening_line,
                            f"a second section named {name!r} in this file: rename one",
                        )
                    )
                    continue
                sections[name] = (opening_line + 1, line - 1)
                if marker is not None:
                    self._section_markers.append((marker, line))
            if start is not None:
                if opened is not None:
                    self.problems.append(
                        Finding(
                            self.path,
                            opened[0],
                            f"the section {opened[1]!r} is not closed before the next one starts at line "
                            f"{start[0]}: add '{opened[2]}'",
                        )
                    )
                opened = start
        if opened is not None:
            self.problems.append(
                Finding(self.path, opened[0], f"the section {opened[1]!r} is never closed: add '{opened[2]}'")
            )
        return sections


def parse_marker(path: Path, line: int, comment: str, problems: list[Finding]) -> Marker | None:
    """Read one ``Copied from`` or ``Diverged from`` comment; a malformed one is recorded in ``problems``."""
    diverged = comment.startswith(DIVERGED_PREFIX)
    match = (_DIVERGED if diverged else _COPIED).fullmatch(comment)
    if match is None:
        example = (
            "'# Diverged from <package>:<module>.<object>: <reason>'"
            if diverged
            else "'# Copied from <package>:<module>.<object> [with Old->New, ...]'"
        )
        problems.append(Finding(path, line, f"malformed marker: write {example}"))
        return None
    if diverged and not match.group("reason"):
        problems.append(
            Finding(
                path,
                line,
                "a 'Diverged from' marker needs a reason after the colon: say why the copy differs",
            )
        )
        return None
    try:
        rules = tuple(
            RenameRule.parse(rule) for rule in (match.group("rules") or "").split(",") if rule.strip()
        )
    except ValueError as error:
        problems.append(Finding(path, line, f"malformed marker: {error}"))
        return None
    return Marker(
        path=path,
        line=line,
        origin=match.group("origin"),
        section=match.group("section"),
        rules=rules,
        reason=match.group("reason") if diverged else None,
    )


class CopyChecker:
    """Finds every marker of a repository and compares each copy with its origin."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._files: dict[Path, _SourceFile | None] = {}
        self._renamers: dict[tuple[RenameRule, ...], Renamer] = {}
        packages = root / PACKAGES_DIRECTORY
        self._package_names = [SHARED_CONTRACTS_DIRECTORY] + (
            [child.name for child in packages.iterdir() if child.is_dir()] if packages.is_dir() else []
        )

    def _renamer(self, rules: tuple[RenameRule, ...]) -> Renamer:
        """The renamer of a marker's rules, leaving the names of other packages alone."""
        if rules not in self._renamers:
            self._renamers[rules] = Renamer(rules, protected=protected_names(rules, self._package_names))
        return self._renamers[rules]

    def source_directories(self) -> list[Path]:
        """The folders searched for copies: every package and ``shared-contracts``."""
        return [self.root / PACKAGES_DIRECTORY, self.root / SHARED_CONTRACTS_DIRECTORY]

    def _file(self, path: Path) -> _SourceFile | None:
        if path not in self._files:
            try:
                self._files[path] = _SourceFile(path, path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                self._files[path] = None
        return self._files[path]

    def check(self, origin_filter: str | None = None) -> CopyReport:
        """Compare every copy (or every copy of ``origin_filter``) with its origin."""
        report = CopyReport()
        marked: list[_SourceFile] = []
        for directory in self.source_directories():
            for path in walk_files(directory, ".py"):
                text = path.read_text(encoding="utf-8", errors="replace")
                if any(marker_text in text for marker_text in _MARKER_TEXTS):
                    source = _SourceFile(path, text)
                    self._files[path] = source
                    marked.append(source)
        for source in marked:
            for marker, region in self._markers_of(source):
                if origin_filter is None or _matches(marker, origin_filter):
                    self._compare(marker, region, report)
        for source in self._files.values():
            if source is not None:
                report.problems.extend(source.problems)
        report.problems.sort(key=lambda finding: (str(finding.path), finding.line))
        report.results.sort(key=lambda result: (str(result.copy.path), result.copy.start))
        return report

    def _markers_of(self, source: _SourceFile) -> list[tuple[Marker, Region]]:
        """The markers of one file with the lines each one covers."""
        found: list[tuple[Marker, Region]] = []
        for marker, closing_line in source.section_markers:
            found.append((marker, source.region(marker.line + 1, closing_line - 1)))
        for line, comment in sorted(source.comments.items()):
            if not comment.startswith((COPIED_PREFIX, DIVERGED_PREFIX)):
                continue
            marker = parse_marker(source.path, line, comment, [])
            if marker is None or marker.section is not None:
                continue  # malformed markers were recorded while reading the sections
            lines = source.object_starting_at(line + 1)
            if lines is None:
                source.problems.append(
                    Finding(
                        source.path,
                        line,
                        "the marker is not directly above a function, class or assignment: move it to the "
                        "line above the object (above its decorators), or use a section marker",
                    )
                )
                continue
            found.append((marker, source.region(*lines)))
        return found

    def _compare(self, marker: Marker, copy: Region, report: CopyReport) -> None:
        """Compare one copy with its origin and record the result (or why it cannot be compared)."""
        origin = self._resolve(marker, report)
        if origin is None:
            return
        if origin.path == copy.path and origin.start <= copy.start <= origin.end:
            report.problems.append(
                Finding(marker.path, marker.line, "the marker names the copy itself as its origin")
            )
            return
        renamed = self._renamer(marker.rules).apply("".join(origin.lines)).splitlines(keepends=True)
        replacement = tuple(_reindent(renamed, origin.indentation, copy.indentation))
        if marker.diverged:
            status, diff = DIVERGED, ""
        elif _same_text(replacement, copy.lines) or _normalised(replacement) == _normalised(copy.lines):
            status, diff = IN_SYNC, ""
        else:
            status = DRIFTED
            diff = located_diff(
                replacement,
                origin.start,
                f"{display_path(origin.path, self.root)}:{origin.start} (origin {marker.describe_origin()})",
                copy.lines,
                copy.start,
                f"{display_path(copy.path, self.root)}:{copy.start} (copy)",
            )
        report.results.append(CopyResult(marker, copy, origin, status, diff, replacement))

    def _resolve(self, marker: Marker, report: CopyReport) -> Region | None:
        """The origin's lines, or ``None`` with a problem in ``report`` that says what is missing."""

        def missing(message: str) -> None:
            report.problems.append(Finding(marker.path, marker.line, message))

        if marker.package == SHARED_CONTRACTS_DIRECTORY:
            package_directory = self.root / SHARED_CONTRACTS_DIRECTORY
        else:
            package_directory = self.root / PACKAGES_DIRECTORY / marker.package
        if not package_directory.is_dir():
            missing(
                f"the origin package {marker.package!r} does not exist (no folder "
                f"{display_path(package_directory, self.root)}): correct the marker, or, if the origin was "
                "removed, delete the marker and own the code"
            )
            return None
        parts = marker.dotted.split(".")
        if marker.section is not None:
            candidates = [(parts, [])]
        else:  # the longest module that exists; at least one object name follows it
            candidates = [(parts[:size], parts[size:]) for size in range(len(parts) - 1, 0, -1)]
        for module_parts, object_parts in candidates:
            path = _module_path(package_directory, module_parts)
            if path is None:
                continue
            source = self._file(path)
            if source is None:
                missing(f"the origin module {display_path(path, self.root)} cannot be read as UTF-8 text")
                return None
            if marker.section is not None:
                lines = source.sections.get(marker.section)
                what = f"section {marker.section!r}"
            else:
                lines = source.objects().get(".".join(object_parts))
                what = f"object {'.'.join(object_parts)!r}"
            if lines is None:
                missing(
                    f"the origin {marker.describe_origin()} does not exist: {display_path(path, self.root)} "
                    f"has no {what}; correct the marker, or, if the origin was removed or renamed, point the "
                    "marker at its new place or delete it"
                )
                return None
            return source.region(*lines)
        missing(
            f"the origin module of {marker.origin!r} does not exist in "
            f"{display_path(package_directory, self.root)}: write the origin as "
            "<package>:<module>.<object> (a section marker: <package>:<module>), for "
            "example digits-classifier-torch:digits_classifier_torch.model.train"
        )
        return None


def check_copies(root: Path, origin_filter: str | None = None) -> CopyReport:
    """Compare every copy of the repository (or every copy of ``origin_filter``) with its origin."""
    return CopyChecker(root).check(origin_filter)


def fix_copies(root: Path, origin_filter: str | None = None) -> tuple[CopyReport, list[CopyResult]]:
    """Rewrite every drifted copy from its origin, then check again; returns the final report and the fixes.

    Copies of copies are fixed in turn (a later pass sees the rewritten origin); the rewritten lines are
    formatted with ruff so that they follow the repository's style.
    """
    fixed: list[CopyResult] = []
    report = check_copies(root, origin_filter)
    seen: set[frozenset[tuple[str, int, tuple[str, ...]]]] = set()
    while report.count(DRIFTED):
        drifted = [result for result in report.results if result.status == DRIFTED]
        state = frozenset((str(result.copy.path), result.copy.start, result.copy.lines) for result in drifted)
        if state in seen:
            break  # the remaining copies change back and forth (each other's origin): a person must decide
        seen.add(state)
        by_file: dict[Path, list[CopyResult]] = {}
        for result in drifted:
            by_file.setdefault(result.copy.path, []).append(result)
        for path, results in by_file.items():
            fixed.extend(_fix_file(path, results))
        report = check_copies(root, origin_filter)
    return report, fixed


def _fix_file(path: Path, results: list[CopyResult]) -> list[CopyResult]:
    """Rewrite the copies of one file from the bottom up, skipping any that overlap one already rewritten."""
    done: list[CopyResult] = []
    lowest_start: int | None = None
    for result in sorted(results, key=lambda result: result.copy.start, reverse=True):
        if lowest_start is not None and result.copy.end >= lowest_start:
            continue  # nested in a copy rewritten in this pass: the next pass sees the new lines
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        replacement = list(result.replacement)
        if replacement and not replacement[-1].endswith("\n"):
            replacement[-1] += "\n"
        lines[result.copy.start - 1 : result.copy.end] = replacement
        write_text_atomically(path, "".join(lines))
        if replacement:
            last = result.copy.start + len(replacement) - 1
            subprocess.run(
                [
                    find_ruff_bin(),
                    "format",
                    "--quiet",
                    "--no-cache",
                    f"--range={result.copy.start}-{last + 1}",
                    str(path),
                ],
                cwd=path.parent,  # the configuration is the file's, wherever the command runs
                check=False,
                capture_output=True,
            )
        lowest_start = result.copy.start
        done.append(result)
    return done


def format_report(report: CopyReport, root: Path, *, table: bool) -> str:
    """The report as text: optionally a table of every copy, then each problem and drift, then a summary."""
    parts: list[str] = []
    if table:
        rows = [("status", "copy", "origin", "origin lines")]
        for result in report.results:
            origin = result.marker.describe_origin()
            if result.marker.diverged:
                origin += f" (diverged: {result.marker.reason})"
            rows.append((result.status, result.copy.location(root), origin, result.origin.location(root)))
        widths = [max(len(row[column]) for row in rows) for column in range(3)]
        parts.append(
            "\n".join(
                "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
                + "  "
                + row[3]
                for row in rows
            )
        )
    parts.extend(finding.describe(root) for finding in report.problems)
    for result in report.results:
        if result.status == DRIFTED:
            parts.append(
                f"{result.copy.location(root)}: drifted from {result.marker.describe_origin()}; "
                "run `zoo check-copies --fix` to rewrite the copy from its origin, or mark it "
                "'# Diverged from ...: <reason>' if the difference is intended\n" + result.diff
            )
    summary = (
        f"{counted(len(report.results), 'copy', 'copies')}: {report.count(IN_SYNC)} in sync, "
        f"{report.count(DRIFTED)} drifted, {report.count(DIVERGED)} diverged on purpose; "
        f"{counted(len(report.problems), 'marker problem')}"
    )
    parts.append(summary)
    return "\n".join(parts)


def located_diff(
    origin_lines: tuple[str, ...] | list[str],
    origin_start: int,
    origin_label: str,
    copy_lines: tuple[str, ...] | list[str],
    copy_start: int,
    copy_label: str,
) -> str:
    """A unified diff whose hunk headers give the real line numbers of both files."""
    before = [line.rstrip("\n") for line in origin_lines]
    after = [line.rstrip("\n") for line in copy_lines]
    output = [f"--- {origin_label}", f"+++ {copy_label}"]
    for group in difflib.SequenceMatcher(None, before, after, autojunk=False).get_grouped_opcodes(3):
        first_before, last_before = group[0][1], group[-1][2]
        first_after, last_after = group[0][3], group[-1][4]
        output.append(
            f"@@ -{_range(origin_start + first_before, last_before - first_before)} "
            f"+{_range(copy_start + first_after, last_after - first_after)} @@"
        )
        for tag, before_start, before_end, after_start, after_end in group:
            if tag == "equal":
                output.extend(" " + line for line in before[before_start:before_end])
                continue
            output.extend("-" + line for line in before[before_start:before_end])
            output.extend("+" + line for line in after[after_start:after_end])
    return "\n".join(output)


def _range(start: int, length: int) -> str:
    """A hunk range as unified diffs write it (an empty range names the line before it)."""
    if length == 1:
        return str(start)
    return f"{start - 1 if length == 0 else start},{length}"


def _matches(marker: Marker, origin_filter: str) -> bool:
    """Whether the marker's origin is ``origin_filter`` or inside it (a package, module or class)."""
    if ":" not in origin_filter:
        return marker.package == origin_filter
    return marker.origin == origin_filter or marker.origin.startswith(origin_filter + ".")


def _module_path(package_directory: Path, parts: list[str]) -> Path | None:
    """The file of a dotted module inside a package: under ``src/`` first, then the package's folder."""
    for base in (package_directory / "src", package_directory):
        for candidate in (base.joinpath(*parts).with_suffix(".py"), base.joinpath(*parts, "__init__.py")):
            if candidate.is_file():
                return candidate
    return None


def _decorators(node: ast.stmt) -> list[ast.expr]:
    return list(getattr(node, "decorator_list", []))


def _defined_names(node: ast.stmt) -> list[str]:
    """The names an object statement defines: a function's or class's name, an assignment's plain targets."""
    if isinstance(node, ast.Assign):
        return [target.id for target in node.targets if isinstance(target, ast.Name)]
    if isinstance(node, ast.AnnAssign):
        return [node.target.id] if isinstance(node.target, ast.Name) else []
    return [node.name]


def _is_string_statement(node: ast.stmt | None) -> bool:
    """Whether ``node`` is a bare string, the docstring of the assignment above it."""
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _reindent(lines: list[str], old: str, new: str) -> list[str]:
    """``lines`` moved from indentation ``old`` to ``new`` (lines less indented, inside strings, stay)."""
    moved = []
    for line in lines:
        if not line.strip():
            moved.append("\n" if line.endswith("\n") else "")
        elif line.startswith(old):
            moved.append(new + line[len(old) :])
        else:
            moved.append(line)
    return moved


def _normalised(lines: tuple[str, ...] | list[str]) -> tuple[str, tuple[str, ...]]:
    """What is compared: the syntax tree (formatting removed) and the comments.

    Lines that are not a whole block of statements are compared as stripped lines instead.
    """
    text = "".join(_reindent(list(lines), _indentation_of(lines), ""))
    comments = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                comment = " ".join(token.string.lstrip("#").split())
                if not ("# " + comment).startswith(_MARKER_TEXTS):
                    comments.append(comment)
        tree = ast.parse(text)
    except (SyntaxError, tokenize.TokenError):
        return "", tuple(line.strip() for line in lines if line.strip())
    for node in ast.walk(tree):
        if _is_string_statement(node):
            node.value.value = inspect.cleandoc(node.value.value)
    return ast.dump(tree, annotate_fields=False), tuple(comments)


def _same_text(first: tuple[str, ...] | list[str], second: tuple[str, ...] | list[str]) -> bool:
    """Whether two runs of lines are the same text, trailing whitespace aside (the quick, common case)."""
    return [line.rstrip() for line in first] == [line.rstrip() for line in second]


def _indentation_of(lines: tuple[str, ...] | list[str]) -> str:
    for line in lines:
        if line.strip():
            return line[: len(line) - len(line.lstrip())]
    return ""
