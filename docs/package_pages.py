"""The page set of every package and the Benchmarks page, generated when the documentation site is built.

Nothing here lists a package: every package folder that :func:`zoo.discovery.discover_packages` finds under
``packages/`` gets its pages, and every ``README.md`` under ``benchmarks/`` joins the Benchmarks page, so a
new package or benchmark appears on the site without editing any list. For each package:

- ``packages/<name>/index.md``: the model card (or the service's README), from the package's ``README.md``,
  with a summary of the package (kind, stage, framework, version) and its links rewritten to work on the site;
- ``packages/<name>/baseline.md`` (models): the committed baseline's final metrics, a training-curve figure
  drawn here as SVG, the metrics of every epoch and the whole lineage, read from ``baseline/run.json``;
- ``packages/<name>/command-line.md``: the real ``--help`` output kept in ``command-line-help.txt``;
- ``packages/<name>/api.md``: the API reference, rendered by mkdocstrings from the sources, read statically.

The functions return the pages as a mapping of path (relative to the documentation folder) to content, so
they can be tested on real small repositories in temporary folders; ``generate_pages.py`` hands that mapping
to mkdocs-gen-files during the build. The repository tool's ``tools/`` folder must be importable (for
``zoo.discovery``, standard library only); ``generate_pages.py`` and the tests put it on ``sys.path``. A problem the build must not hide (a link that points at nothing, a
baseline that cannot be read) is logged as a warning on MkDocs' logger, which fails the strict build.
"""

from __future__ import annotations

import html
import json
import logging
import math
import posixpath
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo.discovery import PackageInformation, discover_packages

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
"""The repository's root: the folder above ``docs/``."""

LOGGER = logging.getLogger("mkdocs.plugins.model_zoo_pages")
"""Warnings logged here count as MkDocs warnings: the strict build fails on them."""

IMAGE_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg", ".gif", ".webp")
"""Files that a README may show as a picture; they are copied next to the page that shows them."""

PAGE_TITLES = {
    "index.md": "Model card",
    "baseline.md": "Baseline",
    "command-line.md": "Command line",
    "api.md": "API reference",
}
"""The pages of a package, in navigation order, with their titles."""


PAGE_SUBJECTS = {
    "index.md": "model card",
    "baseline.md": "baseline",
    "command-line.md": "command line",
    "api.md": "API reference",
}
"""What each page of a package is about, as its title says after the package's name."""


def page_title(package_name: str, page_name: str) -> str:
    """The title of one page of a package, as browser tabs and search results show it."""
    return f"{package_name}: {PAGE_SUBJECTS[page_name]}"


FENCE_PATTERN = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
"""The opening or closing line of a fenced code block."""

HEADING_PATTERN = re.compile(r"^(#{1,6})(\s+.*?)\s*#*\s*$")
"""An ATX heading: its level and its text."""

INLINE_CODE_PATTERN = re.compile(r"(`+)(?:.+?)\1")
"""An inline code span, inside which links are not links."""

MARKDOWN_LINK_PATTERN = re.compile(
    r"(?P<image>!?)\[(?P<text>(?:[^\[\]]|\[[^\[\]]*\])*)\]"
    r"\(\s*<?(?P<target>[^)\s>]+)>?(?P<title>\s+\"[^\"]*\")?\s*\)"
)
"""An inline Markdown link or image: ``[text](target "title")``."""

REFERENCE_DEFINITION_PATTERN = re.compile(
    r"^(?P<label>\s{0,3}\[[^\]]+\]:\s*)<?(?P<target>[^\s>]+)>?(?P<rest>.*)$"
)
"""A reference-style link definition: ``[label]: target``."""

HTML_ATTRIBUTE_PATTERN = re.compile(r"(?P<name>\b(?:src|href))=\"(?P<target>[^\"]+)\"")
"""A ``src`` or ``href`` attribute of raw HTML in a README."""

EXTERNAL_TARGET_PATTERN = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//|#)")
"""A target that is not a relative path: a URL with a scheme, a protocol-relative URL, or a fragment."""

CURVE_COLOURS = ("#3f51b5", "#e65100", "#2e7d32", "#ad1457", "#00838f", "#6d4c41", "#5e35b1", "#9e9d24")
"""The line colours of the training-curve panels, one per metric, in turn."""


# Reading the repository -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackagePages:
    """Which pages one package gets, decided from what its folder holds."""

    package: PackageInformation
    """The package, as discovery read it."""
    has_baseline_page: bool
    """Whether the package is a model, which has a baseline page (saying so when none is committed yet)."""
    has_command_line_page: bool
    """Whether ``command-line-help.txt`` exists."""
    has_api_page: bool
    """Whether the package's module exists under ``src/``."""
    scripts: tuple[str, ...] = ()
    """The command-line programs the package installs (``[project.scripts]``)."""

    @property
    def folder(self) -> str:
        """The package's folder below the documentation folder."""
        return f"packages/{self.package.name}"

    def page_names(self) -> list[str]:
        """The file names of the package's pages, in navigation order."""
        present = {
            "index.md": True,
            "baseline.md": self.has_baseline_page,
            "command-line.md": self.has_command_line_page,
            "api.md": self.has_api_page,
        }
        return [name for name in PAGE_TITLES if present[name]]


