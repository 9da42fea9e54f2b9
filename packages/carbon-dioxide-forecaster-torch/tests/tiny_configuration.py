"""The tiny configuration the tests train with: the same as the model's TINY_TRAINING_OPTIONS."""

from carbon_dioxide_forecaster_torch import model

TINY = model.Configuration(epochs=2, hidden_size=8, batch_size=128)
