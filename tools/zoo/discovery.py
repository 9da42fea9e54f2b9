"""Finding the repository's root and its packages, read from each package's ``pyproject.toml``.

Every list of packages in the repository (the tox matrix, the conformance suite, the documentation site, the
listing command) comes from here, so adding a package folder is all it takes to appear everywhere. Standard
library only: tox loads it from ``toxfile.py`` before any environment exists.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

PYTHON_VERSIONS = ("3.11", "3.12", "3.13")
"""The Python versions every package is tested under."""

STAGES = ("experimental", "production", "retired")
"""The stages of a package's life cycle; a retired package leaves the default test run."""

KINDS = ("model", "service")
"""What a package is: a model (passes the conformance suite) or a deployment service (the server)."""

PACKAGES_DIRECTORY = "packages"
"""The folder, below the repository's root, that holds one folder per package."""

SHARED_CONTRACTS_DIRECTORY = "shared-contracts"
"""The folder, below the repository's root, of the contracts package (also its distribution name)."""


class DiscoveryError(ValueError):
    """A package folder whose ``pyproject.toml`` cannot say what the package is."""


@dataclass(frozen=True)
class PackageInformation:
    """What the repository knows about one package, from its ``pyproject.toml``."""

    name: str
    """The distribution name, which is also the folder name, for example ``digits-classifier-torch``."""
    directory: Path
    """The package's folder."""
    module: str
    """The importable module, the name with underscores: ``digits_classifier_torch``."""
    version: str
    """The package's version."""
    description: str
    """The one-line description."""
    kind: str
    """One of :data:`KINDS`."""
    stage: str
    """One of :data:`STAGES`."""
    framework: str
    """The main framework (``pytorch``, ``jax``, ``onnxruntime``)."""

    @property
    def retired(self) -> bool:
        """Whether the package has left the default test run."""
        return self.stage == "retired"


def repository_root(start: Path | None = None) -> Path:
    """The repository's root: ``$ZOO_ROOT`` if set, else the nearest folder upward with both folders.

    The folders are ``packages/`` and ``shared-contracts/``; raises :class:`DiscoveryError` when there is
    none.
    """
    if "ZOO_ROOT" in os.environ:
        return Path(os.environ["ZOO_ROOT"]).resolve()
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / PACKAGES_DIRECTORY).is_dir() and (candidate / SHARED_CONTRACTS_DIRECTORY).is_dir():
            return candidate
    raise DiscoveryError(
        f"{here} is not inside the model zoo repository (no folder above it holds packages/ and "
        "shared-contracts/); run the command from inside the repository or set ZOO_ROOT"
    )


def read_package(directory: Path) -> PackageInformation:
    """Read one package folder's ``pyproject.toml``."""
    project_file = directory / "pyproject.toml"
    try:
        with project_file.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise DiscoveryError(f"{project_file}: a package folder needs a pyproject.toml") from None
    except tomllib.TOMLDecodeError as error:
        raise DiscoveryError(f"{project_file}: not valid TOML ({error})") from None
    project = data.get("project", {})
    settings = data.get("tool", {}).get("zoo", {})
    name = project.get("name")
    if name != directory.name:
        raise DiscoveryError(
            f"{project_file}: the project name {name!r} must equal the folder name {directory.name!r}"
        )
    kind = settings.get("kind", "model")
    stage = settings.get("stage", "experimental")
    for field, value, allowed in (("kind", kind, KINDS), ("stage", stage, STAGES)):
        if value not in allowed:
            raise DiscoveryError(
                f"{project_file}: [tool.zoo] {field} must be one of {', '.join(allowed)}, found {value!r}"
            )
    return PackageInformation(
        name=name,
        directory=directory,
        module=name.replace("-", "_"),
        version=str(project.get("version", "0")),
        description=project.get("description", ""),
        kind=kind,
        stage=stage,
        framework=settings.get("framework", "unknown"),
    )


def discover_packages(root: Path, *, include_retired: bool = True) -> list[PackageInformation]:
    """Every package under ``<root>/packages``, sorted by name.

    Hidden folders (a name starting with a dot) are not packages: the scaffold builds a new package in one
    before moving it into place.
    """
    directory = root / PACKAGES_DIRECTORY
    if not directory.is_dir():
        return []
    packages = [
        read_package(child)
        for child in sorted(directory.iterdir())
        if child.is_dir() and not child.name.startswith(".") and (child / "pyproject.toml").exists()
    ]
    return [package for package in packages if include_retired or not package.retired]
