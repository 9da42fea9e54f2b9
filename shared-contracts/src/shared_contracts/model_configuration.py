"""Triton's ``config.pbtxt``: the subset of the model configuration an exported artifact needs.

The exporter writes it, this project's server reads it, and NVIDIA Triton and KServe read the same file
unchanged. Reading accepts the protocol buffer text format as Triton writes it (``field: value``, nested
``{ }`` messages, ``[ ]`` lists, repeated fields, ``#`` comments); fields outside the subset are kept by name
in ``unrecognised_fields`` so that a reader can say what it ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared_contracts.atomic import write_text_atomically
from shared_contracts.errors import ContractError
from shared_contracts.tensors import TensorSpecification, data_type_from_configuration_name

MODEL_CONFIGURATION_FILE_NAME = "config.pbtxt"
"""The configuration's file name inside a model's repository folder."""

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)
  | (?P<identifier>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<punctuation>[{}\[\]:,;<>])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Enumeration:
    """An enumeration value in the text format (``TYPE_FP32``, ``KIND_CPU``), as opposed to a string."""

    name: str
    """The value's name."""


class _Parser:
    """A recursive-descent reader of the protocol buffer text format."""

    def __init__(self, text: str, source: str | None) -> None:
        self.source = source
        self.tokens: list[tuple[str, str, int]] = []
        position, line = 0, 1
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None:
                raise ContractError(f"line {line}: unexpected character {text[position]!r}", source=source)
            kind = match.lastgroup
            value = match.group()
            if kind != "space":
                self.tokens.append((kind, value, line))
            line += value.count("\n")
            position = match.end()
        self.index = 0

    def error(self, reason: str) -> ContractError:
        line = self.tokens[self.index][2] if self.index < len(self.tokens) else "end"
        return ContractError(f"line {line}: {reason}", source=self.source)

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            raise self.error(f"expected {value!r}, found the end of the file" if value else "unexpected end")
        if value is not None and token[1] != value:
            raise self.error(f"expected {value!r}, found {token[1]!r}")
        self.index += 1
        return token

    def message(self, closing: str | None) -> dict[str, list[Any]]:
        fields: dict[str, list[Any]] = {}
        while True:
            token = self.peek()
            if token is None:
                if closing is not None:
                    raise self.error(f"expected {closing!r}, found the end of the file")
                return fields
            if closing is not None and token[1] == closing:
                self.index += 1
                return fields
            kind, name, _ = self.take()
            if kind != "identifier":
                raise self.error(f"expected a field name, found {name!r}")
            values = fields.setdefault(name, [])
            following = self.peek()
            if following is not None and following[1] == ":":
                self.index += 1
                following = self.peek()
            if following is not None and following[1] == "[":
                self.index += 1
                values.extend(self.list())
            else:
                values.append(self.value())
            separator = self.peek()
            if separator is not None and separator[1] in ",;":
                self.index += 1

    def list(self) -> list[Any]:
        items: list[Any] = []
        while True:
            token = self.peek()
            if token is not None and token[1] == "]":
                self.index += 1
                return items
            items.append(self.value())
            separator = self.peek()
            if separator is not None and separator[1] == ",":
                self.index += 1

    def value(self) -> Any:
        kind, text, _ = self.take()
        if text in ("{", "<"):
            return self.message("}" if text == "{" else ">")
        if kind == "string":
            return bytes(text[1:-1], "utf-8").decode("unicode_escape")
        if kind == "number":
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "identifier":
            if text in ("true", "True"):
                return True
            if text in ("false", "False"):
                return False
            return Enumeration(text)
        raise self.error(f"expected a value, found {text!r}")


def parse_text_format(text: str, source: str | None = None) -> dict[str, list[Any]]:
    """Parse protocol buffer text into ``{field: [values]}`` (every field as a list; messages as dicts)."""
    return _Parser(text, source).message(None)


