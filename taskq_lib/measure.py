"""Measure throughput (tasks per second) the same way everywhere in the course.

One number from one run is not a measurement on a shared laptop: the speed of the machine drifts
while you watch. So every figure here is taken the way a benchmark takes it:

* a **warm-up** round first, not counted (imports, caches and Lua script loading happen there);
* several **rounds**, each timed on its own, with the untimed **setup** (filling a queue, say)
  done before the clock starts;
* the **median** of the rounds as the figure, with the lowest and highest round kept as its range;
* when several things are compared, their rounds are **interleaved** (A, B, C, A, B, C, ...), so a
  slow minute of the machine slows every contender alike instead of only the one running then.

`rate` measures one thing; `compare` measures several side by side. `taskq_lib.plots.rates` draws
the result as bars with error bars.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Rate", "Trial", "compare", "rate"]


@dataclass(frozen=True)
class Rate:
    """Items per second over several timed rounds: the median, and the range of the rounds."""

    median: float
    low: float
    high: float
    samples: tuple[float, ...]

    @classmethod
    def of(cls, samples: list[float]) -> Rate:
        """The rate of these per-round samples (items per second)."""
        if not samples:
            raise ValueError("a rate needs at least one round")
        return cls(statistics.median(samples), min(samples), max(samples), tuple(samples))

    def __format__(self, spec: str) -> str:
        """Format the median, so ``f"{r:,.0f}"`` works as for a plain number."""
        return format(self.median, spec)

    def __str__(self) -> str:
        return f"{self.median:,.0f}/s (rounds {self.low:,.0f} to {self.high:,.0f})"


@dataclass(frozen=True)
class Trial:
    """One thing to measure: ``work(setup())`` processes ``items`` items; only ``work`` is timed.

    Attributes:
        work: does the work being measured. It gets what ``setup`` returned.
        items: how many items one call of ``work`` processes (tasks, say).
        setup: prepares one round before the clock starts (for example, fills a queue). By
            default there is nothing to prepare and ``work`` gets ``None``.
    """

    work: Callable[[Any], object]
    items: int
    setup: Callable[[], Any] = lambda: None

    def __post_init__(self) -> None:
        if self.items <= 0:
            raise ValueError(f"items must be positive, got {self.items}")

    def timed_round(self) -> float:
        """Run one round and return its items per second."""
        state = self.setup()
        start = time.perf_counter()
        self.work(state)
        seconds = time.perf_counter() - start
        return self.items / max(seconds, 1e-9)


def rate(
    work: Callable[[Any], object],
    items: int,
    *,
    setup: Callable[[], Any] = lambda: None,
    rounds: int = 5,
    warmup: int = 1,
) -> Rate:
    """Measure how many items per second ``work`` processes.

    Args:
        work: called once per round with what ``setup`` returned; processes ``items`` items.
        items: items processed by one call of ``work``.
        setup: called before each round, outside the timing.
        rounds: timed rounds; the median is the figure.
        warmup: rounds run first and thrown away.
    """
    return compare({"": Trial(work, items, setup)}, rounds=rounds, warmup=warmup)[""]


def compare(trials: Mapping[str, Trial], *, rounds: int = 5, warmup: int = 1) -> dict[str, Rate]:
    """Measure several trials with their rounds interleaved, so drift hits them all alike.

    Returns ``{name: Rate}`` in the order the trials were given.
    """
    if rounds < 1 or warmup < 0:
        raise ValueError(f"need rounds >= 1 and warmup >= 0, got {rounds} and {warmup}")
    for _ in range(warmup):
        for trial in trials.values():
            trial.timed_round()
    samples: dict[str, list[float]] = {name: [] for name in trials}
    for _ in range(rounds):
        for name, trial in trials.items():
            samples[name].append(trial.timed_round())
    return {name: Rate.of(values) for name, values in samples.items()}
