"""Triton's config.pbtxt: writing, reading, and agreement with Triton's own schema and text format.

``tritonclient`` (a test dependency) carries Triton's compiled ``model_config.proto`` and protocol buffers'
own text format: what this package writes must parse there, and what protocol buffers writes (the style of
Triton's files) must parse here.
"""

from __future__ import annotations

import re

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from shared_contracts import (
    MODEL_CONFIGURATION_FILE_NAME,
    ContractError,
    DynamicBatching,
    ModelConfiguration,
    TensorSpecification,
    VersionPolicy,
    parse_text_format,
)
from shared_contracts.model_configuration import Enumeration

PIXELS = TensorSpecification("pixels", "float32", (-1, 8, 8))
LOGITS = TensorSpecification("logits", "float32", (-1, 10))
LABEL = TensorSpecification("label", "int64", (-1,))
AWKWARD = 'quote " backslash \\ newline \n tab \t bell \a delete \x7f accent é'


def batched(**changes) -> ModelConfiguration:
    values = {
        "name": "digits",
        "inputs": (PIXELS,),
        "outputs": (LOGITS, LABEL),
        "max_batch_size": 64,
        "dynamic_batching": DynamicBatching(max_queue_delay_microseconds=500, preferred_batch_size=(8, 16)),
        "version_policy": VersionPolicy("latest", count=2),
        "instance_count": 2,
        "parameters": {"intra_op_thread_count": "1", "awkward": AWKWARD},
    }
    values.update(changes)
    return ModelConfiguration(**values)


def unbatched(**changes) -> ModelConfiguration:
    values = {
        "name": "forecaster",
        "inputs": (TensorSpecification("history", "float64", (24, 3)),),
        "outputs": (TensorSpecification("forecast", "float64", (-1,)),),
        "platform": "onnxruntime_onnx",
        "version_policy": VersionPolicy("all"),
    }
    values.update(changes)
    return ModelConfiguration(**values)


# ----------------------------------------------------------------------------------------------------------
# Writing and reading back


@pytest.mark.parametrize(
    "configuration",
    [
        batched(),
        batched(dynamic_batching=DynamicBatching()),
        batched(dynamic_batching=None, parameters={}),
        batched(version_policy=VersionPolicy("specific", versions=(1, 3))),
        batched(version_policy=VersionPolicy("specific")),
        unbatched(),
        unbatched(name=AWKWARD, backend="python", platform=None),
        unbatched(inputs=(TensorSpecification("scale", "bool", ()),)),
    ],
    ids=[
        "batched",
        "default-batching",
        "no-batching-no-parameters",
        "specific-versions",
        "no-specific-version",
        "unbatched",
        "awkward-name",
        "scalar-input",
    ],
)
def test_to_text_and_from_text_round_trip(configuration):
    assert ModelConfiguration.from_text(configuration.to_text()) == configuration


def test_the_written_text_leaves_the_batch_dimension_out_of_dims():
    text = batched().to_text()
    assert 'name: "pixels"\n    data_type: TYPE_FP32\n    dims: [ 8, 8 ]' in text
    assert 'name: "label"\n    data_type: TYPE_INT64\n    dims: [ ]' in text
    assert "max_batch_size: 64\n" in text
    assert 'backend: "onnxruntime"' in text
    assert 'platform: "onnxruntime_onnx"' in unbatched().to_text()
    assert "dims: [ 24, 3 ]" in unbatched().to_text()


def test_save_and_load_round_trip(tmp_path):
    configuration = batched()
    path = configuration.save(tmp_path / "digits" / MODEL_CONFIGURATION_FILE_NAME)
    assert path.read_text(encoding="utf-8") == configuration.to_text()
    assert ModelConfiguration.load(path) == configuration
    assert ModelConfiguration.load(str(path)) == configuration