@dataclass(frozen=True)
class DynamicBatching:
    """Server-side batching: requests that arrive close together are run as one batch."""

    max_queue_delay_microseconds: int = 0
    """How long a request may wait for others to join its batch."""
    preferred_batch_size: tuple[int, ...] = ()
    """Batch sizes the scheduler prefers to form."""


@dataclass(frozen=True)
class VersionPolicy:
    """Which of a model's version folders are served: the latest ``count``, all, or specific ones."""

    kind: str = "latest"
    """``latest``, ``all`` or ``specific``."""
    count: int = 1
    """With ``latest``: how many of the highest versions."""
    versions: tuple[int, ...] = ()
    """With ``specific``: the versions."""

    def __post_init__(self) -> None:
        if self.kind not in ("latest", "all", "specific"):
            raise ContractError(
                f"must be latest, all or specific, found {self.kind!r}", field="version_policy"
            )

    def select(self, available: list[int]) -> list[int]:
        """The versions to serve among the available version folders, highest first."""
        ordered = sorted(available, reverse=True)
        if self.kind == "latest":
            return ordered[: self.count]
        if self.kind == "all":
            return ordered
        return [version for version in ordered if version in self.versions]


@dataclass(frozen=True)
class ModelConfiguration:
    """The model configuration of one model of a Triton model repository (``config.pbtxt``).

    Input and output shapes include the batch dimension (``-1``) first when ``max_batch_size`` is above 0,
    as the tensors are seen by a client; the file itself, as Triton wants, leaves it out of ``dims``.
    """

    name: str
    """The model's name, which is also its folder's name in the repository."""
    inputs: tuple[TensorSpecification, ...]
    """The input tensors."""
    outputs: tuple[TensorSpecification, ...]
    """The output tensors."""
    max_batch_size: int = 0
    """The largest batch accepted; 0 means the model has no batch dimension."""
    backend: str = "onnxruntime"
    """Triton's backend for the model."""
    platform: str | None = None
    """Triton's platform name (``onnxruntime_onnx``), an older alternative to ``backend``."""
    dynamic_batching: DynamicBatching | None = None
    """Server-side batching settings, or ``None`` to run every request alone."""
    version_policy: VersionPolicy = field(default_factory=VersionPolicy)
    """Which versions are served."""
    instance_count: int = 1
    """How many instances (copies) of the model run side by side."""
    parameters: dict[str, str] = field(default_factory=dict)
    """Backend parameters, for example ``intra_op_thread_count`` for ONNX Runtime."""
    unrecognised_fields: tuple[str, ...] = ()
    """Top-level fields of the file outside this subset (read, not interpreted)."""

    def __post_init__(self) -> None:
        if self.max_batch_size < 0:
            raise ContractError("must be 0 or more", field="max_batch_size")
        if self.max_batch_size > 0:
            for tensor in (*self.inputs, *self.outputs):
                if not tensor.shape or tensor.shape[0] != -1:
                    raise ContractError(
                        f"tensor {tensor.name!r} must start with the batch dimension -1 because "
                        f"max_batch_size is {self.max_batch_size}",
                        field="dims",
                    )

    def to_text(self) -> str:
        """The ``config.pbtxt`` text."""
        lines = [f'name: "{self.name}"']
        if self.platform is not None:
            lines.append(f'platform: "{self.platform}"')
        else:
            lines.append(f'backend: "{self.backend}"')
        lines.append(f"max_batch_size: {self.max_batch_size}")
        for label, tensors in (("input", self.inputs), ("output", self.outputs)):
            lines.append(f"{label} [")
            for position, tensor in enumerate(tensors):
                dims = tensor.shape[1:] if self.max_batch_size > 0 else tensor.shape
                closing = "  }," if position < len(tensors) - 1 else "  }"
                lines += [
                    "  {",
                    f'    name: "{tensor.name}"',
                    f"    data_type: {tensor.configuration_data_type}",
                    f"    dims: [ {', '.join(str(d) for d in dims)} ]",
                    closing,
                ]
            lines.append("]")
        policy = self.version_policy
        if policy.kind == "latest":
            lines.append(f"version_policy: {{ latest: {{ num_versions: {policy.count} }} }}")
        elif policy.kind == "all":
            lines.append("version_policy: { all: {} }")
        else:
            versions = ", ".join(str(v) for v in policy.versions)
            lines.append(f"version_policy: {{ specific: {{ versions: [ {versions} ] }} }}")
        lines.append(f"instance_group [ {{ count: {self.instance_count}, kind: KIND_CPU }} ]")
        if self.dynamic_batching is not None:
            lines.append("dynamic_batching {")
            lines.append(
                f"  max_queue_delay_microseconds: {self.dynamic_batching.max_queue_delay_microseconds}"
            )
            if self.dynamic_batching.preferred_batch_size:
                sizes = ", ".join(str(s) for s in self.dynamic_batching.preferred_batch_size)
                lines.append(f"  preferred_batch_size: [ {sizes} ]")
            lines.append("}")
        for key, value in sorted(self.parameters.items()):
            lines.append(f'parameters {{ key: "{key}" value: {{ string_value: "{value}" }} }}')
        return "\n".join(lines) + "\n"

    @classmethod
    def from_text(
        cls, text: str, source: str | None = None, default_name: str | None = None
    ) -> ModelConfiguration:
        """Parse ``config.pbtxt`` text; ``default_name`` is used when the file names no model."""
        fields = parse_text_format(text, source)
        reader = _ConfigurationReader(fields, source, "")
        name = reader.scalar("name", str, default_name)
        if name is None:
            raise ContractError("is missing", source=source, field="name")
        max_batch_size = reader.scalar("max_batch_size", int, 0)
        leading = (-1,) if max_batch_size > 0 else ()
        inputs = tuple(
            _tensor(each, source, f"input[{i}]", leading) for i, each in enumerate(fields.get("input", []))
        )
        outputs = tuple(
            _tensor(each, source, f"output[{i}]", leading) for i, each in enumerate(fields.get("output", []))
        )
        if not inputs or not outputs:
            raise ContractError(
                "a model configuration needs at least one input and one output",
                source=source,
                field="input" if not inputs else "output",
            )
        try:
            return cls(
                name=name,
                inputs=inputs,
                outputs=outputs,
                max_batch_size=max_batch_size,
                backend=reader.scalar("backend", str, "onnxruntime"),
                platform=reader.scalar("platform", str, None),
                dynamic_batching=_dynamic_batching(reader),
                version_policy=_version_policy(reader),
                instance_count=sum(
                    _ConfigurationReader(group, source, "instance_group").scalar("count", int, 1)
                    for group in reader.messages("instance_group")
                )
                or 1,
                parameters=_parameters(reader),
                unrecognised_fields=tuple(sorted(set(fields) - _KNOWN_FIELDS)),
            )
        except ContractError as error:
            if error.source is not None:
                raise
            raise ContractError(error.reason, source=source, field=error.field) from None

    def save(self, path: str | Path) -> Path:
        """Write the ``config.pbtxt`` file atomically; returns its path."""
        return write_text_atomically(path, self.to_text())

    @classmethod
    def load(cls, path: str | Path) -> ModelConfiguration:
        """Read a ``config.pbtxt`` file; a file that names no model takes its folder's name."""
        source = Path(path)
        try:
            text = source.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ContractError("the model configuration does not exist", source=source) from None
        return cls.from_text(text, str(source), default_name=source.parent.name)


