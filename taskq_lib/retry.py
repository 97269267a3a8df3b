"""When a failed task runs again: exponential backoff with a cap and jitter.

The original retried at once, so a failing dependency was hammered as fast as the worker could
loop. Backoff spreads the retries out; jitter keeps many failing tasks from retrying in step.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field


@dataclass
class RetryPolicy:
    """How many times to retry, and how long to wait before each retry.

    The delay before retry ``n`` (1-based) is ``min(cap, base * factor ** (n - 1))``, then
    reduced by up to ``jitter`` (a fraction) at random. ``seed`` makes the jitter repeatable.
    """

    max_retries: int = 3
    base: float = 0.5
    factor: float = 2.0
    cap: float = 60.0
    jitter: float = 0.25
    seed: int | None = None
    _rng: random.Random = field(init=False, repr=False, compare=False)
    _lock: threading.Lock = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.base < 0 or self.cap < 0 or self.factor < 1:
            raise ValueError("need base >= 0, cap >= 0 and factor >= 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter is a fraction between 0 and 1")
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        if retry < 1:
            raise ValueError("retries are numbered from 1")
        try:
            raw = min(self.cap, self.base * self.factor ** (retry - 1))
        except OverflowError:  # factor ** (retry - 1) is past the largest float: long capped
            raw = self.cap if self.base else 0.0
        with self._lock:
            spread = self._rng.random()
        return raw * (1 - self.jitter * spread)

    def should_retry(self, attempts: int, max_retries: int | None = None) -> bool:
        """After ``attempts`` runs that all failed, is another run allowed?"""
        limit = self.max_retries if max_retries is None else max_retries
        return attempts <= limit
