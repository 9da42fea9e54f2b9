"""Every error case over raw HTTP: Triton's status code, a JSON ``{"error": ...}`` body that says what to do."""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import time
import zlib

import numpy
import pytest
from inference_server.settings import ServerSettings
from server_support import running_server


def pixels(batch: int = 1, width: int = 64) -> list[float]:
    return [0.5] * (batch * width)


def request(name="pixels", datatype="FP32", shape=(1, 64), data=None, **extra) -> dict:
    tensor = {"name": name, "datatype": datatype, "shape": list(shape)}
    tensor["data"] = pixels() if data is None else data
    tensor.update(extra)
    return {"inputs": [tensor]}


def call(server, method, path, body=None, headers=None):
    status, response_headers, content = server.request(method, path, body, headers)
    document = json.loads(content) if content else None
    return status, response_headers, document


def infer(server, document, model="classifier", headers=None):
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    status, _, answer = call(server, "POST", f"/v2/models/{model}/infer", body, headers)
    return status, answer


def binary_body(header: dict, data: bytes) -> tuple[bytes, dict]:
    encoded = json.dumps(header).encode()
    return encoded + data, {"Inference-Header-Content-Length": str(len(encoded))}


INVALID_REQUESTS = [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "the inference request must be a JSON object, found a list"),
    ({"inputs": []}, "'inputs' as a non-empty list"),
    ({"inputs": "pixels"}, "'inputs' as a non-empty list of tensors, found a string"),
    ({"inputs": True}, "'inputs' as a non-empty list of tensors, found a boolean"),
    ({"inputs": [7]}, "inputs[0] must be a JSON object, found a number"),
    (
        {"inputs": [{"datatype": "FP32", "shape": [1, 64], "data": pixels()}]},
        "needs 'name' as a non-empty string",
    ),
    ({"inputs": [{"name": "pixels", "shape": [1, 64], "data": pixels()}]}, "needs 'datatype'"),
    ({"id": 5, **request()}, "the request 'id' must be a string, found a number"),
    ({"parameters": [], **request()}, "the request 'parameters' must be a JSON object"),
    (
        {"parameters": {"binary_data_output": "yes"}, **request()},
        "'binary_data_output' must be true or false",
    ),
    ({"parameters": {"timeout": -1}, **request()}, "'timeout' must be a whole number of microseconds"),
    ({"parameters": {"timeout": True}, **request()}, "'timeout' must be a whole number of microseconds"),
    ({"inputs": request()["inputs"] * 2}, "input 'pixels' is given more than once"),
    (request(shape="1x64"), "needs 'shape' as a list of whole numbers"),
    (request(shape=[1, -64]), "needs 'shape' as a list of whole numbers"),
    (request(shape=[True, 64]), "needs 'shape' as a list of whole numbers"),
    (request(parameters=[]), "the parameters of input 'pixels' must be a JSON object"),
    (
        request(parameters={"shared_memory_region": "region"}),
        "shared memory, which this server does not support",
    ),
    (request(parameters={"binary_data_size": "256"}), "it must be a whole number of bytes"),
    (request(parameters={"binary_data_size": 256}), "has both 'data' and 'binary_data_size'"),
    ({"inputs": [{"name": "pixels", "datatype": "FP32", "shape": [1, 64]}]}, "neither 'data' nor"),
    (request(datatype="BYTES"), "unknown datatype 'BYTES'"),
    (request(datatype="FP64"), "has datatype FP64, but model 'classifier' expects FP32"),
    (request(data=["0.5"] * 64), "must be numbers for FP32, found strings"),
    (request(data=[True] * 64), "must be numbers for FP32, found true or false"),
    (request(data=[[0.5] * 60, [0.5] * 4]), "not a flat or evenly nested list of numbers"),
    (request(data=[{"value": 1}] * 64), "found mixed or nested values"),
    (request(data=pixels(1, 63)), "has 63 values in 'data', but shape [1, 64] needs 64"),
    (
        request(data=[[0.5] * 32, [0.5] * 32]),
        "nested as [2, 32]; send it flat or nested as the shape [1, 64]",
    ),
    (
        request(name="image"),
        "unexpected inference input 'image' for model 'classifier'; its inputs are ['pixels']",
    ),
    (request(shape=(1, 63), data=pixels(1, 63)), "tensor 'pixels' must have shape [-1, 64]"),
    (request(shape=(33, 64), data=pixels(33)), "batch size 33 is above the model's maximum of 32"),
    (request(shape=(0, 64), data=[]), "the batch size must be at least 1, found 0"),
    ({**request(), "outputs": {"name": "logits"}}, "the request 'outputs' must be a list"),
    ({**request(), "outputs": [{"name": "scores"}]}, "unexpected inference output 'scores'"),
    ({**request(), "outputs": [{"name": "logits"}, {"name": "logits"}]}, "asked for more than once"),
    (
        {**request(), "outputs": [{"name": "logits", "parameters": {"binary_data": 1}}]},
        "must be true or false",
    ),
    (
        {**request(), "outputs": [{"name": "logits", "parameters": {"classification": -2}}]},
        "whole number of classes",
    ),
    (
        {**request(), "outputs": [{"name": "logits", "parameters": {"shared_memory_region": "region"}}]},
        "shared memory, which this server does not support",
    ),
]