def test_a_file_that_names_no_model_takes_its_folder_name(tmp_path):
    path = tmp_path / "folder-name" / MODEL_CONFIGURATION_FILE_NAME
    path.parent.mkdir()
    path.write_text(batched().to_text().replace('name: "digits"\n', ""))
    assert ModelConfiguration.load(path).name == "folder-name"


def test_text_without_a_name_and_no_default_is_refused():
    text = batched().to_text().replace('name: "digits"\n', "")
    with pytest.raises(ContractError, match="field 'name': is missing"):
        ModelConfiguration.from_text(text, "config.pbtxt")


def test_a_missing_unreadable_or_binary_file_is_refused_naming_it(tmp_path):
    path = tmp_path / MODEL_CONFIGURATION_FILE_NAME
    with pytest.raises(ContractError, match="the model configuration does not exist") as caught:
        ModelConfiguration.load(path)
    assert caught.value.source == str(path)
    path.write_bytes(b'name: "\xff"')
    with pytest.raises(ContractError, match="the model configuration cannot be read"):
        ModelConfiguration.load(path)
    with pytest.raises(ContractError, match="the model configuration cannot be read"):
        ModelConfiguration.load(tmp_path)


def test_a_failed_save_leaves_the_previous_file(tmp_path):
    path = batched().save(tmp_path / MODEL_CONFIGURATION_FILE_NAME)
    before = path.read_bytes()
    (tmp_path / "blocked").mkdir()
    (tmp_path / "blocked" / "inside").write_text("")
    with pytest.raises(IsADirectoryError):
        unbatched().save(tmp_path / "blocked")
    assert path.read_bytes() == before
    assert sorted(each.name for each in tmp_path.iterdir()) == ["blocked", MODEL_CONFIGURATION_FILE_NAME]


# ----------------------------------------------------------------------------------------------------------
# Agreement with Triton's own schema and protocol buffers' own text format


def parse_with_triton(text: str) -> model_config_pb2.ModelConfig:
    return text_format.Parse(text, model_config_pb2.ModelConfig())


def test_the_written_text_is_a_valid_triton_model_configuration():
    parsed = parse_with_triton(batched().to_text())
    assert parsed.name == "digits"
    assert parsed.backend == "onnxruntime"
    assert parsed.max_batch_size == 64
    assert [(each.name, list(each.dims)) for each in parsed.input] == [("pixels", [8, 8])]
    assert [(each.name, list(each.dims)) for each in parsed.output] == [("logits", [10]), ("label", [])]
    assert model_config_pb2.DataType.Name(parsed.output[1].data_type) == "TYPE_INT64"
    assert parsed.version_policy.WhichOneof("policy_choice") == "latest"
    assert parsed.version_policy.latest.num_versions == 2
    assert [(group.count, group.kind) for group in parsed.instance_group] == [
        (2, model_config_pb2.ModelInstanceGroup.KIND_CPU)
    ]
    assert list(parsed.dynamic_batching.preferred_batch_size) == [8, 16]
    assert parsed.dynamic_batching.max_queue_delay_microseconds == 500
    assert {key: value.string_value for key, value in parsed.parameters.items()} == {
        "intra_op_thread_count": "1",
        "awkward": AWKWARD,
    }


@pytest.mark.parametrize(
    ("policy", "choice"),
    [(VersionPolicy("all"), "all"), (VersionPolicy("specific", versions=(2, 5)), "specific")],
)
def test_every_version_policy_is_valid_for_triton(policy, choice):
    parsed = parse_with_triton(unbatched(version_policy=policy, name=AWKWARD).to_text())
    assert parsed.version_policy.WhichOneof("policy_choice") == choice
    assert list(parsed.version_policy.specific.versions) == list(policy.versions)
    assert parsed.name == AWKWARD
    assert parsed.platform == "onnxruntime_onnx"
    assert [list(each.dims) for each in parsed.input] == [[24, 3]]


