"""Benchmark: the inference server against a minimal Starlette endpoint and KServe's ModelServer.

One command, from the repository's root (wrk comes from Debian's packages: ``apt-get install -y wrk``)::

    uv run --project packages/inference-server --group benchmark python benchmarks/inference-server/run.py

It exports a 64-128-10 MLP (ONNX, one ONNX Runtime thread) into a temporary model repository exactly as a
model package's exporter does (``config.pbtxt``, ``model.onnx``, ``artifact.json``), starts each server on
127.0.0.1 in turn on that same model, checks one answer of each, then drives it with wrk (8 connections) at
batch 1 and 32, JSON and binary, several runs each, and prints the medians of requests per second, the p50
and p99 latency, the server's processor time per request and the failed requests, side by side. Then a
bounded load test of this server (8 connections, 10 seconds, 3 times): failed requests and resident memory
after each run. ``--model-repository`` and ``--model`` benchmark an exported model instead (one FP32 input).

KServe's SDK is installed with uv into its own environment under ``.benchmarks/`` on the first run; when
that fails (no network), KServe is left out and the table says so.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

from shared_contracts import (
    ArtifactManifest,
    ModelConfiguration,
    ParityReport,
    RepositoryEntry,
    RunReference,
    TensorSpecification,
    sha256_file,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
KSERVE_ENVIRONMENT = ROOT / ".benchmarks" / "kserve-environment"
WRK_SCRIPT = """
local handle = io.open(os.getenv("BENCHMARK_BODY"), "rb")
wrk.method = "POST"
wrk.body = handle:read("*a")
handle:close()
local length = os.getenv("BENCHMARK_HEADER_LENGTH")
if length ~= nil and length ~= "" then
    wrk.headers["Content-Type"] = "application/octet-stream"
    wrk.headers["Inference-Header-Content-Length"] = length
else
    wrk.headers["Content-Type"] = "application/json"
end
"""


# The model: a 64-128-10 MLP, exported as the zoo's exporters export.


def build_repository(repository: Path, name: str, delay_microseconds: int | None) -> None:
    """Write the MLP into ``repository/name`` with config.pbtxt and artifact.json."""
    generator = numpy.random.default_rng(0)
    first = generator.normal(scale=0.1, size=(64, 128)).astype(numpy.float32)
    second = generator.normal(scale=0.1, size=(128, 10)).astype(numpy.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["pixels", "first_weights"], ["hidden_product"]),
            helper.make_node("Add", ["hidden_product", "first_bias"], ["hidden_sum"]),
            helper.make_node("Relu", ["hidden_sum"], ["hidden"]),
            helper.make_node("MatMul", ["hidden", "second_weights"], ["output_product"]),
            helper.make_node("Add", ["output_product", "second_bias"], ["logits"]),
        ],
        "mlp",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        [
            numpy_helper.from_array(first, "first_weights"),
            numpy_helper.from_array(numpy.zeros(128, dtype=numpy.float32), "first_bias"),
            numpy_helper.from_array(second, "second_weights"),
            numpy_helper.from_array(numpy.zeros(10, dtype=numpy.float32), "second_bias"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    inputs = (TensorSpecification("pixels", "float32", (-1, 64)),)
    outputs = (TensorSpecification("logits", "float32", (-1, 10)),)
    from shared_contracts import DynamicBatching

    ModelConfiguration(
        name=name,
        inputs=inputs,
        outputs=outputs,
        max_batch_size=32,
        dynamic_batching=None if delay_microseconds is None else DynamicBatching(delay_microseconds),
        parameters={"intra_op_thread_count": "1"},
    ).save(repository / name / "config.pbtxt")
    entry = RepositoryEntry(repository, name, 1)
    entry.version_directory.mkdir(parents=True, exist_ok=True)
    onnx.save(model, entry.onnx_path)
    digest = "0" * 64
    ArtifactManifest(
        model_name=name,
        model_version="benchmark",
        inputs=inputs,
        outputs=outputs,
        onnx_sha256=sha256_file(entry.onnx_path),
        onnx_opset=17,
        run=RunReference("benchmark", "none", digest, digest),
        parity=ParityReport(0, 0.0, 0.0, True),
    ).save(entry.manifest_path)


# The requests.


@dataclass
class Scenario:
    """One kind of request: its body file, and the JSON part's length for binary bodies."""

    name: str
    batch: int
    binary: bool
    body: Path
    header_length: int | None
    values: numpy.ndarray