@pytest.mark.parametrize(("document", "message"), INVALID_REQUESTS)
def test_invalid_inference_requests_are_400_with_a_reason(server, document, message):
    status, answer = infer(server, document)
    assert status == 400
    assert message in answer["error"]


@pytest.mark.parametrize(
    ("dtype", "data", "message"),
    [
        ("int8", [[300]], "holds values from 300 to 300, outside the range of INT8 (-128 to 127)"),
        ("uint8", [[-1]], "outside the range of UINT8"),
        ("int64", [[2**63]], "outside the range of INT64"),
        ("uint64", [[-1, 2**64 - 1]], "outside the range of UINT64"),
        ("uint64", [[1.5, 2**64 - 1]], "must be integers for UINT64, found numbers"),
        ("int32", [[1.5]], "must be integers for INT32, found numbers"),
        ("bool", [[1]], "must be true or false for BOOL, found integers"),
    ],
)
def test_values_outside_the_datatype_are_400(server, dtype, data, message):
    datatype = {"bool": "BOOL"}.get(dtype, dtype.upper())
    inputs = []
    for each in ("bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64"):
        values = (
            data if each == dtype else [[1] * len(data[0])] if each != "bool" else [[True] * len(data[0])]
        )
        name = {"bool": "BOOL"}.get(each, each.upper())
        inputs.append({"name": f"input_{each}", "datatype": name, "shape": [1, len(data[0])], "data": values})
    for each, name in (("float16", "FP16"), ("float32", "FP32"), ("float64", "FP64")):
        inputs.append(
            {
                "name": f"input_{each}",
                "datatype": name,
                "shape": [1, len(data[0])],
                "data": [[0.0] * len(data[0])],
            }
        )
    status, answer = infer(server, {"inputs": inputs}, model="identities")
    assert status == 400, answer
    assert datatype in answer["error"]
    assert message in answer["error"]


def test_missing_inputs_and_mismatched_batches_are_400(server):
    status, answer = infer(
        server, request(name="input_int8", datatype="INT8", shape=(1, 2), data=[1, 2]), "identities"
    )
    assert status == 400
    assert "the request lacks ['input_bool'," in answer["error"]
    status, answer = infer(server, request(name="x", shape=(5,), data=[1, 2, 3, 4, 5]), "doubler")
    assert status == 400
    assert "tensor 'x' must have shape [4]" in answer["error"]


BINARY = numpy.zeros((1, 64), dtype=numpy.float32).tobytes()
BINARY_HEADER = {
    "inputs": [
        {"name": "pixels", "datatype": "FP32", "shape": [1, 64], "parameters": {"binary_data_size": 256}}
    ]
}


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (
            *binary_body(BINARY_HEADER, BINARY[:100]),
            "needs 256 bytes of binary data at offset 0, but the body has only 100",
        ),
        (*binary_body(BINARY_HEADER, BINARY + b"extra"), "the body has 5 bytes after the binary data"),
        (
            json.dumps(BINARY_HEADER).encode(),
            {},
            "but the request has no Inference-Header-Content-Length header",
        ),
        (binary_body(BINARY_HEADER, BINARY)[0], {}, "not valid JSON (unexpected content after document"),
        (
            binary_body(BINARY_HEADER, BINARY)[0],
            {"Inference-Header-Content-Length": "12a"},
            "must be a whole number",
        ),
        (
            binary_body(BINARY_HEADER, BINARY)[0],
            {"Inference-Header-Content-Length": "99999"},
            "the body is truncated",
        ),
        (
            *binary_body(
                {"inputs": [{**BINARY_HEADER["inputs"][0], "parameters": {"binary_data_size": 252}}]},
                BINARY[:252],
            ),
            "has 252 bytes of binary data, but shape [1, 64] of FP32 needs 256",
        ),
    ],
)
def test_malformed_binary_bodies_are_400(server, body, headers, message):
    status, answer = infer(server, body, headers=headers)
    assert status == 400
    assert message in answer["error"]


