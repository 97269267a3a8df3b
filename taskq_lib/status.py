"""Where a task is in its life: the states, what a client can learn about a task, and the
queues that can tell it.

`Status` is the one table of state names. The Lua scripts get it as a table ``STATUS`` in their
header (see `scripts`), so the states Redis stores are these and no others; a test compares the
scripts with it. Add a state here and the scripts, the API schema and the in-memory
`TrackedQueue` all see it.
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections import Counter, OrderedDict
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .deadletter import DeadLetter, ErrorInfo
from .interface import Delivery, TaskQueue
from .memory import MemoryQueue
from .ratelimit import Limiter
from .task import Task


class Status(str, Enum):
    """Where a task is in its life (the value stored in Redis and shown by the API)."""

    QUEUED = "queued"  # pending: may run now, not yet taken
    SCHEDULED = "scheduled"  # waits for its due time (a delay)
    RUNNING = "running"  # in flight: taken by a worker, under a lease
    SUCCEEDED = "succeeded"  # done; its result is kept for a while
    RETRYING = "retrying"  # failed, waits for its next attempt (backoff)
    DEAD = "dead"  # failed for good: in the dead-letter queue

    def __str__(self) -> str:
        return self.value


#: Every state's value, for checking what is read back.
STATES = frozenset(status.value for status in Status)


@dataclass(frozen=True)
class TaskInfo:
    """What a client can learn about a task it enqueued (see `InspectableQueue.info`)."""

    id: str
    state: str
    attempts: int
    task: Task | None
    last_error: ErrorInfo | None
    result: Any
    updated_at: float | None
    #: Set when a stored part (body, error, result) could not be read; that part is None.
    problem: str | None = None


class InspectableQueue(TaskQueue):
    """A queue that can also say what became of each task: what the HTTP API needs.

    `RedisQueue` is one (status lives in Redis). Wrap an in-memory queue in `TrackedQueue`.
    """

    @abstractmethod
    def info(self, task_id: str) -> TaskInfo | None:
        """What became of a task: state, attempts, last error, result; None if unknown."""

    @abstractmethod
    def stats(self) -> dict[str, int]:
        """How many tasks are ``pending``, ``scheduled``, ``in_flight``, ``dead`` and ``done``
        now, and ``total_<event>`` counts since the queue was created."""


@dataclass
class _Record:
    task: Task
    state: Status
    attempts: int
    updated_at: float
    last_error: ErrorInfo | None = None
    result: Any = None


class TrackedQueue(InspectableQueue):
    """An in-memory queue that remembers what became of each task, for ``GET /tasks/{id}``.

    A `MemoryQueue` forgets a task as soon as a worker takes it. This wrapper keeps one small
    record per task (status, attempts, last error, result), updated as tasks pass through it. Give
    the same `TrackedQueue` to the API and to the `WorkerPool`: what bypasses it is not seen.

    Args:
        inner: the queue that holds the tasks (`MemoryQueue` or `PriorityQueue`).
        keep: records of succeeded tasks kept, newest first; older ones are forgotten.
    """

    def __init__(self, inner: MemoryQueue, *, keep: int = 10_000) -> None:
        if keep < 0:
            raise ValueError("keep must be >= 0")
        self.inner = inner
        self.name = inner.name
        self.keep = keep
        self._records: dict[str, _Record] = {}
        self._succeeded: OrderedDict[str, None] = OrderedDict()  # oldest first, for forgetting
        self._totals: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _now(self) -> float:
        return self.inner.clock.now()

    def _set(self, task: Task, state: Status, attempts: int, **changes: Any) -> None:
        """Record a status change; the caller holds the lock."""
        old = self._records.get(task.id)
        record = _Record(task, state, attempts, self._now())
        if old is not None:
            record.last_error, record.result = old.last_error, old.result
        for name, value in changes.items():
            setattr(record, name, value)
        self._records[task.id] = record
        self._succeeded.pop(task.id, None)
        if state is Status.SUCCEEDED:
            self._succeeded[task.id] = None
            while len(self._succeeded) > self.keep:
                forgotten, _ = self._succeeded.popitem(last=False)
                del self._records[forgotten]

    def put(self, task: Task, *, delay: float = 0.0, timeout: float | None = None) -> None:
        with self._lock:
            # Recorded before the put, so a worker's "running" cannot be overwritten by it.
            previous = self._records.get(task.id)
            self._set(task, Status.SCHEDULED if delay > 0 else Status.QUEUED, 0)
        try:
            self.inner.put(task, delay=delay, timeout=timeout)
        except BaseException:
            with self._lock:  # refused: leave no trace
                if previous is None:
                    self._records.pop(task.id, None)
                else:
                    self._records[task.id] = previous
            raise
        with self._lock:
            self._totals["enqueued"] += 1

    def get(self, timeout: float | None = None) -> Delivery | None:
        delivery = self.inner.get(timeout)
        if delivery is not None:
            task = delivery.task
            with self._lock:
                self._set(task, Status.RUNNING, task.attempts)
        return delivery

    def ack(self, delivery: Delivery, result: Any = None) -> None:
        self.inner.ack(delivery, result)
        task = delivery.task
        with self._lock:
            self._set(task, Status.SUCCEEDED, task.attempts, result=result)
            self._totals["succeeded"] += 1

    def fail(self, delivery: Delivery, error: ErrorInfo, *, retry_in: float | None) -> None:
        task = delivery.task
        state = Status.DEAD if retry_in is None else Status.RETRYING
        # Under the lock: a retry due at once may be taken by another worker, whose "running"
        # must come after this "retrying".
        with self._lock:
            self.inner.fail(delivery, error, retry_in=retry_in)
            self._set(task, state, task.attempts, last_error=error)
            self._totals["dead" if retry_in is None else "retried"] += 1

    def postpone(self, delivery: Delivery, delay: float) -> None:
        task = delivery.task
        with self._lock:  # before a worker can take it again: see fail
            self.inner.postpone(delivery, delay)
            self._set(task, Status.SCHEDULED, task.attempts - 1)

    def rate_limiter(self) -> Limiter:
        return self.inner.rate_limiter()  # workers of the wrapper and of the inner queue agree

    def dead_letters(self, limit: int = 1000) -> list[DeadLetter]:
        return self.inner.dead_letters(limit)

    def requeue_dead(self, task_id: str | None = None) -> int:
        """Put one dead task (or all, with None) back to run again, with its attempts reset."""
        ids = [d.id for d in self.inner.dead_letters()] if task_id is None else [task_id]
        moved = 0
        for one in ids:
            with self._lock:
                record = self._records.get(one)
                if self.inner.requeue_dead(one):
                    moved += 1
                    if record is not None:
                        self._set(record.task, Status.QUEUED, 0)
        return moved

    def purge_dead(self) -> int:
        """Empty the dead-letter queue and forget its tasks; return how many."""
        with self._lock:
            dead = self.inner.dead_letters()
            for letter in dead:
                record = self._records.get(letter.id)
                if record is not None and record.state is Status.DEAD:
                    del self._records[letter.id]
            return self.inner.purge_dead()

    def info(self, task_id: str) -> TaskInfo | None:
        """What became of a task; None if it is unknown (or was forgotten)."""
        with self._lock:
            record = self._records.get(task_id)
            if record is None:
                return None
            return TaskInfo(
                id=task_id,
                state=record.state.value,
                attempts=record.attempts,
                task=record.task,
                last_error=record.last_error,
                result=record.result,
                updated_at=record.updated_at,
            )

    def stats(self) -> dict[str, int]:
        """Counts per state now, and totals since the queue was made (like `RedisQueue`)."""
        with self._lock:
            states = Counter(record.state for record in self._records.values())
            totals = {f"total_{k}": v for k, v in sorted(self._totals.items())}
        return {
            "pending": states[Status.QUEUED],
            "scheduled": states[Status.SCHEDULED] + states[Status.RETRYING],
            "in_flight": states[Status.RUNNING],
            "dead": states[Status.DEAD],
            "done": states[Status.SUCCEEDED],
            **totals,
        }

    def __len__(self) -> int:
        return len(self.inner)

    def close(self) -> None:
        self.inner.close()

    def wake(self) -> None:
        self.inner.wake()

    @property
    def closed(self) -> bool:
        return self.inner.closed
