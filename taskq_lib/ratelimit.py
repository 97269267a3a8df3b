"""Rate limits per task type: ``registry.task("sms", rate_limit="10/s")``.

An SMS or email provider answers "429 Too Many Requests" past its quota, whatever the number of
workers asking. So the limit is per task type and shared: `RedisLimiter` keeps it in Redis (one
Lua script decides each start, for every worker process), `LocalLimiter` in this process (for
the in-memory queues). Both give the same answers.

Starts are spread evenly: ``"10/s"`` lets one task start every 0.1 s (plus `MARGIN`), so no
second ever holds more than 10 starts (a bucket that let 10 go at once and 10 more a moment
later would put 20 in one second). A task over the limit is not failed and does not hold a
worker: the worker hands it back to the queue for the time the limiter names
(`TaskQueue.postpone`, not an attempt) and takes the next task, of any type. The task reserves
the next free slot while it waits, so waiting tasks come back one per interval instead of all
at once.
"""

from __future__ import annotations

import math
import re
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from importlib.resources import files

from .clock import SYSTEM_CLOCK, Clock
from .connection import Client
from .keys import PREFIX

#: Seconds in each period a rate may be given per.
PERIODS = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
}
#: Starts are spaced this much wider than the rate asks (5%: ``10/s`` starts one every 105 ms).
#: A start is decided, then the handler runs a few milliseconds later, later still on a busy
#: machine; without the margin, one start that lags and the next that does not could put an
#: 11th start into some second of the provider's count.
MARGIN = 0.05
_RATE = re.compile(r"\s*(\d{1,9})\s*/\s*([a-z]+)\s*")


@dataclass(frozen=True)
class RateLimit:
    """At most ``count`` starts per ``period`` seconds, spread evenly."""

    count: int
    period: float

    def __post_init__(self) -> None:
        if type(self.count) is not int or self.count < 1:
            raise ValueError(f"a rate limit's count must be a whole number >= 1, not {self.count}")
        if not 0 < self.period < math.inf:
            raise ValueError(f"a rate limit's period must be > 0 seconds, not {self.period!r}")

    @property
    def interval(self) -> float:
        """Seconds between two starts: the period divided by the count, plus `MARGIN`."""
        return self.period / self.count * (1 + MARGIN)

    def __str__(self) -> str:
        unit = {1.0: "s", 60.0: "m", 3600.0: "h"}.get(self.period)
        return f"{self.count}/{unit}" if unit else f"{self.count} per {self.period:g} s"


def parse_rate(rate: str | RateLimit) -> RateLimit:
    """``"10/s"``, ``"100/m"``, ``"1000/h"`` (or ``/second``, ``/minute``, ``/hour``) -> RateLimit.

    Raises `ValueError` naming the accepted forms for anything else.
    """
    if isinstance(rate, RateLimit):
        return rate
    found = _RATE.fullmatch(rate) if isinstance(rate, str) else None
    if found is None or found[2] not in PERIODS or int(found[1]) < 1:
        raise ValueError(
            f"rate_limit {rate!r} is not a rate: write a whole number >= 1, a slash and a period, "
            "like '10/s', '100/m' or '1000/h'"
        )
    return RateLimit(int(found[1]), PERIODS[found[2]])


class Limiter(ABC):
    """Decides, per task type, whether a task may start now."""

    @abstractmethod
    def acquire(self, task_type: str, task_id: str, limit: RateLimit) -> float:
        """0.0 if task ``task_id`` may start now (the start is counted); otherwise the seconds
        it must wait, with a slot kept for it when it comes back."""


class LocalLimiter(Limiter):
    """The limiter of one process, for queues that live in one process."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}  # type -> first free slot
        self._last: dict[str, float] = {}  # type -> last allowed start
        self._reserved: dict[tuple[str, str], float] = {}  # (type, id) -> slot

    def acquire(self, task_type: str, task_id: str, limit: RateLimit) -> float:
        interval = limit.interval
        with self._lock:
            now = self.clock.now()
            slot = self._reserved.get((task_type, task_id))
            reserved = slot is not None
            if slot is None:
                slot = max(now, self._next.get(task_type, now))
                self._next[task_type] = slot + interval
            last = self._last.get(task_type)
            earliest = slot if last is None else max(slot, last + interval)
            if now >= earliest:
                self._reserved.pop((task_type, task_id), None)
                self._last[task_type] = now
                return 0.0
            if not reserved:
                self._reserved[(task_type, task_id)] = slot
            return earliest - now


class RedisLimiter(Limiter):
    """The limiter shared by every process that uses the same Redis (one script per decision).

    Each task type has one hash, ``taskq:ratelimit:{type}``, forgotten a minute after it is
    last needed.
    """

    def __init__(self, client: Client, clock: Clock = SYSTEM_CLOCK) -> None:
        self.client = client
        self.clock = clock
        source = (files("taskq_lib") / "lua").joinpath("ratelimit.lua").read_text()
        self._script = client.register_script(source)

    @staticmethod
    def key(task_type: str) -> str:
        return f"{PREFIX}:ratelimit:{{{task_type}}}"

    def acquire(self, task_type: str, task_id: str, limit: RateLimit) -> float:
        now = round(self.clock.now() * 1000)
        interval = max(1, round(limit.interval * 1000))
        wait = self._script(keys=[self.key(task_type)], args=[now, interval, task_id])
        return int(wait) / 1000
