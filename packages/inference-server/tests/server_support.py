"""Test support: small real ONNX models written into real model repositories, and a real server.

Models are built with the onnx package's helper API and written exactly as an exporter writes them:
``config.pbtxt`` and ``artifact.json`` through shared_contracts, ``model.onnx`` beside the manifest.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy
import onnx
import uvicorn
from inference_server.application import InferenceApplication
from inference_server.server import uvicorn_configuration
from inference_server.settings import ServerSettings
from onnx import TensorProto, helper, numpy_helper

from shared_contracts import (
    ArtifactManifest,
    DynamicBatching,
    ModelConfiguration,
    ParityReport,
    RepositoryEntry,
    RunReference,
    TensorSpecification,
    VersionPolicy,
    sha256_file,
)

ONNX_TYPES = {
    "bool": TensorProto.BOOL,
    "uint8": TensorProto.UINT8,
    "uint16": TensorProto.UINT16,
    "uint32": TensorProto.UINT32,
    "uint64": TensorProto.UINT64,
    "int8": TensorProto.INT8,
    "int16": TensorProto.INT16,
    "int32": TensorProto.INT32,
    "int64": TensorProto.INT64,
    "float16": TensorProto.FLOAT16,
    "float32": TensorProto.FLOAT,
    "float64": TensorProto.DOUBLE,
}

DIGEST = "0" * 64
LABELS = tuple(f"digit {index}" for index in range(10))
CLASSIFIER_SEED = 7


def classifier_weights() -> tuple[numpy.ndarray, numpy.ndarray]:
    """The classifier's weights, the same every time, so tests can compute the expected logits."""
    generator = numpy.random.default_rng(CLASSIFIER_SEED)
    weights = generator.normal(size=(64, 10)).astype(numpy.float32)
    bias = generator.normal(size=(10,)).astype(numpy.float32)
    return weights, bias


def expected_logits(pixels: numpy.ndarray) -> numpy.ndarray:
    """What the classifier must answer for ``pixels``."""
    weights, bias = classifier_weights()
    return pixels.astype(numpy.float32) @ weights + bias


def _value(name: str, dtype: str, shape: Sequence[int | str | None]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, ONNX_TYPES[dtype], list(shape))


