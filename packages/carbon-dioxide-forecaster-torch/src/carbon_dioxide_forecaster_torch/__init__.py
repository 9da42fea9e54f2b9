"""Carbon dioxide forecaster in PyTorch: the whole model lives in :mod:`carbon_dioxide_forecaster_torch.model`."""

from carbon_dioxide_forecaster_torch.model import (
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
