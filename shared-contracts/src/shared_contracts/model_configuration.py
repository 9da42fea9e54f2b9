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
  | (?P<number>[-+]?
        (?:0[xX][0-9A-Fa-f]+
          | (?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?[fF]?
          | [0-9]+[eE][-+]?[0-9]+[fF]?
          | [0-9]+[fF]
          | 0[0-7]*
          | [1-9][0-9]*
        )(?![A-Za-z0-9_.]))
  | (?P<identifier>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<punctuation>[{}\[\]:,;<>])
    """,
    re.VERBOSE,
)

_ESCAPE = re.compile(
    r"\\(?:(?P<octal>[0-7]{1,3})|[xX](?P<hexadecimal>[0-9A-Fa-f]{1,2})"
    r"|u(?P<short>[0-9A-Fa-f]{4})|U(?P<long>[0-9A-Fa-f]{8})|(?P<simple>.))",
    re.DOTALL,
)
_SIMPLE_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}


def _unescape(body: str) -> str:
    r"""The text of a quoted string's body, with the text format's escapes (C style) resolved.

    Octal and hexadecimal escapes are bytes, as in protocol buffers, so ``"\303\251"`` is ``é``; the
    result must be valid UTF-8.
    """
    result = bytearray()
    position = 0
    for match in _ESCAPE.finditer(body):
        result += body[position : match.start()].encode("utf-8")
        position = match.end()
        if match["octal"]:
            if int(match["octal"], 8) > 0xFF:
                raise ValueError(f"the escape {match.group()!r} is above \\377")
            result.append(int(match["octal"], 8))
        elif match["hexadecimal"]:
            result.append(int(match["hexadecimal"], 16))
        elif match["short"] or match["long"]:
            result += chr(int(match["short"] or match["long"], 16)).encode("utf-8")
        elif match["simple"] in _SIMPLE_ESCAPES:
            result += _SIMPLE_ESCAPES[match["simple"]].encode("utf-8")
        else:
            raise ValueError(f"unknown escape {match.group()!r}")
    result += body[position:].encode("utf-8")
    return result.decode("utf-8")


def _quote(text: str) -> str:
    """``text`` as a double-quoted text-format string that :func:`parse_text_format` reads back unchanged."""
    escaped = []
    for character in text:
        if character in '"\\':
            escaped.append("\\" + character)
        elif character == "\n":
            escaped.append("\\n")
        elif ord(character) < 0x20 or ord(character) == 0x7F:
            escaped.append(f"\\{ord(character):03o}")
        else:
            escaped.append(character)
    return '"' + "".join(escaped) + '"'


def _number(text: str) -> int | float:
    """The value of a number token: decimal, hexadecimal (``0x1F``) or octal (``017``) integers, or floats."""
    unsigned = text.lstrip("+-")
    if unsigned[:2] in ("0x", "0X"):
        magnitude = int(unsigned, 16)
    elif unsigned.isdigit():
        magnitude = int(unsigned, 8) if unsigned.startswith("0") else int(unsigned)
    else:
        return float(text.rstrip("fF"))
    return -magnitude if text.startswith("-") else magnitude


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
                snippet = text[position:].split(maxsplit=1)[0][:40]
                raise ContractError(
                    f"line {line}: cannot read {snippet!r} (an unclosed quote, or a malformed number?)",
                    source=source,
                )
            kind = match.lastgroup
            value = match.group()
            if kind != "space":
                self.tokens.append((kind, value, line))
            line += value.count("\n")
            position = match.end()
        self.index = 0

    def error(self, reason: str, line: int | None) -> ContractError:
        """An error at a line of the text (``None``: at its end)."""
        where = "at the end of the text" if line is None else f"line {line}"
        return ContractError(f"{where}: {reason}", source=self.source)

    def peek(self) -> tuple[str, str, int] | None:
        """The next token, without consuming it; ``None`` at the end."""
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def skip(self, punctuation: str) -> bool:
        """Consume the next token if it is one of the characters of ``punctuation``."""
        token = self.peek()
        if token is not None and token[0] == "punctuation" and token[1] in punctuation:
            self.index += 1
            return True
        return False

    def take(self, expected: str) -> tuple[str, str, int]:
        """Consume the next token; at the end of the text, say what was ``expected`` instead."""
        token = self.peek()
        if token is None:
            raise self.error(f"expected {expected}, found the end of the text", None)
        self.index += 1
        return token

    def message(self, closing: str | None) -> dict[str, list[Any]]:
        """The fields of a message up to ``closing`` (``None``: up to the end of the text)."""
        fields: dict[str, list[Any]] = {}
        while True:
            if self.peek() is None and closing is None:
                return fields
            if closing is not None and self.skip(closing):
                return fields
            kind, name, line = self.take(repr(closing))
            if kind != "identifier":
                raise self.error(f"expected a field name, found {name!r}", line)
            values = fields.setdefault(name, [])
            self.skip(":")
            if self.skip("["):
                values.extend(self.list())
            else:
                values.append(self.value())
            self.skip(",;")

    def list(self) -> list[Any]:
        """The values of a ``[ ]`` list, after its opening bracket."""
        items: list[Any] = []
        while not self.skip("]"):
            items.append(self.value())
            self.skip(",")
        return items

    def value(self) -> Any:
        """One value: a message in ``{ }`` or ``< >``, a string, a number, a boolean or an enumeration."""
        kind, text, line = self.take("a value")
        if text in ("{", "<"):
            return self.message("}" if text == "{" else ">")
        if kind == "string":
            try:
                return _unescape(text[1:-1])
            except (ValueError, UnicodeDecodeError) as error:
                raise self.error(f"the string {text} cannot be read: {error}", line) from None
        if kind == "number":
            return _number(text)
        if kind == "identifier":
            if text in ("true", "True"):
                return True
            if text in ("false", "False"):
                return False
            return Enumeration(text)
        raise self.error(f"expected a value, found {text!r}", line)


def parse_text_format(text: str, source: str | None = None) -> dict[str, list[Any]]:
    """Parse protocol buffer text into ``{field: [values]}`` (every field as a list; messages as dicts).

    Strings come back as ``str``, integers as ``int``, other numbers as ``float``, ``true`` and ``false`` as
    ``bool``, and bare names (enumeration values such as ``TYPE_FP32``) as :class:`Enumeration`. Errors name
    the line.
    """
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
        if self.kind == "latest" and self.count < 1:
            raise ContractError(
                f"must serve at least 1 version, found {self.count}",
                field="version_policy.latest.num_versions",
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
        for label, tensors in (("input", self.inputs), ("output", self.outputs)):
            if not tensors:
                raise ContractError(
                    "a model configuration needs at least one input and one output", field=label
                )
            names = [tensor.name for tensor in tensors]
            if len(set(names)) != len(names):
                raise ContractError(f"{label} names must be unique, found {names}", field=label)
        if self.max_batch_size < 0:
            raise ContractError("must be 0 or more", field="max_batch_size")
        if self.instance_count < 1:
            raise ContractError(f"must be 1 or more, found {self.instance_count}", field="instance_group")
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
        lines = [f"name: {_quote(self.name)}"]
        if self.platform is not None:
            lines.append(f"platform: {_quote(self.platform)}")
        else:
            lines.append(f"backend: {_quote(self.backend)}")
        lines.append(f"max_batch_size: {self.max_batch_size}")
        for label, tensors in (("input", self.inputs), ("output", self.outputs)):
            lines.append(f"{label} [")
            for position, tensor in enumerate(tensors):
                dims = tensor.shape[1:] if self.max_batch_size > 0 else tensor.shape
                closing = "  }," if position < len(tensors) - 1 else "  }"
                lines += [
                    "  {",
                    f"    name: {_quote(tensor.name)}",
                    f"    data_type: {tensor.configuration_data_type}",
                    f"    dims: {_list(dims)}",
                    closing,
                ]
            lines.append("]")
        policy = self.version_policy
        if policy.kind == "latest":
            lines.append(f"version_policy: {{ latest: {{ num_versions: {policy.count} }} }}")
        elif policy.kind == "all":
            lines.append("version_policy: { all: {} }")
        else:
            lines.append(f"version_policy: {{ specific: {{ versions: {_list(policy.versions)} }} }}")
        lines.append(f"instance_group [ {{ count: {self.instance_count}, kind: KIND_CPU }} ]")
        if self.dynamic_batching is not None:
            lines.append("dynamic_batching {")
            lines.append(
                f"  max_queue_delay_microseconds: {self.dynamic_batching.max_queue_delay_microseconds}"
            )
            if self.dynamic_batching.preferred_batch_size:
                lines.append(f"  preferred_batch_size: {_list(self.dynamic_batching.preferred_batch_size)}")
            lines.append("}")
        for key, value in sorted(self.parameters.items()):
            lines.append(f"parameters {{ key: {_quote(key)} value: {{ string_value: {_quote(value)} }} }}")
        return "\n".join(lines) + "\n"

    @classmethod
    def from_text(
        cls, text: str, source: str | None = None, default_name: str | None = None
    ) -> ModelConfiguration:
        """Parse ``config.pbtxt`` text; ``default_name`` is used when the file names no model.

        Raises :class:`ContractError` naming ``source``, the field and, for a syntax error, the line.
        """
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
                instance_count=_instance_count(reader),
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
        except (OSError, UnicodeDecodeError) as error:
            raise ContractError(f"the model configuration cannot be read ({error})", source=source) from None
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
        if isinstance(value, kind) and not isinstance(value, bool):
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
        field_name = "dims" if error.field == "shape" else error.field
        raise ContractError(error.reason, source=source, field=f"{path}.{field_name}") from None


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
    kinds = [kind for kind in ("latest", "all", "specific") if policy.fields.get(kind)]
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


def _instance_count(reader: _ConfigurationReader) -> int:
    """The number of instances in all instance groups (1 where the file has none, as in Triton)."""
    groups = reader.messages("instance_group")
    if not groups:
        return 1
    return sum(
        _ConfigurationReader(group, reader.source, f"instance_group[{index}]").scalar("count", int, 1)
        for index, group in enumerate(groups)
    )


def _list(values: tuple[int, ...]) -> str:
    """Integers as a text-format list: ``[ 1, 2 ]``, or ``[ ]``."""
    return f"[ {', '.join(str(value) for value in values)} ]" if values else "[ ]"
