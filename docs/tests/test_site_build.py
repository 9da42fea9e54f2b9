"""The strict build of the real site configuration, on small repositories with no package, several, and a
broken link: the page set grows with the packages found, and a broken link fails the build."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sample_repository import add_benchmark_readme, add_model, add_service, copy_site_sources


def build(root: Path) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` in ``root``, as the docs environment runs it."""
    environment = {**os.environ, "DISABLE_MKDOCS_2_WARNING": "true", "NO_MKDOCS_2_WARNING": "true"}
    environment.pop("ZOO_ROOT", None)
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict"],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    copy_site_sources(tmp_path)
    return tmp_path


def test_a_repository_without_packages_builds_strictly(repository):
    result = build(repository)
    assert result.returncode == 0, result.stderr
    packages = (repository / "site" / "packages" / "index.html").read_text(encoding="utf-8")
    assert "There is no package yet" in packages
    benchmarks = (repository / "site" / "benchmarks" / "index.html").read_text(encoding="utf-8")
    assert "No benchmark has been recorded yet" in benchmarks


def test_every_package_found_gets_its_pages_in_the_site_and_its_navigation(repository):
    add_model(repository)
    add_service(repository)
    add_benchmark_readme(repository)
    result = build(repository)
    assert result.returncode == 0, result.stderr
    site = repository / "site"
    model = site / "packages" / "sample-classifier-torch"
    for page in ("index.html", "baseline/index.html", "command-line/index.html", "api/index.html"):
        assert (model / page).is_file(), page
    assert (model / "training-curve.svg").read_text(encoding="utf-8").startswith("<svg")
    assert (model / "assets" / "packages-sample-classifier-torch-docs-confusion.png").is_file()
    assert (site / "packages" / "sample-server" / "api" / "index.html").is_file()
    assert not (site / "packages" / "sample-server" / "baseline").exists()
    home = (site / "index.html").read_text(encoding="utf-8")
    for link in (
        "packages/sample-classifier-torch/",
        "packages/sample-classifier-torch/baseline/",
        "packages/sample-classifier-torch/command-line/",
        "packages/sample-classifier-torch/api/",
        "packages/sample-server/",
        "packages/sample-server/api/",
    ):
        assert f'href="{link}"' in home, link
    api = (model / "api" / "index.html").read_text(encoding="utf-8")
    assert 'id="sample_classifier_torch.model.Configuration"' in api
    assert "The step size of the optimiser, see <code>Configuration</code>." in api
    baseline = (model / "baseline" / "index.html").read_text(encoding="utf-8")
    assert "<title>sample-classifier-torch: baseline - Model zoo</title>" in baseline
    assert '<img alt="Training curve of the sample-classifier-torch baseline' in baseline
    benchmarks = (site / "benchmarks" / "index.html").read_text(encoding="utf-8")
    assert "Loader throughput" in benchmarks
    assert "Training overhead against a plain loop: 1.04" in benchmarks


def test_a_readme_link_to_a_missing_file_fails_the_strict_build_and_names_the_readme(repository):
    directory = add_service(repository)
    (directory / "README.md").write_text("# Server\n\nSee [the guide](docs/missing.md).\n", encoding="utf-8")
    result = build(repository)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert (
        "packages/sample-server/README.md: the link 'docs/missing.md' points at "
        "packages/sample-server/docs/missing.md, which does not exist" in output
    )
    assert "warnings in strict mode!" in output
