"""Fixtures of the shared-contracts tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from contract_builders import prepare_dataset


@pytest.fixture
def dataset_directory(tmp_path: Path) -> Path:
    """A prepared dataset on disk: two splits, three real shards, and its manifest."""
    directory = tmp_path / "dataset"
    prepare_dataset(directory)
    return directory
