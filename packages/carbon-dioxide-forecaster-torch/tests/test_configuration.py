import dataclasses

import pytest
from carbon_dioxide_forecaster_torch import model


# Copied from digits-classifier-torch:tests.test_configuration.test_defaults_are_valid_and_round_trip
def test_defaults_are_valid_and_round_trip():
    configuration = model.Configuration()
    assert model.Configuration.from_dict(configuration.to_dict()) == configuration
    assert configuration.sha256() == model.Configuration().sha256()
    assert configuration.sha256() != dataclasses.replace(configuration, seed=1).sha256()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"epochs": 0}, "epochs must be at least 1"),
        ({"batch_size": 0}, "batch_size must be at least 1"),
        ({"hidden_size": -3}, "hidden_size must be at least 1"),
        ({"threads": 0}, "threads must be at least 1"),
        ({"learning_rate": 0.0}, "learning_rate must be positive"),
        ({"weight_decay": -0.1}, "weight_decay must be 0 or more"),
        ({"dropout": 1.0}, "dropout must be in [0, 1)"),
        ({"dropout": -0.1}, "dropout must be in [0, 1)"),
    ],
)
def test_invalid_values_are_refused_with_the_field_name(changes, message):
    with pytest.raises(model.ZooError, match=message.replace("[", r"\[").replace(")", r"\)")):
        model.Configuration(**changes)


# Copied from digits-classifier-torch:tests.test_configuration.test_from_dict_converts_integers_to_floats_for_float_fields
def test_from_dict_converts_integers_to_floats_for_float_fields():
    configuration = model.Configuration.from_dict({"learning_rate": 1, "epochs": 3})
    assert configuration.learning_rate == 1.0
    assert isinstance(configuration.learning_rate, float)
    assert configuration.epochs == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"learning_rte": 0.1}, "unknown field"),
        ({"channels": 16}, "unknown field"),  # a field of the digits model this one was copied from
        ({"epochs": 2.5}, "epochs must be int"),
        ({"epochs": True}, "epochs must be int"),
        ({"dropout": "0.1"}, "dropout must be float"),
    ],
)
def test_from_dict_refuses_unknown_fields_and_wrong_types(data, message):
    with pytest.raises(model.ZooError, match=message):
        model.Configuration.from_dict(data)


# Copied from digits-classifier-torch:tests.test_configuration.test_every_field_has_documentation_for_help
def test_every_field_has_documentation_for_help():
    documentation = model.field_documentation(model.Configuration)
    assert set(documentation) == {field.name for field in dataclasses.fields(model.Configuration)}
    assert all(len(text) > 10 for text in documentation.values())
    assert "AdamW" in documentation["learning_rate"]
