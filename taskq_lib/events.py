"""What workers did, recorded instead of printed.

Threads that print make notebook output change from run to run. Workers append `Event`s to an
`EventLog`; notebooks and tests read the log after the work is done.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum


class Status(str, Enum):
    """Where a task is in its life. Also the values of ``kind`` for most events."""

    QUEUED = "queued"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RETRYING = "retrying"
    DEAD = "dead"

    def __str__(self) -> str:
        return self.value


#: Event kinds: a status change, plus ``started``.
ENQUEUED = "enqueued"
REFUSED = "refused"  # enqueue failed (queue full or closed): the task was never queued
STARTED = "started"
SUCCEEDED = "succeeded"
RETRYING = "retrying"
DEAD = "dead"
#: Kinds that end a task's life.
FINAL = frozenset({SUCCEEDED, DEAD})


@dataclass(frozen=True)
class Event:
    """One thing that happened to one task."""

    at: float
    kind: str
    task_id: str
    task_type: str
    worker: str = ""
    attempt: int = 0
    detail: str = ""


class EventLog:
    """A thread-safe, append-only log of events that you can wait on.

    Args:
        maxlen: keep only the newest ``maxlen`` events (a long-running worker should set
            one); `counts` still counts every event ever recorded.
    """

    def __init__(self, maxlen: int | None = None) -> None:
        self._events: deque[Event] = deque(maxlen=maxlen)
        self._counts: Counter[str] = Counter()
        # Reentrant: the conditions passed to wait_until read the log while the lock is held.
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._waiters = 0  # threads in a wait: only then does record notify

    def record(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)
            self._counts[event.kind] += 1
            if self._waiters:
                self._changed.notify_all()

    def events(self, kind: str | None = None) -> list[Event]:
        """A snapshot of the events kept, optionally only one kind, in recording order."""
        with self._changed:
            return [e for e in self._events if kind is None or e.kind == kind]

    def counts(self) -> Counter[str]:
        """How many events of each kind were ever recorded."""
        with self._changed:
            return Counter(self._counts)

    def wait_until(self, condition: Callable[[EventLog], bool], timeout: float) -> bool:
        """Block until ``condition(self)`` is true or ``timeout`` seconds pass; return which."""
        with self._changed:
            self._waiters += 1
            try:
                return self._changed.wait_for(lambda: condition(self), timeout=timeout)
            finally:
                self._waiters -= 1

    def wait_for_final(self, count: int, timeout: float) -> bool:
        """Block until ``count`` tasks have succeeded or died (or ``timeout`` passes)."""
        with self._changed:
            self._waiters += 1
            try:
                return self._changed.wait_for(
                    lambda: sum(self._counts[k] for k in FINAL) >= count, timeout=timeout
                )
            finally:
                self._waiters -= 1

    def clear(self) -> None:
        with self._changed:
            self._events.clear()
            self._counts.clear()

    def __len__(self) -> int:
        with self._changed:
            return len(self._events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events())
