import os
import re
import subprocess
import sys
import tomllib

import pytest

from zoo.copies import IN_SYNC, check_copies
from zoo.discovery import discover_packages
from zoo.files import ZooError
from zoo.scaffold import _set_in_table, new_model

MODEL = '''\
"""The alpha classifier: one file, the whole pipeline."""

from __future__ import annotations

import dataclasses

__all__ = ["AlphaClassifierConfiguration", "train"]

ALPHA_CLASSIFIER_SEED = 7
"""The seed of the alpha classifier's baseline."""

# Origin section constants
WIDTH = 4
# End origin section

RATE: float = 0.5

# Copied from beta-classifier:beta_classifier.model section limits
LIMIT = 10
# End copy


@dataclasses.dataclass
class AlphaClassifierConfiguration:
    """How the alpha classifier is trained."""

    epochs: int = 2
    """How many passes over the data."""


# Copied from beta-classifier:beta_classifier.model.scale
def scale(value: float) -> float:
    """Double ``value``."""
    return value * 2


def train(configuration: AlphaClassifierConfiguration) -> str:
    """Train the alpha classifier (see alpha-classifier-large for the large one)."""
    return f"alpha_classifier trained for {configuration.epochs} epochs with {scale(WIDTH)}"


if __name__ == "__main__":
    print(train(AlphaClassifierConfiguration()))
'''

TEST = """\
from alpha_classifier.model import AlphaClassifierConfiguration, train


def test_train_names_the_model():
    assert train(AlphaClassifierConfiguration()).startswith("alpha_classifier trained for 2 epochs")
"""

README = """\
# The alpha classifier

A classifier.

## Model

A tiny one, unlike alpha-classifier-large.

```bash
# not a heading
uv run alpha-classifier
```

## Alpha Classifier results

Good.
"""


@pytest.fixture
def origin(repository):
    repository.add_package(
        "beta-classifier", {"model.py": "def scale(value: float) -> float:\n    return value\n"}
    )
    repository.add_package("alpha-classifier-large")
    directory = repository.add_package(
        "alpha-classifier", {"model.py": MODEL, "__main__.py": "print('alpha')\n"}
    )
    repository.write("packages/alpha-classifier/tests/test_model.py", TEST)
    repository.write("packages/alpha-classifier/README.md", README)
    repository.write("packages/alpha-classifier/baseline/run.json", "{}\n")
    repository.write("packages/alpha-classifier/runs/first/run.json", "{}\n")
    repository.write("packages/alpha-classifier/.tox/log.txt", "")
    repository.write("packages/alpha-classifier/src/alpha_classifier/__pycache__/model.cpython-311.pyc", "")
    repository.write("packages/alpha-classifier/.coverage", "")
    script = repository.write(
        "packages/alpha-classifier/scripts/alpha-classifier-run.sh", "echo alpha_classifier\n"
    )
    script.chmod(0o755)
    (directory / "assets").mkdir()
    (directory / "assets" / "alpha_classifier.bin").write_bytes(b"\x00\xffalpha_classifier\xfe")
    subprocess.run(["uv", "lock", "--quiet"], cwd=directory, check=True)
    return repository


