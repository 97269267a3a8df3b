"""Where a task is in its life: the states, what a client can learn about a task, and the
queues that can tell it.

`Status` is the one table of state names. The Lua scripts get it as a table ``STATUS`` in their
header (see `scripts`), so the states Redis stores are these and no others; a test compares the
scripts with it. Add a state here and the scripts, the API schema and the in-memory
`TrackedQueue` all see it.
"""

from __future__ import annotations

import math
import threading
import time
from abc import abstractmethod
from collections import Counter, OrderedDict
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .deadletter import DeadLetter, ErrorInfo
from .errors import CancelRefused, UniqueKeyConflict
from .interface import Delivery, TaskQueue
from .memory import MemoryQueue
from .ratelimit import Limiter
from .task import Task
from .unique import Claim


class Status(str, Enum):
    """Where a task is in its life (the value stored in Redis and shown by the API)."""

    QUEUED = "queued"  # pending: may run now, not yet taken
    SCHEDULED = "scheduled"  # waits for its due time (a delay)
    RUNNING = "running"  # in flight: taken by a worker, under a lease
    SUCCEEDED = "succeeded"  # done; its result is kept for a while
    RETRYING = "retrying"  # failed, waits for its next attempt (backoff)
    DEAD = "dead"  # failed for good: in the dead-letter queue
    CANCELLED = "cancelled"  # taken back while it waited (`cancel`); it will not run

    def __str__(self) -> str:
        return self.value


#: Every state's value, for checking what is read back.
STATES = frozenset(status.value for status in Status)
#: States a task never leaves: what `InspectableQueue.wait` waits for.
FINAL = frozenset({Status.SUCCEEDED.value, Status.DEAD.value, Status.CANCELLED.value})
#: States of a task that may still run: waiting (pending or scheduled) or in flight.
ACTIVE = frozenset(
    {Status.QUEUED.value, Status.SCHEDULED.value, Status.RETRYING.value, Status.RUNNING.value}
)
#: States `cancel` takes a task from: waiting, not yet taken.
CANCELLABLE = frozenset({Status.QUEUED.value, Status.SCHEDULED.value, Status.RETRYING.value})


def check_wait(timeout: object) -> float:
    """A wait in seconds: a finite number >= 0 (`ValueError` otherwise)."""
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise ValueError(f"timeout must be a number of seconds, not {timeout!r}")
    if not 0 <= timeout < math.inf:
        raise ValueError(f"timeout must be a finite number >= 0, not {timeout!r}")
    return float(timeout)


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

    @property
    def final(self) -> bool:
        """Has the task reached a state it never leaves (succeeded, dead, cancelled)?"""
        return self.state in FINAL


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

    @abstractmethod
    def put_unique(
        self, task: Task, claim: Claim, *, delay: float = 0.0, timeout: float | None = None
    ) -> str:
        """Put ``task`` unless the claim's key is held (see `taskq_lib.unique`); return the
        id of the task that holds the key: ``task.id`` if it was put, else the earlier task's.
        `UniqueKeyConflict` if the holder was made with another fingerprint. ``timeout``: as
        for `put`.
        Use `Registry.enqueue` with ``unique_key``, which checks the key and computes the rest.
        """

    @abstractmethod
    def cancel(self, task_id: str) -> TaskInfo:
        """Take back a waiting task (pending or scheduled): it will not run, and its status
        becomes ``cancelled``. Returns what the queue then knows of it. `CancelRefused` (with
        its state) for a running or finished task; `KeyError` for an unknown id."""

    @abstractmethod
    def wait(self, task_id: str, timeout: float) -> TaskInfo | None:
        """Wait up to ``timeout`` seconds for the task to reach a final state (succeeded,
        dead, cancelled), without polling; return what is known then (``info.final`` says
        whether it finished), or None for an unknown id."""


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
        #: Notified whenever a task reaches a final state: what `wait` sleeps on.
        self._finished = threading.Condition(self._lock)
        #: Unique key -> (holder id, fingerprint, held until); checked and set with the put.
        self._uniques: dict[str, tuple[str, str, float]] = {}
        self._unique_lock = threading.Lock()

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
        if state.value in FINAL:
            self._finished.notify_all()
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
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            delivery = self.inner.get(timeout)
            if delivery is None:
                return None
            task = delivery.task
            with self._lock:
                record = self._records.get(task.id)
                if record is None or record.state is not Status.CANCELLED:
                    self._set(task, Status.RUNNING, task.attempts)
                    return delivery
            # Cancelled while it waited: the in-memory queues cannot take a task out of their
            # middle, so a cancelled task stays in them as a tombstone, dropped here.
            self.inner.ack(delivery)
            if deadline is not None:
                timeout = max(0.0, deadline - time.monotonic())

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

    def put_unique(
        self, task: Task, claim: Claim, *, delay: float = 0.0, timeout: float | None = None
    ) -> str:
        key, fingerprint = claim.key, claim.fingerprint
        with self._unique_lock:  # the check and the put as one step
            now = self._now()
            held = self._uniques.get(key)
            if held is not None:
                holder, held_fingerprint, until = held
                with self._lock:
                    record = self._records.get(holder)
                    active = record is not None and record.state.value in ACTIVE
                if until > now or active:
                    if held_fingerprint != fingerprint:
                        raise UniqueKeyConflict(key, holder)
                    return holder
            self.put(task, delay=delay, timeout=timeout)
            self._uniques[key] = (task.id, fingerprint, now + claim.hold)
            return task.id

    def cancel(self, task_id: str) -> TaskInfo:
        with self._lock:
            record = self._records.get(task_id)
            if record is None:
                raise KeyError(task_id)
            if record.state.value not in CANCELLABLE:
                raise CancelRefused(task_id, record.state.value)
            self._set(record.task, Status.CANCELLED, record.attempts)
            self._totals["cancelled"] += 1
            return self._info(task_id, self._records[task_id])

    def wait(self, task_id: str, timeout: float) -> TaskInfo | None:
        timeout = check_wait(timeout)
        with self._finished:
            self._finished.wait_for(
                lambda: (r := self._records.get(task_id)) is None or r.state.value in FINAL,
                timeout,
            )
            record = self._records.get(task_id)
            return None if record is None else self._info(task_id, record)

    def info(self, task_id: str) -> TaskInfo | None:
        """What became of a task; None if it is unknown (or was forgotten)."""
        with self._lock:
            record = self._records.get(task_id)
            return None if record is None else self._info(task_id, record)

    def _info(self, task_id: str, record: _Record) -> TaskInfo:
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