def test_binary_data_at_an_unaligned_offset_is_read_correctly(server):
    values = numpy.arange(64, dtype=numpy.float32).reshape(1, 64)
    header = {
        "inputs": [
            {"name": "pixels", "datatype": "FP32", "shape": [1, 64], "parameters": {"binary_data_size": 256}}
        ],
        "outputs": [{"name": "logits"}],
        "id": "x",  # makes the JSON part's length odd
    }
    body, headers = binary_body(header, values.tobytes())
    assert int(headers["Inference-Header-Content-Length"]) % 4 != 0
    status, answer = infer(server, body, headers=headers)
    assert status == 200
    from server_support import expected_logits

    numpy.testing.assert_allclose(answer["outputs"][0]["data"], expected_logits(values).ravel(), rtol=1e-5)


@pytest.mark.parametrize(
    ("path", "method", "status", "message"),
    [
        ("/v3/models", "GET", 404, "start with /v2"),
        ("/v2/models", "GET", 404, "no route '/v2/models'"),
        ("/v2/models/mixed/versions/2/infer", "POST", 503, "model 'mixed' version 2 is not ready: "),
        ("/v2/models/classifier/explain", "POST", 404, "no route '/v2/models/classifier/explain'"),
        ("/v2/models/classifier/infer", "GET", 405, "this route takes POST requests, not GET"),
        ("/v2/health/live", "POST", 405, "takes GET"),
        ("/v2/models/absent/infer", "POST", 404, "unknown model 'absent'"),
        ("/v2/models/absent", "GET", 404, "unknown model 'absent'"),
        ("/v2/models/classifier/versions/x/infer", "POST", 400, "the model version must be a whole number"),
        (
            "/v2/models/classifier/versions/%C2%B2/infer",
            "POST",
            400,
            "the model version must be a whole number",
        ),
        ("/v2/models/classifier/versions/9/infer", "POST", 404, "has no version 9 being served"),
        ("/v2/models/tampered/infer", "POST", 404, "has no version ready: no version is ready: version 1:"),
        ("/v2/models/tampered/versions/1/infer", "POST", 404, "the artifact manifest says"),
        ("/v2/models/tampered/versions/1", "GET", 404, "the file was changed or corrupted after export"),
        ("/v2/models/tampered/ready", "GET", 400, "SHA-256"),
        ("/v2/models/absent/ready", "GET", 400, "unknown model"),
        ("/v2/models/classifier/versions/7/ready", "GET", 400, "no version 7"),
    ],
)
def test_routes_models_and_versions_that_do_not_answer(server, path, method, status, message):
    body = json.dumps(request()).encode() if method == "POST" else None
    answered, headers, document = call(server, method, path, body)
    assert answered == status
    assert headers["content-type"] == "application/json"
    assert message in document["error"]


def test_the_model_itself_failing_is_500_and_the_server_goes_on(server):
    status, answer = infer(server, request(name="values", shape=(1, 3), data=[1, 2, 3]), "reshaper")
    assert status == 500
    assert "failed on inputs that passed every check" in answer["error"]
    status, answer = infer(server, request(name="values", shape=(2, 3), data=[1, 2, 3, 4, 5, 6]), "reshaper")
    assert status == 200
    assert answer["outputs"][0]["shape"] == [2, 3]


def test_an_output_that_cannot_be_split_between_batched_requests_is_500(server):
    import concurrent.futures

    document = request(name="values", shape=(1, 1), data=[1.0])
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: infer(server, document, "summer"), range(2)))
    assert [status for status, _ in answers] == [500, 500]
    assert all("does not start with the batch size 2" in answer["error"] for _, answer in answers)


