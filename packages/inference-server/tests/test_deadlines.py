"""The shared deadline checker: late tasks are cancelled and told so, punctual ones are left alone."""

from __future__ import annotations

import asyncio

from inference_server.deadlines import CHECK_INTERVAL_SECONDS, Deadlines


def test_late_tasks_are_cancelled_and_the_checker_stops_when_nobody_waits():
    async def scenario():
        deadlines = Deadlines()

        async def wait(seconds: float, allowed: float) -> str:
            task = deadlines.enter(allowed)
            try:
                await asyncio.sleep(seconds)
            except asyncio.CancelledError:
                return "late" if deadlines.expired(task) else "cancelled"
            finally:
                deadlines.leave(task)
            assert not deadlines.expired(task)
            return "on time"

        results = await asyncio.gather(wait(0.001, 10.0), wait(1.0, 0.02), wait(0.05, 10.0))
        assert results == ["on time", "late", "on time"]
        assert deadlines.waiting == {}
        assert deadlines.overdue == set()
        await asyncio.sleep(CHECK_INTERVAL_SECONDS * 3)
        assert deadlines.checker is None
        other = asyncio.ensure_future(wait(1.0, 10.0))
        await asyncio.sleep(0.01)
        other.cancel()  # cancelled by someone else: not a deadline
        assert await other == "cancelled"
        assert asyncio.current_task().cancelling() == 0

    asyncio.run(scenario())
