"""What workers did, recorded instead of printed.

Threads that print make notebook output change from run to run. Workers append `Event`s to an
`EventLog`; notebooks and tests read the log after the work is done.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .logtext import oneline
from .status import Status

#: Event kinds: the status changes a worker or producer sees, plus ``started`` and ``refused``.
ENQUEUED = "enqueued"
REFUSED = "refused"  # enqueue failed (queue full or closed): the task was never queued
STARTED = "started"
POSTPONED = "postponed"  # over its type's rate limit: back in the queue, not an attempt
SUCCEEDED = Status.SUCCEEDED.value
RETRYING = Status.RETRYING.value
DEAD = Status.DEAD.value
#: Kinds that end a task's life.
FINAL = frozenset({SUCCEEDED, DEAD})

#: One line per task outcome, on a logger of its own so that it can be quietened alone.
task_log = logging.getLogger("taskq.tasks")
#: The level each kind is logged at (a kind not named here: INFO).
_LEVELS = {STARTED: logging.DEBUG, DEAD: logging.WARNING}


# Not frozen: a frozen dataclass costs five times as much to build, and a worker builds two
# events per task. Treat events as read-only; the log hands the same objects to every reader.
@dataclass(slots=True)
class Event:
    """One thing that happened to one task (read-only by convention)."""

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

    Recording takes no lock unless someone is waiting: every worker records two events per
    task, and a lock they all take would make them queue up behind each other. Appending to
    a deque is thread-safe, and each thread counts its own events in its own dict.
    """

    def __init__(self, maxlen: int | None = None) -> None:
        self._events: deque[Event] = deque(maxlen=maxlen)
        self._local = threading.local()  # .tally: this thread's counts by kind
        self._tallies: list[dict[str, int]] = []  # every thread's tally, for counts()
        # Reentrant: the conditions passed to wait_until read the log while the lock is held.
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._waiters = 0  # threads in a wait: only then does record take the lock to notify

    def record(self, event: Event) -> None:
        self._events.append(event)
        try:
            tally = self._local.tally
        except AttributeError:  # this thread's first event
            tally = self._local.tally = {}
            with self._lock:
                self._tallies.append(tally)
        tally[event.kind] = tally.get(event.kind, 0) + 1  # only this thread writes its tally
        # A waiter registers before it first checks its condition, so either it sees this
        # event in that check or we see it here and wake it.
        if self._waiters:
            with self._lock:
                self._changed.notify_all()

    def events(self, kind: str | None = None) -> list[Event]:
        """A snapshot of the events kept, optionally only one kind, in recording order."""
        snapshot = self._events.copy()  # one atomic copy; a list() of a changing deque fails
        return [e for e in snapshot if kind is None or e.kind == kind]

    def counts(self) -> Counter[str]:
        """How many events of each kind were ever recorded."""
        total: Counter[str] = Counter()
        with self._lock:
            tallies = list(self._tallies)
        for tally in tallies:
            total.update(tally.copy())  # dict.copy is atomic: safe while its thread records
        return total

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
        return self.wait_until(
            lambda log: sum(log.counts()[kind] for kind in FINAL) >= count, timeout
        )

    def clear(self) -> None:
        """Forget every event and count. Call it while no worker is recording."""
        with self._lock:
            self._events.clear()
            for tally in self._tallies:
                tally.clear()

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events())


class LoggedEvents(EventLog):
    """An `EventLog` that also writes one log line per task outcome (and, at DEBUG, per start).

    Bounded, because a worker may run for months.
    """

    def __init__(self, maxlen: int = 1000) -> None:
        super().__init__(maxlen=maxlen)

    def record(self, event: Event) -> None:
        super().record(event)
        # Checked first: building the line costs more than recording the event, and a busy
        # worker quietened to WARNING records two events per task.
        level = _LEVELS.get(event.kind, logging.INFO)
        if not task_log.isEnabledFor(level):
            return
        # Ids and error texts come from outside: escaped, so one event stays one log line.
        what = oneline(
            f"task {event.task_id} ({event.task_type}) on {event.worker}, run {event.attempt}"
        )
        if event.kind == STARTED:
            _log(level, "%s started", what)
        elif event.kind == SUCCEEDED:
            _log(level, "%s succeeded", what)
        elif event.kind == RETRYING:
            _log(level, "%s failed, will retry: %s", what, oneline(event.detail))
        elif event.kind == DEAD:
            _log(level, "%s failed for good, dead-lettered: %s", what, oneline(event.detail))


def _log(level: int, message: str, *args: object) -> None:
    """Log one task line. The line names its task, not a line of code, so the record is made
    without `logging`'s search of the call stack for the caller (a quarter of the cost of a
    log call, paid per task by a busy worker); handlers and filters see it as usual."""
    task_log.handle(task_log.makeRecord(task_log.name, level, "taskq", 0, message, args, None))
