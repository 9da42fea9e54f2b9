"""The repository checks: what must hold for every package, run together by ``zoo check``.

- isolation: no package imports another package, and a package's only dependency inside the repository is
  ``shared-contracts``, through a path source that is not editable;
- locks: every package's ``uv.lock`` is up to date with its ``pyproject.toml`` (``uv lock --check``);
- python-versions: every package's ``requires-python`` admits every version the test matrix runs;
- declarations: every package declares its kind, stage and framework in ``[tool.zoo]``;
- copies: every copy agrees with its origin (see :mod:`zoo.copies`);
- abbreviations: public names, command-line options and documentation use full words (see
  :mod:`zoo.abbreviations`).
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from zoo.abbreviations import check_abbreviations
from zoo.copies import DRIFTED, check_copies
from zoo.discovery import (
    KINDS,
    PACKAGES_DIRECTORY,
    PYTHON_VERSIONS,
    SHARED_CONTRACTS_DIRECTORY,
    STAGES,
    DiscoveryError,
    read_package,
)
from zoo.files import Finding, walk_files
from zoo.naming import module_name

LOCK_TIMEOUT_SECONDS = 300
"""How long ``uv lock --check`` may take for one package before the check gives up on it."""

_REQUIREMENT_END = re.compile(r"[\s\[<>=!~;@(]")
"""Where the distribution name of a requirement ends (extras, version, marker or address follow)."""


@dataclass(frozen=True)
class RepositoryPackage:
    """A package the checks look at: its distribution name, module, folder and parsed ``pyproject.toml``."""

    name: str
    """The distribution name (also the folder name)."""
    directory: Path
    """The package's folder."""
    settings: dict
    """The parsed ``pyproject.toml``."""

    @property
    def module(self) -> str:
        """The importable module."""
        return module_name(self.name)

    @property
    def project_file(self) -> Path:
        """The package's ``pyproject.toml``."""
        return self.directory / "pyproject.toml"


def repository_packages(root: Path) -> tuple[list[RepositoryPackage], list[Finding]]:
    """``shared-contracts`` and every folder of ``packages/`` with a ``pyproject.toml``, and what is unreadable."""
    directories = [root / SHARED_CONTRACTS_DIRECTORY]
    packages_directory = root / PACKAGES_DIRECTORY
    if packages_directory.is_dir():
        directories += [
            child
            for child in sorted(packages_directory.iterdir())
            if child.is_dir() and not child.name.startswith(".") and (child / "pyproject.toml").is_file()
        ]
    packages, findings = [], []
    for directory in directories:
        project_file = directory / "pyproject.toml"
        try:
            with project_file.open("rb") as handle:
                settings = tomllib.load(handle)
        except FileNotFoundError:
            findings.append(Finding(project_file, 0, "the package has no pyproject.toml"))
            continue
        except tomllib.TOMLDecodeError as error:
            findings.append(Finding(project_file, 0, f"not valid TOML ({error})"))
            continue
        packages.append(RepositoryPackage(directory.name, directory, settings))
    return packages, findings


def check_isolation(root: Path) -> list[Finding]:
    """Imports of another package's module, and dependencies on another package of the repository."""
    packages, findings = repository_packages(root)
    modules = {package.module: package.name for package in packages}
    names = {canonicalize_name(package.name) for package in packages}
    for package in packages:
        foreign = {
            module: name for module, name in modules.items() if name not in (package.name, "shared-contracts")
        }
        for path in walk_files(package.directory, ".py"):
            findings.extend(_foreign_imports(path, foreign))
        findings.extend(_foreign_dependencies(root, package, names))
    return findings


