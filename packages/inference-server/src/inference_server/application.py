"""The ASGI application: the Open Inference Protocol's routes, Triton's extensions, errors and security.

Routes (KServe V2 REST, as NVIDIA Triton serves them):

========  ==============================================================  ==================================
method    path                                                            answer
========  ==============================================================  ==================================
GET       ``/v2/health/live``, ``/v2/health/ready``                       200, or 400 while not ready
GET       ``/v2``                                                         server metadata
GET       ``/v2/models/<model>[/versions/<version>]``                     model metadata
GET       ``/v2/models/<model>[/versions/<version>]/ready``               200, 404 unknown, 400 not ready
GET       ``/v2/models/<model>[/versions/<version>]/config``              Triton's model configuration
POST      ``/v2/models/<model>[/versions/<version>]/infer``               inference, JSON or binary tensors
POST      ``/v2/repository/index``                                        every model and version, with state
POST      ``/v2/repository/models/<model>/load`` and ``/unload``          the model repository extension
GET       ``/metrics``                                                    Prometheus metrics
========  ==============================================================  ==================================

Every error is ``{"error": "..."}`` with Triton's status code for the same mistake. Inputs are checked
against the model's tensor specifications before ONNX Runtime sees them. Plain ASGI, without a framework,
because the request path of a small model is short enough that a framework's routing and request objects
would be a large share of it.
"""

from __future__ import annotations

import asyncio
import hmac
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy
import orjson

from inference_server import __version__
from inference_server.deadlines import Deadlines
from inference_server.errors import (
    INTERNAL_SERVER_ERROR,
    METHOD_NOT_ALLOWED,
    PAYLOAD_TOO_LARGE,
    REQUEST_TIMEOUT,
    UNAUTHORIZED,
    ProtocolError,
    bad_request,
    not_found,
    unavailable,
)
from inference_server.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from inference_server.metrics import Metrics
from inference_server.model import ONNX_RUNTIME_BACKEND, ONNX_RUNTIME_PLATFORM, LoadedModel
from inference_server.protocol import (
    InferenceRequest,
    RequestedOutput,
    ResponseOutput,
    classify,
    decode_input,
    encode_response,
    parse_header_length,
    parse_inference_request,
)
from inference_server.repository import ModelRepository, RepositoryControl, ServedModel
from inference_server.scheduling import ModelExecutionError
from inference_server.settings import ServerSettings
from shared_contracts import ContractError, validate_inputs

SERVER_NAME = "inference-server"
"""The name the server gives in its metadata."""

EXTENSIONS = (
    "binary_tensor_data",
    "classification",
    "model_configuration",
    "model_repository",
    "schedule_policy",
)
"""The protocol extensions the server supports, as its metadata lists them."""

JSON = b"application/json"
OCTET_STREAM = b"application/octet-stream"
OPEN_ROUTES = frozenset({"health"})
"""Routes that need no bearer token, so that an orchestrator can probe the server."""

Headers = list[tuple[bytes, bytes]]
Answer = tuple[int, bytes, Headers]


ROUTE_CACHE_SIZE = 4096
"""How many resolved paths are remembered (the cache is emptied when full, so random paths cannot grow it)."""


@dataclass(frozen=True, slots=True)
class Route:
    """A resolved route: its name (for the metrics), its HTTP method, its handler and the path's names."""

    name: str
    """The route's name, for example ``infer``."""
    method: str
    """The HTTP method it takes."""
    handler: Callable[..., Awaitable[Answer]]
    """The handler, called with the headers, ``receive``, the model name and the version."""
    model: str = ""
    """The model named in the path, if any."""
    version: str = ""
    """The version named in the path, if any."""


class ClientDisconnectedError(Exception):
    """The client closed the connection before it sent its whole body; nothing is answered."""


