"""Periodic tasks: one task per tick of a schedule, however many workers run.

A schedule is declared on the registry, next to its handler::

    registry.periodic("report", every=60, payload={"kind": "minutely"})
    registry.periodic("cleanup", cron="*/5 * * * *")     # minute hour day month weekday, UTC

Every ``taskq worker`` process runs a `Scheduler` for the registry's schedules. Each one, at
each tick, runs one Lua script that **claims the tick and enqueues its task in one step**
(``lua/periodic.lua``): the queue keeps each schedule's last claimed tick, and a tick that is
not later than it is refused. So with three workers a tick gives one task, not three; with
none, none; and a worker killed at any moment leaves either both the claim and the task or
neither.

Two rules say what happens around the edges, the same on every worker:

* **First sight.** A schedule the queue has never seen starts at its next tick: the first
  scheduler records the current tick without running it (a new daily 03:00 job deployed at
  noon does not run at noon).
* **Missed ticks run once.** After an outage (no worker for ten minutes of a one-minute
  schedule), the first scheduler back claims the latest tick only: one task, at once, not ten.

Ticks are absolute times: ``every=60`` ticks at whole multiples of 60 s since the Unix epoch,
cron ticks at its whole minutes in UTC, so every worker computes the same ticks. Their clocks
must agree (NTP) to well within the period.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import redis
from cronsim import CronSim, CronSimError

from .clock import SYSTEM_CLOCK, Clock
from .errors import QueueClosed
from .limits import MAX_DELAY, check_number, check_payload
from .logtext import oneline
from .task import Task

if TYPE_CHECKING:
    from .redis_queue import RedisQueue

log = logging.getLogger("taskq.periodic")

#: Shortest period of an ``every`` schedule, in seconds.
MIN_EVERY = 1.0
#: Longest schedule name.
MAX_NAME = 200
#: Longest wait of a scheduler between two looks at its schedules (a stop or a clock jump).
MAX_SLEEP = 60.0


@dataclass(frozen=True)
class Schedule:
    """One periodic task: its type, payload, and when (``every`` seconds, or ``cron``)."""

    name: str
    task_type: str
    payload: dict[str, Any] = field(default_factory=dict)
    every: float | None = None
    cron: str | None = None

    def __post_init__(self) -> None:
        if (self.every is None) == (self.cron is None):
            raise ValueError(f"schedule {self.name!r}: give either every=SECONDS or cron=EXPR")
        if not isinstance(self.name, str) or not 1 <= len(self.name) <= MAX_NAME:
            raise ValueError(f"schedule name must be 1 to {MAX_NAME} characters")
        if self.every is not None:
            check_number(self.every, "every (seconds)", low=MIN_EVERY, high=MAX_DELAY)
        if self.cron is not None:
            if not isinstance(self.cron, str):
                raise ValueError(f"cron must be a string, not {type(self.cron).__name__}")
            try:
                CronSim(self.cron, datetime.now(timezone.utc))
            except CronSimError as exc:
                raise ValueError(f"bad cron expression {self.cron!r}: {exc}") from None
        check_payload(self.payload, field="payload")

    @property
    def spec(self) -> str:
        """When it runs, in words: ``every 60s`` or ``cron */5 * * * *``."""
        return f"every {self.every:g}s" if self.every is not None else f"cron {self.cron}"

    def latest(self, now: float) -> float:
        """The latest tick at or before ``now`` (Unix seconds)."""
        if self.every is not None:
            return float(math.floor(now / self.every) * self.every)
        assert self.cron is not None
        # CronSim's reverse walk gives ticks strictly before its start: start just after now.
        start = _utc(math.floor(now) + 1)
        return next(CronSim(self.cron, start, reverse=True)).timestamp()

    def next(self, now: float) -> float:
        """The first tick strictly after ``now`` (Unix seconds)."""
        if self.every is not None:
            return float((math.floor(now / self.every) + 1) * self.every)
        assert self.cron is not None
        return next(CronSim(self.cron, _utc(math.floor(now)))).timestamp()

    def task(self, tick: float) -> Task:
        """The task of one tick. Its id names the schedule and the tick, so the queue (and a
        reader of its ids) can tell which tick each run belongs to."""
        return Task(
            self.task_type,
            dict(self.payload),
            id=f"periodic:{self.name[:100]}:{round(tick * 1000)}",
        )


def _utc(seconds: float) -> datetime:
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=seconds)


def default_name(task_type: str, every: float | None, cron: str | None) -> str:
    """A schedule's name when none is given: its type and when it runs."""
    return f"{task_type} every {every:g}s" if every is not None else f"{task_type} cron {cron}"


class Scheduler:
    """Enqueues the task of each tick of ``schedules`` on ``queue``, in a thread.

    Run one in every worker process: the queue decides which of them enqueues each tick (see
    the module's docstring), so more schedulers mean no more tasks, only no gap when one stops.

    Args:
        queue: where the tasks go, and where the last tick of each schedule is kept.
        schedules: the schedules (``registry.schedules()``).
        clock: where "now" comes from.
    """

    def __init__(
        self, queue: RedisQueue, schedules: Sequence[Schedule], *, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.queue = queue
        self.schedules = list(schedules)
        self.clock = clock
        #: Ids of the tasks this scheduler enqueued (the others' are not here), oldest first.
        self.enqueued: list[str] = []
        self._tried: dict[str, float] = {}  # schedule -> latest tick already put to the queue
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_due(self) -> list[str]:
        """Try each schedule's latest tick once (if not tried yet); return the ids enqueued."""
        now = self.clock.now()
        fired = []
        for schedule in self.schedules:
            tick = schedule.latest(now)
            if self._tried.get(schedule.name, -math.inf) >= tick:
                continue
            task = schedule.task(tick)
            if self.queue.put_tick(schedule.name, tick, task) == 1:
                fired.append(task.id)
            self._tried[schedule.name] = tick
        self.enqueued += fired
        return fired

    def next_tick(self) -> float:
        """When the earliest next tick of any schedule comes (Unix seconds)."""
        now = self.clock.now()
        return min((s.next(now) for s in self.schedules), default=now + MAX_SLEEP)

    def start(self) -> Scheduler:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="taskq-scheduler", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                self.run_due()
                if failing:
                    log.info("scheduler reaches Redis again")
                failing = False
            except QueueClosed:
                return
            except redis.RedisError as exc:
                if not failing:  # one line per outage
                    log.warning("scheduler cannot reach Redis (%s); will keep trying", oneline(exc))
                failing = True
            wait = self.next_tick() - self.clock.now()
            self._stop.wait(min(max(wait, 0.01), 1.0 if failing else MAX_SLEEP))