def write_scenarios(folder: Path, input_name: str, width: int) -> list[Scenario]:
    """The four request bodies: JSON and binary, batch 1 and 32, with the same random values."""
    values = numpy.random.default_rng(1).random((32, width), dtype=numpy.float32)
    scenarios = []
    for binary in (False, True):
        for batch in (1, 32):
            chosen = values[:batch]
            name = f"{'binary' if binary else 'JSON'}, batch {batch}"
            path = folder / f"{'binary' if binary else 'json'}-{batch}.body"
            if binary:
                header = json.dumps(
                    {
                        "inputs": [
                            {
                                "name": input_name,
                                "datatype": "FP32",
                                "shape": [batch, width],
                                "parameters": {"binary_data_size": chosen.nbytes},
                            }
                        ],
                        "parameters": {"binary_data_output": True},
                    }
                ).encode()
                path.write_bytes(header + chosen.tobytes())
                scenarios.append(Scenario(name, batch, True, path, len(header), chosen))
            else:
                document = {
                    "inputs": [
                        {
                            "name": input_name,
                            "datatype": "FP32",
                            "shape": [batch, width],
                            "data": chosen.tolist(),
                        }
                    ]
                }
                path.write_text(json.dumps(document))
                scenarios.append(Scenario(name, batch, False, path, None, chosen))
    return scenarios


# The servers.