def read_scripts(directory: Path) -> tuple[str, ...]:
    """The names of the command-line programs a package installs, from its ``pyproject.toml``."""
    with (directory / "pyproject.toml").open("rb") as handle:
        project = tomllib.load(handle).get("project", {})
    return tuple(sorted(project.get("scripts", {})))


def plan_package(package: PackageInformation) -> PackagePages:
    """Decide the pages of one package from its folder."""
    source = package.directory / "src"
    return PackagePages(
        package=package,
        has_baseline_page=package.kind == "model",
        has_command_line_page=(package.directory / "command-line-help.txt").is_file(),
        has_api_page=(source / package.module).is_dir() or (source / f"{package.module}.py").is_file(),
        scripts=read_scripts(package.directory),
    )


# Markdown helpers ------------------------------------------------------------------------------------------


def outside_code_blocks(lines: Iterable[str]) -> Iterable[tuple[str, bool]]:
    """Each line with whether it is prose (``True``) or inside a fenced code block (``False``)."""
    fence: str | None = None
    for line in lines:
        match = FENCE_PATTERN.match(line)
        if fence is None and match:
            fence = match.group(1)
            yield line, False
        elif fence is not None:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = None
            yield line, False
        else:
            yield line, True


def table_cell(value: Any) -> str:
    """A value written for a Markdown table cell: numbers shortened, pipes escaped, lines joined."""
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif value is None:
        text = "none"
    elif isinstance(value, float):
        text = format_number(value)
    elif isinstance(value, dict | list):
        text = f"`{json.dumps(value, sort_keys=True)}`"
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ") or " "


def format_number(value: float) -> str:
    """A number with at most six significant digits, as a reader wants to see it in a table."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def with_title(title: str, text: str) -> str:
    """A page with ``title`` as the title of its browser tab and search result (front matter).

    A page that already starts with front matter keeps its own.
    """
    if text.startswith("---\n"):
        return text
    return f"---\ntitle: {json.dumps(title)}\n---\n\n{text}"


def markdown_table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    """A Markdown table."""
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(table_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


FOLDED_ROWS = 10
"""Tables longer than this (metrics of many epochs) are folded, so that the page stays readable."""


def folded(title: str, text: str) -> str:
    """``text`` inside a folded block that opens on a click (pymdownx.details), under ``title``."""
    indented = "\n".join(f"    {line}" if line else "" for line in text.splitlines())
    return f"??? note {json.dumps(title)}\n\n{indented}\n"


def code_fence_for(text: str) -> str:
    """A backtick fence longer than any run of backticks in ``text``."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def first_heading(text: str) -> tuple[int, str] | None:
    """The index of the first level-one heading's line and its text, or ``None`` when there is none."""
    lines = text.splitlines()
    for index, (line, prose) in enumerate(outside_code_blocks(lines)):
        if not prose:
            continue
        match = HEADING_PATTERN.match(line)
        if match and len(match.group(1)) == 1:
            return index, match.group(2).strip()
        if index + 1 < len(lines) and line.strip() and re.fullmatch(r"=+\s*", lines[index + 1]):
            return index + 1, line.strip()
    return None


def shift_headings(text: str, top_level: int) -> str:
    """``text`` with its ATX headings moved so that the highest becomes ``top_level`` (capped at six)."""
    lines = text.splitlines()
    levels = [
        len(match.group(1))
        for line, prose in outside_code_blocks(lines)
        if prose and (match := HEADING_PATTERN.match(line))
    ]
    if not levels:
        return text
    shift = top_level - min(levels)
    shifted = []
    for line, prose in outside_code_blocks(lines):
        match = HEADING_PATTERN.match(line) if prose else None
        if match:
            level = min(6, max(1, len(match.group(1)) + shift))
            line = "#" * level + match.group(2)
        shifted.append(line)
    return "\n".join(shifted) + "\n"


def section_named(text: str, word: str) -> tuple[str, str] | None:
    """The first section (level two or below) whose heading contains ``word``: its heading and its body.

    The body runs to the next heading of the same or a higher level.
    """
    lines = text.splitlines()
    start: int | None = None
    level = 0
    heading = ""
    body: list[str] = []
    for line, prose in outside_code_blocks(lines):
        match = HEADING_PATTERN.match(line) if prose else None
        if start is None:
            if match and len(match.group(1)) >= 2 and word.lower() in match.group(2).lower():
                start, level, heading = 1, len(match.group(1)), match.group(2).strip()
            continue
        if match and len(match.group(1)) <= level:
            break
        body.append(line)
    if start is None:
        return None
    return heading, "\n".join(body).strip() + "\n"


# Links -----------------------------------------------------------------------------------------------------


