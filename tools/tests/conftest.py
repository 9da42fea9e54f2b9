"""Small real repositories, built in temporary folders, for the tests of the repository tool."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

CONTRACTS_PROJECT = """\
[project]
name = "shared-contracts"
version = "1.0.0"
requires-python = ">=3.11"
dependencies = []

[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"
"""


def package_project(
    name: str,
    *,
    version: str = "1.0.0",
    requires_python: str = ">=3.11",
    dependencies: tuple[str, ...] = ("shared-contracts",),
    stage: str = "experimental",
    kind: str = "model",
    framework: str = "numpy",
    extra: str = "",
) -> str:
    """A package's pyproject.toml following the repository's conventions."""
    module = name.replace("-", "_")
    listed = ", ".join(f'"{dependency}"' for dependency in dependencies)
    return (
        textwrap.dedent(
            f"""\
        [project]
        name = "{name}"
        version = "{version}"
        description = "The {name} package."
        requires-python = "{requires_python}"
        dependencies = [{listed}]

        [dependency-groups]
        test = ["pytest>=8"]

        [tool.uv.sources]
        shared-contracts = {{ path = "../../shared-contracts" }}

        [tool.zoo]
        kind = "{kind}"
        stage = "{stage}"
        framework = "{framework}"

        [build-system]
        requires = ["hatchling>=1.25"]
        build-backend = "hatchling.build"

        [tool.hatch.build.targets.wheel]
        packages = ["src/{module}"]
        """
        )
        + extra
    )


class Repository:
    """A model zoo repository in a temporary folder: ``shared-contracts``, ``packages/`` and git."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.write("shared-contracts/pyproject.toml", CONTRACTS_PROJECT)
        self.write(
            "shared-contracts/src/shared_contracts/__init__.py", '"""The contracts."""\n\nVERSION = 1\n'
        )
        (root / "packages").mkdir()
        subprocess.run(["git", "init", "--quiet", str(root)], check=True)

    def write(self, relative: str, text: str) -> Path:
        """Write ``text`` (dedented) to ``relative`` below the root; returns the path."""
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def read(self, relative: str) -> str:
        """The text of ``relative`` below the root."""
        return (self.root / relative).read_text(encoding="utf-8")

    def add_package(self, name: str, modules: dict[str, str] | None = None, **project: object) -> Path:
        """A package folder with its pyproject.toml and ``src/<module>/`` files; returns its folder."""
        module = name.replace("-", "_")
        self.write(f"packages/{name}/pyproject.toml", package_project(name, **project))  # type: ignore[arg-type]
        self.write(f"packages/{name}/src/{module}/__init__.py", f'"""The {name} package."""\n')
        for file_name, text in (modules or {}).items():
            self.write(f"packages/{name}/src/{module}/{file_name}", text)
        return self.root / "packages" / name


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repository:
    """An empty repository; uv works offline and never downloads a Python."""
    monkeypatch.setenv("UV_OFFLINE", "1")
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
    monkeypatch.delenv("ZOO_ROOT", raising=False)
    return Repository(tmp_path / "repository")
