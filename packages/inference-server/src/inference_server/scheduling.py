"""Running requests on a model version: one at a time, or gathered into batches as ``config.pbtxt`` says.

Where a batch runs depends on how long the model takes. A run that usually takes less than
:data:`INLINE_RUN_SECONDS` of processor time runs directly on the event loop's thread: handing it to another thread and back
would cost more than the run itself (about 30 microseconds against 10 to 20 for a small model). Longer runs
go to a pool of ``instance_count`` threads (the ``instance_group`` count of ``config.pbtxt``), so the event
loop stays free to read and answer other requests while the model computes. The first run of a version
always goes to the pool; every run updates the estimate of the usual run time.

With ``dynamic_batching`` in the configuration, requests that arrive close together are concatenated along
the batch dimension and run as one batch, up to ``max_batch_size``: a batch is started as soon as it is full
or reaches a preferred batch size, and otherwise when its oldest request has waited
``max_queue_delay_microseconds``. Requests whose shapes beyond the batch dimension differ are never put in
the same batch.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy

from inference_server.errors import unavailable

INLINE_RUN_SECONDS = 0.002
"""Batches whose model usually runs faster than this run on the event loop's thread, without a hand-off."""

_SMOOTHING = 0.1
_UNLOADED = "the model version was unloaded while the request waited; send it again"

Tensors = dict[str, numpy.ndarray]
BatchRunner = Callable[[Tensors], Tensors]
"""A function that runs one batch through the model and returns every output."""
BatchObserver = Callable[[int], None]
"""A function told the size of every batch that runs (for the metrics)."""


class ModelExecutionError(Exception):
    """The model itself failed on inputs that passed every check (ONNX Runtime raised)."""


class Scheduler:
    """Runs requests on one model version, each request as its own batch."""

    def __init__(self, run_batch: BatchRunner, instance_count: int, observe_batch: BatchObserver) -> None:
        self.run_batch = run_batch
        """Runs one batch."""
        self.executor = ThreadPoolExecutor(max_workers=max(1, instance_count), thread_name_prefix="inference")
        """The pool of ``instance_count`` threads that run batches too long for the event loop's thread."""
        self.observe_batch = observe_batch
        """Told the size of every batch."""
        self.usual_run_seconds: float | None = None
        """A moving average of the processor time of a run, or ``None`` before the first run."""
        self.closed = False
        """Whether the version was unloaded; requests then get 503."""

    def _timed(self, inputs: Tensors) -> Tensors:
        # The processor time of this thread, not the time on the clock: a run handed to the pool also
        # waits for the interpreter's lock, which says nothing of what the model costs.
        started = time.thread_time()
        try:
            outputs = self.run_batch(inputs)
        except Exception as error:  # ONNX Runtime raises its own exception types
            raise ModelExecutionError(str(error)) from None
        finally:
            elapsed = time.thread_time() - started
            usual = self.usual_run_seconds
            self.usual_run_seconds = elapsed if usual is None else usual + _SMOOTHING * (elapsed - usual)
        return outputs

    @property
    def runs_inline(self) -> bool:
        """Whether the next batch runs on the event loop's thread (the model has been fast so far)."""
        return self.usual_run_seconds is not None and self.usual_run_seconds < INLINE_RUN_SECONDS

    async def execute(self, inputs: Tensors, batch_size: int) -> Tensors:
        """Run one batch where it is cheapest, recording its size."""
        self.observe_batch(batch_size)
        if self.runs_inline:
            return self._timed(inputs)
        return await asyncio.get_running_loop().run_in_executor(self.executor, self._timed, inputs)

    async def run(self, inputs: Tensors, batch_size: int) -> Tensors:
        """Run one request's inputs (``batch_size`` examples) and return every output."""
        if self.closed:
            raise unavailable(_UNLOADED)
        return await self.execute(inputs, batch_size)

    def close(self) -> None:
        """Stop taking requests; the threads finish what they run and end."""
        self.closed = True
        self.executor.shutdown(wait=False)


@dataclass(slots=True)
class _Pending:
    inputs: Tensors
    batch_size: int
    signature: tuple[tuple[int, ...], ...]
    arrival: float
    future: asyncio.Future


