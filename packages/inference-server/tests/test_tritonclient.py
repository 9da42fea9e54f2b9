"""Every route tritonclient's HTTP client calls, against the real server, with JSON and binary tensors."""

from __future__ import annotations

import numpy
import pytest
import tritonclient.http as triton_http
from inference_server import __version__
from inference_server.application import EXTENSIONS, SERVER_NAME
from server_support import LABELS, ONNX_TYPES, expected_logits
from tritonclient.utils import InferenceServerException

PIXELS = numpy.random.default_rng(0).random((3, 64), dtype=numpy.float32)


def pixels_input(values: numpy.ndarray, binary: bool) -> triton_http.InferInput:
    tensor = triton_http.InferInput("pixels", list(values.shape), "FP32")
    tensor.set_data_from_numpy(values, binary_data=binary)
    return tensor


def test_health_and_server_metadata(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    metadata = client.get_server_metadata()
    assert metadata == {"name": SERVER_NAME, "version": __version__, "extensions": list(EXTENSIONS)}


def test_model_readiness_follows_the_versions(client):
    assert client.is_model_ready("classifier")
    assert client.is_model_ready("classifier", "1")
    assert client.is_model_ready("versioned", "3")
    assert not client.is_model_ready("versioned", "2")  # the version policy does not select it
    assert not client.is_model_ready("tampered")  # refused at load: its SHA-256 differs
    assert not client.is_model_ready("absent")


def test_model_metadata_with_and_without_a_version(client):
    expected = {
        "name": "classifier",
        "versions": ["1"],
        "platform": "onnxruntime_onnx",
        "inputs": [{"name": "pixels", "datatype": "FP32", "shape": [-1, 64]}],
        "outputs": [
            {"name": "logits", "datatype": "FP32", "shape": [-1, 10]},
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]},
        ],
    }
    assert client.get_model_metadata("classifier") == expected
    assert client.get_model_metadata("classifier", "1") == expected
    assert client.get_model_metadata("versioned")["versions"] == ["1", "3"]
    assert client.get_model_metadata("doubler")["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [4]}]


def test_model_configuration_is_triton_s_json_form(client):
    configuration = client.get_model_config("batched")
    assert configuration["name"] == "batched"
    assert configuration["platform"] == "onnxruntime_onnx"
    assert configuration["backend"] == "onnxruntime"
    assert configuration["max_batch_size"] == 32
    assert configuration["input"] == [{"name": "pixels", "data_type": "TYPE_FP32", "dims": [64]}]
    assert configuration["output"][0] == {"name": "logits", "data_type": "TYPE_FP32", "dims": [10]}
    assert configuration["dynamic_batching"] == {
        "preferred_batch_size": [4],
        "max_queue_delay_microseconds": 300000,
    }
    assert configuration["instance_group"] == [{"name": "batched", "kind": "KIND_CPU", "count": 2}]
    assert configuration["version_policy"] == {"latest": {"num_versions": 1}}
    assert configuration["parameters"] == {"intra_op_thread_count": {"string_value": "1"}}
    assert client.get_model_config("versioned", "3")["version_policy"] == {"specific": {"versions": [1, 3]}}
    unbatched = client.get_model_config("doubler")
    assert unbatched["max_batch_size"] == 0
    assert unbatched["input"] == [{"name": "x", "data_type": "TYPE_FP32", "dims": [4]}]
    assert "dynamic_batching" not in unbatched


@pytest.mark.parametrize("binary", [True, False])
def test_infer_returns_the_model_s_answer(client, binary):
    result = client.infer(
        "classifier",
        [pixels_input(PIXELS, binary)],
        request_id="request-7",
        outputs=[triton_http.InferRequestedOutput("logits", binary_data=binary)],
    )
    numpy.testing.assert_allclose(result.as_numpy("logits"), expected_logits(PIXELS), rtol=1e-5, atol=1e-5)
    response = result.get_response()
    assert response["id"] == "request-7"
    assert response["model_name"] == "classifier"
    assert response["model_version"] == "1"
    assert [output["name"] for output in response["outputs"]] == ["logits"]
    assert result.as_numpy("probabilities") is None  # not asked for


def test_infer_without_requested_outputs_returns_every_output_as_binary(client):
    result = client.infer("classifier", [pixels_input(PIXELS, True)])
    logits = result.as_numpy("logits")
    probabilities = result.as_numpy("probabilities")
    numpy.testing.assert_allclose(logits, expected_logits(PIXELS), rtol=1e-5, atol=1e-5)
    exponentials = numpy.exp(logits - logits.max(axis=1, keepdims=True))
    numpy.testing.assert_allclose(
        probabilities, exponentials / exponentials.sum(axis=1, keepdims=True), atol=1e-6
    )
    assert all("binary_data_size" in output["parameters"] for output in result.get_response()["outputs"])


def test_infer_mixes_json_and_binary_outputs_and_custom_parameters(client):
    result = client.infer(
        "classifier",
        [pixels_input(PIXELS, False)],
        outputs=[
            triton_http.InferRequestedOutput("logits", binary_data=False),
            triton_http.InferRequestedOutput("probabilities", binary_data=True),
        ],
        parameters={"tenant": "tests", "attempt": 1},
        priority=0,
        timeout=5_000_000,
    )
    outputs = {output["name"]: output for output in result.get_response()["outputs"]}
    assert "data" in outputs["logits"]
    assert outputs["probabilities"]["parameters"]["binary_data_size"] == 3 * 10 * 4
    assert result.as_numpy("probabilities").shape == (3, 10)


@pytest.mark.parametrize("binary", [True, False])
def test_classification_extension_returns_the_top_classes_with_labels(client, binary):
    result = client.infer(
        "classifier",
        [pixels_input(PIXELS, True)],
        outputs=[triton_http.InferRequestedOutput("logits", binary_data=binary, class_count=3)],
    )
    classes = result.as_numpy("logits")
    assert classes.shape == (3, 3)
    logits = expected_logits(PIXELS)
    for row, values in zip(classes, logits, strict=True):
        decoded = [item.decode() if isinstance(item, bytes) else item for item in row]
        best = numpy.argsort(-values)[:3]
        assert [int(text.split(":")[1]) for text in decoded] == list(best)
        assert [text.split(":")[2] for text in decoded] == [LABELS[index] for index in best]
        assert float(decoded[0].split(":")[0]) == pytest.approx(values[best[0]], abs=1e-5)


def test_classification_without_a_batch_dimension(client):
    tensor = triton_http.InferInput("x", [4], "FP32")
    tensor.set_data_from_numpy(numpy.array([1.0, 4.0, 2.0, 3.0], dtype=numpy.float32))
    result = client.infer("doubler", [tensor], outputs=[triton_http.InferRequestedOutput("y", class_count=9)])
    assert [item.decode() for item in result.as_numpy("y")] == [
        "8.000000:1",
        "6.000000:3",
        "4.000000:2",
        "2.000000:0",
    ]


@pytest.mark.parametrize("binary", [True, False])
def test_every_datatype_round_trips(client, binary):
    generator = numpy.random.default_rng(1)
    inputs, expected = [], {}
    for dtype in ONNX_TYPES:
        if dtype == "bool":
            values = generator.random((2, 5)) > 0.5
        elif dtype.startswith("float"):
            values = generator.normal(size=(2, 5)).astype(dtype)
        else:
            information = numpy.iinfo(dtype)
            values = numpy.array([[information.min, information.max, 0, 1, 2]] * 2, dtype=dtype)
        datatype = {"bool": "BOOL", "float16": "FP16", "float32": "FP32", "float64": "FP64"}.get(
            dtype, dtype.upper()
        )
        tensor = triton_http.InferInput(f"input_{dtype}", [2, 5], datatype)
        tensor.set_data_from_numpy(values, binary_data=binary)
        inputs.append(tensor)
        expected[f"output_{dtype}"] = values
    outputs = [triton_http.InferRequestedOutput(name, binary_data=binary) for name in expected]
    result = client.infer("identities", inputs, outputs=outputs)
    for name, values in expected.items():
        returned = result.as_numpy(name)
        assert returned.dtype == values.dtype
        numpy.testing.assert_array_equal(returned.reshape(values.shape), values)


def test_versions_follow_the_version_policy(client):
    values = numpy.array([[1], [2]], dtype=numpy.int64)
    tensor = triton_http.InferInput("values", [2, 1], "INT64")
    tensor.set_data_from_numpy(values)
    latest = client.infer("versioned", [tensor])
    assert latest.get_response()["model_version"] == "3"
    numpy.testing.assert_array_equal(latest.as_numpy("sums"), values + 300)
    first = client.infer("versioned", [tensor], model_version="1")
    numpy.testing.assert_array_equal(first.as_numpy("sums"), values + 100)
    with pytest.raises(InferenceServerException) as raised:
        client.infer("versioned", [tensor], model_version="2")
    assert raised.value.status() == "404"
    assert "served versions are [1, 3]" in raised.value.message()


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
def test_compressed_requests_and_responses(client, algorithm):
    result = client.infer(
        "classifier",
        [pixels_input(PIXELS, True)],
        request_compression_algorithm=algorithm,
        response_compression_algorithm=algorithm,
    )
    numpy.testing.assert_allclose(result.as_numpy("logits"), expected_logits(PIXELS), rtol=1e-5, atol=1e-5)


def test_asynchronous_requests_are_answered_alike(server):
    connection = triton_http.InferenceServerClient(server.address, concurrency=4)
    try:
        pending = [
            connection.async_infer("classifier", [pixels_input(PIXELS[index : index + 1], True)])
            for index in range(3)
        ]
        for index, request in enumerate(pending):
            numpy.testing.assert_allclose(
                request.get_result().as_numpy("logits"), expected_logits(PIXELS[index : index + 1]), atol=1e-5
            )
    finally:
        connection.close()


def test_errors_come_back_as_inference_server_exceptions(client):
    with pytest.raises(InferenceServerException) as raised:
        client.get_model_metadata("absent")
    assert raised.value.status() == "404"
    assert "unknown model 'absent'" in raised.value.message()
    with pytest.raises(InferenceServerException) as raised:
        client.infer("classifier", [pixels_input(numpy.zeros((1, 63), dtype=numpy.float32), True)])
    assert raised.value.status() == "400"
    assert "must have shape [-1, 64]" in raised.value.message()
    with pytest.raises(InferenceServerException) as raised:
        client.get_model_config("tampered")
    assert raised.value.status() == "404"
    assert "SHA-256" in raised.value.message()


def test_a_model_with_one_refused_version_serves_the_other(client):
    tensor = triton_http.InferInput("values", [1, 1], "INT64")
    tensor.set_data_from_numpy(numpy.array([[5]], dtype=numpy.int64))
    result = client.infer("mixed", [tensor])
    assert result.get_response()["model_version"] == "1"
    assert int(result.as_numpy("sums")[0, 0]) == 6
    assert client.get_model_config("mixed")["version_policy"] == {"all": {}}
    states = {
        entry.get("version"): entry["state"]
        for entry in client.get_model_repository_index()
        if entry["name"] == "mixed"
    }
    assert states == {"1": "READY", "2": "UNAVAILABLE"}


def test_sequence_parameters_are_ignored_by_a_model_that_is_not_a_sequence_model(client):
    result = client.infer("classifier", [pixels_input(PIXELS, True)], sequence_id=4, sequence_start=True)
    numpy.testing.assert_allclose(result.as_numpy("logits"), expected_logits(PIXELS), rtol=1e-5, atol=1e-5)
