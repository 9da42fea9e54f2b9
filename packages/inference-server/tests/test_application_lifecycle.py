"""The ASGI application's lifecycle and routing, driven directly through the ASGI interface."""

from __future__ import annotations

import asyncio
import importlib
import json

import pytest
from inference_server import application as application_module
from inference_server.application import InferenceApplication
from inference_server.errors import ProtocolError
from inference_server.settings import ServerSettings
from server_support import classifier, write_model


def messages(*incoming):
    queue = list(incoming)

    async def receive():
        return queue.pop(0)

    return receive


def test_lifespan_starts_loading_without_waiting_and_shuts_down(tmp_path):
    write_model(tmp_path, classifier())

    async def scenario():
        application = InferenceApplication(ServerSettings(tmp_path))
        sent = []

        async def send(message):
            sent.append(message)

        ready = await application.ready(None, None, "", "")
        assert ready[0] == 400
        assert json.loads(ready[1]) == {"error": "the server is still loading the model repository"}
        await application(
            {"type": "lifespan"}, messages({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}), send
        )
        assert [message["type"] for message in sent] == [
            "lifespan.startup.complete",
            "lifespan.shutdown.complete",
        ]
        await asyncio.wait([application.loading])
        assert application.loading.cancelled()  # the shutdown came before the loading ended

        quiet = InferenceApplication(ServerSettings(tmp_path))
        await quiet({"type": "lifespan"}, messages({"type": "lifespan.shutdown"}), send)
        assert sent[-1] == {"type": "lifespan.shutdown.complete"}
        await quiet({"type": "websocket"}, messages(), send)  # not served: nothing is sent
        assert len(sent) == 3

    asyncio.run(scenario())


def test_resolved_routes_are_remembered_within_a_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(application_module, "ROUTE_CACHE_SIZE", 2)
    application = InferenceApplication(ServerSettings(tmp_path))
    first = application.route("GET", "/v2/models/a")
    assert application.route("GET", "/v2/models/a") is first
    application.route("GET", "/v2/models/b")
    application.route("GET", "/v2/models/c")  # the cache was full: emptied, then this one kept
    assert list(application._routes) == ["/v2/models/c"]
    with pytest.raises(ProtocolError) as raised:
        application.route("DELETE", "/v2/models/c")
    assert raised.value.status == 405


def test_importing_the_main_module_does_not_start_a_server():
    module = importlib.import_module("inference_server.__main__")
    assert module.main.__name__ == "main"


def test_a_request_cancelled_by_the_server_is_not_taken_for_a_timeout(tmp_path):
    """uvicorn cancels the requests still running when it stops: they end, without an answer."""
    from server_support import classifier as classifier_specification

    from shared_contracts import DynamicBatching

    write_model(
        tmp_path,
        classifier_specification(dynamic_batching=DynamicBatching(max_queue_delay_microseconds=10_000_000)),
    )

    async def scenario():
        application = InferenceApplication(ServerSettings(tmp_path))
        await application.repository.start()
        sent = []

        async def send(message):
            sent.append(message)

        async def never():
            await asyncio.sleep(3600)

        body = json.dumps(
            {"inputs": [{"name": "pixels", "datatype": "FP32", "shape": [1, 64], "data": [0.0] * 64}]}
        ).encode()
        scope = {"type": "http", "method": "POST", "path": "/v2/models/classifier/infer", "headers": []}
        for receive in (never, messages({"type": "http.request", "body": body, "more_body": False})):
            request = asyncio.ensure_future(application(scope, receive, send))
            await asyncio.sleep(0.05)  # waiting for the body, then for the batch
            request.cancel()
            with pytest.raises(asyncio.CancelledError):
                await request
        assert sent == []
        assert application.deadlines.waiting == {}
        application.repository.close()

    asyncio.run(scenario())
