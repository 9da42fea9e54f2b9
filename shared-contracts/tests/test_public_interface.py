"""The package's public names, its version, and the one error type every rejection uses."""

from __future__ import annotations

import importlib.metadata
import inspect
from pathlib import Path

import pytest

import shared_contracts
from shared_contracts import CONTRACTS_VERSION, ContractError


def test_every_public_name_exists_and_has_a_docstring():
    assert sorted(shared_contracts.__all__) == sorted(set(shared_contracts.__all__))
    for name in shared_contracts.__all__:
        value = getattr(shared_contracts, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{name} has no docstring"


def test_every_module_has_a_docstring():
    package = Path(shared_contracts.__file__).parent
    for module in sorted(package.glob("*.py")):
        source = module.read_text(encoding="utf-8")
        assert source.startswith('"""'), f"{module.name} does not start with a docstring"


def test_the_contracts_version_is_the_package_version():
    assert importlib.metadata.version("shared-contracts") == CONTRACTS_VERSION
    major, minor, patch = CONTRACTS_VERSION.split(".")
    assert all(part.isdigit() for part in (major, minor, patch))


@pytest.mark.parametrize(
    ("source", "field", "message"),
    [
        ("data/manifest.json", "splits[0].rows", "data/manifest.json, field 'splits[0].rows': is missing"),
        (Path("run.json"), None, "run.json: is missing"),
        (None, "seed", "field 'seed': is missing"),
        (None, None, "is missing"),
    ],
)
def test_a_contract_error_says_where_and_what(source, field, message):
    error = ContractError("is missing", source=source, field=field)
    assert str(error) == message
    assert error.reason == "is missing"
    assert error.field == field
    assert error.source == (None if source is None else str(source))
    assert isinstance(error, ValueError)