@dataclass
class LinkRewriter:
    """Makes the links of a Markdown file from the repository work on the page that shows it on the site.

    A link to a package's README, baseline or help file goes to that package's page; a link to a guide in
    ``docs/`` goes to the guide; a picture is copied next to the page; a link to any other file of the
    repository becomes its repository path in a code span (the site does not publish source files); a link
    that points at nothing is logged as a warning, which fails the strict build.
    """

    root: Path
    """The repository's root."""
    plans: dict[str, PackagePages]
    """The pages of every package, by package name."""
    source: str
    """The Markdown file's path relative to the root, for example ``packages/a-model/README.md``."""
    page: str
    """The generated page's path relative to the documentation folder."""
    assets: dict[str, bytes] = field(default_factory=dict)
    """Pictures to publish beside the page: path relative to the documentation folder -> content."""
    fragment_page: str | None = None
    """Where a bare ``#fragment`` link goes, when the text no longer lives on the page it came from."""

    def rewrite(self, text: str) -> str:
        """``text`` with every link outside code rewritten."""
        lines = []
        for line, prose in outside_code_blocks(text.splitlines()):
            lines.append(self.rewrite_line(line) if prose else line)
        return "\n".join(lines) + "\n"

    def rewrite_line(self, line: str) -> str:
        """One line of prose, with its links, pictures and HTML attributes outside inline code rewritten."""
        definition = REFERENCE_DEFINITION_PATTERN.match(line)
        if definition:
            target = self.site_target(definition.group("target"), picture=False)
            if target is None:
                LOGGER.warning(
                    "%s: the link definition %r points at a file that the site does not publish; "
                    "write the path as code instead",
                    self.source,
                    line.strip(),
                )
                return line
            return definition.group("label") + target + definition.group("rest")
        line = MARKDOWN_LINK_PATTERN.sub(self.outside_code(line, self.rewrite_markdown_link), line)
        return HTML_ATTRIBUTE_PATTERN.sub(self.outside_code(line, self.rewrite_attribute), line)

    @staticmethod
    def outside_code(line: str, rewrite: Callable[[re.Match[str]], str]) -> Callable[[re.Match[str]], str]:
        """``rewrite`` for the matches that do not start inside an inline code span of ``line``."""
        spans = [(code.start(), code.end()) for code in INLINE_CODE_PATTERN.finditer(line)]

        def rewrite_outside_code(match: re.Match[str]) -> str:
            if any(start <= match.start() < end for start, end in spans):
                return match.group(0)
            return rewrite(match)

        return rewrite_outside_code

    def rewrite_markdown_link(self, match: re.Match[str]) -> str:
        """One Markdown link or picture."""
        picture = bool(match.group("image"))
        target = self.site_target(match.group("target"), picture=picture)
        if target is not None:
            title = match.group("title") or ""
            return f"{match.group('image')}[{match.group('text')}]({target}{title})"
        text = match.group("text").strip()
        repository_path = self.repository_path(match.group("target"))
        if text.strip("`") == repository_path:
            return f"`{repository_path}`"
        return f"{text} (`{repository_path}`)"

    def rewrite_attribute(self, match: re.Match[str]) -> str:
        """One ``src`` or ``href`` attribute of raw HTML.

        MkDocs does not adjust raw HTML to its directory URLs, where ``name.md`` is published as
        ``name/index.html``: a relative target on such a page goes one folder further up.
        """
        original = match.group("target")
        target = self.site_target(original, picture=match.group("name") == "src")
        if target is None:
            return match.group(0)
        if posixpath.basename(self.page) != "index.md" and not EXTERNAL_TARGET_PATTERN.match(target):
            target = "../" + target
        return f'{match.group("name")}="{target}"'

    def repository_path(self, target: str) -> str:
        """The path, relative to the repository's root, that a relative link of the source points at."""
        path = target.split("#", 1)[0].split("?", 1)[0]
        return posixpath.normpath(posixpath.join(posixpath.dirname(self.source), path))

    def site_target(self, target: str, *, picture: bool) -> str | None:
        """The link target to write on the page, or ``None`` where the link cannot be a link on the site.

        External links are kept as they are, and so are links that point at nothing (after a warning), so
        that the strict build reports them.
        """
        if target.startswith("#") and self.fragment_page is not None:
            return self.relative(self.fragment_page) + target
        if EXTERNAL_TARGET_PATTERN.match(target):
            return target
        fragment = "#" + target.split("#", 1)[1] if "#" in target else ""
        path = self.repository_path(target)
        if path == ".." or path.startswith("../"):
            LOGGER.warning(
                "%s: the link %r leaves the repository; link to a page of the site or a web address instead",
                self.source,
                target,
            )
            return target
        file = self.root / path
        if not file.exists():
            LOGGER.warning(
                "%s: the link %r points at %s, which does not exist; correct the link or add the file",
                self.source,
                target,
                path,
            )
            return target
        page = self.page_for(path)
        if page is not None:
            # A fragment names a heading of a Markdown file; in a JSON or text file it means nothing here.
            keep_fragment = file.is_dir() or file.suffix == ".md"
            return self.relative(page) + (fragment if keep_fragment else "")
        if file.is_file() and file.suffix.lower() in IMAGE_SUFFIXES:
            asset = posixpath.join(posixpath.dirname(self.page), "assets", path.replace("/", "-"))
            self.assets[asset] = file.read_bytes()
            return self.relative(asset)
        if picture:
            LOGGER.warning(
                "%s: the picture %r is not an image file (%s); show a picture or link to the file",
                self.source,
                target,
                ", ".join(IMAGE_SUFFIXES),
            )
            return target
        return None

    def page_for(self, path: str) -> str | None:
        """The page of the site that stands for a file or folder of the repository, if any."""
        parts = path.split("/")
        if path in ("README.md", "."):
            return "index.md"
        if parts[0] == "docs" and path.endswith(".md"):
            return path.removeprefix("docs/")
        if parts[0] == "shared-contracts" and parts[1:] in ([], ["README.md"]):
            return "architecture/shared-contracts.md"
        if parts[0] == "benchmarks" and (len(parts) == 1 or parts[-1] == "README.md"):
            return "benchmarks.md"
        if parts[0] != "packages" or len(parts) < 2 or parts[1] not in self.plans:
            return None
        plan = self.plans[parts[1]]
        rest = parts[2:]
        if rest in ([], ["README.md"]):
            return f"{plan.folder}/index.md"
        if rest[0] == "baseline" and rest[1:] in ([], ["run.json"]) and plan.has_baseline_page:
            return f"{plan.folder}/baseline.md"
        if rest == ["command-line-help.txt"]:
            return f"{plan.folder}/command-line.md"
        return None

    def relative(self, page: str) -> str:
        """A link from the generated page to another path of the documentation folder."""
        return posixpath.relpath(page, posixpath.dirname(self.page) or ".")


