"""The tiny configuration the tests train with: the same as the model's TINY_TRAINING_OPTIONS."""

from digits_classifier_jax import model

TINY = model.Configuration(epochs=2, channels=4, hidden_size=16, batch_size=64)
