"""A priority queue: higher priority first, first-in first-out among equals, with aging.

The Go original used ``container/heap`` on the priority alone. A heap is not stable, so equal
priorities came out in no particular order, and a steady stream of high-priority tasks kept
low-priority ones waiting forever (starvation). Two small changes fix both:

* the heap key carries a sequence number, so ties go first-in first-out;
* with ``aging`` > 0, a task's priority grows by ``aging`` per second it waits.

Aging keeps a plain heap: ``priority + aging * (now - enqueued)`` orders tasks exactly like
``priority - aging * enqueued``, which never changes after the push.
"""

from __future__ import annotations

import heapq
import itertools

from .clock import SYSTEM_CLOCK, Clock
from .memory import MemoryQueue
from .task import Task


class PriorityQueue(MemoryQueue):
    """A bounded, thread-safe priority queue (``Task.priority``: bigger runs sooner).

    Args:
        aging: priority points a waiting task gains per second; 0 turns aging off.
    """

    _pop_without_lock = False  # a heap pop is several steps: only under the lock

    def __init__(
        self,
        maxsize: int = 0,
        *,
        name: str = "priority",
        aging: float = 0.0,
        put_timeout: float | None = 1.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if aging < 0:
            raise ValueError("aging must be >= 0")
        self.aging = aging
        super().__init__(maxsize, name=name, put_timeout=put_timeout, clock=clock)

    def _init_pending(self) -> None:
        self._heap: list[tuple[float, int, Task]] = []
        self._order = itertools.count()

    def _push_pending(self, task: Task) -> None:
        rank = task.priority - self.aging * self.clock.now() if self.aging else task.priority
        heapq.heappush(self._heap, (-rank, next(self._order), task))

    def _pop_pending(self) -> Task:
        return heapq.heappop(self._heap)[2]

    def _pending_count(self) -> int:
        return len(self._heap)
