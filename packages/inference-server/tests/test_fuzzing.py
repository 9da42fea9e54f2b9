"""Hypothesis fuzzing of the infer route: random and malformed bodies get a 4xx (or 200), never a 5xx."""

from __future__ import annotations

import gzip
import http.client
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from inference_server.protocol import BINARY_DATA_SIZE

FUZZ_SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
MODELS = ("classifier", "identities", "doubler")
DATATYPES = ("FP32", "FP16", "FP64", "INT64", "INT8", "UINT8", "UINT64", "BOOL", "BYTES", "fp32", "")
NAMES = ("pixels", "input_float32", "input_bool", "x", "values", "", "pixels ")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=30,
)
numbers = st.integers(-300, 300) | st.floats(-1e6, 1e6, allow_nan=False) | st.booleans()
nested_data = st.recursive(
    st.lists(numbers, max_size=70), lambda children: st.lists(children, max_size=4), max_leaves=140
)
shapes = st.lists(st.integers(-2, 70) | st.booleans() | st.text(max_size=2), max_size=4)


@st.composite
def tensors(draw) -> tuple[dict, bytes]:
    tensor = {"name": draw(st.sampled_from(NAMES)), "datatype": draw(st.sampled_from(DATATYPES))}
    if draw(st.booleans()):
        tensor["shape"] = draw(shapes)
    binary = b""
    choice = draw(st.integers(0, 3))
    if choice == 0:
        tensor["data"] = draw(nested_data)
    elif choice == 1:
        binary = draw(st.binary(max_size=600))
        size = draw(st.sampled_from([len(binary), len(binary) + 1, 0]) | st.integers(-5, 700))
        tensor["parameters"] = {BINARY_DATA_SIZE: size}
    elif choice == 2:
        tensor["data"] = draw(json_values)
    else:
        tensor["parameters"] = draw(json_values)
    return tensor, binary


@st.composite
def inference_requests(draw) -> tuple[bytes, dict[str, str]]:
    inputs = draw(st.lists(tensors(), max_size=3))
    document: dict = {"inputs": [tensor for tensor, _ in inputs]}
    if draw(st.booleans()):
        document["outputs"] = draw(
            st.lists(
                st.fixed_dictionaries(
                    {"name": st.sampled_from(("logits", "probabilities", "y", "output_bool", "nothing"))},
                    optional={
                        "parameters": st.fixed_dictionaries(
                            {},
                            optional={
                                "binary_data": st.booleans() | json_values,
                                "classification": st.integers(-2, 12) | json_values,
                            },
                        )
                    },
                ),
                max_size=3,
            )
        )
    if draw(st.booleans()):
        document["parameters"] = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "binary_data_output": st.booleans() | json_values,
                    "timeout": st.integers(-1, 10_000_000) | json_values,
                    "sequence_id": st.integers(0, 3),
                },
            )
        )
    if draw(st.booleans()):
        document["id"] = draw(json_values)
    header = json.dumps(document).encode()
    binary = b"".join(data for _, data in inputs)
    headers = {}
    length = draw(st.sampled_from(["exact", "absent", "wrong", "text"]))
    if length == "exact":
        headers["Inference-Header-Content-Length"] = str(len(header))
    elif length == "wrong":
        headers["Inference-Header-Content-Length"] = str(draw(st.integers(0, len(header) + len(binary) + 5)))
    elif length == "text":
        headers["Inference-Header-Content-Length"] = draw(
            st.sampled_from(["-1", "1e3", "\u00b2", " 12 ", "0x10"])
        )
    body = header + binary
    if draw(st.booleans()):
        body = gzip.compress(body)
        headers["Content-Encoding"] = draw(st.sampled_from(["gzip", "deflate"]))
    return body, headers


def post(server, model: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("POST", f"/v2/models/{model}/infer", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def assert_client_error_or_success(status: int, content: bytes) -> None:
    assert status < 500, content
    if status >= 400:
        assert isinstance(json.loads(content)["error"], str)


@FUZZ_SETTINGS
@given(model=st.sampled_from(MODELS), body=st.binary(max_size=2000))
def test_random_bytes_are_refused_with_a_client_error(server, model, body):
    status, content = post(server, model, body, {})
    assert_client_error_or_success(status, content)
    assert status == 400


@FUZZ_SETTINGS
@given(model=st.sampled_from(MODELS), document=json_values)
def test_random_json_is_refused_with_a_client_error(server, model, document):
    status, content = post(server, model, json.dumps(document).encode(), {})
    assert_client_error_or_success(status, content)
    assert status == 400


@FUZZ_SETTINGS
@given(model=st.sampled_from(MODELS), request=inference_requests())
def test_almost_valid_requests_never_cause_a_server_error(server, model, request):
    body, headers = request
    status, content = post(server, model, body, headers)
    assert_client_error_or_success(status, content)


@FUZZ_SETTINGS
@given(
    batch=st.integers(1, 32),
    values=st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=32), min_size=64, max_size=64),
)
def test_valid_requests_of_any_batch_size_are_answered(server, batch, values):
    document = {
        "inputs": [{"name": "pixels", "datatype": "FP32", "shape": [batch, 64], "data": values * batch}]
    }
    status, content = post(server, "classifier", json.dumps(document).encode(), {})
    assert status == 200, content
    assert json.loads(content)["outputs"][0]["shape"] == [batch, 10]
    status, _ = post(server, "classifier", b"{", {})
    assert status == 400
