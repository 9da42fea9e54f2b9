"""Shared, real fixtures: one prepared dataset, one tiny completed run and one export per test session."""

import shutil
from pathlib import Path

import pytest
from digits_classifier_jax import model
from tiny_configuration import TINY


# Copied from digits-classifier-torch:tests.conftest.isolated_home
@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Default output folders point into the test's temporary folder, never into the repository."""
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))


# Copied from digits-classifier-torch:tests.conftest.dataset_directory
@pytest.fixture(scope="session")
def dataset_directory(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("dataset") / "digits"
    model.prepare_dataset(directory)
    return directory


# Copied from digits-classifier-torch:tests.conftest.dataset_copy
@pytest.fixture
def dataset_copy(dataset_directory, tmp_path) -> Path:
    """A private copy of the dataset, for tests that damage it."""
    return Path(shutil.copytree(dataset_directory, tmp_path / "dataset-copy"))


# Copied from digits-classifier-torch:tests.conftest.runs_directory
@pytest.fixture(scope="session")
def runs_directory(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("runs")


# Copied from digits-classifier-torch:tests.conftest.tiny_run
@pytest.fixture(scope="session")
def tiny_run(dataset_directory, runs_directory) -> Path:
    directory = runs_directory / "tiny"
    model.train(TINY, dataset_directory=dataset_directory, run_directory=directory, progress=False)
    return directory


# Copied from digits-classifier-torch:tests.conftest.tiny_run_copy
@pytest.fixture
def tiny_run_copy(tiny_run, tmp_path) -> Path:
    """A private copy of the tiny run, for tests that change it."""
    return Path(shutil.copytree(tiny_run, tmp_path / "runs" / "tiny-copy"))


# Copied from digits-classifier-torch:tests.conftest.exported
@pytest.fixture(scope="session")
def exported(tiny_run, dataset_directory, tmp_path_factory):
    repository = tmp_path_factory.mktemp("model-repository")
    return model.export(tiny_run, repository, dataset_directory=dataset_directory)
