"""An event loop in its own thread, for ``async def`` handlers.

A worker process has one: its worker threads take tasks from the queue and hand those whose
handler is a coroutine function to this loop, which runs up to ``limit`` of them at once. A
task waiting on the network costs a coroutine, not a thread, so a hundred HTTP calls in flight
need no hundred threads. When the loop is full, the thread that brings one more waits for a
free place before taking another task: no task is taken that cannot start.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

#: Something that, given the name of a place on the loop (``a0``, ``a1``...), makes the
#: coroutine to run there.
Job = Callable[[str], Coroutine[Any, Any, None]]


class AsyncRunner:
    """Runs coroutines on one event loop thread, at most ``limit`` at a time.

    Each running coroutine holds a numbered place, so that events and timelines can show the
    loop's work as rows like the threads' (``<name>a0``, ``<name>a1``...).
    """

    def __init__(self, limit: int, *, name: str = "w") -> None:
        if limit < 1:
            raise ValueError("async_concurrency must be >= 1")
        self.limit = limit
        self.name = name
        self._places: queue.SimpleQueue[int] = queue.SimpleQueue()
        for place in range(limit):
            self._places.put(place)
        self._active = 0
        self._idle = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"{name}-asyncio", daemon=True
        )
        self._thread.start()

    @property
    def active(self) -> int:
        """Coroutines running now."""
        return self._active

    def submit(self, job: Job, *, timeout: float | None = None) -> concurrent.futures.Future[None]:
        """Start ``job`` on the loop once a place is free (waiting up to ``timeout`` seconds
        for one: `TimeoutError` after that, and nothing started)."""
        try:
            place = self._places.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no free place on the event loop within {timeout} s") from None
        with self._idle:
            self._active += 1
        return asyncio.run_coroutine_threadsafe(self._run(job, place), self._loop)

    async def _run(self, job: Job, place: int) -> None:
        try:
            await job(f"{self.name}a{place}")
        finally:
            self._places.put(place)
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no coroutine runs; False if some still do after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._idle:
            return self._idle.wait_for(
                lambda: self._active == 0, max(0.0, deadline - time.monotonic())
            )

    def close(self) -> None:
        """Stop the loop. Coroutines still running are cancelled (their tasks' leases expire
        and the queue hands them out again)."""
        if self._loop.is_closed():
            return

        async def cancel_all() -> None:
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(cancel_all(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()
