"""Deadlines for the waits of a request: one shared timer instead of one timer per request.

``asyncio.timeout`` schedules and cancels a timer for every use, which costs several microseconds, a
noticeable share of a request that takes a hundred. Here a request's task registers the moment it must be
done by; one checker, which runs only while some task is registered, cancels the tasks whose moment has
passed, every :data:`CHECK_INTERVAL_SECONDS`. The request then turns the cancellation into its own error
(408 for a body that does not arrive, 503 for a model that does not answer).
"""

from __future__ import annotations

import asyncio

CHECK_INTERVAL_SECONDS = 0.01
"""How often overdue tasks are looked for: a deadline is kept to within this much."""


class Deadlines:
    """The deadlines of the tasks of one event loop."""

    def __init__(self) -> None:
        self.waiting: dict[asyncio.Task, float] = {}
        """Each registered task and the loop time it must be done by."""
        self.overdue: set[asyncio.Task] = set()
        """The tasks cancelled for being late, until they have seen it."""
        self.checker: asyncio.TimerHandle | None = None

    def enter(self, seconds: float) -> asyncio.Task:
        """Give the current task ``seconds`` to finish what it awaits next; returns the task."""
        task = asyncio.current_task()
        assert task is not None  # called from a request's coroutine
        loop = task.get_loop()
        self.waiting[task] = loop.time() + seconds
        if self.checker is None:
            self.checker = loop.call_later(CHECK_INTERVAL_SECONDS, self._check, loop)
        return task

    def leave(self, task: asyncio.Task) -> None:
        """The task's wait is over, one way or another."""
        self.waiting.pop(task, None)

    def expired(self, task: asyncio.Task) -> bool:
        """Whether the task's cancellation came from its deadline; if so, the cancellation is withdrawn."""
        if task not in self.overdue:
            return False
        self.overdue.discard(task)
        task.uncancel()
        return True

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for task, deadline in list(self.waiting.items()):
            if deadline <= now:
                del self.waiting[task]
                self.overdue.add(task)
                task.cancel()
        self.checker = loop.call_later(CHECK_INTERVAL_SECONDS, self._check, loop) if self.waiting else None