def triton_configuration() -> model_config_pb2.ModelConfig:
    """A configuration as Triton holds it, with fields this package reads and fields it does not."""
    message = model_config_pb2.ModelConfig(name="densenet", platform="onnxruntime_onnx", max_batch_size=8)
    message.input.add(
        name="data_0",
        data_type=model_config_pb2.TYPE_FP32,
        format=model_config_pb2.ModelInput.FORMAT_NCHW,
        dims=[3, 4, 4],
    )
    message.output.add(
        name="fc6_1", data_type=model_config_pb2.TYPE_FP16, dims=[10], label_filename="labels.txt"
    )
    message.output.add(name="index", data_type=model_config_pb2.TYPE_UINT16, dims=[1])
    message.version_policy.specific.versions.extend([1, 4])
    message.instance_group.add(count=2, kind=model_config_pb2.ModelInstanceGroup.KIND_GPU, gpus=[0, 1])
    message.instance_group.add(count=1, kind=model_config_pb2.ModelInstanceGroup.KIND_CPU)
    message.dynamic_batching.preferred_batch_size.extend([2, 4])
    message.dynamic_batching.max_queue_delay_microseconds = 100
    message.parameters["note"].string_value = 'é "quoted" \\ \n'
    message.parameters["intra_op_thread_count"].string_value = "2"
    message.optimization.execution_accelerators.gpu_execution_accelerator.add(
        name="tensorrt", parameters={"precision_mode": "FP16"}
    )
    warmup = message.model_warmup.add(name="zeros", batch_size=1)
    warmup.inputs["data_0"].zero_data = True
    warmup.inputs["data_0"].dims.extend([3, 4, 4])
    message.model_transaction_policy.decoupled = False
    return message


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"as_one_line": True},
        {"pointy_brackets": True},
        {"use_short_repeated_primitives": True},
        {"as_utf8": True, "force_colon": True},
        {"as_one_line": True, "pointy_brackets": True, "use_short_repeated_primitives": True},
    ],
    ids=["multi-line", "one-line", "pointy-brackets", "short-lists", "utf8-colons", "all-together"],
)
def test_text_written_by_protocol_buffers_is_read(options):
    text = text_format.MessageToString(triton_configuration(), **options)
    configuration = ModelConfiguration.from_text(text, "densenet/config.pbtxt")
    assert configuration == ModelConfiguration(
        name="densenet",
        inputs=(TensorSpecification("data_0", "float32", (-1, 3, 4, 4)),),
        outputs=(
            TensorSpecification("fc6_1", "float16", (-1, 10)),
            TensorSpecification("index", "uint16", (-1, 1)),
        ),
        max_batch_size=8,
        platform="onnxruntime_onnx",
        dynamic_batching=DynamicBatching(100, (2, 4)),
        version_policy=VersionPolicy("specific", versions=(1, 4)),
        instance_count=3,
        parameters={"note": 'é "quoted" \\ \n', "intra_op_thread_count": "2"},
        unrecognised_fields=("model_transaction_policy", "model_warmup", "optimization"),
    )


TRITON_STYLE = """\
# The densenet example of Triton's documentation, with the variations its files use.
name: "densenet_onnx"
platform: "onnxruntime_onnx"
max_batch_size : 0
input [
  {
    name: "data_0"
    data_type: TYPE_FP32
    format: FORMAT_NCHW
    dims: [ 3, 224, 224 ]
    reshape { shape: [ 1, 3, 224, 224 ] }
  }
]
output <
  name: 'fc6_1'; data_type: TYPE_FP32   # single quotes, a semicolon, a comment
  dims: 1000
  reshape: < shape: [ 1, 1000, 1, 1 ] >
  label_filename: "densenet_labels.txt"
>
version_policy: { latest: { num_versions: 0x3 } }
instance_group [ { kind: KIND_GPU }, { count: 4 kind: KIND_CPU } ]
dynamic_batching { }
parameters { key: "enable_mem_arena" value: { string_value: "1" } }
parameters: [ { key: "arena_extend_strategy", value { string_value: "kSameAsRequested" } } ]
response_cache { enable: true }
model_warmup [ { name: "zeros" batch_size: 1 inputs { key: "data_0" value: { data_type: TYPE_FP32 dims: [3, 224, 224] zero_data: True } } } ]
optimization { priority: PRIORITY_MAX cuda { graphs: false } input_pinned_memory { enable: False } }
"""


