"""The plot helpers draw what the data says: one bar per run, one point per task, and so on."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import matplotlib.pyplot as plt
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

from taskq_lib import Event, EventLog, MemoryQueue, Registry, RetryPolicy, Task, WorkerPool, plots


@pytest.fixture(autouse=True)
def agg_backend() -> Iterator[None]:
    """Draw off-screen, and close every figure a test made."""
    plt.switch_backend("Agg")
    yield
    plt.close("all")


def bars(fig: Figure) -> list[Rectangle]:
    """The data bars of a figure's first axes (the legend's patches are not among them)."""
    return [p for p in fig.axes[0].patches if type(p) is Rectangle]


def ev(at: float, kind: str, task_id: str, worker: str, attempt: int = 1) -> Event:
    return Event(at, kind, task_id, "t", worker, attempt)


# --- timeline ---------------------------------------------------------------------------------


def test_timeline_has_one_bar_per_task_run_by_a_real_pool() -> None:
    registry = Registry()
    failed_once: set[str] = set()

    @registry.task("flaky")
    def flaky(task: Task) -> None:
        if task.payload["fail"] and task.id not in failed_once:
            failed_once.add(task.id)
            raise RuntimeError("first run fails")

    queue = MemoryQueue(maxsize=0)
    log = EventLog()
    for i in range(6):
        registry.enqueue(queue, "flaky", {"fail": i == 0}, events=log)
    queue.put(Task("nobody_handles_this"))  # dead at once: unknown type
    pool = WorkerPool(
        queue, registry, concurrency=3, events=log, retry=RetryPolicy(base=0.01, seed=1)
    )
    pool.start()
    try:
        assert log.wait_for_final(7, timeout=10)
    finally:
        assert pool.stop(drain=True, timeout=10)

    fig = plots.timeline(log)
    drawn = bars(fig)
    assert len(drawn) == len(log.events("started")) == 8  # 6 tasks + 1 retry + 1 dead
    colors = [to_hex(bar.get_facecolor()) for bar in drawn]
    assert colors.count(plots.OUTCOME_COLORS["succeeded"].lower()) == 6
    assert colors.count(plots.OUTCOME_COLORS["retrying"].lower()) == 1
    assert colors.count(plots.OUTCOME_COLORS["dead"].lower()) == 1
    workers = {e.worker for e in log.events("started")}
    assert len(fig.axes[0].get_yticks()) == len(workers)


def test_timeline_places_bars_by_worker_and_time() -> None:
    events = [
        ev(10.000, "started", "a", "w10"),
        ev(10.000, "started", "b", "w2"),
        ev(10.020, "succeeded", "a", "w10"),
        ev(10.030, "retrying", "b", "w2"),
        ev(10.050, "started", "b", "w10", attempt=2),
        ev(10.060, "dead", "b", "w10", attempt=2),
        ev(10.070, "started", "c", "w2"),  # still running: not drawn
    ]
    fig = plots.timeline(events)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["w2", "w10"]  # natural order
    got = sorted(
        (round(b.get_x(), 6), round(b.get_width(), 6), round(b.get_y() + b.get_height() / 2))
        for b in bars(fig)
    )
    assert got == [(0.0, 20.0, 1), (0.0, 30.0, 0), (50.0, 10.0, 1)]  # ms, ms, row


def test_timeline_can_colour_by_type_and_draw_into_given_axes() -> None:
    fig, (left, right) = plt.subplots(1, 2)
    events = [
        Event(1.0, "started", "a", "email", "w0", 1),
        Event(1.5, "succeeded", "a", "email", "w0", 1),
        Event(1.0, "started", "b", "sms", "w1", 1),
        Event(1.2, "succeeded", "b", "sms", "w1", 1),
    ]
    assert plots.timeline(events, color_by="type", ax=right) is fig
    assert len(right.patches) == 2 and not left.patches
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["email", "sms"]
    with pytest.raises(ValueError, match="color_by"):
        plots.timeline(events, color_by="colour")  # type: ignore[arg-type]


def test_timeline_min_ms_widens_only_the_bars_that_are_too_short_to_see() -> None:
    events = [
        Event(1.000, "started", "a", "notification", "w0", 1),
        Event(1.000, "succeeded", "a", "notification", "w0", 1),  # took no time at all
        Event(1.000, "started", "b", "email", "w1", 1),
        Event(1.020, "succeeded", "b", "email", "w1", 1),
    ]
    widths = sorted(round(b.get_width(), 6) for b in bars(plots.timeline(events)))
    assert widths == [0.0, 20.0]
    widths = sorted(round(b.get_width(), 6) for b in bars(plots.timeline(events, min_ms=2.0)))
    assert widths == [2.0, 20.0]
    with pytest.raises(ValueError, match="min_ms"):
        plots.timeline(events, min_ms=-1.0)


def test_runs_pairs_start_and_end_of_the_same_attempt() -> None:
    found = plots.runs(
        [
            ev(1.0, "started", "a", "w0", 1),
            ev(2.0, "retrying", "a", "w0", 1),
            ev(3.0, "started", "a", "w1", 2),
            ev(3.5, "succeeded", "a", "w1", 2),
        ]
    )
    assert [(r.worker, r.attempt, r.seconds, r.outcome) for r in found] == [
        ("w0", 1, 1.0, "retrying"),
        ("w1", 2, 0.5, "succeeded"),
    ]


# --- throughput -------------------------------------------------------------------------------


def test_throughput_one_point_per_setting_and_an_ideal_line() -> None:
    fig = plots.throughput([1, 2, 4, 8], [10.0, 19.0, 35.0, 60.0])
    measured, ideal = fig.axes[0].get_lines()
    assert list(measured.get_xdata()) == [1, 2, 4, 8]
    assert list(measured.get_ydata()) == [10.0, 19.0, 35.0, 60.0]
    assert list(ideal.get_ydata()) == [10.0, 20.0, 40.0, 80.0]


def test_throughput_speedup_of_several_series_without_ideal() -> None:
    fig = plots.throughput(
        [1, 2, 4], {"io": [5.0, 10.0, 20.0], "cpu": [8.0, 8.0, 4.0]}, speedup=True, ideal=False
    )
    lines = fig.axes[0].get_lines()
    assert [list(line.get_ydata()) for line in lines] == [[1.0, 2.0, 4.0], [1.0, 1.0, 0.5]]
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["io", "cpu"]


def test_throughput_draws_rates_with_their_ranges_and_a_visible_ideal() -> None:
    from taskq_lib.measure import Rate

    one, four = Rate.of([9.0, 10.0, 12.0]), Rate.of([36.0, 40.0, 41.0])
    fig = plots.throughput([1, 4], {"io": [one, four]}, speedup=True)
    measured, ideal = fig.axes[0].get_lines()
    assert list(measured.get_ydata()) == [1.0, 4.0]  # medians divided by the first median
    assert list(ideal.get_ydata()) == [1.0, 4.0]  # same values: the ideal must not be hidden
    assert ideal.get_zorder() < measured.get_zorder()  # drawn underneath ...
    assert ideal.get_linewidth() > 3 * measured.get_linewidth()  # ... and wider, so both show
    [ranges] = fig.axes[0].collections  # one error bar per point, from low to high
    assert [[tuple(p) for p in seg] for seg in ranges.get_segments()] == [
        [(1.0, 0.9), (1.0, 1.2)],
        [(4.0, 3.6), (4.0, 4.1)],
    ]


def test_throughput_refuses_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="3 x values"):
        plots.throughput([1, 2, 3], [1.0, 2.0])


# --- order against priority -------------------------------------------------------------------


def test_order_vs_priority_one_point_per_task() -> None:
    priorities = [9, 9, 5, 5, 5, 1]
    fig = plots.order_vs_priority(priorities, highlight=[5])
    dots, rings = fig.axes[0].collections
    assert [tuple(xy) for xy in dots.get_offsets()] == [(i, p) for i, p in enumerate(priorities)]
    assert [tuple(xy) for xy in rings.get_offsets()] == [(5, 1)]


def test_order_vs_priority_colours_by_arrival() -> None:
    fig = plots.order_vs_priority([3, 3, 1], arrival=[1, 0, 2], highlight=())
    assert len(fig.axes) == 2  # the chart and its colour bar
    [dots] = fig.axes[0].collections
    assert list(dots.get_array()) == [1, 0, 2]
    with pytest.raises(ValueError, match="out of range"):
        plots.order_vs_priority([1, 2], highlight=[2])


def test_out_of_turn_finds_tasks_that_overtook_an_earlier_one_of_the_same_priority() -> None:
    # processing order: arrival 0 (p 5), 3 (p 5), 2 (p 9), 1 (p 5), 4 (p 9)
    assert plots.out_of_turn([5, 5, 9, 5, 9], [0, 3, 2, 1, 4]) == [1]  # 3 went before 1
    assert plots.out_of_turn([5, 5, 5], [0, 1, 2]) == []


def test_order_vs_priority_numbers_each_dot_and_marks_the_out_of_turn_ones() -> None:
    fig = plots.order_vs_priority([5, 5, 5], arrival=[0, 2, 1], numbers=True)
    assert len(fig.axes) == 1  # no colour bar: the numbers say it
    [dots] = fig.axes[0].collections
    assert [t.get_text() for t in fig.axes[0].texts] == ["0", "2", "1"]
    colors = [to_hex(c) for c in dots.get_facecolors()]
    assert colors[1] != colors[0] == colors[2]  # only arrival 2, which overtook 1, stands out
    with pytest.raises(ValueError, match="needs arrival"):
        plots.order_vs_priority([1], numbers=True)


# --- waits ------------------------------------------------------------------------------------


def test_waits_draws_a_line_per_task_and_runs_never_started_ones_to_the_end() -> None:
    tasks = [("alerts", 0.0, 0.0), ("alerts", 1.0, 2.0), ("report", 0.0, None)]
    fig = plots.waits(tasks, until=10.0)
    lines, dots = fig.axes[0].collections
    segments = [[tuple(p) for p in seg] for seg in lines.get_segments()]
    assert [(a[0], b[0]) for a, b in segments] == [(0.0, 0.0), (1.0, 2.0), (0.0, 10.0)]
    assert [round(b[1]) for _, b in segments] == [0, 0, 1]  # rows: alerts, then report
    assert [x for x, _ in dots.get_offsets()] == [0.0, 2.0]  # a dot where each task started
    assert [t.get_text().strip() for t in fig.axes[0].texts] == ["", "still waiting"]
    two_waiting = plots.waits([("report", 0.0, None), ("report", 5.0, None)], until=10.0)
    labels = [t.get_text().strip() for t in two_waiting.axes[0].texts]
    assert labels.count("still waiting") == 1  # one label per row, however many arrows
    with pytest.raises(ValueError, match="not in rows"):
        plots.waits(tasks, until=10.0, rows=["alerts"])


# --- lateness ---------------------------------------------------------------------------------


def test_lateness_per_task_has_one_bar_per_task() -> None:
    late = [0.5, 12.0, 980.0, 3.0]
    fig = plots.lateness(late, per_task=True)
    assert [b.get_height() for b in bars(fig)] == late


def test_lateness_per_task_ticks_are_whole_task_numbers() -> None:
    fig = plots.lateness([1.0, 2.0], per_task=True)  # plain matplotlib: ticks at 0, 0.25, 0.5, ...
    fig.canvas.draw()  # the locator chooses the ticks when the figure is drawn
    ticks = [t for t in fig.axes[0].get_xticks() if 0 <= t <= 1]
    assert len(ticks) >= 2
    assert all(float(t).is_integer() for t in ticks)


def test_lateness_histogram_counts_every_task() -> None:
    fig = plots.lateness({"poll 1 s": [100.0, 900.0, 1500.0], "exact": [1.0, 2.0]}, bins=10)
    drawn = bars(fig)
    assert len(drawn) == 2 * 10
    assert sum(b.get_height() for b in drawn) == 5
    assert fig.axes[0].get_legend() is not None


def test_lateness_panels_share_bins_and_x_axis_one_panel_per_series() -> None:
    late = {"early": [-900.0, -850.0, -10.0], "middle": [-400.0, 300.0], "late": [20.0, 950.0]}
    fig = plots.lateness_panels(late, bins=10, title="three runs")
    assert [ax.get_title(loc="left") for ax in fig.axes] == list(late)
    edges = []
    for ax, values in zip(fig.axes, late.values(), strict=True):
        drawn = [p for p in ax.patches if type(p) is Rectangle]
        assert len(drawn) == 10 and sum(b.get_height() for b in drawn) == len(values)
        edges.append([round(b.get_x(), 6) for b in drawn])
    assert edges[0] == edges[1] == edges[2]  # the same bins in every panel
    assert edges[0][0] == -900.0 and round(edges[0][-1] + 185.0, 6) == 950.0
    assert fig.axes[0].get_xlim() == fig.axes[2].get_xlim()
    assert fig.get_suptitle() == "three runs"
    with pytest.raises(ValueError):
        plots.lateness_panels({})


# --- the pipeline picture ---------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 3])
def test_pipeline_draws_a_box_per_role_and_an_arrow_per_hand_off(workers: int) -> None:
    fig = plots.pipeline(workers)
    patches = fig.axes[0].patches
    assert sum(isinstance(p, FancyBboxPatch) for p in patches) == 2 + workers
    assert sum(isinstance(p, FancyArrowPatch) for p in patches) == 1 + workers
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["Producer", "Queue", *[f"Worker {n}" for n in range(1, workers + 1)]]


def test_missing_matplotlib_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # makes the import fail
    with pytest.raises(ImportError, match=r"pip install 'matplotlib"):
        plots.throughput([1], [1.0])


def test_timeline_rows_can_include_idle_workers() -> None:
    events = [ev(1.0, "started", "a", "w1"), ev(1.1, "succeeded", "a", "w1")]
    fig = plots.timeline(events, workers=["w0", "w1", "w2"])
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["w0", "w1", "w2"]
    [bar] = bars(fig)
    assert round(bar.get_y() + bar.get_height() / 2) == 1
    with pytest.raises(ValueError, match="not in workers"):
        plots.timeline(events, workers=["w0"])


# --- rates ------------------------------------------------------------------------------------


def test_rates_draws_one_bar_per_rate_at_its_median_with_its_range() -> None:
    from taskq_lib.measure import Rate

    fig = plots.rates({"fast": Rate.of([90.0, 100.0, 130.0]), "slow": 10.0})
    drawn = bars(fig)
    assert [round(b.get_width()) for b in drawn] == [100, 10]
    assert fig.axes[0].get_xscale() == "linear"  # 10x apart: no log scale needed
    at = {t.get_text(): t.get_position()[1] for t in fig.axes[0].get_yticklabels()}
    assert at["fast"] > at["slow"]  # the first given is drawn on top
    texts = [t.get_text().strip() for t in fig.axes[0].texts]
    assert texts == ["100", "10"]


def test_rates_switch_to_a_log_scale_when_values_span_decades() -> None:
    fig = plots.rates({"memory": 200_000.0, "redis": 3_000.0})
    assert fig.axes[0].get_xscale() == "log"
    with pytest.raises(ValueError, match="positive"):
        plots.rates({"broken": 0.0})
