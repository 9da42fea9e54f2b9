"""Tensor specifications: the name, data type and shape of every tensor that crosses a boundary.

A shape is a tuple of dimensions where ``-1`` means "any size". In an artifact's inputs and outputs the first
dimension is the batch dimension and is ``-1``; in a dataset's features the shape is that of one example.
Data types are numpy's names (``float32``); this module maps them to Triton's ``config.pbtxt`` names
(``TYPE_FP32``) and to the Open Inference Protocol's names (``FP32``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy

from shared_contracts._fields import FieldReader
from shared_contracts.errors import ContractError

#: numpy data type name -> (Triton configuration name, Open Inference Protocol name)
DATA_TYPES: dict[str, tuple[str, str]] = {
    "bool": ("TYPE_BOOL", "BOOL"),
    "uint8": ("TYPE_UINT8", "UINT8"),
    "uint16": ("TYPE_UINT16", "UINT16"),
    "uint32": ("TYPE_UINT32", "UINT32"),
    "uint64": ("TYPE_UINT64", "UINT64"),
    "int8": ("TYPE_INT8", "INT8"),
    "int16": ("TYPE_INT16", "INT16"),
    "int32": ("TYPE_INT32", "INT32"),
    "int64": ("TYPE_INT64", "INT64"),
    "float16": ("TYPE_FP16", "FP16"),
    "float32": ("TYPE_FP32", "FP32"),
    "float64": ("TYPE_FP64", "FP64"),
}

_BY_CONFIGURATION_NAME = {names[0]: dtype for dtype, names in DATA_TYPES.items()}
_BY_PROTOCOL_NAME = {names[1]: dtype for dtype, names in DATA_TYPES.items()}

VARIABLE_DIMENSION = -1
"""The dimension value that accepts any size."""


def data_type_from_configuration_name(name: str, *, source: str | None = None) -> str:
    """The numpy data type name for a Triton configuration name such as ``TYPE_FP32``."""
    if name not in _BY_CONFIGURATION_NAME:
        raise ContractError(
            f"unknown data type {name!r}; expected one of {', '.join(sorted(_BY_CONFIGURATION_NAME))}",
            source=source,
            field="data_type",
        )
    return _BY_CONFIGURATION_NAME[name]


def data_type_from_protocol_name(name: str) -> str:
    """The numpy data type name for an Open Inference Protocol name such as ``FP32``."""
    if name not in _BY_PROTOCOL_NAME:
        raise ContractError(
            f"unknown datatype {name!r}; expected one of {', '.join(sorted(_BY_PROTOCOL_NAME))}",
            field="datatype",
        )
    return _BY_PROTOCOL_NAME[name]


def _shape_matches(expected: Sequence[int], shape: Sequence[int]) -> bool:
    """Whether a concrete shape has the expected rank and every fixed dimension (``-1`` is any size)."""
    return len(shape) == len(expected) and all(
        wanted in (VARIABLE_DIMENSION, actual) for wanted, actual in zip(expected, shape, strict=True)
    )


@dataclass(frozen=True)
class TensorSpecification:
    """The name, data type and shape of one tensor (``-1`` in the shape means any size)."""

    name: str
    """The tensor's name, as the model's inputs and outputs and the dataset's features use it."""
    dtype: str
    """The numpy data type name, one of :data:`DATA_TYPES`."""
    shape: tuple[int, ...]
    """The dimensions; ``-1`` accepts any size."""

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ContractError("a tensor needs a non-empty name", field="name")
        if self.dtype not in DATA_TYPES:
            raise ContractError(
                f"tensor {self.name!r} has unsupported dtype {self.dtype!r}; "
                f"expected one of {', '.join(DATA_TYPES)}",
                field="dtype",
            )
        shape = tuple(self.shape)
        if any(
            isinstance(size, bool) or not isinstance(size, int) or size < VARIABLE_DIMENSION or size == 0
            for size in shape
        ):
            raise ContractError(
                f"tensor {self.name!r} has invalid shape {list(shape)}: every dimension must be a "
                "positive integer or -1 for any size",
                field="shape",
            )
        object.__setattr__(self, "shape", shape)

    @property
    def numpy_dtype(self) -> numpy.dtype:
        """The numpy data type."""
        return numpy.dtype(self.dtype)

    @property
    def configuration_data_type(self) -> str:
        """Triton's ``config.pbtxt`` name of the data type, for example ``TYPE_FP32``."""
        return DATA_TYPES[self.dtype][0]

    @property
    def protocol_data_type(self) -> str:
        """The Open Inference Protocol's name of the data type, for example ``FP32``."""
        return DATA_TYPES[self.dtype][1]

    def accepts_shape(self, shape: Sequence[int]) -> bool:
        """Whether a concrete shape matches this specification (same rank, fixed dimensions equal)."""
        return _shape_matches(self.shape, shape)

    def describe(self) -> str:
        """A short human description such as ``'pixels' float32 [-1, 64]``."""
        return f"{self.name!r} {self.dtype} {list(self.shape)}"

    def check_array(self, array: Any, *, leading: Sequence[int] = ()) -> None:
        """Raise :class:`ContractError` unless ``array`` has this data type and shape.

        ``leading`` are dimensions in front of the specified shape (a dataset's row dimension).
        """
        if not isinstance(array, numpy.ndarray):
            raise ContractError(
                f"tensor {self.name!r} must be a numpy array, found {type(array).__name__}",
                field=self.name,
            )
        if array.dtype != self.numpy_dtype:
            raise ContractError(
                f"tensor {self.name!r} must have dtype {self.dtype}, found {array.dtype}",
                field=self.name,
            )
        # Compared directly: this runs for every input of every request a server answers.
        expected = (*leading, *self.shape)
        if not _shape_matches(expected, array.shape):
            raise ContractError(
                f"tensor {self.name!r} must have shape {list(expected)} (-1 is any size), "
                f"found {list(array.shape)}",
                field=self.name,
            )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}

    @classmethod
    def from_reader(cls, reader: FieldReader) -> TensorSpecification:
        """Parse from a field reader (used by the contracts that contain tensor specifications)."""
        name = reader.required("name", str)
        dtype = reader.required("dtype", str)
        shape = reader.scalars("shape", int)
        try:
            return cls(name, dtype, shape)
        except ContractError as error:
            raise ContractError(error.reason, source=reader.source, field=reader.path(error.field)) from None

    @classmethod
    def from_dict(cls, data: Any, source: str | None = None) -> TensorSpecification:
        """Parse the JSON form, raising :class:`ContractError` that names ``source`` and the field."""
        return cls.from_reader(FieldReader(data, source))