# The pages of one package ----------------------------------------------------------------------------------


def package_summary(plan: PackagePages) -> str:
    """The box at the top of a package's model card: what the package is and its other pages."""
    package = plan.package
    links = " · ".join(f"[{PAGE_TITLES[name]}]({name})" for name in plan.page_names() if name != "index.md")
    scripts = ", ".join(f"`uv run {script}`" for script in plan.scripts) or "none"
    lines = [
        '!!! abstract "The package"',
        "",
        "    "
        + markdown_table(
            ["Package", "Kind", "Stage", "Framework", "Version"],
            [[f"`{package.name}`", package.kind, package.stage, package.framework, package.version]],
        )
        .replace("\n", "\n    ")
        .rstrip(),
        "",
        f"    {package.description or 'No description in its pyproject.toml yet.'}",
        "",
        f"    Folder: `packages/{package.name}/`. Command line: {scripts}.",
    ]
    if links:
        lines += ["", f"    More about it: {links}."]
    return "\n".join(lines) + "\n"


def model_card_page(root: Path, plan: PackagePages, plans: dict[str, PackagePages]) -> dict[str, str | bytes]:
    """The package's ``README.md`` as its first page, with the package summary below its title."""
    package = plan.package
    page = f"{plan.folder}/index.md"
    readme = package.directory / "README.md"
    if readme.is_file():
        rewriter = LinkRewriter(root, plans, f"packages/{package.name}/README.md", page)
        text = rewriter.rewrite(readme.read_text(encoding="utf-8"))
        assets: dict[str, str | bytes] = dict(rewriter.assets)
    else:
        LOGGER.warning(
            "packages/%s has no README.md; write its model card there (see the guide to adding a model)",
            package.name,
        )
        text = f"# {package.name}\n\nThis package has no `README.md` yet.\n"
        assets = {}
    lines = text.splitlines()
    heading = first_heading(text)
    if heading is None:
        lines[:0] = [f"# {package.name}", ""]
        heading = (0, package.name)
    position = heading[0] + 1
    lines[position:position] = ["", package_summary(plan)]
    card = "\n".join(lines).rstrip() + "\n"
    return {page: with_title(page_title(package.name, "index.md"), card), **assets}


def read_run_record(root: Path, plan: PackagePages) -> dict[str, Any] | None:
    """The package's committed baseline run record as plain JSON, or ``None`` when there is none.

    A file that cannot be read as a JSON object is logged as a warning (failing the strict build) and
    treated as absent.
    """
    path = plan.package.directory / "baseline" / "run.json"
    if not path.is_file():
        return None
    name = path.relative_to(root).as_posix()
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        LOGGER.warning(
            "%s is not valid JSON (%s); refresh the baseline with the model's command", name, error
        )
        return None
    if not isinstance(record, dict):
        LOGGER.warning("%s must hold a JSON object (a run record); refresh the baseline", name)
        return None
    return record


def epoch_metrics(record: dict[str, Any]) -> list[tuple[int, dict[str, float]]]:
    """The epochs of a run record that carry numbers: ``(epoch, {metric: value})`` in order."""
    epochs = []
    for entry in record.get("epochs") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("metrics"), dict):
            continue
        metrics = {
            str(name): float(value)
            for name, value in entry["metrics"].items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        }
        epoch = entry.get("epoch")
        if isinstance(epoch, int) and not isinstance(epoch, bool):
            epochs.append((epoch, metrics))
    return sorted(epochs, key=lambda item: item[0])


def metric_names(epochs: list[tuple[int, dict[str, float]]]) -> list[str]:
    """Every metric name that appears in any epoch, in the order they first appear."""
    names: dict[str, None] = {}
    for _, metrics in epochs:
        names.update(dict.fromkeys(metrics))
    return list(names)


