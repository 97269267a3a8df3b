"""An in-memory FIFO queue: the Go original's buffered channel, with its holes closed.

The original blocked the HTTP handler forever when its channel was full and panicked on a
send after `Stop`. Here a full queue waits up to a timeout and raises `QueueFull`
(backpressure you can answer with a 503), and a put after `close` raises `QueueClosed`.
Like the original, everything here is lost when the process exits.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from typing import Any

from .clock import SYSTEM_CLOCK, Clock
from .deadletter import DeadLetter, ErrorInfo
from .errors import QueueClosed, QueueFull
from .interface import Delivery, TaskQueue, check_put
from .limits import DEFAULT_MAX_RESULT_BYTES, check_payload
from .task import Task


class MemoryQueue(TaskQueue):
    """A bounded, thread-safe FIFO queue held in this process.

    Args:
        maxsize: most tasks waiting at once; 0 means unbounded.
        put_timeout: default seconds a put waits for room before `QueueFull`.
        clock: where "now" comes from, for delayed tasks and retries.
    """

    def __init__(
        self,
        maxsize: int = 100,
        *,
        name: str = "memory",
        put_timeout: float | None = 1.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.name = name
        if maxsize < 0:
            raise ValueError("maxsize must be >= 0 (0 means unbounded)")
        self.maxsize = maxsize
        self.put_timeout = put_timeout
        self.clock = clock
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)
        self._scheduled: list[tuple[float, int, Task]] = []  # heap of (due, seq, task)
        self._seq = itertools.count()
        self._in_flight: dict[str, Task] = {}
        self._dead: list[DeadLetter] = []
        self._closed = False
        self._wakeups = 0  # bumped by wake(): waiting gets return None
        self._getters = 0  # gets waiting for a task
        self._putters = 0  # puts waiting for room
        self._init_pending()

    # The pending store (tasks that may run now). PriorityQueue overrides these three.
    def _init_pending(self) -> None:
        self._pending: deque[Task] = deque()

    def _push_pending(self, task: Task) -> None:
        self._pending.append(task)

    def _pop_pending(self) -> Task:
        return self._pending.popleft()

    def _pending_count(self) -> int:
        return len(self._pending)

    # The interface.
    def put(self, task: Task, *, delay: float = 0.0, timeout: float | None = None) -> None:
        delay = check_put(delay, timeout)
        with self._lock:  # the lock of both conditions; entering it directly is cheaper
            if self._closed:
                raise QueueClosed(f"queue {self.name!r} is closed")
            if self.maxsize and self._full():
                wait = self.put_timeout if timeout is None else timeout
                self._putters += 1  # before the first check of room: see get's fast path
                try:
                    room = self._not_full.wait_for(lambda: not self._full() or self._closed, wait)
                finally:
                    self._putters -= 1
                if not room:
                    raise QueueFull(
                        f"queue {self.name!r} stayed full ({self.maxsize} tasks) for {wait} s"
                    )
                if self._closed:
                    raise QueueClosed(f"queue {self.name!r} is closed")
            self._add(task, delay)

    def _add(self, task: Task, delay: float) -> None:
        if delay > 0:
            heapq.heappush(self._scheduled, (self.clock.now() + delay, next(self._seq), task))
        else:
            self._push_pending(task)
        if self._getters:  # Condition.notify probes the lock even when nobody waits
            self._not_empty.notify()

    #: Whether `get` may take a pending task without the lock. A deque's popleft is thread-safe;
    #: a heap (`PriorityQueue`) must be popped under the lock.
    _pop_without_lock = True

    def get(self, timeout: float | None = None) -> Delivery | None:
        # The fast path, when a task is pending and none is scheduled (one may be due first):
        # workers that all took the lock for every task would spend their time queueing for it.
        if self._pop_without_lock and not self._scheduled:
            try:
                task = self._pending.popleft()
            except IndexError:
                pass  # empty: wait below, under the lock
            else:
                if self._putters:  # a put registers before it checks for room: none is missed
                    with self._lock:
                        self._not_full.notify()
                return self._deliver(task)
        with self._lock:
            deadline = None if timeout is None else time.monotonic() + timeout
            wakeups = self._wakeups
            while True:
                self._promote_due()
                if self._pending_count():
                    task = self._pop_pending()
                    if self._putters:
                        self._not_full.notify()
                    break
                if self._closed and not self._scheduled:
                    raise QueueClosed(f"queue {self.name!r} is closed and empty")
                wait = None if deadline is None else deadline - time.monotonic()
                if (wait is not None and wait <= 0) or self._wakeups != wakeups:
                    return None
                if self._scheduled:
                    until_due = max(0.0, self._scheduled[0][0] - self.clock.now())
                    wait = until_due if wait is None else min(wait, until_due)
                self._getters += 1
                try:
                    self._not_empty.wait(wait)
                finally:
                    self._getters -= 1
        return self._deliver(task)

    def _deliver(self, task: Task) -> Delivery:
        """Hand a task out: note it as in flight and give the worker its own copy. Outside the
        lock: the other workers need not wait for this."""
        token = f"{task.id}:{task.attempts + 1}"
        self._in_flight[token] = task  # one atomic dict write
        return Delivery(task.with_attempts(task.attempts + 1), token)

    def _promote_due(self) -> None:
        if not self._scheduled:
            return
        now = self.clock.now()
        while self._scheduled and self._scheduled[0][0] <= now:
            self._push_pending(heapq.heappop(self._scheduled)[2])

    def ack(self, delivery: Delivery, result: Any = None) -> None:
        if result is not None:  # refused like the Redis queue refuses it, though not kept
            check_payload(result, max_bytes=DEFAULT_MAX_RESULT_BYTES, field="result")
        self._in_flight.pop(delivery.token, None)  # one atomic dict operation: no lock needed

    def fail(self, delivery: Delivery, error: ErrorInfo, *, retry_in: float | None) -> None:
        task = delivery.task  # the queue's copy is the one from before this run
        with self._lock:
            self._in_flight.pop(delivery.token, None)
            if retry_in is None:
                self._dead.append(DeadLetter(task.id, task, error, task.attempts, self.clock.now()))
            else:
                self._add(task, retry_in)  # a retry is never refused for lack of room

    def postpone(self, delivery: Delivery, delay: float) -> None:
        """Hand back an unrun delivery, to run after ``delay`` s; not counted as an attempt."""
        with self._lock:
            task = self._in_flight.pop(delivery.token, None)
            if task is None:  # not ours any more: nothing to hand back
                return
            self._add(task, delay)  # the copy from before this delivery: attempt not counted

    def dead_letters(self, limit: int = 1000) -> list[DeadLetter]:
        with self._lock:
            return self._dead[:limit]

    def requeue_dead(self, task_id: str | None = None) -> int:
        with self._lock:
            keep, moved = [], 0
            for dead in self._dead:
                if dead.task is not None and task_id in (None, dead.id):
                    self._add(dead.task.with_attempts(0), 0.0)
                    moved += 1
                else:
                    keep.append(dead)
            self._dead = keep
            return moved

    def purge_dead(self) -> int:
        with self._lock:
            count = len(self._dead)
            self._dead.clear()
            return count

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._in_flight)

    def _full(self) -> bool:
        return bool(self.maxsize) and self._waiting() >= self.maxsize

    def _waiting(self) -> int:
        return self._pending_count() + len(self._scheduled)

    def __len__(self) -> int:
        with self._lock:
            return self._waiting()

    def wake(self) -> None:
        with self._lock:
            self._wakeups += 1
            self._not_empty.notify_all()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._not_empty.notify_all()
            self._not_full.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed
