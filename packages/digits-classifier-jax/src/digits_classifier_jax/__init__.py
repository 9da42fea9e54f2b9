"""Digits classifier in JAX (Flax NNX, Optax, jax2onnx): the whole model lives in :mod:`digits_classifier_jax.model`."""

from digits_classifier_jax.model import (
    MODEL_NAME,
    TINY_TRAINING_OPTIONS,
    Configuration,
    load_native_predictor,
    load_onnx_predictor,
    main,
)

__all__ = [
    "MODEL_NAME",
    "TINY_TRAINING_OPTIONS",
    "Configuration",
    "load_native_predictor",
    "load_onnx_predictor",
    "main",
]