def baseline_page(root: Path, plan: PackagePages) -> dict[str, str | bytes]:
    """The baseline page (and its training-curve figure) of a model package."""
    package = plan.package
    folder = plan.folder
    source = f"packages/{package.name}/baseline/run.json"
    lines = [f"# {page_title(package.name, 'baseline.md')}", ""]
    record = read_run_record(root, plan)
    if record is None:
        lines += [
            f"`{package.name}` has no committed baseline yet: `{source}` is missing or unreadable. A full",
            "training run with the default configuration becomes the baseline when it is refreshed on",
            "purpose with the model's command line; see the guide [Train, reproduce and compare]"
            "(../../guides/train-reproduce-compare.md).",
        ]
        return {
            f"{folder}/baseline.md": with_title(
                page_title(package.name, "baseline.md"), "\n".join(lines) + "\n"
            )
        }
    command_line = (
        " (see the [command-line reference](command-line.md))" if plan.has_command_line_page else ""
    )
    lines += [
        f"The committed baseline of `{package.name}`: the run record of a full training run with the default",
        f"configuration, read from `{source}` when this site was built. Every training run of the model",
        "compares its final metrics with these, metric by metric, and the model's `reproduce` command",
        f"re-runs this record and verifies that it gets the same result{command_line}.",
        "",
        "## Final metrics",
        "",
    ]
    final = record.get("final_metrics") or {}
    tolerance = record.get("reproduction_tolerance") or {}
    if final:
        lines.append(
            markdown_table(
                ["Metric", "Value", "Largest difference accepted when reproducing on another platform"],
                [[name, value, tolerance.get(name, "none stated")] for name, value in final.items()],
            )
        )
    else:
        lines += ["The record holds no final metrics.", ""]
    files: dict[str, str | bytes] = {}
    epochs = epoch_metrics(record)
    lines += ["## Training curve", ""]
    if epochs and metric_names(epochs):
        figure = f"{folder}/training-curve.svg"
        files[figure] = training_curve_svg(epochs, f"{package.name}: metrics per epoch of the baseline run")
        lines += [
            '<figure markdown="span">',
            f"  ![Training curve of the {package.name} baseline: every metric per epoch](training-curve.svg)",
            f"  <figcaption>Every metric of the baseline run, epoch by epoch ({len(epochs)} epochs)."
            "</figcaption>",
            "</figure>",
            "",
            "### Metrics per epoch",
            "",
        ]
        names = metric_names(epochs)
        table = markdown_table(
            ["Epoch", *names],
            [[epoch, *(metrics.get(name, "") for name in names)] for epoch, metrics in epochs],
        )
        lines.append(table if len(epochs) <= FOLDED_ROWS else folded(f"Every epoch ({len(epochs)})", table))
    else:
        lines += ["The record holds no metrics per epoch, so there is no curve to draw.", ""]
    lines += lineage_sections(record)
    files[f"{folder}/baseline.md"] = with_title(
        page_title(package.name, "baseline.md"), "\n".join(lines).rstrip() + "\n"
    )
    return files


def lineage_sections(record: dict[str, Any]) -> list[str]:
    """The lineage part of a baseline page: what ran, on what, with which data and code."""
    code = record.get("code") or {}
    environment = record.get("environment") or {}
    dirty = code.get("dirty")
    if dirty and code.get("diff_sha256"):
        dirty = f"yes (SHA-256 of the uncommitted changes: `{code['diff_sha256']}`)"
    lines = [
        "## Lineage",
        "",
        "Everything needed to say what produced these numbers and to run it again.",
        "",
        markdown_table(
            ["What", "Value"],
            [
                [
                    "Model",
                    f"`{record.get('model_name', 'unknown')}` version {record.get('model_version', '?')}",
                ],
                ["Run identifier", record.get("run_identifier")],
                ["Status", record.get("status")],
                ["Started", record.get("started_at")],
                ["Finished", record.get("finished_at")],
                ["Seed", record.get("seed")],
                ["Dataset fingerprint", code_span(record.get("dataset_fingerprint"))],
                ["Code revision", code_span(code.get("revision"))],
                ["Uncommitted changes when it ran", dirty],
                ["SHA-256 of the package's uv.lock", code_span(record.get("lock_sha256"))],
                ["Contracts version", record.get("contracts_version")],
            ],
        ),
        "### Environment",
        "",
        markdown_table(
            ["What", "Value"],
            [
                ["Python", environment.get("python")],
                ["Platform", environment.get("platform")],
                ["Device", environment.get("device")],
                *[[f"Threads: {name}", value] for name, value in (environment.get("threads") or {}).items()],
            ],
        ),
    ]
    libraries = environment.get("libraries") or {}
    if libraries:
        lines += ["### Libraries", "", markdown_table(["Library", "Version"], sorted(libraries.items()))]
    configuration = record.get("configuration") or {}
    if configuration:
        lines += ["### Configuration", "", markdown_table(["Field", "Value"], configuration.items())]
    checkpoints = [entry for entry in record.get("checkpoints") or [] if isinstance(entry, dict)]
    if checkpoints:
        lines += [
            "### Checkpoints",
            "",
            folded(
                f"Every checkpoint file with its SHA-256 ({len(checkpoints)})",
                markdown_table(
                    ["Epoch", "File", "SHA-256"],
                    [
                        [entry.get("epoch"), code_span(entry.get("path")), code_span(entry.get("sha256"))]
                        for entry in checkpoints
                    ],
                ),
            ),
        ]
    comparisons = [entry for entry in record.get("baseline_comparison") or [] if isinstance(entry, dict)]
    if comparisons:
        lines += [
            "### Comparison with the baseline before it",
            "",
            markdown_table(
                ["Metric", "This run", "Baseline", "Difference", "Higher is better"],
                [
                    [
                        entry.get("metric"),
                        entry.get("value"),
                        entry.get("baseline"),
                        entry.get("difference"),
                        entry.get("higher_is_better"),
                    ]
                    for entry in comparisons
                ],
            ),
        ]
    notes = [str(note) for note in record.get("notes") or []]
    if notes:
        lines += ["### Notes", "", *(f"- {note}" for note in notes), ""]
    return lines


def code_span(value: Any) -> str | None:
    """A value as inline code, or ``None`` unchanged (shown as "none")."""
    return None if value is None else f"`{value}`"


