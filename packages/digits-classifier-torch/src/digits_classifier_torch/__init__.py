"""Digits classifier in PyTorch: the whole model lives in :mod:`digits_classifier_torch.model`."""

from digits_classifier_torch.model import (
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