def test_a_hand_written_triton_file_is_read():
    configuration = ModelConfiguration.from_text(TRITON_STYLE, "densenet_onnx/config.pbtxt")
    assert configuration == ModelConfiguration(
        name="densenet_onnx",
        inputs=(TensorSpecification("data_0", "float32", (3, 224, 224)),),
        outputs=(TensorSpecification("fc6_1", "float32", (1000,)),),
        platform="onnxruntime_onnx",
        dynamic_batching=DynamicBatching(),
        version_policy=VersionPolicy("latest", count=3),
        instance_count=5,
        parameters={"enable_mem_arena": "1", "arena_extend_strategy": "kSameAsRequested"},
        unrecognised_fields=("model_warmup", "optimization", "response_cache"),
    )
    # Triton reads it too: the test's text is a valid Triton configuration.
    assert parse_with_triton(TRITON_STYLE).version_policy.latest.num_versions == 3


@pytest.mark.parametrize(
    ("available", "policy", "selected"),
    [
        ([1, 3, 2], VersionPolicy(), [3]),
        ([1, 3, 2], VersionPolicy("latest", count=2), [3, 2]),
        ([1], VersionPolicy("latest", count=5), [1]),
        ([1, 3, 2], VersionPolicy("all"), [3, 2, 1]),
        ([1, 3, 2], VersionPolicy("specific", versions=(1, 2, 7)), [2, 1]),
        ([], VersionPolicy("all"), []),
    ],
)
def test_a_version_policy_selects_versions_highest_first(available, policy, selected):
    assert policy.select(available) == selected


def test_a_version_policy_refuses_an_unknown_kind_or_no_version():
    with pytest.raises(ContractError, match="must be latest, all or specific, found 'newest'") as caught:
        VersionPolicy("newest")
    assert caught.value.field == "version_policy"
    with pytest.raises(ContractError, match="must serve at least 1 version, found 0") as caught:
        VersionPolicy("latest", count=0)
    assert caught.value.field == "version_policy.latest.num_versions"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"inputs": ()}, "input", "needs at least one input and one output"),
        ({"outputs": ()}, "output", "needs at least one input and one output"),
        ({"outputs": (LOGITS, LOGITS)}, "output", "output names must be unique, found ['logits', 'logits']"),
        ({"max_batch_size": -1}, "max_batch_size", "must be 0 or more"),
        ({"instance_count": 0}, "instance_group", "must be 1 or more, found 0"),
        (
            {"inputs": (TensorSpecification("pixels", "float32", (8, 8)),)},
            "dims",
            "tensor 'pixels' must start with the batch dimension -1 because max_batch_size is 64",
        ),
        ({"outputs": (TensorSpecification("score", "float32", ()),)}, "dims", "tensor 'score' must start"),
    ],
)
def test_an_invalid_configuration_cannot_be_made(changes, field, message):
    with pytest.raises(ContractError, match=re.escape(message)) as caught:
        batched(**changes)
    assert caught.value.field == field


# ----------------------------------------------------------------------------------------------------------
# The text format itself