def test_an_inference_that_outlasts_its_timeout_is_503(server):
    document = {**request(), "parameters": {"timeout": 50_000}}
    started = time.monotonic()
    status, answer = infer(server, document, "batched")
    assert status == 503
    assert "did not answer within 0.05 seconds" in answer["error"]
    assert time.monotonic() - started < 0.29  # the batch would have waited 0.3 seconds for company


def test_repository_routes_reject_bad_bodies(server):
    for body, message in (
        (b"{", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b'{"ready": 1}', "true or false"),
    ):
        status, _, answer = call(server, "POST", "/v2/repository/index", body)
        assert status == 400
        assert message in answer["error"]
    status, _, answer = call(server, "POST", "/v2/repository/models/classifier/load", b'{"parameters": []}')
    assert (status, "'parameters' in the load request must be a JSON object") == (400, answer["error"])
    status, _, answer = call(
        server, "POST", "/v2/repository/models/classifier/load", b'{"parameters": {"config": "{}"}}'
    )
    assert status == 400
    assert "loads models only as they are in the repository" in answer["error"]
    status, _, answer = call(server, "POST", "/v2/repository/models/absent/load")
    assert status == 400
    assert "has no folder 'absent'" in answer["error"]
    status, _, answer = call(server, "POST", "/v2/repository/models/absent/unload")
    assert (status, answer) == (200, None)  # as in Triton: nothing to unload is no error


def test_compressed_bodies_that_are_broken_are_4xx(server):
    body = json.dumps(request()).encode()
    cases = [
        (b"not gzip", {"Content-Encoding": "gzip"}, 400, "not valid gzip data"),
        (gzip.compress(body)[:-12], {"Content-Encoding": "gzip"}, 400, "the gzip body is truncated"),
        (
            zlib.compress(b" " * 2_000_000),
            {"Content-Encoding": "deflate"},
            413,
            "larger than the limit of 1000000",
        ),
        (body, {"Content-Encoding": "br"}, 400, "the Content-Encoding 'br' is not supported"),
        (body, {"Content-Encoding": "identity"}, 200, None),
    ]
    for content, headers, status, message in cases:
        answered, answer = infer(server, content, headers=headers)
        assert answered == status
        if message is not None:
            assert message in answer["error"]


def test_accept_encoding_picks_a_compression_the_client_takes(server):
    body = json.dumps(request()).encode()
    for accepted, encoding in (("br;q=1, gzip;q=0", None), ("br, deflate", "deflate"), ("identity", None)):
        status, headers, content = server.request(
            "POST", "/v2/models/classifier/infer", body, {"Accept-Encoding": accepted}
        )
        assert status == 200
        assert headers.get("content-encoding") == encoding
        decoded = zlib.decompress(content) if encoding == "deflate" else content
        assert json.loads(decoded)["model_name"] == "classifier"


def test_bodies_above_the_limit_are_413_and_close_the_connection(server):
    declared = b"POST /v2/models/classifier/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000001\r\n\r\n{"
    answer = raw_exchange(server, declared, 0.1)
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"connection: close" in answer
    assert b"larger than the limit of 1000000 bytes" in answer
    chunk = b"[" * 600_000
    streamed = (
        b"POST /v2/models/classifier/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 2
    )
    answer = raw_exchange(server, streamed, 0.1)
    assert answer.startswith(b"HTTP/1.1 413")


def raw_exchange(server, data: bytes, wait: float) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the server answered and closed
            connection.sendall(data)
        time.sleep(wait)
        connection.settimeout(5)
        try:
            return connection.recv(65536)
        except TimeoutError:  # pragma: no cover - only reached if the server failed to answer
            return b""


def test_a_body_that_arrives_too_slowly_is_408(repository):
    settings = ServerSettings(repository, access_log=False, request_timeout_seconds=0.2)
    with running_server(settings) as slow:
        head = b"POST /v2/models/classifier/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"
        answer = raw_exchange(slow, head, 0.5)
        assert answer.startswith(b"HTTP/1.1 408")
        assert b"did not arrive within 0.2 seconds" in answer


def test_a_client_that_disconnects_mid_body_is_no_trouble(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(
            b"POST /v2/models/classifier/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"
        )
        time.sleep(0.1)
    time.sleep(0.1)
    status, _, _ = call(server, "GET", "/v2/health/live")
    assert status == 200
    metrics = server.request("GET", "/metrics")[2].decode()
    assert 'inference_server_http_responses_total{route="infer",status="499"}' in metrics
