"""Tensor specifications: validation, data type names, shape matching, array checks and the JSON form."""

from __future__ import annotations

import re

import numpy
import pytest

from shared_contracts import (
    DATA_TYPES,
    VARIABLE_DIMENSION,
    ContractError,
    TensorSpecification,
    data_type_from_configuration_name,
    data_type_from_protocol_name,
)


def test_a_specification_keeps_its_fields_and_stores_the_shape_as_a_tuple():
    specification = TensorSpecification("pixels", "float32", [-1, 8, 8])
    assert specification.name == "pixels"
    assert specification.shape == (-1, 8, 8)
    assert specification.numpy_dtype == numpy.dtype(numpy.float32)
    assert specification.configuration_data_type == "TYPE_FP32"
    assert specification.protocol_data_type == "FP32"
    assert specification.describe() == "'pixels' float32 [-1, 8, 8]"
    assert VARIABLE_DIMENSION == -1


@pytest.mark.parametrize("dtype", sorted(DATA_TYPES))
def test_every_data_type_maps_to_triton_and_the_protocol_and_back(dtype):
    specification = TensorSpecification("tensor", dtype, ())
    assert numpy.dtype(dtype) == specification.numpy_dtype
    assert data_type_from_configuration_name(specification.configuration_data_type) == dtype
    assert data_type_from_protocol_name(specification.protocol_data_type) == dtype
    assert specification.configuration_data_type == "TYPE_" + specification.protocol_data_type


def test_an_unknown_configuration_data_type_names_the_file_field_and_the_choices():
    with pytest.raises(ContractError) as caught:
        data_type_from_configuration_name("TYPE_STRING", source="model/config.pbtxt")
    assert caught.value.source == "model/config.pbtxt"
    assert caught.value.field == "data_type"
    assert "unknown data type 'TYPE_STRING'" in str(caught.value)
    assert "TYPE_FP32" in str(caught.value)


def test_an_unknown_protocol_data_type_names_the_field_and_the_choices():
    with pytest.raises(
        ContractError, match=r"field 'datatype': unknown datatype 'BYTES'; expected one of .*FP32"
    ):
        data_type_from_protocol_name("BYTES")


@pytest.mark.parametrize(
    ("name", "dtype", "shape", "field", "message"),
    [
        ("", "float32", (1,), "name", "non-empty name"),
        (3, "float32", (1,), "name", "non-empty name"),
        ("x", "complex64", (1,), "dtype", "unsupported dtype 'complex64'"),
        ("x", "object", (1,), "dtype", "unsupported dtype 'object'"),
        ("x", "float32", (0,), "shape", "invalid shape [0]"),
        ("x", "float32", (-2,), "shape", "invalid shape [-2]"),
        ("x", "float32", (2.0,), "shape", "invalid shape [2.0]"),
        ("x", "float32", (True,), "shape", "invalid shape [True]"),
    ],
)
def test_invalid_specifications_are_refused_naming_the_field(name, dtype, shape, field, message):
    with pytest.raises(ContractError, match=re.escape(message)) as caught:
        TensorSpecification(name, dtype, shape)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("declared", "actual", "accepted"),
    [
        ((-1, 3), (5, 3), True),
        ((-1, 3), (0, 3), True),
        ((-1, -1), (2, 9), True),
        ((2, 3), (2, 3), True),
        ((), (), True),
        ((-1, 3), (5, 4), False),
        ((-1, 3), (5, 3, 1), False),
        ((-1, 3), (5,), False),
        ((), (1,), False),
    ],
)
def test_accepts_shape_compares_rank_and_fixed_dimensions(declared, actual, accepted):
    assert TensorSpecification("x", "int8", declared).accepts_shape(actual) is accepted


def test_check_array_accepts_a_matching_array_with_leading_dimensions():
    specification = TensorSpecification("pixels", "float32", (2, -1))
    specification.check_array(numpy.zeros((2, 5), dtype=numpy.float32))
    specification.check_array(numpy.zeros((7, 2, 5), dtype=numpy.float32), leading=(-1,))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([[1.0, 2.0]], "must be a numpy array, found list"),
        (numpy.zeros((1, 2), dtype=numpy.float64), "must have dtype float32, found float64"),
        (
            numpy.zeros((1, 3), dtype=numpy.float32),
            r"must have shape \[-1, 2\] \(-1 is any size\), found \[1, 3\]",
        ),
        (numpy.zeros((2,), dtype=numpy.float32), r"must have shape \[-1, 2\] .* found \[2\]"),
    ],
)
def test_check_array_names_the_tensor_and_what_was_expected(value, message):
    specification = TensorSpecification("pixels", "float32", (-1, 2))
    with pytest.raises(ContractError, match=message) as caught:
        specification.check_array(value)
    assert caught.value.field == "pixels"
    assert "'pixels'" in caught.value.reason


def test_the_json_form_round_trips():
    specification = TensorSpecification("tokens", "int64", (-1, 128))
    data = specification.to_dict()
    assert data == {"name": "tokens", "dtype": "int64", "shape": [-1, 128]}
    assert TensorSpecification.from_dict(data) == specification


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"dtype": "int64", "shape": []}, "name", "is missing"),
        ({"name": "x", "shape": []}, "dtype", "is missing"),
        ({"name": "x", "dtype": "int64"}, "shape", "is missing"),
        ({"name": "x", "dtype": 64, "shape": []}, "dtype", "must be a string, found 64"),
        ({"name": "x", "dtype": "int64", "shape": "3"}, "shape", "must be a list"),
        ({"name": "x", "dtype": "int64", "shape": [3, "4"]}, "shape[1]", "must be an integer, found '4'"),
        ({"name": "x", "dtype": "int64", "shape": [1.5]}, "shape[0]", "must be an integer, found 1.5"),
        ({"name": "x", "dtype": "int65", "shape": []}, "dtype", "unsupported dtype 'int65'"),
        ({"name": "x", "dtype": "int64", "shape": [0]}, "shape", "invalid shape"),
        ({"name": "", "dtype": "int64", "shape": []}, "name", "non-empty name"),
    ],
)
def test_from_dict_refuses_bad_fields_naming_the_file_and_the_field(data, field, message):
    with pytest.raises(ContractError, match=re.escape(message)) as caught:
        TensorSpecification.from_dict(data, source="artifact.json")
    assert caught.value.source == "artifact.json"
    assert caught.value.field == field
    assert str(caught.value).startswith(f"artifact.json, field '{field}': ")


def test_from_dict_refuses_something_that_is_not_an_object():
    with pytest.raises(ContractError, match="expected a JSON object, found list") as caught:
        TensorSpecification.from_dict(["x", "int64", []], source="artifact.json")
    assert caught.value.field is None