@dataclass
class Server:
    """A server to benchmark: how to start it and what it can answer."""

    name: str
    command: list[str]
    binary: bool
    note: str = ""
    environment: dict[str, str] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(
    url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict, bytes]:
    message = urllib.request.Request(url, data=body, headers=headers or {}, method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(message, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def wait_until_ready(process: subprocess.Popen, url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server ended with exit code {process.returncode}")
        try:
            if request(url)[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server was not ready after {timeout} seconds")


def process_tree(identifier: int) -> list[int]:
    """The process and every descendant, from /proc."""
    found = [identifier]
    for index in range(len(found) + 1000):
        if index >= len(found):
            break
        for task in Path(f"/proc/{found[index]}/task").glob("*"):
            try:
                found += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def processor_seconds(identifier: int) -> float:
    total = 0
    for each in process_tree(identifier):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def resident_megabytes(identifier: int) -> float:
    total = 0
    for each in process_tree(identifier):
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(match.group(1)) if match else 0
    return total / 1024


# wrk.


@dataclass
class Measurement:
    requests_per_second: float
    p50_milliseconds: float
    p99_milliseconds: float
    failed: int
    processor_microseconds_per_request: float


def milliseconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"wrk printed a latency this script cannot read: {text!r}")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(
    url: str, scenario: Scenario, duration: float, connections: int, script: Path, server_process: int
) -> Measurement:
    environment = {
        **os.environ,
        "BENCHMARK_BODY": str(scenario.body),
        "BENCHMARK_HEADER_LENGTH": str(scenario.header_length or ""),
    }
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency", "-s", str(script), url]
    before = processor_seconds(server_process)
    output = subprocess.run(command, env=environment, capture_output=True, text=True, check=True).stdout
    if "50%" not in output:
        raise RuntimeError(f"wrk gave no latency distribution:\n{output}")
    spent = processor_seconds(server_process) - before
    completed = int(re.search(r"(\d+) requests in", output).group(1))
    non_success = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    failed = (int(non_success.group(1)) if non_success else 0) + (
        sum(map(int, socket_errors.groups())) if socket_errors else 0
    )
    return Measurement(
        requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        p50_milliseconds=milliseconds(re.search(r"^\s+50%\s+(\S+)$", output, re.MULTILINE).group(1)),
        p99_milliseconds=milliseconds(re.search(r"^\s+99%\s+(\S+)$", output, re.MULTILINE).group(1)),
        failed=failed,
        processor_microseconds_per_request=spent / max(completed, 1) * 1e6,
    )


def median(measurements: list[Measurement]) -> Measurement:
    return Measurement(
        statistics.median(each.requests_per_second for each in measurements),
        statistics.median(each.p50_milliseconds for each in measurements),
        statistics.median(each.p99_milliseconds for each in measurements),
        sum(each.failed for each in measurements),
        statistics.median(each.processor_microseconds_per_request for each in measurements),
    )


def check_answer(url: str, scenario: Scenario, session: onnxruntime.InferenceSession) -> None:
    """One request through urllib: the server must answer what ONNX Runtime computes here."""
    headers = {"Content-Type": "application/json"}
    if scenario.header_length is not None:
        headers["Content-Type"] = "application/octet-stream"
        headers["Inference-Header-Content-Length"] = str(scenario.header_length)
    status, response_headers, body = request(url, scenario.body.read_bytes(), headers)
    if status != 200:
        raise RuntimeError(f"{scenario.name}: status {status}: {body[:300]!r}")
    length = {key.lower(): value for key, value in response_headers.items()}.get(
        "inference-header-content-length"
    )
    document = json.loads(body[: int(length)] if length else body)
    output = document["outputs"][0]
    if "data" in output:
        answer = numpy.array(output["data"], dtype=numpy.float32)
    else:
        answer = numpy.frombuffer(
            body[int(length) : int(length) + output["parameters"]["binary_data_size"]], dtype=numpy.float32
        )
    expected = session.run(None, {session.get_inputs()[0].name: scenario.values})[0]
    numpy.testing.assert_allclose(answer.reshape(expected.shape), expected, rtol=1e-4, atol=1e-5)


# The run.


def kserve_python(environment: Path) -> Path | None:
    """The Python of an environment with KServe's SDK, made with uv when missing; None when it cannot be."""
    python = environment / "bin" / "python"
    if python.exists():
        return python
    uv = shutil.which("uv")
    if uv is None:
        return None
    try:
        subprocess.run(
            [uv, "venv", "-q", "--python", sys.executable, str(environment)], check=True, timeout=300
        )
        subprocess.run(
            [uv, "pip", "install", "-q", "--python", str(python), "kserve", "onnxruntime", "numpy"],
            check=True,
            timeout=900,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        print(f"KServe could not be installed ({error}); it is left out.", file=sys.stderr)
        shutil.rmtree(environment, ignore_errors=True)
        return None
    return python


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--model-repository", type=Path, help="an exported model repository (default: a 64-128-10 MLP)"
    )
    parser.add_argument("--model", default="mlp", help="the model to benchmark in the repository")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="worker processes of this server"
    )
    parser.add_argument(
        "--dynamic-batching-delay-microseconds",
        type=int,
        default=None,
        help="give the MLP's config.pbtxt dynamic_batching with this queue delay (default: none)",
    )
    parser.add_argument("--duration-seconds", type=float, default=10.0, help="length of each wrk run")
    parser.add_argument(
        "--repetitions",
        type=int,
        default=3,
        help="wrk runs per server and request kind (the median is shown)",
    )
    parser.add_argument("--connections", type=int, default=8, help="wrk's connections")
    parser.add_argument(
        "--load-test-seconds", type=float, default=10.0, help="length of each load test run (0 skips it)"
    )
    parser.add_argument("--skip-kserve", action="store_true", help="leave KServe out")
    parser.add_argument("--output", type=Path, help="also write the results as JSON to this file")
    arguments = parser.parse_args()
    if shutil.which("wrk") is None:
        parser.exit(2, "wrk is needed: apt-get update && apt-get install -y wrk\n")

    with tempfile.TemporaryDirectory(prefix="inference-server-benchmark-") as temporary:
        folder = Path(temporary)
        repository = arguments.model_repository
        if repository is None:
            repository = folder / "repository"
            build_repository(repository, arguments.model, arguments.dynamic_batching_delay_microseconds)
        configuration = ModelConfiguration.load(repository / arguments.model / "config.pbtxt")
        version = max(
            int(child.name) for child in (repository / arguments.model).iterdir() if child.name.isdigit()
        )
        onnx_path = RepositoryEntry(repository, arguments.model, version).onnx_path
        session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        specification = configuration.inputs[0]
        scenarios = write_scenarios(folder, specification.name, specification.shape[-1])
        script = folder / "post.lua"
        script.write_text(WRK_SCRIPT)

        def this_server(workers: int) -> Server:
            return Server(
                f"this server ({workers} worker{'s' if workers > 1 else ''})",
                [
                    sys.executable,
                    "-m",
                    "inference_server",
                    "serve",
                    "--model-repository",
                    str(repository),
                    "--workers",
                    str(workers),
                    "--no-access-log",
                    "--log-level",
                    "warning",
                    "--port",
                ],
                binary=True,
            )

        servers = [this_server(arguments.workers)]
        if arguments.workers > 1:
            servers.append(this_server(1))  # the same number of processes as the baseline
        starlette = Server(
            "minimal Starlette endpoint (1 process)",
            [
                sys.executable,
                str(HERE / "starlette_endpoint.py"),
                "--model",
                str(onnx_path),
                "--name",
                arguments.model,
                "--port",
            ],
            binary=False,
        )
        servers.append(starlette)
        python = None if arguments.skip_kserve else kserve_python(KSERVE_ENVIRONMENT)
        if python is not None:
            version_text = subprocess.run(
                [str(python), "-c", "from importlib.metadata import version; print(version('kserve'))"],
                capture_output=True,
                text=True,
            ).stdout.strip()
            servers.append(
                Server(
                    f"KServe {version_text} ModelServer (1 process)",
                    [
                        str(python),
                        str(HERE / "kserve_model_server.py"),
                        "--model",
                        str(onnx_path),
                        "--name",
                        arguments.model,
                        "--port",
                    ],
                    binary=True,
                )
            )

        # Every server runs from the start; the runs go round the servers, so that a change in the load the
        # machine carries (other users, other processes) touches every server alike.
        processes, bases = {}, {}
        try:
            for server in servers:
                port = free_port()
                bases[server.name] = f"http://127.0.0.1:{port}/v2/models/{arguments.model}"
                processes[server.name] = subprocess.Popen(
                    [*server.command, str(port)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            runs: dict[str, dict[str, list[Measurement]]] = {server.name: {} for server in servers}
            for server in servers:
                wait_until_ready(processes[server.name], f"{bases[server.name]}/ready")
                for scenario in scenarios:
                    if scenario.binary and not server.binary:
                        continue
                    check_answer(f"{bases[server.name]}/infer", scenario, session)
                    warm_up = (scenario, 1, arguments.connections, script, processes[server.name].pid)
                    run_wrk(f"{bases[server.name]}/infer", *warm_up)
                    runs[server.name][scenario.name] = []
            for repetition in range(arguments.repetitions):
                for scenario in scenarios:
                    for server in servers:
                        if scenario.name not in runs[server.name]:
                            continue
                        measurement = run_wrk(
                            f"{bases[server.name]}/infer",
                            scenario,
                            arguments.duration_seconds,
                            arguments.connections,
                            script,
                            processes[server.name].pid,
                        )
                        runs[server.name][scenario.name].append(measurement)
                        print(
                            f"{repetition + 1} {server.name:45s} {scenario.name:18s} {measurement}",
                            file=sys.stderr,
                        )
            results = {
                name: {kind: median(measurements) for kind, measurements in kinds.items()}
                for name, kinds in runs.items()
            }
            load_test = []
            ours = processes[servers[0].name]
            for _ in range(3 if arguments.load_test_seconds > 0 else 0):
                measurement = run_wrk(
                    f"{bases[servers[0].name]}/infer",
                    scenarios[0],
                    arguments.load_test_seconds,
                    arguments.connections,
                    script,
                    ours.pid,
                )
                load_test.append((measurement, resident_megabytes(ours.pid)))
        finally:
            for process in processes.values():
                os.killpg(process.pid, signal.SIGTERM)
            for process in processes.values():
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()

        report(results, load_test, servers, arguments)
        if arguments.output is not None:
            arguments.output.write_text(
                json.dumps(
                    {
                        "servers": {
                            name: {kind: vars(value) for kind, value in kinds.items()}
                            for name, kinds in results.items()
                        },
                        "load_test": [
                            {**vars(measurement), "resident_megabytes": memory}
                            for measurement, memory in load_test
                        ],
                    },
                    indent=2,
                )
            )


def report(results, load_test, servers, arguments) -> None:
    print(
        f"\n{arguments.repetitions} runs of {arguments.duration_seconds:g} s per cell (median), wrk with 1 thread and "
        f"{arguments.connections} connections on 127.0.0.1, {os.cpu_count()} processor cores, ONNX Runtime "
        f"{onnxruntime.__version__} with 1 thread.\n"
    )
    print("| request | server | requests/s | p50 ms | p99 ms | server processor µs per request | failed |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    kinds = ["JSON, batch 1", "JSON, batch 32", "binary, batch 1", "binary, batch 32"]
    for kind in kinds:
        for server in servers:
            measurement = results.get(server.name, {}).get(kind)
            if measurement is None:
                print(f"| {kind} | {server.name} | - | - | - | - | JSON only |")
                continue
            print(
                f"| {kind} | {server.name} | {measurement.requests_per_second:,.0f} | {measurement.p50_milliseconds:.2f} | "
                f"{measurement.p99_milliseconds:.2f} | {measurement.processor_microseconds_per_request:,.0f} | {measurement.failed} |"
            )
    ours = results[servers[0].name]
    starlette = results[next(server.name for server in servers if server.name.startswith("minimal"))]
    print("\n| ratio of requests/s | value | goal |")
    print("| --- | ---: | --- |")
    print(
        f"| this server / Starlette, JSON batch 1 | {ours['JSON, batch 1'].requests_per_second / starlette['JSON, batch 1'].requests_per_second:.2f} | at least 1.5 |"
    )
    print(
        f"| this server binary / Starlette JSON, batch 32 | {ours['binary, batch 32'].requests_per_second / starlette['JSON, batch 32'].requests_per_second:.2f} | at least 3 |"
    )
    if servers[-1].name.startswith("KServe"):
        kserve = results[servers[-1].name]
        for kind in kinds:
            print(
                f"| this server / KServe, {kind} | {ours[kind].requests_per_second / kserve[kind].requests_per_second:.1f} | at least 8 |"
            )
    print(f"| p99 latency at batch 1, JSON (ms) | {ours['JSON, batch 1'].p99_milliseconds:.2f} | under 10 |")
    if load_test:
        print(
            f"\nLoad test of this server: JSON batch 1, {arguments.connections} connections, {arguments.load_test_seconds:g} s, 3 times.\n"
        )
        print("| run | requests/s | failed | resident memory of all its processes after the run (MiB) |")
        print("| ---: | ---: | ---: | ---: |")
        for index, (measurement, memory) in enumerate(load_test, start=1):
            print(
                f"| {index} | {measurement.requests_per_second:,.0f} | {measurement.failed} | {memory:.1f} |"
            )


if __name__ == "__main__":
    main()