def test_new_model_creates_a_marked_renamed_locked_package(origin):
    result = new_model(origin.root, "alpha-classifier", "gamma-recogniser")
    package = origin.root / "packages" / "gamma-recogniser"
    assert result.directory == package
    assert result.locked
    assert [entry.name for entry in (origin.root / "packages").iterdir() if entry.name.startswith(".")] == []
    assert sorted(str(path.relative_to(package)) for path in package.rglob("*") if path.is_file()) == [
        "README.md",
        "assets/gamma_recogniser.bin",
        "pyproject.toml",
        "scripts/gamma-recogniser-run.sh",
        "src/gamma_recogniser/__init__.py",
        "src/gamma_recogniser/__main__.py",
        "src/gamma_recogniser/model.py",
        "tests/test_model.py",
        "uv.lock",
    ]
    assert result.files == 9
    assert (package / "assets/gamma_recogniser.bin").read_bytes() == b"\x00\xffalpha_classifier\xfe"
    assert os.access(package / "scripts/gamma-recogniser-run.sh", os.X_OK)
    assert (package / "scripts/gamma-recogniser-run.sh").read_text() == "echo gamma_recogniser\n"

    project = tomllib.loads((package / "pyproject.toml").read_text())
    assert project["project"]["name"] == "gamma-recogniser"
    assert project["project"]["version"] == "0.1.0"
    assert project["tool"]["zoo"]["stage"] == "experimental"
    assert project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["src/gamma_recogniser"]
    assert [package.name for package in discover_packages(origin.root)] == [
        "alpha-classifier",
        "alpha-classifier-large",
        "beta-classifier",
        "gamma-recogniser",
    ]

    model = (package / "src/gamma_recogniser/model.py").read_text()
    assert "class GammaRecogniserConfiguration:" in model
    assert "GAMMA_RECOGNISER_SEED = 7" in model
    assert "The seed of the gamma recogniser's baseline." in model
    assert "see alpha-classifier-large for the large one" in model  # another package's name stays
    assert "# Copied from beta-classifier" not in model  # the origin's own markers are replaced
    assert "# End origin section" in model
    assert model.count("# Copied from alpha-classifier:alpha_classifier.model.") == 7
    assert "# End copy" not in model
    assert "# Copied from alpha-classifier:alpha_classifier.model.RATE\nRATE: float = 0.5\n" in model
    assert (
        "# Copied from alpha-classifier:alpha_classifier.model.ALPHA_CLASSIFIER_SEED with "
        "alpha-classifier->gamma-recogniser\nGAMMA_RECOGNISER_SEED = 7\n" in model
    )
    assert "# Copied from alpha-classifier:alpha_classifier.model.WIDTH\nWIDTH = 4\n" in model
    assert "# Copied from alpha-classifier:alpha_classifier.model.scale\ndef scale(" in model
    assert '__all__ = ["GammaRecogniserConfiguration", "train"]' in model
    copied_test = (package / "tests/test_model.py").read_text()
    assert (
        "# Copied from alpha-classifier:tests.test_model.test_train_names_the_model with "
        "alpha-classifier->gamma-recogniser\ndef test_train_names_the_model():" in copied_test
    )
    assert result.markers == 8  # 7 in the model, 1 in its tests

    report = check_copies(origin.root, "alpha-classifier")
    assert [result.status for result in report.results] == [IN_SYNC] * 8
    assert report.problems == []

    readme = (package / "README.md").read_text()
    assert readme.startswith("# Gamma Recogniser\n")
    assert "The gamma-recogniser package." in readme
    assert "## Model\n\nTo fill in.\n" in readme
    assert "## Gamma Recogniser results\n" in readme
    assert "not a heading" not in readme

    lock = (package / "uv.lock").read_text()
    assert 'name = "gamma-recogniser"' in lock
    assert subprocess.run(["uv", "lock", "--check", "--quiet"], cwd=package).returncode == 0

    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=package,
        env={**os.environ, "PYTHONPATH": str(package / "src")},
        capture_output=True,
        text=True,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "1 passed" in tests.stdout


def test_new_model_without_lock_takes_a_description_and_writes_standard_sections(origin):
    origin.write("packages/alpha-classifier/README.md", "# Only a title\n")
    result = new_model(
        origin.root, "alpha-classifier", "delta-model", description='The "delta" model.', lock=False
    )
    assert not result.locked
    lock = (result.directory / "uv.lock").read_text()  # the origin's, renamed, until `uv lock` runs
    assert 'name = "delta-model"' in lock
    assert "alpha-classifier" not in lock
    project = tomllib.loads((result.directory / "pyproject.toml").read_text())
    assert project["project"]["description"] == 'The "delta" model.'
    readme = (result.directory / "README.md").read_text()
    assert 'The "delta" model.' in readme
    assert "## Intended use\n\nTo fill in. What it is for, and what it must not be used for.\n" in readme
    assert readme.count("\n## ") == 7