_KNOWN_FIELDS = {
    "name",
    "backend",
    "platform",
    "max_batch_size",
    "input",
    "output",
    "dynamic_batching",
    "version_policy",
    "instance_group",
    "parameters",
}


class _ConfigurationReader:
    """Typed access to the ``{field: [values]}`` form of one parsed message."""

    def __init__(self, fields: Any, source: str | None, path: str) -> None:
        if not isinstance(fields, dict):
            raise ContractError("must be a message in braces", source=source, field=path or None)
        self.fields = fields
        self.source = source
        self.path = path

    def name(self, field_name: str) -> str:
        return f"{self.path}.{field_name}" if self.path else field_name

    def scalar(self, field_name: str, kind: type, default: Any) -> Any:
        values = self.fields.get(field_name, [])
        if not values:
            return default
        if len(values) > 1:
            raise ContractError("is given more than once", source=self.source, field=self.name(field_name))
        return self.check(field_name, values[0], kind)

    def check(self, field_name: str, value: Any, kind: type) -> Any:
        if kind is Enumeration and isinstance(value, Enumeration):
            return value.name
        if isinstance(value, kind) and not isinstance(value, bool) and not isinstance(value, Enumeration):
            return value
        expected = {str: "a quoted string", int: "an integer", Enumeration: "a name such as TYPE_FP32"}
        shown = value.name if isinstance(value, Enumeration) else value
        raise ContractError(
            f"must be {expected[kind]}, found {shown!r}", source=self.source, field=self.name(field_name)
        )

    def integers(self, field_name: str) -> tuple[int, ...]:
        return tuple(self.check(field_name, value, int) for value in self.fields.get(field_name, []))

    def messages(self, field_name: str) -> list[dict[str, list[Any]]]:
        values = self.fields.get(field_name, [])
        for value in values:
            _ConfigurationReader(value, self.source, self.name(field_name))
        return values

    def message(self, field_name: str) -> _ConfigurationReader | None:
        values = self.messages(field_name)
        if len(values) > 1:
            raise ContractError("is given more than once", source=self.source, field=self.name(field_name))
        return _ConfigurationReader(values[0], self.source, self.name(field_name)) if values else None


