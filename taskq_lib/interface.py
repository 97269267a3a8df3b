"""The one small interface every queue implements, in memory or in Redis.

A worker's loop is the same for all of them::

    delivery = queue.get(timeout=1.0)       # None when nothing came in time
    try:
        result = handler(delivery.task)
    except Exception as exc:
        queue.fail(delivery, ErrorInfo.from_exception(exc), retry_in=2.0)   # or None: dead
    else:
        queue.ack(delivery, result)
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .deadletter import DeadLetter, ErrorInfo
from .limits import MAX_DELAY, check_delay
from .ratelimit import Limiter, LocalLimiter
from .task import Task


@dataclass(frozen=True)
class Delivery:
    """One hand-out of a task to one worker. ``token`` tells this hand-out from a later one."""

    task: Task
    token: str


def check_put(delay: float, timeout: float | None) -> float:
    """The delay, checked by `limits.check_delay` (0 to 30 days); and the timeout (None, or a
    finite number >= 0). What no backend could honour is refused the same way by all."""
    if type(delay) is not float or not 0.0 <= delay <= MAX_DELAY:  # fast path: a float
        delay = check_delay(delay)
    if timeout is not None and not 0 <= timeout < math.inf:
        raise ValueError(f"timeout must be None or a finite number >= 0, not {timeout!r}")
    return delay


class TaskQueue(ABC):
    """A queue of tasks. Implementations are safe to use from many threads."""

    name: str

    @abstractmethod
    def put(self, task: Task, *, delay: float = 0.0, timeout: float | None = None) -> None:
        """Add a task, to run now or after ``delay`` seconds.

        ``timeout`` bounds the wait for room in a bounded queue, which then raises `QueueFull`
        (None: the queue's default). A queue without a bound (Redis) never waits for room.
        Every backend refuses a negative, infinite or NaN ``delay`` or ``timeout`` with
        `ValueError` (see `check_put`), and raises `QueueClosed` after `close`.
        """

    def put_many(
        self, tasks: Iterable[Task], *, delay: float = 0.0, timeout: float | None = None
    ) -> None:
        """Add several tasks, each as `put` would. Backends override this to batch."""
        for task in tasks:
            self.put(task, delay=delay, timeout=timeout)

    @abstractmethod
    def get(self, timeout: float | None = None) -> Delivery | None:
        """Take the next task, waiting up to ``timeout`` seconds (None: no limit).

        Returns None if nothing came in time. Raises `QueueClosed` once the queue is closed and
        nothing is left.
        """

    @abstractmethod
    def ack(self, delivery: Delivery, result: Any = None) -> None:
        """The task succeeded; forget it (keeping ``result`` where the backend stores results)."""

    @abstractmethod
    def fail(self, delivery: Delivery, error: ErrorInfo, *, retry_in: float | None) -> None:
        """The run failed. Run it again after ``retry_in`` seconds, or (None) dead-letter it."""

    @abstractmethod
    def dead_letters(self, limit: int = 1000) -> list[DeadLetter]:
        """The tasks in the dead-letter queue (at most ``limit``), oldest death first."""

    @abstractmethod
    def requeue_dead(self, task_id: str | None = None) -> int:
        """Send one dead task (or all, with None) back to run again, attempts reset; how many."""

    @abstractmethod
    def purge_dead(self) -> int:
        """Empty the dead-letter queue; return how many tasks were forgotten."""

    @abstractmethod
    def __len__(self) -> int:
        """Tasks waiting: pending or scheduled. Not those in flight."""

    @abstractmethod
    def close(self) -> None:
        """Refuse new tasks; gets drain what is left, then raise `QueueClosed`."""

    def postpone(self, delivery: Delivery, delay: float) -> None:
        """Hand back a delivery that was not run (a rate limit said wait): it runs again after
        ``delay`` seconds and this delivery does not count as an attempt.

        Queues that cannot undo an attempt (the teaching `SimpleRedisQueue`) fail it for a retry.
        """
        error = ErrorInfo("Postponed", f"handed back to run in {delay:.3f} s")
        self.fail(delivery, error, retry_in=delay)

    def rate_limiter(self) -> Limiter:
        """The limiter that workers of this queue share: one per queue object, in this process.
        Queues shared between processes (Redis) return one that all processes share."""
        limiter: Limiter | None = getattr(self, "_rate_limiter", None)
        if limiter is None:
            limiter = LocalLimiter()
            self._rate_limiter: Limiter = limiter
        return limiter

    def wake(self) -> None:
        """Make gets that are waiting in this process return None now (to look at a stop flag)."""
        return None  # queues whose gets can wait in this process override this

    @property
    def closed(self) -> bool:
        return False
