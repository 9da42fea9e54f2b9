"""The model repository extension: index, load and unload, without a restart and without disturbing others."""

from __future__ import annotations

import asyncio
import shutil
import threading

import numpy
import pytest
import tritonclient.http as triton_http
from inference_server.metrics import Metrics
from inference_server.repository import ModelRepository, RepositoryControl
from inference_server.settings import ServerSettings
from server_support import (
    ModelSpecification,
    add_constant_model,
    classifier,
    expected_logits,
    running_server,
    tensor,
    write_model,
)
from tritonclient.utils import InferenceServerException

from shared_contracts import RepositoryEntry, VersionPolicy


def adder(versions: tuple[int, ...], policy: VersionPolicy | None = None) -> ModelSpecification:
    return ModelSpecification(
        "adder",
        {number: add_constant_model(number) for number in versions},
        (tensor("values", "int64", [-1, 1]),),
        (tensor("sums", "int64", [-1, 1]),),
        max_batch_size=4,
        version_policy=policy or VersionPolicy("latest", count=1),
    )


def add(client, value: int, version: str = "") -> tuple[str, int]:
    values = numpy.array([[value]], dtype=numpy.int64)
    tensor_input = triton_http.InferInput("values", [1, 1], "INT64")
    tensor_input.set_data_from_numpy(values)
    result = client.infer("adder", [tensor_input], model_version=version)
    return result.get_response()["model_version"], int(result.as_numpy("sums")[0, 0])


def classify(client) -> numpy.ndarray:
    pixels = numpy.ones((1, 64), dtype=numpy.float32)
    tensor_input = triton_http.InferInput("pixels", [1, 64], "FP32")
    tensor_input.set_data_from_numpy(pixels)
    return client.infer("classifier", [tensor_input]).as_numpy("logits")


@pytest.fixture
def private(tmp_path):
    write_model(tmp_path, classifier())
    with running_server(ServerSettings(tmp_path, access_log=False)) as running:
        client = triton_http.InferenceServerClient(running.address)
        yield tmp_path, running, client
        client.close()


def test_a_staged_model_is_loaded_served_reloaded_and_unloaded(private):
    repository, running, client = private
    write_model(repository, adder((1,)))
    assert client.get_model_repository_index() == [
        {"name": "adder", "state": "UNAVAILABLE", "reason": "not loaded; load it to serve it"},
        {"name": "classifier", "version": "1", "state": "READY"},
    ]
    assert not client.is_model_ready("adder")
    client.load_model("adder")
    assert client.is_model_ready("adder")
    assert add(client, 10) == ("1", 11)
    assert client.get_model_repository_index({}) == client.get_model_repository_index()
    assert [entry["name"] for entry in running_index(running, ready=True)] == ["adder", "classifier"]

    write_model(repository, adder((1, 2)))  # a new version appears; the policy serves the latest
    assert add(client, 10) == ("1", 11)  # nothing changes until the model is loaded again
    client.load_model("adder")
    assert add(client, 10) == ("2", 12)
    with pytest.raises(InferenceServerException, match="no version 1 being served"):
        add(client, 10, "1")

    client.unload_model("adder")
    assert not client.is_model_ready("adder")
    assert {
        "name": "adder",
        "state": "UNAVAILABLE",
        "reason": "unloaded through the model repository extension; load it again to serve it",
    } in client.get_model_repository_index()
    with pytest.raises(InferenceServerException) as raised:
        add(client, 10)
    assert raised.value.status() == "404"  # as Triton answers for a model without an available version
    assert "unloaded" in raised.value.message()
    assert [entry["name"] for entry in running_index(running, ready=True)] == ["classifier"]
    client.load_model("adder")
    assert add(client, 1) == ("2", 3)
    numpy.testing.assert_allclose(classify(client), expected_logits(numpy.ones((1, 64))), atol=1e-5)


def running_index(running, ready: bool) -> list[dict]:
    import json

    status, _, body = running.request("POST", "/v2/repository/index", json.dumps({"ready": ready}).encode())
    assert status == 200
    return json.loads(body)


def test_a_failed_reload_keeps_the_old_model_serving(private):
    repository, _, client = private
    write_model(repository, adder((1,)))
    client.load_model("adder")
    configuration = repository / "adder" / "config.pbtxt"
    original = configuration.read_text()
    configuration.write_text("name: {")
    with pytest.raises(InferenceServerException, match="failed to load model 'adder'") as raised:
        client.load_model("adder")
    assert raised.value.status() == "400"
    assert add(client, 5) == ("1", 6)
    configuration.write_text(original)
    write_model(repository, adder((1, 2)))
    entry = RepositoryEntry(repository, "adder", 2)
    entry.onnx_path.write_bytes(entry.onnx_path.read_bytes() + b"\0")
    with pytest.raises(InferenceServerException, match=r"version 2: .*SHA-256"):
        client.load_model("adder")
    assert add(client, 5) == ("1", 6)  # version 2 was refused, so the old model stays