def test_parse_text_format_gives_every_field_as_a_list_with_typed_values():
    parsed = parse_text_format(
        """
        text: "a" text: 'b'
        whole: 12 negative: -3 hexadecimal: 0x1F octal: 017 zero: 0 signed: +5
        real: 1.5 exponent: 2e3 point: .5 suffixed: 1.5f whole_float: 2F trailing_point: 3.
        flags: [ true, True, false, False ]
        kind: KIND_GPU
        empty: [ ]
        nested { inner < deep: [ { value: 1 }, { value: 2 } ] > }
        """
    )
    assert parsed["text"] == ["a", "b"]
    # C++ protocol buffers (and so Triton) also know the escape of a question mark.
    assert parse_text_format(r'question: "why\?"')["question"] == ["why?"]
    assert (parsed["whole"], parsed["negative"], parsed["hexadecimal"], parsed["octal"]) == (
        [12],
        [-3],
        [31],
        [15],
    )
    assert (parsed["zero"], parsed["signed"]) == ([0], [5])
    assert parsed["real"] + parsed["exponent"] + parsed["point"] == [1.5, 2000.0, 0.5]
    assert parsed["suffixed"] + parsed["whole_float"] + parsed["trailing_point"] == [1.5, 2.0, 3.0]
    assert all(isinstance(value, int) for value in parsed["whole"] + parsed["octal"] + parsed["hexadecimal"])
    assert all(isinstance(value, float) for value in parsed["real"] + parsed["whole_float"])
    assert parsed["flags"] == [True, True, False, False]
    assert parsed["kind"] == [Enumeration("KIND_GPU")]
    assert parsed["empty"] == []
    assert parsed["nested"] == [{"inner": [{"deep": [{"value": [1]}, {"value": [2]}]}]}]


@pytest.mark.parametrize(
    ("written", "value"),
    [
        (r'"\n\t\r\a\b\f\v\\\'\""', "\n\t\r\a\b\f\v\\'\""),
        (r'"\303\251t\303\251"', "été"),
        (r'"\x41\x4a\xc3\xa9"', "AJé"),
        (r'"\0\12"', "\x00\n"),
        (r'"\u00e9\U0001F600"', "é😀"),
        ('"été 😀"', "été 😀"),
        (r"'it\'s'", "it's"),
        ('""', ""),
    ],
)
def test_string_escapes_are_those_of_protocol_buffers(written, value):
    assert parse_text_format(f"value: {written}")["value"] == [value]
    assert (
        text_format.Parse(f"string_value: {written}", model_config_pb2.ModelParameter()).string_value == value
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name: "ok"\nbad: "\\q"', "line 2: the string \"\\q\" cannot be read: unknown escape '\\\\q'"),
        ('name: "\\400"', "line 1: the string \"\\400\" cannot be read: the escape '\\\\400' is above \\377"),
        ('name: "\\377"', "line 1: the string \"\\377\" cannot be read: 'utf-8' codec can't decode"),
        ('name: "\\uD800"', "cannot be read"),
    ],
)
def test_a_string_that_cannot_be_decoded_is_refused_with_its_line(text, message):
    with pytest.raises(ContractError, match=re.escape(message)) as caught:
        parse_text_format(text, "model/config.pbtxt")
    assert caught.value.source == "model/config.pbtxt"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name: "digits"\nmax_batch_size: @', "line 2: cannot read '@'"),
        ('name: "digits\nmax_batch_size: 8', "line 1: cannot read '\"digits' (an unclosed quote"),
        ("\n\nmax_batch_size: 1abc", "line 3: cannot read '1abc'"),
        ("max_batch_size: 0x", "line 1: cannot read '0x'"),
        ("max_batch_size: 09", "line 1: cannot read '09'"),
        ("version: 1.2.3", "line 1: cannot read '1.2.3'"),
        (
            'name: "digits"\n\nmax_batch_size:',
            "at the end of the text: expected a value, found the end of the text",
        ),
        ('input {\n name: "x"\n', "at the end of the text: expected '}', found the end of the text"),
        ('output <\n name: "x" }', "line 2: expected a field name, found '}'"),
        ("dims: [ 1, 2\n", "at the end of the text: expected a value, found the end of the text"),
        ('name: "a"\n"b": 1', "line 2: expected a field name, found '\"b\"'"),
        ("}\n", "line 1: expected a field name, found '}'"),
        ("name:\n: 3", "line 2: expected a value, found ':'"),
        ("dims: [ 1, ]]", "line 1: expected a field name, found ']'"),
        ("a {\n b: [\n c\n ] }\n}", "line 5: expected a field name, found '}'"),
    ],
)
def test_syntax_errors_name_the_file_and_the_line(text, message):
    with pytest.raises(ContractError, match=re.escape(message)) as caught:
        ModelConfiguration.from_text(text, "model/config.pbtxt")
    assert caught.value.source == "model/config.pbtxt"
    assert str(caught.value).startswith("model/config.pbtxt: ")