class DynamicBatcher(Scheduler):
    """Gathers requests into batches as ``dynamic_batching`` in ``config.pbtxt`` asks."""

    def __init__(
        self,
        run_batch: BatchRunner,
        instance_count: int,
        observe_batch: BatchObserver,
        *,
        max_batch_size: int,
        max_queue_delay_seconds: float,
        preferred_batch_sizes: tuple[int, ...] = (),
    ) -> None:
        super().__init__(run_batch, instance_count, observe_batch)
        self.max_batch_size = max_batch_size
        """The largest batch formed."""
        self.max_queue_delay_seconds = max_queue_delay_seconds
        """How long the oldest request may wait for others to join its batch."""
        self.preferred_batch_sizes = frozenset(
            size for size in preferred_batch_sizes if size <= max_batch_size
        )
        """Batch sizes at which a batch starts without waiting longer."""
        self.instance_count = max(1, instance_count)
        self.pending: collections.deque[_Pending] = collections.deque()
        self.queued_examples = 0
        self.arrived = asyncio.Event()
        self.tasks: list[asyncio.Task] = []

    async def run(self, inputs: Tensors, batch_size: int) -> Tensors:
        """Queue one request and wait for its share of the batch it ran in."""
        if self.closed:
            raise unavailable(_UNLOADED)
        loop = asyncio.get_running_loop()
        if not self.tasks:
            self.tasks = [loop.create_task(self._serve()) for _ in range(self.instance_count)]
        signature = tuple(array.shape[1:] for array in inputs.values())
        future = loop.create_future()
        self.pending.append(_Pending(inputs, batch_size, signature, loop.time(), future))
        self.queued_examples += batch_size
        self.arrived.set()
        return await future

    def _ready_to_start(self) -> bool:
        queued = self.queued_examples
        return queued >= self.max_batch_size or queued in self.preferred_batch_sizes

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self.pending:
                self.arrived.clear()
                await self.arrived.wait()
            deadline = self.pending[0].arrival + self.max_queue_delay_seconds
            while not self._ready_to_start() and (remaining := deadline - loop.time()) > 0:
                self.arrived.clear()
                try:
                    async with asyncio.timeout(remaining):
                        await self.arrived.wait()
                except TimeoutError:
                    break
            batch = self._take()
            if batch:  # empty when every queued request gave up
                await self._run(batch)

    def _take(self) -> list[_Pending]:
        batch: list[_Pending] = []
        kept: list[_Pending] = []
        size = 0
        while self.pending:
            item = self.pending.popleft()
            if item.future.done():  # the client gave up (timeout, disconnection)
                self.queued_examples -= item.batch_size
                continue
            if batch and item.signature != batch[0].signature:
                kept.append(item)
                continue
            if size + item.batch_size > self.max_batch_size:
                kept.append(item)
                break
            batch.append(item)
            size += item.batch_size
            self.queued_examples -= item.batch_size
        self.pending.extendleft(reversed(kept))
        return batch

    async def _run(self, batch: list[_Pending]) -> None:
        total = sum(item.batch_size for item in batch)
        if len(batch) == 1:
            merged = batch[0].inputs
        else:
            names = batch[0].inputs
            merged = {name: numpy.concatenate([item.inputs[name] for item in batch]) for name in names}
        try:
            outputs = await self.execute(merged, total)
        except ModelExecutionError as error:
            self._fail(batch, error)
            return
        except asyncio.CancelledError:
            self._fail(batch, unavailable(_UNLOADED))
            raise
        for name, array in outputs.items():
            if array.ndim == 0 or array.shape[0] != total:
                message = (
                    f"the model's output {name!r} has the shape {list(array.shape)}, which does not start "
                    f"with the batch size {total}; it cannot be split between the requests of the batch"
                )
                self._fail(batch, ModelExecutionError(message))
                return
        start = 0
        for item in batch:
            end = start + item.batch_size
            if not item.future.done():
                item.future.set_result({name: array[start:end] for name, array in outputs.items()})
            start = end

    @staticmethod
    def _fail(batch: list[_Pending], error: Exception) -> None:
        for item in batch:
            if not item.future.done():
                item.future.set_exception(error)

    def close(self) -> None:
        """Stop batching: queued requests get 503, the threads finish what they run."""
        super().close()
        for task in self.tasks:
            task.cancel()
        while self.pending:
            item = self.pending.popleft()
            if not item.future.done():
                item.future.set_exception(unavailable(_UNLOADED))