def _foreign_imports(path: Path, foreign: dict[str, str]) -> list[Finding]:
    """Every import in ``path`` of a module that belongs to another package."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError) as error:
        return [Finding(path, getattr(error, "lineno", 0) or 0, f"the file cannot be parsed ({error})")]
    findings = []
    for node in ast.walk(tree):
        imported: list[str] = []
        if isinstance(node, ast.Import):
            imported = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported = [node.module]
        elif (
            isinstance(node, ast.Call)
            and _called_name(node.func) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            imported = [node.args[0].value]
        for name in imported:
            top = name.split(".")[0]
            if top in foreign:
                findings.append(
                    Finding(
                        path,
                        node.lineno,
                        f"imports {name}, which belongs to the package {foreign[top]}; a package never imports "
                        "another: copy what you need (with a '# Copied from' marker), or move a shared "
                        "definition into shared-contracts",
                    )
                )
    return findings


def _called_name(function: ast.expr) -> str:
    if isinstance(function, ast.Attribute):
        return function.attr
    return function.id if isinstance(function, ast.Name) else ""


def _foreign_dependencies(root: Path, package: RepositoryPackage, names: set[str]) -> list[Finding]:
    """Dependencies on repository packages other than ``shared-contracts``, and wrong sources for it."""
    findings = []
    project = package.settings.get("project", {})
    requirements: list[str] = list(project.get("dependencies", []))
    for group in project.get("optional-dependencies", {}).values():
        requirements += group
    for group in package.settings.get("dependency-groups", {}).values():
        requirements += [entry for entry in group if isinstance(entry, str)]
    allowed = set() if package.name == SHARED_CONTRACTS_DIRECTORY else {SHARED_CONTRACTS_DIRECTORY}
    depends_on_contracts = False
    for requirement in requirements:
        name = canonicalize_name(_REQUIREMENT_END.split(requirement.strip(), maxsplit=1)[0])
        if name == SHARED_CONTRACTS_DIRECTORY and name in allowed:
            depends_on_contracts = True
        elif name in names:
            findings.append(
                Finding(
                    package.project_file,
                    0,
                    f"depends on {name}, another package of this repository; a package's only dependency "
                    "inside the repository is shared-contracts: copy what you need instead",
                )
            )
    sources = package.settings.get("tool", {}).get("uv", {}).get("sources", {})
    contracts_directory = (root / SHARED_CONTRACTS_DIRECTORY).resolve()
    for name, source in sources.items():
        entries = source if isinstance(source, list) else [source]
        for entry in entries:
            findings.extend(
                _source_problems(package, canonicalize_name(name), entry, contracts_directory, root)
            )
    if depends_on_contracts and "shared-contracts" not in {canonicalize_name(name) for name in sources}:
        findings.append(
            Finding(
                package.project_file,
                0,
                "depends on shared-contracts without a source: add [tool.uv.sources] shared-contracts = "
                '{ path = "../../shared-contracts" } so that the repository\'s copy is used',
            )
        )
    return findings


def _source_problems(
    package: RepositoryPackage, name: str, entry: dict, contracts_directory: Path, root: Path
) -> list[Finding]:
    """What is wrong with one ``[tool.uv.sources]`` entry."""

    def problem(message: str) -> list[Finding]:
        return [Finding(package.project_file, 0, f"[tool.uv.sources] {name}: {message}")]

    if entry.get("workspace"):
        return problem("the repository is not a uv workspace; use a path source")
    if "path" not in entry:
        if name == SHARED_CONTRACTS_DIRECTORY:
            return problem('use the repository\'s copy: { path = "../../shared-contracts" }')
        return []
    target = (package.directory / entry["path"]).resolve()
    if name == SHARED_CONTRACTS_DIRECTORY:
        if target != contracts_directory:
            return problem(f"the path {entry['path']!r} is not the repository's shared-contracts folder")
        if entry.get("editable"):
            return problem(
                "must not be editable: each package's environment installs its own copy of the contracts, "
                "as its lock describes"
            )
        return []
    if target.is_relative_to(root.resolve()):
        return problem(
            f"points at {entry['path']!r} inside the repository; a package's only dependency inside the "
            "repository is shared-contracts"
        )
    return []


def check_locks(root: Path, timeout: float = LOCK_TIMEOUT_SECONDS) -> list[Finding]:
    """Every package whose ``uv.lock`` is missing or out of date (``uv lock --check`` in its folder).

    ``timeout`` is how many seconds one package's check may take.
    """
    packages, findings = repository_packages(root)
    uv = shutil.which("uv")
    if uv is None:
        return [Finding(root, 0, "uv is not installed or not on PATH: install uv to check the locks")]
    environment = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
    for package in packages:
        lock = package.directory / "uv.lock"
        if not lock.is_file():
            findings.append(Finding(lock, 0, f"missing: run `uv lock` in {package.directory.name}"))
            continue
        try:
            completed = subprocess.run(
                [uv, "lock", "--check"],
                cwd=package.directory,
                env=environment,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            findings.append(Finding(lock, 0, f"`uv lock --check` took longer than {timeout} s"))
            continue
        if completed.returncode != 0:
            detail = " ".join(completed.stderr.strip().splitlines()[-3:])
            findings.append(
                Finding(lock, 0, f"out of date with pyproject.toml: run `uv lock` in the package ({detail})")
            )
    return findings


def check_python_versions(root: Path) -> list[Finding]:
    """Every package whose ``requires-python`` leaves out a Python version of the test matrix."""
    packages, findings = repository_packages(root)
    for package in packages:
        declared = package.settings.get("project", {}).get("requires-python")
        if declared is None:
            findings.append(
                Finding(
                    package.project_file,
                    0,
                    f'declare requires-python (for example ">={PYTHON_VERSIONS[0]}"): the matrix runs '
                    + ", ".join(PYTHON_VERSIONS),
                )
            )
            continue
        try:
            specifiers = SpecifierSet(declared)
        except InvalidSpecifier:
            findings.append(
                Finding(package.project_file, 0, f"requires-python {declared!r} is not a valid specifier")
            )
            continue
        missing = [
            version
            for version in PYTHON_VERSIONS
            if not any(specifiers.contains(f"{version}.{patch}") for patch in (0, 99))
        ]
        if missing:
            findings.append(
                Finding(
                    package.project_file,
                    0,
                    f"requires-python {declared!r} excludes Python {', '.join(missing)}, which the test matrix "
                    f"runs ({', '.join(PYTHON_VERSIONS)}): widen it",
                )
            )
    return findings


def check_declarations(root: Path) -> list[Finding]:
    """Every package of ``packages/`` that does not declare its kind, stage and framework in ``[tool.zoo]``."""
    packages, findings = repository_packages(root)
    for package in packages:
        if package.name == SHARED_CONTRACTS_DIRECTORY:
            continue
        declared = package.settings.get("tool", {}).get("zoo", {})
        for field, allowed in (("kind", KINDS), ("stage", STAGES), ("framework", None)):
            if field not in declared:
                choices = f" (one of {', '.join(allowed)})" if allowed else ' (for example "pytorch")'
                findings.append(Finding(package.project_file, 0, f"[tool.zoo] must declare {field}{choices}"))
        try:
            read_package(package.directory)
        except DiscoveryError as error:
            findings.append(Finding(package.project_file, 0, str(error).split(": ", 1)[1]))
    return findings


def check_copies_findings(root: Path) -> list[Finding]:
    """The copy check as findings: every marker problem and every drifted copy with its diff."""
    report = check_copies(root)
    findings = list(report.problems)
    for result in report.results:
        if result.status == DRIFTED:
            findings.append(
                Finding(
                    result.copy.path,
                    result.copy.start,
                    f"drifted from {result.marker.describe_origin()}; run `zoo check-copies --fix` or mark the "
                    f"divergence\n{result.diff}",
                )
            )
    return findings


CHECKS: dict[str, Callable[[Path], list[Finding]]] = {
    "isolation": check_isolation,
    "locks": check_locks,
    "python-versions": check_python_versions,
    "declarations": check_declarations,
    "copies": check_copies_findings,
    "abbreviations": check_abbreviations,
}
"""Every repository check by name, in the order ``zoo check`` runs them."""