VALID_TENSORS = 'input { name: "x" data_type: TYPE_FP32 dims: [ 2 ] }\noutput { name: "y" data_type: TYPE_FP32 dims: 1 }\n'


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ('name: "a" name: "b"', "name", "is given more than once"),
        ("name: digits", "name", "must be a quoted string, found 'digits'"),
        ('max_batch_size: "8"', "max_batch_size", "must be an integer, found '8'"),
        ("max_batch_size: 8.0", "max_batch_size", "must be an integer, found 8.0"),
        ("max_batch_size: true", "max_batch_size", "must be an integer, found True"),
        ("max_batch_size: { }", "max_batch_size", "must be an integer, found {}"),
        ("max_batch_size: -2", "max_batch_size", "must be 0 or more"),
        ("platform: onnxruntime_onnx", "platform", "must be a quoted string"),
        ("backend: [ ]\nbackend: 'a'\nbackend: 'b'", "backend", "is given more than once"),
    ],
)
def test_top_level_fields_of_the_wrong_kind_are_named(text, field, message):
    with pytest.raises(ContractError, match=re.escape(message)) as caught:
        ModelConfiguration.from_text(
            'name: "m"\n' * ("name" not in text) + VALID_TENSORS + text, "config.pbtxt"
        )
    assert caught.value.source == "config.pbtxt"
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("tensors", "field", "message"),
    [
        (
            'output { name: "y" data_type: TYPE_FP32 dims: 1 }',
            "input",
            "needs at least one input and one output",
        ),
        (
            'input { name: "x" data_type: TYPE_FP32 dims: 1 }',
            "output",
            "needs at least one input and one output",
        ),
        ('input: 3 output { name: "y" data_type: TYPE_FP32 }', "input[0]", "must be a message in braces"),
        (
            'input [ { name: "x" data_type: TYPE_FP32 }, "x" ] output { }',
            "input[1]",
            "must be a message in braces",
        ),
        ("input { data_type: TYPE_FP32 } output { }", "input[0].name", "is missing"),
        ('input { name: "x" } output { }', "input[0].data_type", "is missing"),
        (
            'input { name: "x" data_type: "TYPE_FP32" } output { }',
            "input[0].data_type",
            "must be a name such as",
        ),
        ('input { name: "x" data_type: TYPE_STRING } output { }', "input[0].data_type", "unknown data type"),
        (
            'input { name: "x" data_type: TYPE_FP32 dims: [ 2, "3" ] } output { }',
            "input[0].dims",
            "an integer",
        ),
        ('input { name: "x" data_type: TYPE_FP32 dims: [ 0 ] } output { }', "input[0].dims", "invalid shape"),
        ('input { name: "" data_type: TYPE_FP32 } output { }', "input[0].name", "non-empty name"),
        (
            'input { name: "x" data_type: TYPE_FP32 } output { name: "y" data_type: TYPE_FP32 } '
            'output [ { name: "z" data_type: TYPE_FP32 }, { name: "y" data_type: TYPE_BOOL } ]',
            "output",
            "output names must be unique, found ['y', 'z', 'y']",
        ),
        (
            'input { name: "x" data_type: TYPE_FP32 } output { name: "y" data_type: TYPE_FP32 } '
            'output { name: "z" name: "w" data_type: TYPE_FP32 }',
            "output[1].name",
            "is given more than once",
        ),
    ],
)
def test_bad_tensors_are_named_with_their_position(tensors, field, message):
    with pytest.raises(ContractError, match=re.escape(message)) as caught:
        ModelConfiguration.from_text('name: "m"\n' + tensors, "config.pbtxt")
    assert caught.value.source == "config.pbtxt"
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("version_policy { } version_policy { }", "version_policy", "is given more than once"),
        ("version_policy { }", "version_policy", "must hold exactly one of latest, all or specific"),
        ("version_policy { all { } latest { } }", "version_policy", "must hold exactly one of"),
        ("version_policy { latest: [ ] }", "version_policy", "must hold exactly one of"),
        ("version_policy { latest: 2 }", "version_policy.latest", "must be a message in braces"),
        ("version_policy { latest [ { }, { } ] }", "version_policy.latest", "is given more than once"),
        ("version_policy { latest { num_versions: 0 } }", "version_policy.latest.num_versions", "at least 1"),
        (
            "version_policy { latest { num_versions: '2' } }",
            "version_policy.latest.num_versions",
            "an integer",
        ),
        (
            "version_policy { specific { versions: [ 1, 2.5 ] } }",
            "version_policy.specific.versions",
            "integer",
        ),
        ("version_policy: 3", "version_policy", "must be a message in braces"),
        ("dynamic_batching { } dynamic_batching { }", "dynamic_batching", "is given more than once"),
        (
            "dynamic_batching { max_queue_delay_microseconds: 1.5 }",
            "dynamic_batching.max_queue_delay_microseconds",
            "integer",
        ),
        (
            "dynamic_batching { preferred_batch_size: [ four ] }",
            "dynamic_batching.preferred_batch_size",
            "integer",
        ),
        ("instance_group [ { count: 1 }, { count: '2' } ]", "instance_group[1].count", "must be an integer"),
        ("instance_group [ { count: 0 } ]", "instance_group", "must be 1 or more, found 0"),
        ("instance_group: KIND_GPU", "instance_group", "must be a message in braces"),
        (
            "parameters { key: 'a' }",
            "parameters[0]",
            "a parameter needs a key and a value { string_value: ... }",
        ),
        (
            "parameters { value { string_value: 'a' } }",
            "parameters[0]",
            "a parameter needs a key and a value",
        ),
        (
            "parameters { key: 'a' value: { string_value: 1 } }",
            "parameters[0].value.string_value",
            "quoted string",
        ),
        ("parameters { key: 'a' value: 'b' }", "parameters[0].value", "must be a message in braces"),
        ("parameters { key: 'a' value { } value { } }", "parameters[0].value", "is given more than once"),
        ("parameters: 'a=b'", "parameters", "must be a message in braces"),
    ],
)
def test_bad_settings_are_named(text, field, message):
    with pytest.raises(ContractError, match=re.escape(message)) as caught:
        ModelConfiguration.from_text('name: "m"\n' + VALID_TENSORS + text, "config.pbtxt")
    assert caught.value.source == "config.pbtxt"
    assert caught.value.field == field


def test_defaults_of_a_minimal_file_are_triton_s():
    configuration = ModelConfiguration.from_text(
        'input { name: "x" data_type: TYPE_INT8 }\noutput { name: "y" data_type: TYPE_UINT64 }\n'
        "parameters { key: 'empty' value { } }",
        default_name="minimal",
    )
    assert configuration == ModelConfiguration(
        name="minimal",
        inputs=(TensorSpecification("x", "int8", ()),),
        outputs=(TensorSpecification("y", "uint64", ()),),
        parameters={"empty": ""},
    )
    assert configuration.max_batch_size == 0
    assert configuration.backend == "onnxruntime"
    assert configuration.platform is None
    assert configuration.dynamic_batching is None
    assert configuration.version_policy == VersionPolicy("latest", count=1)
    assert configuration.instance_count == 1
    assert configuration.unrecognised_fields == ()