class RequestHeaders:
    """The request headers the server looks at, read in one pass."""

    __slots__ = (
        "accept_encoding",
        "authorization",
        "content_encoding",
        "content_length",
        "inference_header_content_length",
    )

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self.accept_encoding: bytes | None = None
        self.authorization: bytes | None = None
        self.content_encoding: bytes | None = None
        self.content_length: bytes | None = None
        self.inference_header_content_length: bytes | None = None
        for key, value in raw:
            if key == b"content-length":
                self.content_length = value
            elif key == b"inference-header-content-length":
                self.inference_header_content_length = value
            elif key == b"authorization":
                self.authorization = value
            elif key == b"content-encoding":
                self.content_encoding = value
            elif key == b"accept-encoding":
                self.accept_encoding = value


def _json_answer(status: int, value: Any) -> Answer:
    return status, orjson.dumps(value), [(b"content-type", JSON)]


def _empty(status: int = 200) -> Answer:
    return status, b"", []


def _response_encoding(accept_encoding: bytes | None) -> str | None:
    """The compression a client accepts (``gzip`` before ``deflate``), from its Accept-Encoding header."""
    if accept_encoding is None:
        return None
    accepted = set()
    for item in accept_encoding.decode("latin-1").lower().split(","):
        name, _, quality = item.strip().partition(";")
        if quality.strip().replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            continue
        accepted.add(name.strip())
    for encoding in ("gzip", "deflate"):
        if encoding in accepted:
            return encoding
    return None


def _too_large(limit: int) -> ProtocolError:
    return ProtocolError(
        PAYLOAD_TOO_LARGE,
        f"the request body is larger than the limit of {limit} bytes; send smaller batches or start the server "
        "with a larger --maximum-request-body-bytes",
    )


def _decompress(body: bytes, encoding: bytes | None, limit: int) -> bytes:
    """The request body without its Content-Encoding (gzip or deflate), never larger than ``limit``."""
    if encoding is None or encoding.strip().lower() in (b"", b"identity"):
        return body
    name = encoding.strip().lower()
    if name not in (b"gzip", b"deflate"):
        raise bad_request(
            f"the Content-Encoding {encoding.decode('latin-1')!r} is not supported; send the body as it is, "
            "or compressed with gzip or deflate"
        )
    decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16 if name == b"gzip" else zlib.MAX_WBITS)
    try:
        result = decompressor.decompress(body, limit + 1)
    except zlib.error as error:
        raise bad_request(f"the body is not valid {name.decode()} data ({error})") from None
    if len(result) > limit:
        raise _too_large(limit)
    if not decompressor.eof:
        raise bad_request(f"the {name.decode()} body is truncated; send the whole compressed body")
    return result


def _compress(body: bytes, encoding: str) -> bytes:
    compressor = zlib.compressobj(wbits=zlib.MAX_WBITS | 16 if encoding == "gzip" else zlib.MAX_WBITS)
    return compressor.compress(body) + compressor.flush()


def _tensor_metadata(loaded: LoadedModel, which: str) -> list[dict[str, Any]]:
    tensors = loaded.configuration.inputs if which == "inputs" else loaded.configuration.outputs
    return [
        {"name": tensor.name, "datatype": tensor.protocol_data_type, "shape": list(tensor.shape)}
        for tensor in tensors
    ]


