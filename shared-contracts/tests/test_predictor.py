"""The Predictor protocol and validate_inputs, with a tiny real predictor."""

from __future__ import annotations

from collections.abc import Mapping

import numpy
import pytest

from shared_contracts import ContractError, Predictor, TensorSpecification, validate_inputs

FEATURES = TensorSpecification("features", "float32", (-1, 3))
MASK = TensorSpecification("mask", "bool", (-1,))
SCORES = TensorSpecification("scores", "float32", (-1,))


class WeightedSum:
    """A real predictor: a weighted sum of the features where the mask is set."""

    def __init__(self, weights: numpy.ndarray, max_batch_size: int | None = None) -> None:
        self.weights = weights
        self.max_batch_size = max_batch_size

    @property
    def input_specifications(self) -> tuple[TensorSpecification, ...]:
        return (FEATURES, MASK)

    @property
    def output_specifications(self) -> tuple[TensorSpecification, ...]:
        return (SCORES,)

    def predict(self, inputs: Mapping[str, numpy.ndarray]) -> dict[str, numpy.ndarray]:
        validate_inputs(self.input_specifications, inputs, max_batch_size=self.max_batch_size)
        scores = (inputs["features"] @ self.weights) * inputs["mask"]
        return {"scores": scores.astype(numpy.float32)}


class NotAPredictor:
    """Has predict but no specifications."""

    def predict(self, inputs):
        return inputs


def batch(size: int) -> dict[str, numpy.ndarray]:
    return {
        "features": numpy.arange(size * 3, dtype=numpy.float32).reshape(size, 3),
        "mask": numpy.arange(size) % 2 == 0,
    }


def test_a_class_with_specifications_and_predict_is_a_predictor():
    predictor = WeightedSum(numpy.array([1.0, 0.0, -1.0], dtype=numpy.float32))
    assert isinstance(predictor, Predictor)
    assert not isinstance(NotAPredictor(), Predictor)


def test_a_predictor_maps_named_inputs_to_outputs_that_match_its_specifications():
    predictor: Predictor = WeightedSum(numpy.array([1.0, 0.0, -1.0], dtype=numpy.float32))
    outputs = predictor.predict(batch(3))
    # rows [0,1,2], [3,4,5], [6,7,8] give -2 each; the mask keeps rows 0 and 2.
    numpy.testing.assert_array_equal(outputs["scores"], numpy.array([-2.0, 0.0, -2.0], dtype=numpy.float32))
    assert validate_inputs(predictor.output_specifications, outputs) == 3


def test_validate_inputs_returns_the_batch_size():
    assert validate_inputs((FEATURES, MASK), batch(4)) == 4
    assert validate_inputs((FEATURES, MASK), batch(4), max_batch_size=4) == 4
    assert validate_inputs((FEATURES, MASK), batch(0)) == 0


def test_a_scalar_input_is_a_batch_of_one():
    scale = TensorSpecification("scale", "float64", ())
    assert validate_inputs((scale,), {"scale": numpy.array(2.0)}) == 1


@pytest.mark.parametrize("limit", [None, 0])
def test_no_limit_or_zero_means_any_batch_size(limit):
    # 0 is Triton's max_batch_size of a model without a batch dimension: it is not a limit of zero.
    assert validate_inputs((FEATURES, MASK), batch(9), max_batch_size=limit) == 9


def test_a_batch_above_the_maximum_is_refused():
    predictor = WeightedSum(numpy.ones(3, dtype=numpy.float32), max_batch_size=2)
    with pytest.raises(ContractError, match="batch size 3 is above the model's maximum of 2"):
        predictor.predict(batch(3))


def test_a_missing_input_is_named_with_the_expected_ones():
    with pytest.raises(ContractError, match=r"missing input 'mask'; expected \['features', 'mask'\]"):
        validate_inputs((FEATURES, MASK), {"features": batch(1)["features"]})


def test_an_unexpected_input_is_named():
    inputs = {**batch(1), "extra": numpy.zeros(1), "another": numpy.zeros(1)}
    with pytest.raises(ContractError, match=r"unexpected input 'another', 'extra'; expected"):
        validate_inputs((FEATURES, MASK), inputs)


def test_a_wrong_dtype_names_the_tensor():
    inputs = {**batch(2), "features": numpy.zeros((2, 3), dtype=numpy.float64)}
    with pytest.raises(ContractError, match="'features' must have dtype float32, found float64") as caught:
        validate_inputs((FEATURES, MASK), inputs)
    assert caught.value.field == "features"


def test_a_wrong_shape_names_the_tensor():
    inputs = {**batch(2), "features": numpy.zeros((2, 4), dtype=numpy.float32)}
    with pytest.raises(ContractError, match=r"'features' must have shape \[-1, 3\]"):
        validate_inputs((FEATURES, MASK), inputs)


def test_a_value_that_is_not_an_array_names_the_tensor():
    inputs = {**batch(2), "mask": [True, False]}
    with pytest.raises(ContractError, match="'mask' must be a numpy array, found list"):
        validate_inputs((FEATURES, MASK), inputs)


def test_inputs_with_different_batch_sizes_are_refused():
    inputs = {"features": batch(2)["features"], "mask": batch(3)["mask"]}
    with pytest.raises(ContractError, match=r"same batch size, found \[2, 3\]"):
        validate_inputs((FEATURES, MASK), inputs)


def test_validating_against_no_specification_is_refused():
    with pytest.raises(ContractError, match="at least one input specification"):
        validate_inputs((), {})
