"""Reading JSON objects field by field, with errors that name the file and the field.

Private to the package: every contract's ``from_dict`` uses it, so that every rejection reads alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from shared_contracts.errors import ContractError
from shared_contracts.version import CONTRACTS_VERSION

Item = TypeVar("Item")

_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    dict: "an object",
    list: "a list",
}


def _describe(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(_TYPE_NAMES.get(each, each.__name__) for each in kinds)


def _matches(value: Any, kind: type | tuple[type, ...]) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool):
        return bool in kinds
    if isinstance(value, int) and float in kinds:
        return True
    return isinstance(value, kinds)


class FieldReader:
    """Reads the fields of one JSON object, raising :class:`ContractError` on any mismatch."""

    def __init__(self, data: Any, source: str | None, prefix: str = "") -> None:
        if not isinstance(data, dict):
            raise ContractError(
                f"expected a JSON object, found {type(data).__name__}",
                source=source,
                field=prefix or None,
            )
        self.data = data
        self.source = source
        self.prefix = prefix

    def path(self, name: str) -> str:
        """The dotted name of a field, for error messages."""
        return f"{self.prefix}.{name}" if self.prefix else name

    def error(self, name: str, reason: str) -> ContractError:
        """An error about one field of this object."""
        return ContractError(reason, source=self.source, field=self.path(name))

    def required(self, name: str, kind: type | tuple[type, ...]) -> Any:
        """The value of a field that must be present and of the given type."""
        if name not in self.data:
            raise self.error(name, "is missing")
        return self._checked(name, self.data[name], kind)

    def optional(self, name: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        """The value of a field that may be absent or null, in which case ``default`` is returned."""
        value = self.data.get(name)
        if value is None:
            return default
        return self._checked(name, value, kind)

    def _checked(self, name: str, value: Any, kind: type | tuple[type, ...]) -> Any:
        if not _matches(value, kind):
            raise self.error(name, f"must be {_describe(kind)}, found {value!r}")
        if isinstance(value, int) and not isinstance(value, bool) and kind is float:
            return float(value)
        return value

    def child(self, name: str) -> FieldReader:
        """A reader for a nested object."""
        return FieldReader(self.required(name, dict), self.source, self.path(name))

    def items(self, name: str, parse: Callable[[FieldReader], Item]) -> tuple[Item, ...]:
        """Parse every object of a list field with ``parse``."""
        values = self.required(name, list)
        return tuple(
            parse(FieldReader(value, self.source, f"{self.path(name)}[{index}]"))
            for index, value in enumerate(values)
        )

    def scalars(self, name: str, kind: type | tuple[type, ...]) -> tuple[Any, ...]:
        """A list field whose items are all of one scalar type."""
        values = self.required(name, list)
        for index, value in enumerate(values):
            self._checked(f"{name}[{index}]", value, kind)
        return tuple(float(v) if kind is float else v for v in values)

    def mapping(self, name: str, kind: type | tuple[type, ...], *, required: bool = True) -> dict:
        """An object field whose values are all of one type (a mapping from names to values)."""
        values = self.required(name, dict) if required else self.optional(name, dict, {})
        checked = {}
        for key, value in values.items():
            checked[key] = self._checked(f"{name}.{key}", value, kind)
        return checked

    def hexadecimal_digest(self, name: str) -> str:
        """A SHA-256 digest field: 64 lowercase hexadecimal characters."""
        value = self.required(name, str)
        if not is_sha256(value):
            raise self.error(name, f"must be a SHA-256 digest (64 hexadecimal characters), found {value!r}")
        return value

    def contracts_version(self) -> str:
        """The ``contracts_version`` field: a semantic version whose major is not newer than this package's.

        Within a major version every change is additive, so this package reads any file of its own or an
        older major version; a file from a newer major version may mean something it cannot know.
        """
        value = self.required("contracts_version", str)
        match = re.fullmatch(r"([0-9]+)\.[0-9]+\.[0-9]+", value)
        if match is None:
            raise self.error(
                "contracts_version", f"must be a version such as {CONTRACTS_VERSION!r}, found {value!r}"
            )
        if int(match.group(1)) > int(CONTRACTS_VERSION.split(".")[0]):
            raise self.error(
                "contracts_version",
                f"is {value}, newer than this shared-contracts ({CONTRACTS_VERSION}); "
                "upgrade shared-contracts to read this file",
            )
        return value


def is_sha256(value: str) -> bool:
    """Whether ``value`` is written as a SHA-256 digest: 64 lowercase hexadecimal characters."""
    return len(value) == 64 and all(character in "0123456789abcdef" for character in value)
