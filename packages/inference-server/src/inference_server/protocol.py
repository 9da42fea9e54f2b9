"""The Open Inference Protocol's inference request and response bodies, JSON and binary.

A request is a JSON object (``id``, ``parameters``, ``inputs``, ``outputs``). With the binary tensor data
extension the JSON object is followed by raw tensor bytes: the ``Inference-Header-Content-Length`` header
says how long the JSON part is, and each input with ``"parameters": {"binary_data_size": N}`` takes the next
``N`` bytes, in the order the inputs are listed. A response is built the same way: outputs asked for with
``"binary_data": true`` (or every output, with the request parameter ``"binary_data_output": true``) carry
``binary_data_size`` instead of ``data`` and their bytes follow the JSON part.

Parsing knows nothing of the model; :func:`decode_input` then checks one input against the model's tensor
specification. Every rejection is a :class:`~inference_server.errors.ProtocolError` with status 400 that
names the tensor and says what was expected, so a malformed body can never reach ONNX Runtime.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy
import orjson

from inference_server.errors import bad_request
from shared_contracts import ContractError, TensorSpecification, data_type_from_protocol_name

BINARY_DATA_SIZE = "binary_data_size"
"""The input and output parameter that says how many bytes of binary tensor data belong to the tensor."""

_FLOAT_KINDS = "fiu"
_INTEGER_KINDS = "iu"
_KIND_DESCRIPTIONS = {
    "b": "true or false",
    "i": "integers",
    "u": "integers",
    "f": "numbers",
    "U": "strings",
    "O": "mixed or nested values",
}


@dataclass(slots=True)
class RequestedInput:
    """One input tensor of a request, as the client sent it (not yet checked against the model)."""

    name: str
    """The input's name."""
    datatype: str
    """The protocol's datatype name, for example ``FP32``."""
    shape: tuple[int, ...]
    """The shape the client declared."""
    data: Any
    """The JSON ``data`` value (flat or nested list), or ``None`` when the tensor came as binary data."""
    binary: memoryview | None
    """The tensor's bytes from the binary part of the body, or ``None`` for JSON data."""


@dataclass(slots=True)
class RequestedOutput:
    """One output a request asked for, and in which form."""

    name: str
    """The output's name."""
    binary: bool | None
    """``True`` for binary data, ``False`` for JSON, ``None`` to follow the request's default."""
    classification: int
    """With the classification extension: how many top classes to return; 0 for the raw tensor."""


