"""The throughput helper: medians of timed rounds, setup outside the clock, rounds interleaved."""

from __future__ import annotations

import pytest

from taskq_lib import measure
from taskq_lib.measure import Rate, Trial, compare, rate


def test_rate_is_the_median_of_the_rounds_and_keeps_their_range() -> None:
    r = Rate.of([3.0, 1.0, 2.0, 10.0, 4.0])
    assert (r.median, r.low, r.high) == (3.0, 1.0, 10.0)
    assert f"{r:.1f}" == "3.0"
    with pytest.raises(ValueError):
        Rate.of([])


def test_setup_runs_before_every_round_and_is_not_timed(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]  # a fake perf_counter: setup takes 100 s, work 2 s
    monkeypatch.setattr(measure.time, "perf_counter", lambda: clock[0])
    prepared: list[int] = []

    def setup() -> int:
        clock[0] += 100.0
        prepared.append(1)
        return len(prepared)

    seen: list[int] = []

    def work(state: int) -> None:
        clock[0] += 2.0
        seen.append(state)

    result = rate(work, items=1000, setup=setup, rounds=3, warmup=1)
    assert seen == [1, 2, 3, 4]  # warm-up and three rounds, each with a fresh setup
    assert result.samples == (500.0, 500.0, 500.0)  # 1000 items in 2 s; setup not counted


def test_compare_interleaves_the_rounds_of_every_trial() -> None:
    order: list[str] = []
    trials = {name: Trial(lambda _s, n=name: order.append(n), items=1) for name in "ab"}
    rates = compare(trials, rounds=2, warmup=1)
    assert order == ["a", "b", "a", "b", "a", "b"]
    assert list(rates) == ["a", "b"]
    with pytest.raises(ValueError):
        compare(trials, rounds=0)
    with pytest.raises(ValueError):
        Trial(lambda _s: None, items=0)