def triton_configuration(loaded: LoadedModel) -> dict[str, Any]:
    """The model's configuration in the JSON form Triton's configuration route returns.

    As Triton 2.51 writes it: whole numbers as JSON numbers, and ``dims`` without the batch dimension when
    ``max_batch_size`` is above 0.
    """
    configuration = loaded.configuration
    leading = 1 if configuration.max_batch_size > 0 else 0

    def tensors(specifications: tuple) -> list[dict[str, Any]]:
        return [
            {
                "name": tensor.name,
                "data_type": tensor.configuration_data_type,
                "dims": list(tensor.shape[leading:]),
            }
            for tensor in specifications
        ]

    policy = configuration.version_policy
    if policy.kind == "latest":
        version_policy: dict[str, Any] = {"latest": {"num_versions": policy.count}}
    elif policy.kind == "all":
        version_policy = {"all": {}}
    else:
        version_policy = {"specific": {"versions": list(policy.versions)}}
    result: dict[str, Any] = {
        "name": configuration.name,
        "platform": configuration.platform or ONNX_RUNTIME_PLATFORM,
        "backend": configuration.backend or ONNX_RUNTIME_BACKEND,
        "version_policy": version_policy,
        "max_batch_size": configuration.max_batch_size,
        "input": tensors(configuration.inputs),
        "output": tensors(configuration.outputs),
        "instance_group": [
            {"name": configuration.name, "kind": "KIND_CPU", "count": configuration.instance_count}
        ],
        "default_model_filename": "model.onnx",
        "parameters": {
            key: {"string_value": value} for key, value in sorted(configuration.parameters.items())
        },
    }
    if configuration.dynamic_batching is not None:
        result["dynamic_batching"] = {
            "preferred_batch_size": list(configuration.dynamic_batching.preferred_batch_size),
            "max_queue_delay_microseconds": configuration.dynamic_batching.max_queue_delay_microseconds,
        }
    return result


