"""The predictor boundary: ``predict(inputs) -> outputs`` over named numpy arrays.

Both predictors of a model (the framework's native one and the ONNX Runtime one) satisfy the same
:class:`Predictor` protocol with the tensor specifications of the artifact manifest, so a caller, a test or
the server can use either without knowing which it holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import numpy

from shared_contracts.errors import ContractError
from shared_contracts.tensors import TensorSpecification


@runtime_checkable
class Predictor(Protocol):
    """Anything that maps named input arrays to named output arrays under stated specifications."""

    @property
    def input_specifications(self) -> tuple[TensorSpecification, ...]:
        """The inputs ``predict`` takes, with the batch dimension -1 first."""
        ...  # pragma: no cover - a protocol has no body

    @property
    def output_specifications(self) -> tuple[TensorSpecification, ...]:
        """The outputs ``predict`` returns, with the batch dimension -1 first."""
        ...  # pragma: no cover - a protocol has no body

    def predict(self, inputs: Mapping[str, numpy.ndarray]) -> dict[str, numpy.ndarray]:
        """Run the model on one batch of inputs."""
        ...  # pragma: no cover - a protocol has no body


def validate_inputs(
    specifications: tuple[TensorSpecification, ...],
    inputs: Mapping[str, object],
    *,
    max_batch_size: int | None = None,
) -> int:
    """Check named inputs against their specifications before a model sees them; returns the batch size.

    Raises :class:`ContractError` naming the tensor and what was expected for: a missing or unexpected
    name, a value that is not an array, a wrong dtype, a wrong shape, batch sizes that differ between
    inputs, or a batch larger than ``max_batch_size``. A ``max_batch_size`` of ``None`` or ``0`` sets no
    limit (0 is Triton's value for a model without a batch dimension). A scalar input counts as a batch of
    one.
    """
    if not specifications:
        raise ContractError("a model needs at least one input specification to validate inputs against")
    expected = {specification.name for specification in specifications}
    missing = sorted(expected - set(inputs))
    if missing:
        raise ContractError(f"missing input {', '.join(map(repr, missing))}; expected {sorted(expected)}")
    unexpected = sorted(set(inputs) - expected)
    if unexpected:
        raise ContractError(
            f"unexpected input {', '.join(map(repr, unexpected))}; expected {sorted(expected)}"
        )
    batch_sizes = set()
    for specification in specifications:
        array = inputs[specification.name]
        specification.check_array(array)
        batch_sizes.add(array.shape[0] if array.ndim else 1)
    if len(batch_sizes) > 1:
        raise ContractError(f"all inputs must have the same batch size, found {sorted(batch_sizes)}")
    batch_size = batch_sizes.pop()
    if max_batch_size and batch_size > max_batch_size:
        raise ContractError(f"batch size {batch_size} is above the model's maximum of {max_batch_size}")
    return batch_size