def command_line_page(plan: PackagePages) -> dict[str, str | bytes]:
    """The command-line reference: the real ``--help`` output, one section per command."""
    package = plan.package
    text = (package.directory / "command-line-help.txt").read_text(encoding="utf-8")
    run = ", ".join(f"`uv run {script} ...`" for script in plan.scripts) or "`uv run ...`"
    lines = [
        f"# {page_title(package.name, 'command-line.md')}",
        "",
        "The real `--help` output of the package's command line and of each of its commands, read from",
        f"`packages/{package.name}/command-line-help.txt`, which the package's own tests keep identical to",
        f"what the program prints. Run the commands from `packages/{package.name}/` as {run}.",
        "",
    ]
    for title, block in help_sections(text, plan.scripts):
        fence = code_fence_for(block)
        lines += [f"## `{title}`", "", f"{fence}text", block.rstrip(), fence, ""]
    return {
        f"{plan.folder}/command-line.md": with_title(
            page_title(package.name, "command-line.md"), "\n".join(lines)
        )
    }


SEPARATOR_PATTERN = re.compile(r"^\s*(?:[=\-_*#~]{3,}|\S.*\s--help)\s*$")
"""A line that only separates two commands' help: a rule, or a heading such as ``model train --help``."""


def help_sections(text: str, scripts: tuple[str, ...]) -> list[tuple[str, str]]:
    """The help text cut into one section per command, each with its title (the command's words).

    A section starts at a line ``$ command ...`` when the file has such lines, else at each ``usage:`` line.
    """
    lines = text.splitlines()
    prompt = any(line.startswith("$ ") for line in lines)
    starts = [
        index
        for index, line in enumerate(lines)
        if (line.startswith("$ ") if prompt else line.lower().startswith("usage:"))
    ]
    if not starts:
        return [(scripts[0] if scripts else "help", text)]
    sections = []
    if any(line.strip() for line in lines[: starts[0]]):
        sections.append(("overview", "\n".join(lines[: starts[0]])))
    for position, start in enumerate(starts):
        end = starts[position + 1] if position + 1 < len(starts) else len(lines)
        words = lines[start].split(None, 1)[1].split() if len(lines[start].split()) > 1 else []
        command = []
        for word in words:
            if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", word) or word == "--help":
                break
            command.append(word)
        title = " ".join(command) or (scripts[0] if scripts else "help")
        block = lines[start + 1 if prompt else start : end]
        while block and (not block[-1].strip() or SEPARATOR_PATTERN.match(block[-1])):
            block.pop()  # the rule and the heading that the file puts before the next command
        sections.append((title, "\n".join(block)))
    return sections


def api_page(plan: PackagePages) -> dict[str, str | bytes]:
    """The API reference, rendered by mkdocstrings from the package's sources without importing them."""
    package = plan.package
    lines = [
        f"# {page_title(package.name, 'api.md')}",
        "",
        f"Every public module, class, function and attribute of `{package.module}`, with its docstring,",
        f"read from `packages/{package.name}/src/` without importing it (so this site builds without the",
        "package's framework installed).",
        "",
        f"::: {package.module}",
        "    options:",
        "      show_root_heading: false",
        "",
    ]
    return {f"{plan.folder}/api.md": with_title(page_title(package.name, "api.md"), "\n".join(lines))}


# The figure ------------------------------------------------------------------------------------------------


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values that cover ``[low, high]``, about ``count`` of them."""
    span = high - low
    raw_step = span / max(1, count - 1)
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(factor * magnitude for factor in (1, 2, 2.5, 5, 10) if factor * magnitude >= raw_step)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def value_range(values: list[float]) -> tuple[float, float]:
    """The range a panel shows for ``values``: their extent with a margin, never empty."""
    low, high = min(values), max(values)
    if high == low:
        margin = abs(low) * 0.05 or 1.0
        return low - margin, high + margin
    margin = (high - low) * 0.08
    return low - margin, high + margin


PANEL_WIDTH, PANEL_HEIGHT = 380, 240
"""The size of one metric's panel in the training-curve figure, in pixels."""

PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 64, 18, 34, 44
"""The margins around a panel's plotting area, for its title, tick labels and axis label."""

FIGURE_TITLE_HEIGHT = 36
"""The band above the panels that holds the figure's title."""


def svg_text(
    x: float, y: float, text: str, *, size: int = 11, anchor: str = "middle", bold: bool = False
) -> str:
    """One SVG text element, its content escaped."""
    weight = ' font-weight="bold"' if bold else ""
    return (
        f'<text x="{x:.2f}" y="{y:.2f}" text-anchor="{anchor}" font-size="{size}"{weight}>'
        f"{html.escape(text)}</text>"
    )


@dataclass(frozen=True)
class CurvePanel:
    """The plotting area of one metric in the training-curve figure, and how values map onto it."""

    epochs: tuple[float, float]
    """The first and last epoch the horizontal axis shows."""
    values: tuple[float, float]
    """The lowest and highest value the vertical axis shows."""
    width: float = PANEL_WIDTH - PLOT_LEFT - PLOT_RIGHT
    """The width of the plotting area."""
    height: float = PANEL_HEIGHT - PLOT_TOP - PLOT_BOTTOM
    """The height of the plotting area."""

    def x(self, epoch: float) -> float:
        """The horizontal position of an epoch."""
        low, high = self.epochs
        return PLOT_LEFT + (epoch - low) / (high - low) * self.width

    def y(self, value: float) -> float:
        """The vertical position of a value (larger values higher up)."""
        low, high = self.values
        return PLOT_TOP + (high - value) / (high - low) * self.height