def test_a_model_refused_at_its_first_load_says_why_and_others_keep_serving(private):
    repository, _, client = private
    write_model(repository, adder((1,)))
    entry = RepositoryEntry(repository, "adder", 1)
    entry.onnx_path.write_bytes(entry.onnx_path.read_bytes() + b"\0")
    with pytest.raises(InferenceServerException, match=r"version 1: .*the artifact manifest says"):
        client.load_model("adder")
    index = {entry["name"]: entry for entry in client.get_model_repository_index()}
    assert index["adder"]["state"] == "UNAVAILABLE"
    assert "SHA-256" in index["adder"]["reason"]
    assert client.is_model_ready("classifier")
    shutil.rmtree(repository / "adder" / "1")
    with pytest.raises(InferenceServerException, match="has no version folder"):
        client.load_model("adder")
    index = {entry["name"]: entry for entry in client.get_model_repository_index()}
    assert "has no version folder" in index["adder"]["reason"]
    assert "version" not in index["adder"]


def test_requests_to_other_models_go_on_during_a_load(private):
    repository, running, client = private
    write_model(repository, adder((1,)))
    failures = []
    stop = threading.Event()

    def keep_classifying():
        connection = triton_http.InferenceServerClient(running.address)
        try:
            while not stop.is_set():
                classify(connection)
        except Exception as error:  # pragma: no cover - reported by the assertion below
            failures.append(error)
        finally:
            connection.close()

    worker = threading.Thread(target=keep_classifying)
    worker.start()
    for _ in range(3):
        client.load_model("adder")
        client.unload_model("adder")
    stop.set()
    worker.join()
    assert failures == []


def test_strict_readiness_and_the_server_ready_route(tmp_path):
    write_model(tmp_path, adder((1,)))
    entry = RepositoryEntry(tmp_path, "adder", 1)
    entry.onnx_path.write_bytes(b"changed")
    write_model(tmp_path, classifier())
    with running_server(ServerSettings(tmp_path, access_log=False, strict_readiness=True)) as running:
        client = triton_http.InferenceServerClient(running.address)
        assert client.is_server_live()
        assert not client.is_server_ready()
        status, _, body = running.request("GET", "/v2/health/ready")
        assert (status, body) == (400, b'{"error":"strict readiness: models not ready: [\'adder\']"}')
        client.unload_model("adder")
        client.close()
    with running_server(ServerSettings(tmp_path, access_log=False)) as running:
        client = triton_http.InferenceServerClient(running.address)
        assert client.is_server_ready()
        client.close()


def test_workers_follow_the_changes_others_publish(tmp_path):
    """Two repositories sharing one control, as two worker processes do, stay in step."""
    write_model(tmp_path, adder((1,)))
    write_model(tmp_path, classifier())

    async def scenario():
        control = RepositoryControl(tmp_path / "control")
        (tmp_path / "control").mkdir()
        first = ModelRepository(tmp_path, control, Metrics())
        second = ModelRepository(tmp_path, control, Metrics())
        await first.start()
        await second.start()
        await first.unload("adder")
        assert (await second.get("adder")).state == "UNAVAILABLE"
        await second.load("adder")
        model = await first.get("adder")  # waits for the load it started on seeing the change
        assert model.state == "READY"
        assert model.serial == control.generation
        third = ModelRepository(tmp_path, control, Metrics())  # a worker started after the changes
        await third.start()
        assert (await third.get("adder")).state == "READY"
        await first.unload("adder")
        fourth = ModelRepository(tmp_path, control, Metrics())
        await fourth.start()
        assert (await fourth.get("adder")).reason.startswith("unloaded")
        for repository in (first, second, third, fourth):
            repository.close()
        control.close()
        assert (tmp_path / "control").exists()  # given, not made here: not removed

    asyncio.run(scenario())


def test_an_unload_during_a_load_cancels_it(tmp_path):
    write_model(tmp_path, classifier())

    async def scenario():
        control = RepositoryControl()
        repository = ModelRepository(tmp_path, control, Metrics())
        starting = asyncio.ensure_future(repository.start())
        await asyncio.sleep(0)
        await repository.load("classifier")  # waits for the first load, then loads again
        assert repository.models["classifier"].state == "READY"
        starting = asyncio.ensure_future(repository.start())
        await asyncio.sleep(0)
        await repository.unload("classifier")  # while the first load runs
        await starting
        assert repository.models["classifier"].reason.startswith("unloaded")
        loading = asyncio.ensure_future(repository.load("classifier"))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        await repository.unload("classifier")
        with pytest.raises(Exception, match="was unloaded while it was loading"):
            await loading
        control.close()
        assert control.directory is not None
        assert not control.directory.exists()

    asyncio.run(scenario())


def test_loads_that_overlap_and_a_close_during_loading(tmp_path):
    write_model(tmp_path, classifier())

    async def scenario():
        repository = ModelRepository(tmp_path, RepositoryControl(), Metrics())
        first = repository._start_loading("classifier")
        second = repository._start_loading("classifier")  # the newer load is the one requests wait for
        await asyncio.wait([first, second])
        assert repository.models["classifier"].loading is None
        assert repository.models["classifier"].state == "READY"
        starting = asyncio.ensure_future(repository.start())
        await asyncio.sleep(0)
        repository.close()  # the server stops while the repository loads
        await starting
        assert repository.started

    asyncio.run(scenario())


def test_a_repository_folder_that_disappeared_lists_no_models(tmp_path):
    repository = ModelRepository(tmp_path / "absent", RepositoryControl(), Metrics())
    assert repository.folder_names() == []
    assert repository.index(ready_only=False) == []
    from inference_server.repository import ServedModel

    assert ServedModel("new").index_entries() == [{"name": "new", "state": "LOADING"}]