@dataclass(slots=True)
class InferenceRequest:
    """A parsed inference request body."""

    identifier: str | None
    """The request's ``id``, echoed in the response."""
    inputs: list[RequestedInput]
    """The input tensors, in the order they were sent."""
    outputs: list[RequestedOutput] | None
    """The outputs asked for, or ``None`` for every output of the model."""
    binary_output: bool
    """The request parameter ``binary_data_output``: outputs default to binary data."""
    timeout_seconds: float | None
    """The request parameter ``timeout`` (microseconds in the protocol), in seconds; ``None`` if not set.

    Other parameters (``priority``, custom ones, and the sequence parameters, which a model that is not a
    sequence model ignores, as in Triton) are accepted and not used."""


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request(f"{what} must be a JSON object, found {_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _string(container: dict[str, Any], key: str, what: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value:
        raise bad_request(f"{what} needs '{key}' as a non-empty string, found {_json_type(value)}")
    return value


def _whole_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_header_length(value: bytes | None, body_length: int) -> int | None:
    """The ``Inference-Header-Content-Length`` header as a number, checked against the body's length."""
    if value is None:
        return None
    text = value.strip()
    if not text.isdigit():  # bytes.isdigit accepts the ASCII digits only
        raise bad_request(
            "the Inference-Header-Content-Length header must be a whole number of bytes, "
            f"found {text.decode('latin-1')!r}"
        )
    length = int(text)
    if length > body_length:
        raise bad_request(
            f"the Inference-Header-Content-Length header says the JSON part has {length} bytes, "
            f"but the whole body has only {body_length}; the body is truncated"
        )
    return length


def parse_inference_request(body: bytes, header_length: int | None) -> InferenceRequest:
    """Parse an inference request body; ``header_length`` is the JSON part's length for binary data."""
    view = memoryview(body)
    if header_length is None:
        json_part, binary_part = view, view[len(view) :]
    else:
        json_part, binary_part = view[:header_length], view[header_length:]
    try:
        document = orjson.loads(json_part)
    except orjson.JSONDecodeError as error:
        raise bad_request(
            f"the request body is not valid JSON ({error}); send an inference request object, with "
            "the Inference-Header-Content-Length header when binary tensor data follows it"
        ) from None
    document = _object(document, "the inference request")
    identifier = document.get("id")
    if identifier is not None and not isinstance(identifier, str):
        raise bad_request(f"the request 'id' must be a string, found {_json_type(identifier)}")
    binary_output, timeout_seconds = _request_parameters(document.get("parameters"))
    inputs = _inputs(document.get("inputs"), binary_part, header_length)
    return InferenceRequest(
        identifier=identifier,
        inputs=inputs,
        outputs=_outputs(document.get("outputs")),
        binary_output=binary_output,
        timeout_seconds=timeout_seconds,
    )


def _request_parameters(value: Any) -> tuple[bool, float | None]:
    if value is None:
        return False, None
    parameters = _object(value, "the request 'parameters'")
    binary_output = parameters.get("binary_data_output", False)
    if not isinstance(binary_output, bool):
        raise bad_request(
            "the request parameter 'binary_data_output' must be true or false, "
            f"found {_json_type(binary_output)}"
        )
    timeout = parameters.get("timeout")
    if timeout is not None and (not _whole_number(timeout) or timeout < 0):
        raise bad_request(
            "the request parameter 'timeout' must be a whole number of microseconds (0 for none), "
            f"found {timeout!r}"
        )
    return binary_output, (timeout / 1_000_000 if timeout else None)


def _inputs(value: Any, binary_part: memoryview, header_length: int | None) -> list[RequestedInput]:
    if not isinstance(value, list) or not value:
        raise bad_request(
            f"the inference request needs 'inputs' as a non-empty list of tensors, found {_json_type(value)}"
        )
    inputs = []
    offset = 0
    seen = set()
    for index, item in enumerate(value):
        tensor = _object(item, f"inputs[{index}]")
        name = _string(tensor, "name", f"inputs[{index}]")
        if name in seen:
            raise bad_request(f"input {name!r} is given more than once")
        seen.add(name)
        datatype = _string(tensor, "datatype", f"input {name!r}")
        shape = tensor.get("shape")
        if not isinstance(shape, list) or not all(_whole_number(size) and size >= 0 for size in shape):
            raise bad_request(
                f"input {name!r} needs 'shape' as a list of whole numbers of 0 or more, found {shape!r}"
            )
        parameters = _object(tensor.get("parameters", {}), f"the parameters of input {name!r}")
        if "shared_memory_region" in parameters:
            raise bad_request(
                f"input {name!r} asks for shared memory, which this server does not support; send the "
                "tensor as JSON data or binary data"
            )
        size = parameters.get(BINARY_DATA_SIZE)
        data = tensor.get("data")
        binary = None
        if size is not None:
            if not _whole_number(size) or size < 0:
                raise bad_request(
                    f"input {name!r} has '{BINARY_DATA_SIZE}' {size!r}; it must be a whole number of bytes"
                )
            if data is not None:
                raise bad_request(
                    f"input {name!r} has both 'data' and '{BINARY_DATA_SIZE}'; send one of them"
                )
            if header_length is None:
                raise bad_request(
                    f"input {name!r} has '{BINARY_DATA_SIZE}', but the request has no "
                    "Inference-Header-Content-Length header saying where the JSON part ends"
                )
            if offset + size > len(binary_part):
                raise bad_request(
                    f"input {name!r} needs {size} bytes of binary data at offset {offset}, but the body has "
                    f"only {len(binary_part)} bytes after the JSON part; the body is truncated"
                )
            binary = binary_part[offset : offset + size]
            offset += size
        elif data is None:
            raise bad_request(f"input {name!r} has neither 'data' nor '{BINARY_DATA_SIZE}'")
        inputs.append(RequestedInput(name, datatype, tuple(shape), data, binary))
    if offset != len(binary_part):
        raise bad_request(
            f"the body has {len(binary_part) - offset} bytes after the binary data of the inputs; check the "
            f"Inference-Header-Content-Length header and every input's '{BINARY_DATA_SIZE}'"
        )
    return inputs


def _outputs(value: Any) -> list[RequestedOutput] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise bad_request(f"the request 'outputs' must be a list, found {_json_type(value)}")
    outputs = []
    seen = set()
    for index, item in enumerate(value):
        tensor = _object(item, f"outputs[{index}]")
        name = _string(tensor, "name", f"outputs[{index}]")
        if name in seen:
            raise bad_request(f"output {name!r} is asked for more than once")
        seen.add(name)
        parameters = _object(tensor.get("parameters", {}), f"the parameters of output {name!r}")
        if "shared_memory_region" in parameters:
            raise bad_request(
                f"output {name!r} asks for shared memory, which this server does not support; ask for "
                "JSON data or binary data"
            )
        binary = parameters.get("binary_data")
        if binary is not None and not isinstance(binary, bool):
            raise bad_request(
                f"the parameter 'binary_data' of output {name!r} must be true or false, found {binary!r}"
            )
        classification = parameters.get("classification", 0)
        if not _whole_number(classification) or classification < 0:
            raise bad_request(
                f"the parameter 'classification' of output {name!r} must be a whole number of classes, "
                f"found {classification!r}"
            )
        outputs.append(RequestedOutput(name, binary, classification))
    return outputs


def decode_input(
    requested: RequestedInput, specification: TensorSpecification, model_name: str
) -> numpy.ndarray:
    """The input's values as an array of the model's data type, in the shape the client declared.

    Checks the datatype against the model's and the number of elements (or bytes) against the declared
    shape; the shape itself is checked against the model by the caller with the contracts' validation.
    """
    try:
        dtype_name = data_type_from_protocol_name(requested.datatype)
    except ContractError as error:
        raise bad_request(f"input {requested.name!r}: {error.reason}") from None
    if dtype_name != specification.dtype:
        raise bad_request(
            f"input {requested.name!r} has datatype {requested.datatype}, but model {model_name!r} expects "
            f"{specification.protocol_data_type}"
        )
    dtype = specification.numpy_dtype
    count = math.prod(requested.shape)
    if requested.binary is not None:
        expected = count * dtype.itemsize
        if len(requested.binary) != expected:
            raise bad_request(
                f"input {requested.name!r} has {len(requested.binary)} bytes of binary data, but shape "
                f"{list(requested.shape)} of {requested.datatype} needs {expected}"
            )
        return numpy.frombuffer(requested.binary, dtype=dtype).reshape(requested.shape)
    return _array_from_json(requested, dtype, count)


def _array_from_json(requested: RequestedInput, dtype: numpy.dtype, count: int) -> numpy.ndarray:
    name = requested.name
    try:
        values = numpy.asarray(requested.data)
    except (ValueError, TypeError, OverflowError) as error:
        raise bad_request(
            f"the data of input {name!r} is not a flat or evenly nested list of numbers ({error})"
        ) from None
    kind = values.dtype.kind
    if kind == "f" and dtype.kind in _INTEGER_KINDS:
        values = _large_integers(requested, values)
        kind = values.dtype.kind
    allowed = "b" if dtype.kind == "b" else _INTEGER_KINDS if dtype.kind in _INTEGER_KINDS else _FLOAT_KINDS
    if kind not in allowed:
        expected = _KIND_DESCRIPTIONS[dtype.kind]
        found = _KIND_DESCRIPTIONS.get(kind, "other values")
        raise bad_request(
            f"the data of input {name!r} must be {expected} for {requested.datatype}, found {found}"
        )
    if values.size != count:
        raise bad_request(
            f"input {name!r} has {values.size} values in 'data', but shape {list(requested.shape)} "
            f"needs {count}"
        )
    if values.ndim != 1 and values.shape != requested.shape:
        raise bad_request(
            f"the data of input {name!r} is nested as {list(values.shape)}; send it flat or nested as the "
            f"shape {list(requested.shape)}"
        )
    if dtype.kind in _INTEGER_KINDS and values.size:
        limits = numpy.iinfo(dtype)
        smallest, largest = int(values.min()), int(values.max())
        if smallest < limits.min or largest > limits.max:
            raise bad_request(
                f"the data of input {name!r} holds values from {smallest} to {largest}, outside the range "
                f"of {requested.datatype} ({limits.min} to {limits.max})"
            )
    return values.astype(dtype, copy=False).reshape(requested.shape)


def _large_integers(requested: RequestedInput, values: numpy.ndarray) -> numpy.ndarray:
    """Whole numbers that numpy read as floats because one is above the int64 range (UINT64 data).

    Returns them as uint64 when every value is a whole number that fits; otherwise the float array, which
    the caller then rejects.
    """
    objects = numpy.asarray(requested.data, dtype=object)
    if not all(type(value) is int for value in objects.flat):
        return values
    try:
        return objects.astype(numpy.uint64)
    except OverflowError:
        raise bad_request(
            f"the data of input {requested.name!r} holds whole numbers outside the range of {requested.datatype}"
        ) from None


@dataclass(slots=True)
class ResponseOutput:
    """One output tensor of a response, ready to be written as JSON data or binary data."""

    name: str
    """The output's name."""
    datatype: str
    """The protocol's datatype name (``BYTES`` for classification results)."""
    array: numpy.ndarray | list[bytes]
    """The values: an array, or for classification results the encoded strings in row-major order."""
    shape: tuple[int, ...]
    """The tensor's shape."""
    binary: bool
    """Whether the values go into the binary part of the body."""


def encode_response(
    model_name: str, model_version: str, identifier: str | None, outputs: list[ResponseOutput]
) -> tuple[bytes, int | None]:
    """The response body and, when any output is binary, the length of its JSON part."""
    buffers = []
    tensors = []
    for output in outputs:
        tensor: dict[str, Any] = {
            "name": output.name,
            "datatype": output.datatype,
            "shape": list(output.shape),
        }
        if isinstance(output.array, list):
            if output.binary:
                encoded = b"".join(struct.pack("<I", len(item)) + item for item in output.array)
                tensor["parameters"] = {BINARY_DATA_SIZE: len(encoded)}
                buffers.append(encoded)
            else:
                tensor["data"] = [item.decode("utf-8") for item in output.array]
        elif output.binary:
            encoded = numpy.ascontiguousarray(output.array).tobytes()
            tensor["parameters"] = {BINARY_DATA_SIZE: len(encoded)}
            buffers.append(encoded)
        else:
            array = output.array
            if array.dtype == numpy.float16:
                array = array.astype(numpy.float32)
            tensor["data"] = array.ravel()
        tensors.append(tensor)
    response: dict[str, Any] = {"model_name": model_name, "model_version": model_version}
    if identifier is not None:
        response["id"] = identifier
    response["outputs"] = tensors
    header = orjson.dumps(response, option=orjson.OPT_SERIALIZE_NUMPY)
    if not buffers:
        return header, None
    return b"".join([header, *buffers]), len(header)


def classify(
    array: numpy.ndarray, count: int, batched: bool, labels: tuple[str, ...]
) -> tuple[list[bytes], tuple[int, ...]]:
    """The classification extension: the top ``count`` classes of each row as ``value:index[:label]``.

    The classes are every element of a row (of the whole tensor when the model has no batch dimension).
    Labels are added when there is one per class. Returns the encoded strings and the result's shape.
    """
    rows = array.reshape(array.shape[0] if batched else 1, -1)
    classes = rows.shape[1]
    count = min(count, classes)
    with_labels = len(labels) == classes
    floating = rows.dtype.kind == "f"
    results = []
    for row in rows:
        for index in numpy.argsort(-row.astype(numpy.float64), kind="stable")[:count]:
            value = f"{row[index]:f}" if floating else str(row[index])
            text = f"{value}:{index}:{labels[index]}" if with_labels else f"{value}:{index}"
            results.append(text.encode("utf-8"))
    shape = (rows.shape[0], count) if batched else (count,)
    return results, shape