def curve_panel(
    name: str, points: list[tuple[int, float]], epoch_range: tuple[int, int], colour: str
) -> list[str]:
    """The SVG elements of one metric's panel, drawn at the origin (the caller moves the group)."""
    first_epoch, last_epoch = epoch_range
    shown_epochs = (first_epoch - 0.5, last_epoch + 0.5) if first_epoch == last_epoch else epoch_range
    centre = PLOT_LEFT + (PANEL_WIDTH - PLOT_LEFT - PLOT_RIGHT) / 2
    parts = [
        svg_text(centre, 20, name, size=13),
        f'<rect x="{PLOT_LEFT}" y="{PLOT_TOP}" width="{PANEL_WIDTH - PLOT_LEFT - PLOT_RIGHT}" '
        f'height="{PANEL_HEIGHT - PLOT_TOP - PLOT_BOTTOM}" fill="none" stroke="#9e9e9e"/>',
        svg_text(centre, PANEL_HEIGHT - 8, "epoch", size=12),
    ]
    if not points:
        return [*parts, svg_text(centre, PANEL_HEIGHT / 2, "no finite values", size=12)]
    panel = CurvePanel(shown_epochs, value_range([value for _, value in points]))
    for tick in nice_ticks(*panel.values):
        y = panel.y(tick)
        parts.append(
            f'<line x1="{PLOT_LEFT}" x2="{PLOT_LEFT + panel.width}" y1="{y:.2f}" y2="{y:.2f}" '
            'stroke="#eeeeee"/>'
        )
        parts.append(svg_text(PLOT_LEFT - 6, y + 4, f"{tick:.4g}", anchor="end"))
    epoch_ticks = nice_ticks(first_epoch, last_epoch) if last_epoch > first_epoch else [first_epoch]
    for tick in epoch_ticks:
        if tick == int(tick):
            parts.append(svg_text(panel.x(tick), PLOT_TOP + panel.height + 16, str(int(tick))))
    coordinates = " ".join(f"{panel.x(epoch):.2f},{panel.y(value):.2f}" for epoch, value in points)
    parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coordinates}"/>')
    for epoch, value in points:
        parts.append(
            f'<circle cx="{panel.x(epoch):.2f}" cy="{panel.y(value):.2f}" r="3" fill="{colour}">'
            f"<title>{html.escape(name)}, epoch {epoch}: {format_number(value)}</title></circle>"
        )
    return parts


