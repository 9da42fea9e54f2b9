"""The bearer token, and the Prometheus metrics route."""

from __future__ import annotations

import json
import re

import numpy
import pytest
import tritonclient.http as triton_http
from inference_server.settings import ServerSettings
from server_support import classifier, running_server, write_model
from tritonclient.utils import InferenceServerException

TOKEN = "a-long-random-secret"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    repository = tmp_path_factory.mktemp("guarded")
    write_model(repository, classifier())
    with running_server(ServerSettings(repository, access_log=True, bearer_token=TOKEN)) as running:
        yield running


def test_health_routes_need_no_token(guarded):
    client = triton_http.InferenceServerClient(guarded.address)
    assert client.is_server_live()
    assert client.is_server_ready()
    client.close()


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
def test_every_other_route_needs_the_token(guarded, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    for method, path in (
        ("GET", "/v2"),
        ("GET", "/metrics"),
        ("POST", "/v2/repository/index"),
        ("GET", "/v2/models/classifier"),
    ):
        status, response_headers, body = guarded.request(method, path, None, headers)
        assert status == 401
        assert response_headers["www-authenticate"] == "Bearer"
        assert "Authorization: Bearer <token>" in json.loads(body)["error"]


def test_the_token_opens_every_route_to_tritonclient(guarded):
    client = triton_http.InferenceServerClient(guarded.address)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get_server_metadata(headers=headers)["name"] == "inference-server"
    tensor = triton_http.InferInput("pixels", [1, 64], "FP32")
    tensor.set_data_from_numpy(numpy.zeros((1, 64), dtype=numpy.float32))
    assert client.infer("classifier", [tensor], headers=headers).as_numpy("logits").shape == (1, 10)
    with pytest.raises(InferenceServerException) as raised:
        client.infer("classifier", [tensor])
    assert raised.value.status() == "401"
    client.close()


def sample(metrics: str, name: str, **labels) -> float:
    for line in metrics.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.partition("}")[0]))
            if all(found.get(key) == value for key, value in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_responses_latency_and_batch_sizes(server, client):
    before = server.request("GET", "/metrics")[2].decode()
    tensor = triton_http.InferInput("pixels", [3, 64], "FP32")
    tensor.set_data_from_numpy(numpy.zeros((3, 64), dtype=numpy.float32))
    for _ in range(2):
        client.infer("classifier", [tensor])
    assert server.request("POST", "/v2/models/classifier/infer", b"{")[0] == 400
    status, headers, body = server.request("GET", "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    after = body.decode()
    responses = "inference_server_http_responses_total"
    assert (
        sample(after, responses, route="infer", status="200")
        - sample(before, responses, route="infer", status="200")
        == 2
    )
    assert (
        sample(after, responses, route="infer", status="400")
        - sample(before, responses, route="infer", status="400")
        == 1
    )
    latency = "inference_server_inference_duration_seconds_count"
    assert sample(after, latency, model="classifier") - sample(before, latency, model="classifier") == 3
    batches = "inference_server_batch_size_bucket"
    assert sample(after, batches, model="classifier", version="1", le="2.0") == sample(
        before, batches, model="classifier", version="1", le="2.0"
    )
    assert (
        sample(after, batches, model="classifier", version="1", le="4.0")
        - sample(before, batches, model="classifier", version="1", le="4.0")
        == 2
    )
    assert "# TYPE inference_server_inference_duration_seconds histogram" in after
    assert sample(
        after, "inference_server_inference_duration_seconds_bucket", model="classifier", le="+Inf"
    ) == sample(after, latency, model="classifier")


def test_workers_report_each_other_s_totals_through_the_shared_folder(tmp_path):
    from inference_server.metrics import Metrics

    first, second = Metrics(tmp_path, worker="first"), Metrics(tmp_path, worker="second")
    first.count_response("infer", 200)
    first.observe_inference("classifier", 0.003)
    first.batch_observer("classifier", "1")(3)
    second.count_response("infer", 200)
    second.count_response("health", 200)
    second.observe_inference("classifier", 0.0001)
    first.publish()
    second.publish()
    (tmp_path / "worker-broken.json").write_text('{"inference_server')  # being replaced: skipped
    for metrics in (first, second):
        text = metrics.exposition().decode()
        assert sample(text, "inference_server_http_responses_total", route="infer", status="200") == 2
        assert sample(text, "inference_server_http_responses_total", route="health", status="200") == 1
        assert sample(text, "inference_server_inference_duration_seconds_count", model="classifier") == 2
        assert (
            sample(
                text, "inference_server_inference_duration_seconds_bucket", model="classifier", le="0.0005"
            )
            == 1
        )
        assert sample(
            text, "inference_server_inference_duration_seconds_sum", model="classifier"
        ) == pytest.approx(0.0031)
        assert (
            sample(text, "inference_server_batch_size_bucket", model="classifier", version="1", le="2.0") == 0
        )
        assert (
            sample(text, "inference_server_batch_size_bucket", model="classifier", version="1", le="4.0") == 1
        )
    assert Metrics().exposition().count(b"# TYPE") == 3  # a single process publishes nothing
    Metrics().publish()
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "worker-broken.json",
        "worker-first.json",
        "worker-second.json",
    ]
