"""Time, passed in: logic that depends on time asks a clock, so tests can move time by hand."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """What taskq needs to know about time: wall-clock seconds since the epoch."""

    def now(self) -> float: ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that only moves when told to. For tests and notebook demonstrations.

    Moving it does not wake a ``get`` that is already waiting for a delayed task: that wait
    was computed from the clock and runs in real seconds. Use ``get(timeout=0)`` after
    ``advance``.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += seconds


SYSTEM_CLOCK = SystemClock()
