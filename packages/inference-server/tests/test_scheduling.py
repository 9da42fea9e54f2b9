"""Where batches run, and how dynamic batching gathers, splits and fails them."""

from __future__ import annotations

import asyncio
import hashlib
import time

import numpy
import pytest
from inference_server.errors import ProtocolError
from inference_server.scheduling import INLINE_RUN_SECONDS, DynamicBatcher, ModelExecutionError, Scheduler


def doubling(inputs):
    return {"doubled": inputs["x"] * 2}


def slow_doubling(inputs):
    # Busy, as a model is: what counts is the processor time of a run. Hashing releases the interpreter's
    # lock, as ONNX Runtime does, so that the event loop goes on meanwhile.
    started = time.thread_time()
    while time.thread_time() - started < INLINE_RUN_SECONDS * 2:
        hashlib.sha256(bytes(1 << 20)).digest()
    return doubling(inputs)


def failing(inputs):
    raise RuntimeError("the graph cannot run")


def summing(inputs):
    return {"total": inputs["x"].sum(keepdims=True)[:1]}


def batch(values, width: int = 1) -> dict:
    return {"x": numpy.full((values, width), float(values), dtype=numpy.float32)}


def batcher(run_batch, sizes, **options) -> DynamicBatcher:
    settings = {"max_batch_size": 4, "max_queue_delay_seconds": 0.05, **options}
    return DynamicBatcher(run_batch, 1, sizes.append, **settings)


def test_fast_models_run_inline_after_their_first_run_and_slow_ones_stay_in_the_pool():
    async def scenario():
        sizes = []
        fast = Scheduler(doubling, 1, sizes.append)
        assert not fast.runs_inline
        for _ in range(3):
            result = await fast.run(batch(2), 2)
            numpy.testing.assert_array_equal(result["doubled"], numpy.full((2, 1), 4.0))
        assert fast.runs_inline
        slow = Scheduler(slow_doubling, 2, sizes.append)
        await slow.run(batch(1), 1)
        assert not slow.runs_inline
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(slow.run(batch(1), 1), INLINE_RUN_SECONDS / 4)
        assert sizes == [2, 2, 2, 1, 1]
        with pytest.raises(ModelExecutionError, match="the graph cannot run"):
            await Scheduler(failing, 1, sizes.append).run(batch(1), 1)
        fast.close()
        with pytest.raises(ProtocolError, match="unloaded") as raised:
            await fast.run(batch(1), 1)
        assert raised.value.status == 503
        slow.close()

    asyncio.run(scenario())


def test_requests_arriving_together_run_as_one_batch_at_a_preferred_size():
    async def scenario():
        sizes = []
        gathering = batcher(doubling, sizes, max_queue_delay_seconds=10.0, preferred_batch_sizes=(3, 99))
        started = time.monotonic()
        results = await asyncio.gather(*[gathering.run(batch(1), 1) for _ in range(3)])
        assert time.monotonic() - started < 5  # did not wait for the queue delay
        assert sizes == [3]
        assert all(result["doubled"].shape == (1, 1) for result in results)
        gathering.close()

    asyncio.run(scenario())


def test_batches_respect_the_maximum_and_never_mix_shapes():
    async def scenario():
        sizes = []
        gathering = batcher(doubling, sizes)
        requests = [
            gathering.run(batch(3), 3),
            gathering.run(batch(1, width=2), 1),
            gathering.run(batch(1), 1),
            gathering.run(batch(3), 3),
        ]
        results = await asyncio.gather(*requests)
        assert [result["doubled"].shape for result in results] == [(3, 1), (1, 2), (1, 1), (3, 1)]
        numpy.testing.assert_array_equal(results[3]["doubled"], numpy.full((3, 1), 6.0))
        assert sorted(sizes) == [1, 3, 4]  # 3 + 1 together, then the wider one, then the last 3
        gathering.close()

    asyncio.run(scenario())


def test_a_request_alone_waits_for_the_queue_delay_then_runs():
    async def scenario():
        sizes = []
        gathering = batcher(doubling, sizes, max_queue_delay_seconds=0.05)
        started = time.monotonic()
        await gathering.run(batch(1), 1)
        assert time.monotonic() - started >= 0.05
        assert sizes == [1]
        gathering.close()

    asyncio.run(scenario())


def test_requests_that_gave_up_are_left_out_of_the_batch():
    async def scenario():
        sizes = []
        gathering = batcher(doubling, sizes, max_queue_delay_seconds=0.1)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(gathering.run(batch(1), 1), 0.01)
        await asyncio.sleep(0.15)  # the queue delay ends with nobody left waiting
        assert sizes == []
        assert gathering.queued_examples == 0
        await gathering.run(batch(2), 2)
        assert sizes == [2]
        gathering.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("run_batch", "message"),
    [(failing, "the graph cannot run"), (summing, "does not start with the batch size 2")],
)
def test_a_failing_batch_fails_every_request_in_it(run_batch, message):
    async def scenario():
        gathering = batcher(run_batch, [], preferred_batch_sizes=(2,))
        results = await asyncio.gather(
            gathering.run(batch(1), 1), gathering.run(batch(1), 1), return_exceptions=True
        )
        assert all(isinstance(result, ModelExecutionError) and message in str(result) for result in results)
        gathering.close()

    asyncio.run(scenario())


def test_closing_answers_every_waiting_request_with_503():
    async def scenario():
        gathering = batcher(slow_doubling, [], max_queue_delay_seconds=0.0)
        running = asyncio.ensure_future(gathering.run(batch(1), 1))  # runs in the pool: first run
        await asyncio.sleep(0.001)
        waiting = asyncio.ensure_future(gathering.run(batch(1, width=3), 1))
        await asyncio.sleep(0)
        gathering.close()
        for request in (running, waiting):
            with pytest.raises(ProtocolError, match="unloaded") as raised:
                await request
            assert raised.value.status == 503
        with pytest.raises(ProtocolError, match="unloaded"):
            await gathering.run(batch(1), 1)

    asyncio.run(scenario())


def slow_failing(inputs):
    time.sleep(0.1)
    raise RuntimeError("the graph cannot run")


def very_slow_doubling(inputs):
    time.sleep(0.1)
    return doubling(inputs)


@pytest.mark.parametrize("run_batch", [very_slow_doubling, slow_failing])
def test_a_request_that_gave_up_while_its_batch_ran_is_not_answered(run_batch):
    async def scenario():
        gathering = batcher(run_batch, [], max_queue_delay_seconds=0.0)
        patient = asyncio.ensure_future(gathering.run(batch(1, width=2), 1))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(
                gathering.run(batch(1, width=2), 1), 0.05
            )  # same batch, gives up while it runs
        outcome = await asyncio.gather(patient, return_exceptions=True)
        assert isinstance(outcome[0], dict | ModelExecutionError)
        gathering.close()

    asyncio.run(scenario())


def test_closing_skips_queued_requests_that_already_gave_up():
    async def scenario():
        gathering = batcher(doubling, [], max_queue_delay_seconds=10.0)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(gathering.run(batch(1), 1), 0.01)
        assert len(gathering.pending) == 1
        gathering.close()
        assert not gathering.pending

    asyncio.run(scenario())