class InferenceApplication:
    """The ASGI application that serves one model repository."""

    def __init__(
        self,
        settings: ServerSettings,
        control: RepositoryControl | None = None,
        metrics_directory: Path | None = None,
    ) -> None:
        self.settings = settings
        """How the server runs."""
        self.metrics = Metrics(metrics_directory)
        """The Prometheus metrics."""
        self.owns_control = control is None
        """Whether the repository control was made here (one worker) and is closed with the application."""
        self.repository = ModelRepository(
            settings.model_repository, control or RepositoryControl(), self.metrics
        )
        """The served models."""
        self.expected_authorization = (
            b"Bearer " + settings.bearer_token.encode("utf-8") if settings.bearer_token else None
        )
        self.loading: asyncio.Task | None = None
        self._routes: dict[str, Route] = {}
        self.deadlines = Deadlines()
        """The deadlines of the requests' waits (for the body, for the model)."""

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        """The ASGI entry point: HTTP requests and the lifespan protocol."""
        if scope["type"] == "http":
            await self.handle(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)

    async def lifespan(self, receive: Callable, send: Callable) -> None:
        """Start loading the repository when the server starts (without waiting), stop it at the end."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.loading = asyncio.get_running_loop().create_task(self.repository.start())
                self.metrics.start_publishing()
                await send({"type": "lifespan.startup.complete"})
            else:
                if self.loading is not None:
                    self.loading.cancel()
                self.repository.close()
                self.metrics.stop_publishing()
                if self.owns_control:
                    self.repository.control.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def handle(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        """Answer one HTTP request."""
        headers = RequestHeaders(scope["headers"])
        route = "unknown"
        try:
            resolved = self.route(scope["method"], scope["path"])
            route = resolved.name
            if (
                self.expected_authorization is not None
                and route not in OPEN_ROUTES
                and not hmac.compare_digest(headers.authorization or b"", self.expected_authorization)
            ):
                raise ProtocolError(
                    UNAUTHORIZED,
                    "this server needs a bearer token: send the header 'Authorization: Bearer <token>'",
                )
            status, body, extra = await resolved.handler(headers, receive, resolved.model, resolved.version)
        except ProtocolError as error:
            status, body, extra = _json_answer(error.status, {"error": error.message})
            if error.status in (PAYLOAD_TOO_LARGE, REQUEST_TIMEOUT):
                extra.append((b"connection", b"close"))
            elif error.status == UNAUTHORIZED:
                extra.append((b"www-authenticate", b"Bearer"))
        except ClientDisconnectedError:
            self.metrics.count_response(route, 499)
            return
        extra.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": extra})
        await send({"type": "http.response.body", "body": body})
        self.metrics.count_response(route, status)

    def route(self, method: str, path: str) -> Route:
        """The route of a request; raises 404 for an unknown path, 405 for a known path and a wrong method."""
        route = self._routes.get(path)
        if route is None:
            route = self._resolve(path)
            if len(self._routes) >= ROUTE_CACHE_SIZE:
                self._routes.clear()
            self._routes[path] = route
        if method != route.method:
            raise ProtocolError(METHOD_NOT_ALLOWED, f"this route takes {route.method} requests, not {method}")
        return route

    def _resolve(self, path: str) -> Route:
        if path == "/metrics":
            return Route("metrics", "GET", self.get_metrics)
        parts = path.split("/")
        if len(parts) < 2 or parts[0] or parts[1] != "v2":
            raise not_found(f"no route {path!r}; the routes of the Open Inference Protocol start with /v2")
        rest = parts[2:]
        if not rest:
            return Route("server_metadata", "GET", self.server_metadata)
        if rest == ["health", "live"]:
            return Route("health", "GET", self.live)
        if rest == ["health", "ready"]:
            return Route("health", "GET", self.ready)
        if rest == ["repository", "index"]:
            return Route("repository", "POST", self.repository_index)
        if len(rest) == 4 and rest[:2] == ["repository", "models"] and rest[3] in ("load", "unload"):
            return Route("repository", "POST", self.load if rest[3] == "load" else self.unload, rest[2])
        if len(rest) >= 2 and rest[0] == "models":
            name, tail, version = rest[1], rest[2:], ""
            if len(tail) >= 2 and tail[0] == "versions":
                version, tail = tail[1], tail[2:]
            if not tail:
                return Route("model_metadata", "GET", self.model_metadata, name, version)
            if tail == ["ready"]:
                return Route("model_ready", "GET", self.model_ready, name, version)
            if tail == ["config"]:
                return Route("model_config", "GET", self.model_configuration, name, version)
            if tail == ["infer"]:
                return Route("infer", "POST", self.infer, name, version)
        raise not_found(f"no route {path!r} in the Open Inference Protocol or its extensions")

    async def read_body(self, headers: RequestHeaders, receive: Callable) -> bytes:
        """The whole request body, decompressed; 413 above the limit, 408 if it does not arrive in time."""
        limit = self.settings.maximum_request_body_bytes
        declared = headers.content_length
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        chunks = []
        size = 0
        task = self.deadlines.enter(self.settings.request_timeout_seconds)
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnectedError
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
        except asyncio.CancelledError:
            if not self.deadlines.expired(task):
                raise
            raise ProtocolError(
                REQUEST_TIMEOUT,
                f"the request body did not arrive within {self.settings.request_timeout_seconds} seconds",
            ) from None
        finally:
            self.deadlines.leave(task)
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return _decompress(body, headers.content_encoding, limit)

    async def _optional_json_object(self, headers: RequestHeaders, receive: Callable, what: str) -> dict:
        body = await self.read_body(headers, receive)
        if not body.strip():
            return {}
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise bad_request(f"the body of the {what} request is not valid JSON ({error})") from None
        if not isinstance(value, dict):
            raise bad_request(f"the body of the {what} request must be a JSON object")
        return value

    async def get_metrics(
        self, headers: RequestHeaders, receive: Callable, model: str, version: str
    ) -> Answer:
        """``GET /metrics``: Prometheus' text format."""
        return 200, self.metrics.exposition(), [(b"content-type", METRICS_CONTENT_TYPE.encode())]

    async def server_metadata(
        self, headers: RequestHeaders, receive: Callable, model: str, version: str
    ) -> Answer:
        """``GET /v2``: the server's name, version and extensions."""
        return _json_answer(
            200, {"name": SERVER_NAME, "version": __version__, "extensions": list(EXTENSIONS)}
        )

    async def live(self, headers: RequestHeaders, receive: Callable, model: str, version: str) -> Answer:
        """``GET /v2/health/live``: 200 while the process answers."""
        return _empty()

    async def ready(self, headers: RequestHeaders, receive: Callable, model: str, version: str) -> Answer:
        """``GET /v2/health/ready``: 200 once the repository is loaded (every model ready, if strict)."""
        repository = self.repository
        repository.synchronise()
        if not repository.started:
            return _json_answer(400, {"error": "the server is still loading the model repository"})
        if self.settings.strict_readiness and not repository.all_ready:
            not_ready = sorted(name for name, model in repository.models.items() if model.state != "READY")
            return _json_answer(400, {"error": f"strict readiness: models not ready: {not_ready}"})
        return _empty()

    async def _ready_model(self, name: str, version: str) -> tuple[ServedModel, LoadedModel]:
        model = await self.repository.get(name)
        model.version(version)
        assert model.loaded is not None  # a model with a ready version has been loaded
        return model, model.loaded

    async def model_metadata(
        self, headers: RequestHeaders, receive: Callable, name: str, version: str
    ) -> Answer:
        """``GET /v2/models/<model>[/versions/<version>]``: the model's versions and tensors."""
        model, loaded = await self._ready_model(name, version)
        return _json_answer(
            200,
            {
                "name": name,
                "versions": [str(number) for number in sorted(model.versions)],
                "platform": loaded.configuration.platform or ONNX_RUNTIME_PLATFORM,
                "inputs": _tensor_metadata(loaded, "inputs"),
                "outputs": _tensor_metadata(loaded, "outputs"),
            },
        )

    async def model_ready(
        self, headers: RequestHeaders, receive: Callable, name: str, version: str
    ) -> Answer:
        """``GET /v2/models/<model>[/versions/<version>]/ready``: 200 when it answers requests, else 400.

        Like Triton, 400 for every model or version that does not answer, unknown ones included; the body
        says why.
        """
        try:
            model = await self.repository.get(name)
            model.version(version)
        except ProtocolError as error:
            return _json_answer(400, {"error": error.message})
        return _empty()

    async def model_configuration(
        self, headers: RequestHeaders, receive: Callable, name: str, version: str
    ) -> Answer:
        """``GET /v2/models/<model>[/versions/<version>]/config``: Triton's model configuration."""
        _, loaded = await self._ready_model(name, version)
        return _json_answer(200, triton_configuration(loaded))

    async def repository_index(
        self, headers: RequestHeaders, receive: Callable, model: str, version: str
    ) -> Answer:
        """``POST /v2/repository/index``: every model and version with its state (``{"ready": true}``)."""
        request = await self._optional_json_object(headers, receive, "repository index")
        ready_only = request.get("ready", False)
        if not isinstance(ready_only, bool):
            raise bad_request("'ready' in the repository index request must be true or false")
        return _json_answer(200, self.repository.index(ready_only))

    async def load(self, headers: RequestHeaders, receive: Callable, name: str, version: str) -> Answer:
        """``POST /v2/repository/models/<model>/load``: read the model from the repository again."""
        request = await self._optional_json_object(headers, receive, "load")
        parameters = request.get("parameters", {})
        if not isinstance(parameters, dict):
            raise bad_request("'parameters' in the load request must be a JSON object")
        if "config" in parameters or any(key.startswith("file:") for key in parameters):
            raise bad_request(
                "this server loads models only as they are in the repository; write config.pbtxt and the "
                "version folders into the repository, then load the model without 'config' or files"
            )
        await self.repository.load(name)
        return _empty()

    async def unload(self, headers: RequestHeaders, receive: Callable, name: str, version: str) -> Answer:
        """``POST /v2/repository/models/<model>/unload``: stop serving the model."""
        await self._optional_json_object(headers, receive, "unload")
        await self.repository.unload(name)
        return _empty()

    async def infer(self, headers: RequestHeaders, receive: Callable, name: str, version: str) -> Answer:
        """``POST /v2/models/<model>[/versions/<version>]/infer``: run the model on the request's tensors."""
        started = time.perf_counter()
        model = await self.repository.get(name)
        served = model.version(version)
        loaded = model.loaded
        assert loaded is not None  # a model with a ready version has been loaded
        try:
            body = await self.read_body(headers, receive)
            request = parse_inference_request(
                body, parse_header_length(headers.inference_header_content_length, len(body))
            )
            inputs, batch_size = self._decode_inputs(request, loaded)
            requested = self._requested_outputs(request, loaded)
            timeout = self.settings.request_timeout_seconds
            if request.timeout_seconds is not None:
                timeout = min(timeout, request.timeout_seconds)
            task = self.deadlines.enter(timeout)
            try:
                results = await served.scheduler.run(inputs, batch_size)
            except asyncio.CancelledError:
                if not self.deadlines.expired(task):
                    raise
                raise unavailable(
                    f"model {name!r} did not answer within {timeout} seconds; the server is overloaded or "
                    "the timeout is too short"
                ) from None
            except ModelExecutionError as error:
                raise ProtocolError(
                    INTERNAL_SERVER_ERROR, f"model {name!r} failed on inputs that passed every check: {error}"
                ) from None
            finally:
                self.deadlines.leave(task)
            outputs = []
            batched = loaded.configuration.max_batch_size > 0
            for output in requested:
                array = results[output.name]
                binary = request.binary_output if output.binary is None else output.binary
                if output.classification:
                    strings, shape = classify(array, output.classification, batched, served.labels)
                    outputs.append(ResponseOutput(output.name, "BYTES", strings, shape, binary))
                else:
                    datatype = loaded.output_specifications[output.name].protocol_data_type
                    outputs.append(ResponseOutput(output.name, datatype, array, array.shape, binary))
            response, header_length = encode_response(name, str(served.number), request.identifier, outputs)
        finally:
            self.metrics.observe_inference(name, time.perf_counter() - started)
        extra: Headers = [(b"content-type", JSON if header_length is None else OCTET_STREAM)]
        if header_length is not None:
            extra.append((b"inference-header-content-length", str(header_length).encode()))
        encoding = _response_encoding(headers.accept_encoding)
        if encoding is not None:
            response = _compress(response, encoding)
            extra.append((b"content-encoding", encoding.encode()))
        return 200, response, extra

    @staticmethod
    def _decode_inputs(
        request: InferenceRequest, loaded: LoadedModel
    ) -> tuple[dict[str, numpy.ndarray], int]:
        name = loaded.name
        specifications = loaded.input_specifications
        arrays = {}
        for requested in request.inputs:
            specification = specifications.get(requested.name)
            if specification is None:
                raise bad_request(
                    f"unexpected inference input {requested.name!r} for model {name!r}; its inputs are "
                    f"{sorted(specifications)}"
                )
            arrays[requested.name] = decode_input(requested, specification, name)
        missing = sorted(set(specifications) - set(arrays))
        if missing:
            raise bad_request(
                f"model {name!r} expects the inputs {sorted(specifications)}; the request lacks {missing}"
            )
        configuration = loaded.configuration
        try:
            if configuration.max_batch_size > 0:
                batch_size = validate_inputs(
                    configuration.inputs, arrays, max_batch_size=configuration.max_batch_size
                )
            else:
                for specification in configuration.inputs:
                    specification.check_array(arrays[specification.name])
                batch_size = 1
        except ContractError as error:
            raise bad_request(f"model {name!r}: {error.reason}") from None
        if batch_size < 1:
            raise bad_request(f"model {name!r}: the batch size must be at least 1, found {batch_size}")
        return arrays, batch_size

    @staticmethod
    def _requested_outputs(request: InferenceRequest, loaded: LoadedModel) -> list[RequestedOutput]:
        if request.outputs is None:
            return [RequestedOutput(each.name, None, 0) for each in loaded.configuration.outputs]
        for output in request.outputs:
            if output.name not in loaded.output_specifications:
                raise bad_request(
                    f"unexpected inference output {output.name!r} for model {loaded.name!r}; its outputs "
                    f"are {sorted(loaded.output_specifications)}"
                )
        return request.outputs