def training_curve_svg(epochs: list[tuple[int, dict[str, float]]], title: str) -> str:
    """An SVG figure with one panel per metric: its value at every epoch, each panel with its own scale.

    Metrics of different kinds (a loss near zero, an accuracy near one) stay readable because no two share
    an axis. Values that are not finite are left out of the line.
    """
    names = metric_names(epochs)
    columns = 1 if len(names) == 1 else 2
    width = columns * PANEL_WIDTH
    height = math.ceil(len(names) / columns) * PANEL_HEIGHT + FIGURE_TITLE_HEIGHT
    epoch_range = (min(epoch for epoch, _ in epochs), max(epoch for epoch, _ in epochs))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="title" font-family="sans-serif">',
        f'<title id="title">{html.escape(title)}</title>',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        svg_text(width / 2, 22, title, size=15, bold=True),
    ]
    for index, name in enumerate(names):
        points = [
            (epoch, metrics[name])
            for epoch, metrics in epochs
            if name in metrics and math.isfinite(metrics[name])
        ]
        origin_x = (index % columns) * PANEL_WIDTH
        origin_y = FIGURE_TITLE_HEIGHT + (index // columns) * PANEL_HEIGHT
        parts.append(f'<g class="panel" transform="translate({origin_x},{origin_y})">')
        parts += curve_panel(name, points, epoch_range, CURVE_COLOURS[index % len(CURVE_COLOURS)])
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


# The pages of the whole site -------------------------------------------------------------------------------


def package_pages(root: Path, plan: PackagePages, plans: dict[str, PackagePages]) -> dict[str, str | bytes]:
    """Every page (and figure) of one package."""
    pages = model_card_page(root, plan, plans)
    if plan.has_baseline_page:
        pages.update(baseline_page(root, plan))
    if plan.has_command_line_page:
        pages.update(command_line_page(plan))
    if plan.has_api_page:
        pages.update(api_page(plan))
    return pages


def packages_index_page(plans: list[PackagePages]) -> str:
    """The page that lists every package with what it is."""
    lines = [
        "# Packages",
        "",
        "Every package of the repository, found in `packages/` when this site was built: adding a package",
        "folder is all it takes to appear here. A model package holds one model in one file, with its own",
        "lock and tests; a service package holds a deployment component, such as the inference server.",
        "",
    ]
    if not plans:
        lines += [
            "There is no package yet. Create one by copying an existing package, as the guide",
            "[Add a model by copying one](../guides/add-a-model.md) explains.",
        ]
        return "\n".join(lines) + "\n"
    lines.append(
        markdown_table(
            ["Package", "Kind", "Stage", "Framework", "Version", "Description"],
            [
                [
                    f"[{plan.package.name}]({plan.package.name}/index.md)",
                    plan.package.kind,
                    plan.package.stage,
                    plan.package.framework,
                    plan.package.version,
                    plan.package.description,
                ]
                for plan in plans
            ],
        )
    )
    return "\n".join(lines)


def packages_navigation(plans: list[PackagePages]) -> list[Any]:
    """The entries of the Packages section of the navigation: the list of packages, then models and services.

    Each package is a section whose first page, its model card, is the section's own page.
    """
    navigation: list[Any] = ["packages/index.md"]
    for kind, heading in (("model", "Models"), ("service", "Services")):
        chosen = [plan for plan in plans if plan.package.kind == kind]
        if chosen:
            navigation.append({heading: [package_navigation(plan) for plan in chosen]})
    return navigation


def package_navigation(plan: PackagePages) -> dict[str, list[Any]]:
    """The navigation section of one package."""
    entries: list[Any] = [f"{plan.folder}/index.md"]
    entries += [
        {PAGE_TITLES[name]: f"{plan.folder}/{name}"} for name in plan.page_names() if name != "index.md"
    ]
    return {plan.package.name: entries}


def expand_navigation(navigation: list[Any], packages_section: list[Any]) -> list[Any]:
    """The site's navigation with its ``Packages`` entry replaced by the generated section.

    ``mkdocs.yml`` names the place with ``- Packages: packages/index.md``; without such an entry the section
    is added at the end, so the packages never go missing from the navigation.
    """
    expanded = [
        {"Packages": packages_section} if isinstance(entry, dict) and "Packages" in entry else entry
        for entry in navigation
    ]
    if expanded == navigation:
        expanded.append({"Packages": packages_section})
    return expanded


def benchmarks_page(root: Path, plans: list[PackagePages]) -> dict[str, str | bytes]:
    """The Benchmarks page: the Benchmarks section of every package README and every benchmarks README."""
    by_name = {plan.package.name: plan for plan in plans}
    lines = [
        "# Benchmarks",
        "",
        "The figures measured in this repository, each with the command that reproduces it, gathered when",
        'this site was built from the "Benchmarks" section of every package\'s README and from every',
        "`README.md` under `benchmarks/`. Performance is measured by scripts, with a baseline run side by",
        "side in the same run and medians over several runs; it is never asserted in tests.",
        "",
    ]
    assets: dict[str, str | bytes] = {}
    found = False
    for plan in plans:
        readme = plan.package.directory / "README.md"
        if not readme.is_file():
            continue
        section = section_named(readme.read_text(encoding="utf-8"), "benchmark")
        if section is None:
            continue
        found = True
        heading, body = section
        rewriter = LinkRewriter(
            root,
            by_name,
            f"packages/{plan.package.name}/README.md",
            "benchmarks.md",
            fragment_page=f"{plan.folder}/index.md",
        )
        lines += [
            f"## {plan.package.name}",
            "",
            f"From the section *{heading}* of the [{plan.package.name} model card]({plan.folder}/index.md).",
            "",
            shift_headings(rewriter.rewrite(body), 3),
        ]
        assets.update(rewriter.assets)
    benchmarks = root / "benchmarks"
    readmes = sorted(benchmarks.rglob("README.md")) if benchmarks.is_dir() else []
    for readme in readmes:
        found = True
        source = readme.relative_to(root).as_posix()
        text = readme.read_text(encoding="utf-8")
        heading = first_heading(text)
        body_lines = text.splitlines()
        title = posixpath.dirname(source)
        if heading is not None:
            title = heading[1]
            del body_lines[heading[0] - (1 if body_lines[heading[0]].startswith("=") else 0) : heading[0] + 1]
        rewriter = LinkRewriter(root, by_name, source, "benchmarks.md")
        lines += [
            f"## {title}",
            "",
            f"From `{source}`.",
            "",
            shift_headings(rewriter.rewrite("\n".join(body_lines).strip() + "\n"), 3),
        ]
        assets.update(rewriter.assets)
    if not found:
        lines += [
            "No benchmark has been recorded yet. A package records its figures in a section of its README",
            'whose heading contains the word "Benchmarks", with the command that produced them.',
            "",
        ]
    return {"benchmarks.md": "\n".join(lines).rstrip() + "\n", **assets}


@dataclass(frozen=True)
class GeneratedSite:
    """What the build adds to the site: the generated pages and the navigation of the Packages section."""

    pages: dict[str, str | bytes]
    """Path relative to the documentation folder -> content (text for pages, bytes for pictures)."""
    packages_section: list[Any]
    """The entries of the Packages section, in the form of the ``nav`` setting of ``mkdocs.yml``."""


def build_site(root: Path) -> GeneratedSite:
    """Every generated page and figure of the site, and its navigation, for the repository at ``root``."""
    plans = [plan_package(package) for package in discover_packages(root)]
    by_name = {plan.package.name: plan for plan in plans}
    pages: dict[str, str | bytes] = {"packages/index.md": packages_index_page(plans)}
    for plan in plans:
        pages.update(package_pages(root, plan, by_name))
    pages.update(benchmarks_page(root, plans))
    return GeneratedSite(pages, packages_navigation(plans))


def write_pages(pages: dict[str, str | bytes], opener: Callable[..., Any]) -> None:
    """Write every page through ``opener`` (``mkdocs_gen_files.open`` during the build)."""
    for path, content in pages.items():
        if isinstance(content, bytes):
            with opener(path, "wb") as handle:
                handle.write(content)
        else:
            with opener(path, "w", encoding="utf-8") as handle:
                handle.write(content)