def _tensor(fields: Any, source: str | None, path: str, leading: tuple[int, ...]) -> TensorSpecification:
    reader = _ConfigurationReader(fields, source, path)
    name = reader.scalar("name", str, None)
    if name is None:
        raise ContractError("is missing", source=source, field=f"{path}.name")
    data_type = reader.scalar("data_type", Enumeration, None)
    if data_type is None:
        raise ContractError("is missing", source=source, field=f"{path}.data_type")
    dims = reader.integers("dims")
    try:
        return TensorSpecification(
            name, data_type_from_configuration_name(data_type, source=source), (*leading, *dims)
        )
    except ContractError as error:
        raise ContractError(error.reason, source=source, field=f"{path}.{error.field}") from None


def _dynamic_batching(reader: _ConfigurationReader) -> DynamicBatching | None:
    batching = reader.message("dynamic_batching")
    if batching is None:
        return None
    return DynamicBatching(
        max_queue_delay_microseconds=batching.scalar("max_queue_delay_microseconds", int, 0),
        preferred_batch_size=batching.integers("preferred_batch_size"),
    )


def _version_policy(reader: _ConfigurationReader) -> VersionPolicy:
    policy = reader.message("version_policy")
    if policy is None:
        return VersionPolicy()
    kinds = [kind for kind in ("latest", "all", "specific") if kind in policy.fields]
    if len(kinds) != 1:
        raise ContractError(
            "must hold exactly one of latest, all or specific",
            source=reader.source,
            field="version_policy",
        )
    detail = policy.message(kinds[0])
    if kinds[0] == "latest":
        return VersionPolicy("latest", count=detail.scalar("num_versions", int, 1))
    if kinds[0] == "all":
        return VersionPolicy("all")
    return VersionPolicy("specific", versions=detail.integers("versions"))


def _parameters(reader: _ConfigurationReader) -> dict[str, str]:
    parameters = {}
    for index, each in enumerate(reader.messages("parameters")):
        entry = _ConfigurationReader(each, reader.source, f"parameters[{index}]")
        key = entry.scalar("key", str, None)
        value = entry.message("value")
        if key is None or value is None:
            raise ContractError(
                "a parameter needs a key and a value { string_value: ... }",
                source=reader.source,
                field=f"parameters[{index}]",
            )
        parameters[key] = value.scalar("string_value", str, "")
    return parameters