def _model(nodes, inputs, outputs, initializers=()) -> onnx.ModelProto:
    graph = helper.make_graph(list(nodes), "test", list(inputs), list(outputs), list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def classifier_model() -> onnx.ModelProto:
    """MatMul + Add, 64 pixels to 10 logits, and a Softmax of them."""
    weights, bias = classifier_weights()
    return _model(
        [
            helper.make_node("MatMul", ["pixels", "weights"], ["product"]),
            helper.make_node("Add", ["product", "bias"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        ],
        [_value("pixels", "float32", ["batch", 64])],
        [_value("logits", "float32", ["batch", 10]), _value("probabilities", "float32", ["batch", 10])],
        [numpy_helper.from_array(weights, "weights"), numpy_helper.from_array(bias, "bias")],
    )


def identity_model(dtypes: Sequence[str], shape: Sequence[int | str]) -> onnx.ModelProto:
    """One Identity per data type: ``input_<dtype>`` to ``output_<dtype>``."""
    return _model(
        [helper.make_node("Identity", [f"input_{dtype}"], [f"output_{dtype}"]) for dtype in dtypes],
        [_value(f"input_{dtype}", dtype, shape) for dtype in dtypes],
        [_value(f"output_{dtype}", dtype, shape) for dtype in dtypes],
    )


def add_constant_model(constant: int) -> onnx.ModelProto:
    """``values + constant`` on int64 values of shape [batch, 1]."""
    return _model(
        [helper.make_node("Add", ["values", "constant"], ["sums"])],
        [_value("values", "int64", ["batch", 1])],
        [_value("sums", "int64", ["batch", 1])],
        [numpy_helper.from_array(numpy.array([constant], dtype=numpy.int64), "constant")],
    )


def doubling_model() -> onnx.ModelProto:
    """``x * 2`` on four float32 values, without a batch dimension."""
    return _model(
        [helper.make_node("Mul", ["x", "two"], ["y"])],
        [_value("x", "float32", [4])],
        [_value("y", "float32", [4])],
        [numpy_helper.from_array(numpy.array([2.0], dtype=numpy.float32), "two")],
    )


def reshaping_model() -> onnx.ModelProto:
    """Reshapes [batch, 3] into [2, 3]: ONNX Runtime fails on every batch size but 2."""
    return _model(
        [helper.make_node("Reshape", ["values", "target"], ["reshaped"])],
        [_value("values", "float32", ["batch", 3])],
        [_value("reshaped", "float32", [2, 3])],
        [numpy_helper.from_array(numpy.array([2, 3], dtype=numpy.int64), "target")],
    )


def summing_model() -> onnx.ModelProto:
    """Sums the whole batch into shape [1, 1]: its output cannot be split between batched requests."""
    return _model(
        [helper.make_node("ReduceSum", ["values"], ["total"], keepdims=1)],
        [_value("values", "float32", ["batch", 1])],
        [_value("total", "float32", [1, 1])],
    )


@dataclass
class ModelSpecification:
    """What to write for one model: its graph per version and its configuration."""

    name: str
    graphs: dict[int, onnx.ModelProto]
    inputs: tuple[TensorSpecification, ...]
    outputs: tuple[TensorSpecification, ...]
    max_batch_size: int = 0
    dynamic_batching: DynamicBatching | None = None
    version_policy: VersionPolicy = field(default_factory=VersionPolicy)
    instance_count: int = 1
    parameters: dict[str, str] = field(default_factory=lambda: {"intra_op_thread_count": "1"})
    label_names: tuple[str, ...] = ()


def write_model(repository: Path, specification: ModelSpecification) -> None:
    """Write ``config.pbtxt``, and ``model.onnx`` with ``artifact.json`` for every version."""
    configuration = ModelConfiguration(
        name=specification.name,
        inputs=specification.inputs,
        outputs=specification.outputs,
        max_batch_size=specification.max_batch_size,
        dynamic_batching=specification.dynamic_batching,
        version_policy=specification.version_policy,
        instance_count=specification.instance_count,
        parameters=specification.parameters,
    )
    configuration.save(repository / specification.name / "config.pbtxt")
    for version, graph in specification.graphs.items():
        entry = RepositoryEntry(repository, specification.name, version)
        entry.version_directory.mkdir(parents=True, exist_ok=True)
        onnx.save(graph, entry.onnx_path)
        write_manifest(entry, specification)


def write_manifest(entry: RepositoryEntry, specification: ModelSpecification) -> None:
    """Write the version's ``artifact.json`` with the SHA-256 of its ``model.onnx``."""
    ArtifactManifest(
        model_name=specification.name,
        model_version="1.0.0",
        inputs=specification.inputs,
        outputs=specification.outputs,
        onnx_sha256=sha256_file(entry.onnx_path),
        onnx_opset=17,
        run=RunReference("run-1", "runs/run-1/run.json", DIGEST, DIGEST),
        parity=ParityReport(8, 0.0, 1e-5, True),
        label_names=specification.label_names,
    ).save(entry.manifest_path)


def tensor(name: str, dtype: str, shape: Sequence[int]) -> TensorSpecification:
    """A tensor specification."""
    return TensorSpecification(name, dtype, tuple(shape))


def classifier(name: str = "classifier", **options) -> ModelSpecification:
    """The 64 -> 10 classifier with labels, batches of up to 32."""
    settings = {"max_batch_size": 32, "label_names": LABELS, **options}
    return ModelSpecification(
        name,
        {1: classifier_model()},
        (tensor("pixels", "float32", [-1, 64]),),
        (tensor("logits", "float32", [-1, 10]), tensor("probabilities", "float32", [-1, 10])),
        **settings,
    )


def identities(name: str = "identities") -> ModelSpecification:
    """Every data type through Identity, variable length, batches of up to 8."""
    dtypes = list(ONNX_TYPES)
    return ModelSpecification(
        name,
        {1: identity_model(dtypes, ["batch", "length"])},
        tuple(tensor(f"input_{dtype}", dtype, [-1, -1]) for dtype in dtypes),
        tuple(tensor(f"output_{dtype}", dtype, [-1, -1]) for dtype in dtypes),
        max_batch_size=8,
    )


def standard_repository(repository: Path) -> Path:
    """The repository most server tests use: several models, versions, and one refused model."""
    write_model(repository, classifier())
    write_model(
        repository,
        classifier(
            "batched",
            dynamic_batching=DynamicBatching(max_queue_delay_microseconds=300_000, preferred_batch_size=(4,)),
            instance_count=2,
        ),
    )
    write_model(repository, identities())
    write_model(
        repository,
        ModelSpecification(
            "doubler", {1: doubling_model()}, (tensor("x", "float32", [4]),), (tensor("y", "float32", [4]),)
        ),
    )
    write_model(
        repository,
        ModelSpecification(
            "versioned",
            {number: add_constant_model(number * 100) for number in (1, 2, 3)},
            (tensor("values", "int64", [-1, 1]),),
            (tensor("sums", "int64", [-1, 1]),),
            max_batch_size=4,
            version_policy=VersionPolicy("specific", versions=(1, 3)),
        ),
    )
    write_model(
        repository,
        ModelSpecification(
            "reshaper",
            {1: reshaping_model()},
            (tensor("values", "float32", [-1, 3]),),
            (tensor("reshaped", "float32", [2, 3]),),
            max_batch_size=0,
        ),
    )
    write_model(
        repository,
        ModelSpecification(
            "summer",
            {1: summing_model()},
            (tensor("values", "float32", [-1, 1]),),
            (tensor("total", "float32", [-1, 1]),),
            max_batch_size=8,
            dynamic_batching=DynamicBatching(max_queue_delay_microseconds=200_000, preferred_batch_size=(2,)),
        ),
    )
    write_model(
        repository,
        ModelSpecification(
            "mixed",
            {number: add_constant_model(number) for number in (1, 2)},
            (tensor("values", "int64", [-1, 1]),),
            (tensor("sums", "int64", [-1, 1]),),
            max_batch_size=4,
            version_policy=VersionPolicy("all"),
        ),
    )
    mixed = RepositoryEntry(repository, "mixed", 2).onnx_path
    mixed.write_bytes(mixed.read_bytes() + b"\0")
    write_model(repository, classifier("tampered"))
    onnx_path = RepositoryEntry(repository, "tampered", 1).onnx_path
    onnx_path.write_bytes(onnx_path.read_bytes() + b"\0")
    return repository


def free_socket() -> socket.socket:
    """A listening socket on a free loopback port."""
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listening.bind(("127.0.0.1", 0))
    return listening


@dataclass
class RunningServer:
    """A real server in a thread of the test process."""

    application: InferenceApplication
    server: uvicorn.Server
    thread: threading.Thread
    port: int

    @property
    def address(self) -> str:
        """``127.0.0.1:port``, as tritonclient takes it."""
        return f"127.0.0.1:{self.port}"

    def connection(self) -> http.client.HTTPConnection:
        """A raw HTTP connection to the server."""
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """One raw HTTP request on a new connection: status, headers (lower-case names), body."""
        connection = self.connection()
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()

    def wait_until_loaded(self, timeout: float = 30.0) -> None:
        """Wait until the initial loading of the repository has finished."""
        deadline = time.monotonic() + timeout
        while not self.application.repository.started:
            if time.monotonic() > deadline:
                raise TimeoutError("the repository did not load in time")
            time.sleep(0.01)


@contextlib.contextmanager
def running_server(settings: ServerSettings) -> Iterator[RunningServer]:
    """Start the real application under uvicorn on a free loopback port, stop it afterwards."""
    application = InferenceApplication(settings)
    listening = free_socket()
    port = listening.getsockname()[1]
    server = uvicorn.Server(uvicorn_configuration(settings, application))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    running = RunningServer(application, server, thread, port)
    try:
        running.wait_until_loaded()
        yield running
    finally:
        server.should_exit = True
        thread.join(30)
        listening.close()
