"""The Prometheus metrics of the server: responses by route and status, inference latency, batch sizes.

Served at ``GET /metrics`` in Prometheus' text format (version 0.0.4). Counting is a few dictionary
updates in the worker's memory, cheap enough for every request (a shared-memory metrics library costs about
ten times more per request, a noticeable share of a small model's request). With several worker processes
each worker also writes its totals, once a second and when it stops, into a file of a folder the workers
share; whichever worker answers a scrape adds the others' latest totals to its own. A worker that was
replaced leaves its file, so that every counter keeps growing.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The content type of Prometheus' text exposition format."""

PUBLISH_INTERVAL_SECONDS = 1.0
"""How often a worker writes its totals for the other workers to report."""

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
"""Upper bounds, in seconds, of the inference latency histogram."""

BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
"""Upper bounds of the batch size histogram."""

RESPONSES = "inference_server_http_responses_total"
LATENCY = "inference_server_inference_duration_seconds"
BATCH_SIZE = "inference_server_batch_size"

_DESCRIPTIONS = {
    RESPONSES: ("counter", "HTTP responses sent, by route and status code (499: the client left)."),
    LATENCY: (
        "histogram",
        "Time from receiving an inference request to having its response ready, by model; its count is "
        "the number of inference requests each model answered, successfully or not.",
    ),
    BATCH_SIZE: ("histogram", "Number of examples in each batch run by ONNX Runtime, by model and version."),
}


class Histogram:
    """A Prometheus histogram's counts per bucket and sum, kept in plain numbers."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        """The buckets' upper bounds (the last bucket, +Inf, is implicit)."""
        self.counts = [0] * (len(bounds) + 1)
        """The observations per bucket (not cumulative)."""
        self.total = 0.0
        """The sum of the observations."""

    def observe(self, value: float) -> None:
        """Record one observation."""
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    def add(self, counts: list[int], total: float) -> None:
        """Add another worker's counts and sum."""
        for index, count in enumerate(counts):
            self.counts[index] += count
        self.total += total


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(names: tuple[str, ...], values: tuple[str, ...], extra: str = "") -> str:
    pairs = [f'{name}="{_escape(value)}"' for name, value in zip(names, values, strict=True)]
    if extra:
        pairs.append(extra)
    return "{" + ",".join(pairs) + "}"


def _number(value: float) -> str:
    return repr(float(value))


class Metrics:
    """One worker's metrics, and the text a scrape gets."""

    def __init__(self, directory: Path | None = None, worker: str | None = None) -> None:
        self.directory = directory
        """The folder the workers share their totals through, or ``None`` for a single process."""
        self.worker = worker or str(os.getpid())
        """This worker's name among those of the folder (its process identifier unless given)."""
        self.responses: dict[tuple[str, str], int] = {}
        """Responses by (route, status code)."""
        self.latency: dict[tuple[str], Histogram] = {}
        """Inference latency by (model,)."""
        self.batch_sizes: dict[tuple[str, str], Histogram] = {}
        """Batch sizes by (model, version)."""
        self.publisher: asyncio.TimerHandle | None = None

    def count_response(self, route: str, status: int) -> None:
        """Count one HTTP response."""
        key = (route, str(status))
        self.responses[key] = self.responses.get(key, 0) + 1

    def observe_inference(self, model: str, seconds: float) -> None:
        """Record how long one inference request of ``model`` took to answer."""
        histogram = self.latency.get((model,))
        if histogram is None:
            histogram = self.latency[(model,)] = Histogram(LATENCY_BUCKETS)
        histogram.observe(seconds)

    def batch_observer(self, model: str, version: str) -> Callable[[int], None]:
        """A function that records the size of every batch run on one model version."""
        histogram = self.batch_sizes.setdefault((model, version), Histogram(BATCH_SIZE_BUCKETS))
        return histogram.observe

    def snapshot(self) -> dict[str, Any]:
        """The totals of this worker, as JSON values."""
        return {
            RESPONSES: [[*key, count] for key, count in self.responses.items()],
            LATENCY: [[*key, histogram.counts, histogram.total] for key, histogram in self.latency.items()],
            BATCH_SIZE: [
                [*key, histogram.counts, histogram.total] for key, histogram in self.batch_sizes.items()
            ],
        }

    def _file(self) -> Path:
        assert self.directory is not None  # only called with a shared folder
        return self.directory / f"worker-{self.worker}.json"

    def publish(self) -> None:
        """Write this worker's totals for the other workers (a no-op for a single process)."""
        if self.directory is None:
            return
        target = self._file()
        partial = target.with_suffix(".partial")
        partial.write_text(json.dumps(self.snapshot()))
        os.replace(partial, target)

    def start_publishing(self) -> None:
        """Publish once a second from now on, on the running event loop (with a shared folder only)."""
        if self.directory is None:
            return
        self.publish()
        self.publisher = asyncio.get_running_loop().call_later(
            PUBLISH_INTERVAL_SECONDS, self.start_publishing
        )

    def stop_publishing(self) -> None:
        """Publish a last time and stop."""
        if self.publisher is not None:
            self.publisher.cancel()
            self.publisher = None
        self.publish()

    def _totals(self) -> dict[str, Any]:
        responses = dict(self.responses)
        latency = {key: self._copy(histogram) for key, histogram in self.latency.items()}
        batches = {key: self._copy(histogram) for key, histogram in self.batch_sizes.items()}
        others = [] if self.directory is None else sorted(self.directory.glob("worker-*.json"))
        for path in others:
            if path == self._file():
                continue
            try:
                document = json.loads(path.read_text())
            except (OSError, ValueError):  # a worker's file being replaced right now: next scrape
                continue
            for route, status, count in document[RESPONSES]:
                responses[(route, status)] = responses.get((route, status), 0) + count
            for model, counts, total in document[LATENCY]:
                latency.setdefault((model,), Histogram(LATENCY_BUCKETS)).add(counts, total)
            for model, version, counts, total in document[BATCH_SIZE]:
                batches.setdefault((model, version), Histogram(BATCH_SIZE_BUCKETS)).add(counts, total)
        return {RESPONSES: responses, LATENCY: latency, BATCH_SIZE: batches}

    @staticmethod
    def _copy(histogram: Histogram) -> Histogram:
        copy = Histogram(histogram.bounds)
        copy.add(histogram.counts, histogram.total)
        return copy

    def exposition(self) -> bytes:
        """Every worker's metrics, summed, in Prometheus' text format."""
        totals = self._totals()
        lines = []
        for name, (kind, description) in _DESCRIPTIONS.items():
            lines += [f"# HELP {name} {description}", f"# TYPE {name} {kind}"]
            if kind == "counter":
                for key, count in sorted(totals[name].items()):
                    lines.append(f"{name}{_labels(('route', 'status'), key)} {_number(count)}")
                continue
            names = ("model",) if name == LATENCY else ("model", "version")
            for key, histogram in sorted(totals[name].items()):
                cumulative = 0
                for bound, count in zip((*histogram.bounds, "+Inf"), histogram.counts, strict=True):
                    cumulative += count
                    bound_text = bound if isinstance(bound, str) else _number(bound)
                    labels = _labels(names, key, 'le="' + bound_text + '"')
                    lines.append(f"{name}_bucket{labels} {_number(cumulative)}")
                lines.append(f"{name}_sum{_labels(names, key)} {_number(histogram.total)}")
                lines.append(f"{name}_count{_labels(names, key)} {_number(cumulative)}")
        return ("\n".join(lines) + "\n").encode()