def test_new_model_handles_origins_without_readme_source_folder_or_parsable_module(repository):
    repository.write(
        "packages/plain-model/pyproject.toml",
        '[project]\nname = "plain-model"\ndynamic = ["version"]\n\n[tool.zoo]\nkind = "model"',
    )
    result = new_model(repository.root, "plain-model", "other-model", lock=False)
    assert result.markers == 0
    text = (result.directory / "pyproject.toml").read_text()
    assert "version" not in text.replace('dynamic = ["version"]', "")
    assert text.endswith('kind = "model"\nstage = "experimental"\n')
    assert "## Model\n" in (result.directory / "README.md").read_text()

    repository.add_package("broken-model", {"model.py": "def broken(:\n"})
    result = new_model(repository.root, "broken-model", "mended-model", lock=False)
    assert result.markers == 0
    assert (result.directory / "src/mended_model/model.py").read_text() == "def broken(:\n"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("alpha-classifier-large", "packages/alpha-classifier-large already exists: choose another name"),
        ("Gamma_Model", "'Gamma_Model' is not a valid package name"),
        ("class", "its module 'class' is a Python keyword"),
        ("shared-contracts", "'shared-contracts' is the name of the contracts package"),
        (
            "gamma-cfg-model",
            "'gamma-cfg-model' abbreviates: 'cfg' is an abbreviation: write gamma-configuration-model",
        ),
    ],
)
def test_new_model_refuses_bad_names(origin, name, message):
    before = sorted(path.name for path in (origin.root / "packages").iterdir())
    with pytest.raises(ZooError, match=re.escape(message)):
        new_model(origin.root, "alpha-classifier", name, lock=False)
    assert sorted(path.name for path in (origin.root / "packages").iterdir()) == before


def test_new_model_refuses_a_missing_origin(origin, repository):
    with pytest.raises(
        ZooError, match="the origin package 'zeta-model' does not exist under packages/; choose one of: "
    ):
        new_model(origin.root, "zeta-model", "eta-model", lock=False)


def test_new_model_in_an_empty_repository_says_there_is_no_package(repository):
    with pytest.raises(ZooError, match=r"choose one of: \(none yet\)"):
        new_model(repository.root, "zeta-model", "eta-model", lock=False)


def test_a_failing_lock_leaves_nothing_behind(origin):
    project = origin.root / "packages/alpha-classifier/pyproject.toml"
    project.write_text(
        project.read_text().replace('"shared-contracts"]', '"shared-contracts", "no-such-zoo-package"]')
    )
    with pytest.raises(
        ZooError, match="`uv lock` failed for the new package, so nothing was created; uv said:"
    ):
        new_model(origin.root, "alpha-classifier", "eta-model")
    assert sorted(path.name for path in (origin.root / "packages").iterdir()) == [
        "alpha-classifier",
        "alpha-classifier-large",
        "beta-classifier",
    ]


def test_a_missing_uv_is_a_clear_error(origin, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ZooError, match="uv is not installed or not on PATH"):
        new_model(origin.root, "alpha-classifier", "eta-model")
    assert not (origin.root / "packages/eta-model").exists()


@pytest.mark.parametrize(
    ("text", "table", "insert", "expected"),
    [
        ('[a]\nkey = "old"\n[b]\nkey = "b"\n', "a", True, '[a]\nkey = "new"\n[b]\nkey = "b"\n'),
        ("[a]\nother = 1\n\n[b]\n", "a", True, '[a]\nother = 1\nkey = "new"\n\n[b]\n'),
        ("[a]\nother = 1\n\n[b]\n", "a", False, "[a]\nother = 1\n\n[b]\n"),
        ("[b]\n[a] # the table\nother = 1", "a", True, '[b]\n[a] # the table\nother = 1\nkey = "new"\n'),
        ("[b]\nkey = 1\n", "a", True, "[b]\nkey = 1\n"),
    ],
)
def test_set_in_table_replaces_or_adds_the_key_of_one_table(text, table, insert, expected):
    assert _set_in_table(text, table, "key", "new", insert=insert) == expected
