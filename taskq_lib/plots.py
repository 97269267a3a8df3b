"""Plots for the course notebooks: what the workers did, drawn from data.

Every function takes plain data (an `EventLog`, lists of numbers), draws one chart and returns
the matplotlib `Figure`. Pass ``ax=`` to draw into an `Axes` you made yourself (for example, to
put two charts side by side); otherwise a new figure is made with ``matplotlib.pyplot``, so a
notebook shows it at the end of the cell. End such a cell with ``plt.show()``, not with a
trailing ``;``: nbval runs cells with ``store_history=False``, and then IPython ignores the ``;``
and prints the returned figure a second time (nbval issue #194, IPython issue #14162).

matplotlib is optional for ``taskq_lib``. It is imported only when a function here is called, and a
missing install raises an `ImportError` that says what to install.

The functions:

* `pipeline` — the picture of a task queue: producer -> queue -> workers;
* `timeline` — one row per worker, one bar per task run (a Gantt chart);
* `throughput` — tasks per second (or speed-up) against the number of workers;
* `rates` — measured rates side by side, as bars with their range and value;
* `order_vs_priority` — the order tasks were processed in against their priority;
* `waits` — how long each task waited, from arrival to start (starvation shows as a red line);
* `lateness` — how late tasks started, in milliseconds;
* `lateness_panels` — several lateness histograms as small multiples on one x axis.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .events import DEAD, RETRYING, STARTED, SUCCEEDED, Event, EventLog
from .measure import Rate

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "OUTCOME_COLORS",
    "Run",
    "lateness",
    "lateness_panels",
    "order_vs_priority",
    "out_of_turn",
    "pipeline",
    "rates",
    "runs",
    "throughput",
    "timeline",
    "waits",
]

INSTALL_HINT = (
    "taskq_lib.plots needs matplotlib, which is not installed. "
    "Install it with: pip install 'matplotlib>=3.8'  (or: pip install 'taskq-lib[plot]')"
)

#: Bar colour for each way a run can end (colour-blind-safe Okabe-Ito colours).
OUTCOME_COLORS: dict[str, str] = {
    SUCCEEDED: "#009E73",  # green
    RETRYING: "#E69F00",  # orange
    DEAD: "#D55E00",  # red
}
#: Colours for series (in order given) and task types (in alphabetical order).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
#: The kinds of event that end one run of a task.
RUN_ENDS = frozenset({SUCCEEDED, RETRYING, DEAD})

Values = Sequence[float]


def _pyplot() -> Any:
    """``matplotlib.pyplot``, imported now, or an `ImportError` that says what to install."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - the course always has matplotlib
        raise ImportError(INSTALL_HINT) from exc
    return plt


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """The figure and axes to draw on: ``ax`` and its figure, or a new pyplot figure.

    A new figure uses matplotlib's constrained layout, so labels and legends fit without warnings.
    """
    if ax is None:
        fig, new_ax = _pyplot().subplots(figsize=figsize, layout="constrained")
        return fig, new_ax
    _pyplot()  # the same install hint if matplotlib is missing
    from matplotlib.figure import Figure

    owner: Any = ax.figure
    while not isinstance(owner, Figure):  # a SubFigure: climb to the Figure that holds it
        owner = owner.figure
    return owner, ax


def _natural_key(text: str) -> list[Any]:
    """Sort key that puts ``w2`` before ``w10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _series(values: Values | Mapping[str, Values], default: str) -> dict[str, list[float]]:
    """One unnamed series or several named ones, as ``{name: values}``."""
    if isinstance(values, Mapping):
        return {str(name): [float(v) for v in vals] for name, vals in values.items()}
    return {default: [float(v) for v in values]}


# --- the picture of a task queue -------------------------------------------------------------


def pipeline(
    workers: int = 3,
    *,
    producer: str = "Producer",
    queue: str = "Queue",
    worker: str = "Worker {n}",
    ax: Axes | None = None,
) -> Figure:
    """Draw producer -> queue -> ``workers`` workers as boxes joined by arrows.

    Args:
        workers: how many worker boxes to draw (at least 1).
        producer: label of the producer box.
        queue: label of the queue box.
        worker: label of each worker box; ``{n}`` becomes the worker's number, from 1.
        ax: draw here instead of in a new figure.

    Returns:
        The figure. It holds ``2 + workers`` boxes and ``1 + workers`` arrows.
    """
    if workers < 1:
        raise ValueError("workers must be >= 1")
    fig, ax = _axes(ax, (8.0, max(2.5, 1.1 * workers)))
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    width, height = 2.2, 0.7
    rows = [workers - 1 - i for i in range(workers)]  # worker 1 at the top
    middle = (workers - 1) / 2

    def box(x: float, y: float, text: str, color: str) -> None:
        ax.add_patch(
            FancyBboxPatch(
                (x - width / 2, y - height / 2),
                width,
                height,
                boxstyle="round,pad=0.05",
                facecolor=color,
                edgecolor="black",
            )
        )
        ax.text(x, y, text, ha="center", va="center", fontsize=11)

    def arrow(x0: float, y0: float, x1: float, y1: float) -> None:
        ax.add_patch(
            FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=16, color="black")
        )

    box(0.0, middle, producer, "#F0E442")
    box(4.0, middle, queue, "#56B4E9")
    arrow(width / 2 + 0.05, middle, 4.0 - width / 2 - 0.05, middle)
    for n, y in enumerate(rows, start=1):
        box(8.0, y, worker.format(n=n), "#009E73")
        arrow(4.0 + width / 2 + 0.05, middle, 8.0 - width / 2 - 0.05, y)
    ax.set_xlim(-1.4, 9.4)
    ax.set_ylim(-0.8, workers - 0.2)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig


# --- what the workers did --------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One run of one task by one worker: from its ``started`` event to the event that ended it.

    ``start`` and ``end`` are clock seconds; ``outcome`` is ``succeeded``, ``retrying`` or ``dead``.
    """

    worker: str
    task_id: str
    task_type: str
    attempt: int
    start: float
    end: float
    outcome: str

    @property
    def seconds(self) -> float:
        """How long the run took."""
        return self.end - self.start


def runs(events: EventLog | Iterable[Event]) -> list[Run]:
    """Pair each ``started`` event with the event that ended that run, in order of start.

    A run is one (task id, attempt) pair. Runs that have not ended yet are left out.
    """
    open_runs: dict[tuple[str, int], Event] = {}
    done: list[Run] = []
    for event in events:
        key = (event.task_id, event.attempt)
        if event.kind == STARTED:
            open_runs[key] = event
        elif event.kind in RUN_ENDS and key in open_runs:
            start = open_runs.pop(key)
            done.append(
                Run(
                    worker=start.worker,
                    task_id=start.task_id,
                    task_type=start.task_type,
                    attempt=start.attempt,
                    start=start.at,
                    end=event.at,
                    outcome=event.kind,
                )
            )
    done.sort(key=lambda run: (run.start, run.end))
    return done


def timeline(
    events: EventLog | Iterable[Event],
    *,
    workers: Sequence[str] | None = None,
    color_by: Literal["outcome", "type"] = "outcome",
    min_ms: float = 0.0,
    title: str | None = "What each worker did",
    figsize: tuple[float, float] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """A per-worker timeline: one row per worker, one bar per run of a task.

    Each bar goes from a task's ``started`` event to the ``succeeded``, ``retrying`` or ``dead``
    event of the same run. Time is in milliseconds from the first start.

    Args:
        events: an `EventLog`, or events from one (for example ``log.events()``).
        workers: the rows to draw, top to bottom, for example ``["w0", "w1", "w2"]``. Give them
            to show idle workers too and to keep the figure's size the same from run to run; by
            default, the workers that appear in ``events``, in natural order (w2 before w10).
        color_by: colour bars by how the run ended (``"outcome"``) or by task type (``"type"``).
        min_ms: draw every bar at least this many milliseconds wide, so that runs too short to
            see (a task that returns at once) still show; their true length is unchanged in
            `runs`.
        title: the chart title; None for none.
        figsize: width and height in inches; by default 9 wide and 0.45 high per worker.
        ax: draw here instead of in a new figure.

    Returns:
        The figure. Its axes hold exactly one bar (a ``Rectangle`` patch) per finished run.
    """
    if color_by not in ("outcome", "type"):
        raise ValueError("color_by is 'outcome' or 'type'")
    if min_ms < 0:
        raise ValueError("min_ms must be >= 0")
    found = runs(events)
    seen = sorted({run.worker for run in found}, key=_natural_key)
    rows = list(seen if workers is None else workers)
    missing = [name for name in seen if name not in rows]
    if missing:
        raise ValueError(f"events name workers that are not in workers=: {missing}")
    fig, ax = _axes(ax, figsize or (9.0, 1.2 + 0.45 * max(len(rows), 2)))
    from matplotlib.patches import Patch

    row = {name: i for i, name in enumerate(rows)}
    origin = min((run.start for run in found), default=0.0)
    types = sorted({run.task_type for run in found})
    type_color = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(types)}
    for run in found:
        color = OUTCOME_COLORS[run.outcome] if color_by == "outcome" else type_color[run.task_type]
        ax.barh(
            row[run.worker],
            max(run.seconds * 1000, min_ms),
            left=(run.start - origin) * 1000,
            height=0.6,
            color=color,
            edgecolor="white",
            linewidth=0.5,
        )
    ax.set_yticks(range(len(rows)), rows)
    ax.set_ylim(len(rows) - 0.5, -0.5)  # first worker at the top
    ax.set_xlabel("time since the first start (ms)")
    ax.set_ylabel("worker")
    if title:
        ax.set_title(title)
    if color_by == "outcome":
        shown = [kind for kind in OUTCOME_COLORS if any(run.outcome == kind for run in found)]
        handles = [Patch(color=OUTCOME_COLORS[kind], label=kind) for kind in shown]
    else:
        handles = [Patch(color=type_color[name], label=name) for name in types]
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


# --- measurements ----------------------------------------------------------------------------


def throughput(
    xs: Sequence[float],
    ys: Sequence[Rate | float] | Mapping[str, Sequence[Rate | float]],
    *,
    ideal: bool = True,
    speedup: bool = False,
    xlabel: str = "workers",
    ylabel: str | None = None,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Throughput (or speed-up) against a setting such as the number of workers.

    Args:
        xs: the settings, for example ``[1, 2, 4, 8]`` workers.
        ys: the measurements at each setting (tasks per second), or ``{name: measurements}`` to
            draw several series, for example ``{"I/O-bound": [...], "CPU-bound": [...]}``.
            A measurement may be a `Rate` (from `taskq_lib.measure`): the line goes through its
            median and an error bar shows the range of its rounds.
        ideal: also draw perfect scaling from the first point: ``y[0] * x / x[0]``. With several
            series, the ideal line follows the first one (with ``speedup`` it fits them all).
            It is drawn as a wide pale band under the measured lines, so a series that follows
            it closely does not hide it.
        speedup: divide each series by its first value, so every series starts at 1 and
            different kinds of work can share one chart.
        xlabel: the x-axis label.
        ylabel: the y-axis label; by default "tasks per second" or "speed-up (x times)".
        title: the chart title.
        figsize: width and height in inches; by default 7.0 by 4.5.
        ax: draw here instead of in a new figure.

    Returns:
        The figure. Its axes hold one line per series (with one marker per point), plus the
        ideal line when ``ideal`` is true, added last (but drawn underneath). Series of `Rate`
        values add one error-bar collection each.
    """
    given = ys if isinstance(ys, Mapping) else {"measured": ys}
    series: dict[str, list[Rate]] = {
        str(name): [v if isinstance(v, Rate) else Rate.of([float(v)]) for v in values]
        for name, values in given.items()
    }
    for name, values in series.items():
        if len(values) != len(xs):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(xs)} x values")
    if not xs:
        raise ValueError("need at least one point")
    if speedup:
        for name, values in series.items():
            base = values[0].median
            if base == 0:
                raise ValueError(f"series {name!r} starts at 0; cannot compute a speed-up")
            series[name] = [Rate.of([s / base for s in v.samples]) for v in values]
    fig, ax = _axes(ax, figsize or (7.0, 4.5))
    for i, (name, values) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        medians = [v.median for v in values]
        ax.plot(list(xs), medians, marker="o", color=color, label=name, zorder=3)
        if any(v.low < v.high for v in values):
            below = [m - v.low for m, v in zip(medians, values, strict=True)]
            above = [v.high - m for m, v in zip(medians, values, strict=True)]
            ax.errorbar(
                list(xs),
                medians,
                yerr=[below, above],
                fmt="none",
                ecolor=color,
                elinewidth=1.2,
                capsize=0,
                zorder=3,
            )
    if ideal:
        first = next(iter(series.values()))[0].median
        line = [first * x / xs[0] for x in xs]
        ax.plot(
            list(xs),
            line,
            color="gray",
            linewidth=9,
            alpha=0.3,
            solid_capstyle="round",
            label="ideal: n workers, n times as fast",
            zorder=1,
        )
    ax.set_xticks(list(xs))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel or ("speed-up (x times)" if speedup else "tasks per second"))
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    if len(series) > 1 or ideal:
        ax.legend(frameon=False)
    return fig


def rates(
    measured: Mapping[str, Rate | float],
    *,
    log: bool | None = None,
    unit: str = "tasks per second",
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Measured rates side by side: one horizontal bar each, its range as an error bar.

    Args:
        measured: ``{label: Rate}`` (from `taskq_lib.measure`), or plain numbers. Bars are drawn
            top to bottom in the order given, each with its median printed at its end.
        log: a logarithmic axis. By default, logarithmic when the largest value is more than 30
            times the smallest, so that a slow contender is still a visible bar.
        unit: the axis label.
        title: the chart title.
        figsize: width and height in inches; by default 7.0 wide and 0.6 per bar.
        ax: draw here instead of in a new figure.
    """
    if not measured:
        raise ValueError("nothing to draw")
    labels = list(measured)
    values = [measured[k] for k in labels]
    medians = [v.median if isinstance(v, Rate) else float(v) for v in values]
    if min(medians) <= 0:
        raise ValueError("rates must be positive")
    pairs = list(zip(medians, values, strict=True))
    lows = [m - (v.low if isinstance(v, Rate) else m) for m, v in pairs]
    highs = [(v.high if isinstance(v, Rate) else m) - m for m, v in pairs]
    if log is None:
        log = max(medians) > 30 * min(medians)
    fig, ax = _axes(ax, figsize or (7.0, 1.2 + 0.6 * len(labels)))
    ys = list(range(len(labels)))[::-1]
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(labels))]
    ax.barh(ys, medians, color=colors, height=0.6)
    ax.errorbar(medians, ys, xerr=[lows, highs], fmt="none", ecolor="black", capsize=4, lw=1)
    for y, m, hi in zip(ys, medians, highs, strict=True):
        ax.annotate(f" {m:,.0f}", (m + hi, y), va="center", fontsize=9)
    ax.set_yticks(ys, labels)
    if log:
        ax.set_xscale("log")
        ax.set_xlim(min(medians) / 3, max(m + h for m, h in zip(medians, highs, strict=True)) * 4)
    else:
        ax.set_xlim(0, max(m + h for m, h in zip(medians, highs, strict=True)) * 1.25)
    ax.set_xlabel(unit + (" (log scale)" if log else ""))
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title)
    return fig


def order_vs_priority(
    priorities: Sequence[int | float],
    *,
    arrival: Sequence[int] | None = None,
    numbers: bool = False,
    highlight: Iterable[int] = (),
    title: str | None = "Processing order against priority",
    figsize: tuple[float, float] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """A scatter of processing position (x) against priority (y), one point per task.

    A perfect priority queue gives a falling staircase: all the highest priorities first.

    Args:
        priorities: each task's priority, in the order the tasks were processed.
        arrival: each task's enqueue position (0 for the first enqueued), in the same order.
            When given, points are coloured by it, so first-in first-out among equal
            priorities shows as colours getting lighter from left to right in each step.
        numbers: with ``arrival``, write each task's arrival number in its dot instead of a
            colour scale, and draw in orange the tasks that came out *out of turn*: before a
            task of the same priority that arrived earlier (see `out_of_turn`).
        highlight: processing positions (0-based) to ring in red, for example a starved task.
        title: the chart title; None for none.
        figsize: width and height in inches; by default 8.0 by 4.0.
        ax: draw here instead of in a new figure.

    Returns:
        The figure. Its first collection holds one point per task; each highlighted position
        adds one ring in a second collection.
    """
    if arrival is not None and len(arrival) != len(priorities):
        raise ValueError("arrival needs one value per task")
    if numbers and arrival is None:
        raise ValueError("numbers=True needs arrival=")
    fig, ax = _axes(ax, figsize or (8.0, 4.0))
    positions = list(range(len(priorities)))
    values = [float(p) for p in priorities]
    if arrival is None:
        ax.scatter(positions, values, s=30, color=PALETTE[0], zorder=2)
    elif numbers:
        late = set(out_of_turn(priorities, arrival))
        colors = [PALETTE[1] if i in late else PALETTE[4] for i in positions]
        ax.scatter(positions, values, s=330, c=colors, edgecolors="black", linewidths=0.6, zorder=2)
        for x, y, n in zip(positions, values, arrival, strict=True):
            ax.annotate(str(n), (x, y), ha="center", va="center", fontsize=8, zorder=4)
        from matplotlib.lines import Line2D

        dot: dict[str, Any] = {"marker": "o", "linestyle": "", "markersize": 11}
        dot["markeredgecolor"] = "black"
        ax.legend(
            handles=[
                Line2D([], [], markerfacecolor=PALETTE[4], label="in turn", **dot),
                Line2D(
                    [],
                    [],
                    markerfacecolor=PALETTE[1],
                    label="out of turn: an earlier task of\nthe same priority was still waiting",
                    **dot,
                ),
            ],
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            frameon=False,
            title="number = arrival",
        )
        low, high = min(values, default=0.0), max(values, default=0.0)
        pad = 0.15 * (high - low) + 0.5  # room for the big numbered dots
        ax.set_ylim(low - pad, high + pad)
    else:
        dots = ax.scatter(positions, values, s=30, c=list(arrival), cmap="viridis", zorder=2)
        fig.colorbar(dots, ax=ax, label="enqueue order")
    marked = sorted(set(highlight))
    if marked:
        bad = [i for i in marked if not 0 <= i < len(values)]
        if bad:
            raise ValueError(f"highlight positions out of range: {bad}")
        ax.scatter(
            marked,
            [values[i] for i in marked],
            s=160,
            facecolors="none",
            edgecolors="red",
            linewidths=2,
            zorder=3,
        )
    from matplotlib.ticker import MaxNLocator

    if all(v.is_integer() for v in values):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # no "2.5" for whole priorities
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("position in processing order (0 = first)")
    ax.set_ylabel("priority")
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return fig


def out_of_turn(priorities: Sequence[int | float], arrival: Sequence[int]) -> list[int]:
    """Processing positions of tasks that overtook an earlier task of the same priority.

    Both lists are in processing order. A task is out of turn when a task with the same priority
    and a smaller arrival number comes out *after* it. A queue that is first-in first-out among
    equal priorities has none.
    """
    if len(arrival) != len(priorities):
        raise ValueError("arrival needs one value per task")
    late: list[int] = []
    for i, (p, a) in enumerate(zip(priorities, arrival, strict=True)):
        later = zip(priorities[i + 1 :], arrival[i + 1 :], strict=True)
        if any(q == p and b < a for q, b in later):
            late.append(i)
    return late


def waits(
    tasks: Sequence[tuple[str, float, float | None]],
    *,
    until: float,
    rows: Sequence[str] | None = None,
    unit: str = "s",
    title: str | None = "When each task arrived and when it ran",
    figsize: tuple[float, float] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """How long tasks waited: for each, a line from its arrival to the moment it started.

    Args:
        tasks: ``(row, arrived, started)`` per task; ``started`` is None for a task that never
            ran before ``until``. Tasks that share a row (for example one row for all urgent
            tasks) are drawn in that row, alternately a little higher and lower.
        until: the end of the run. A task that never ran is drawn as a red line from its arrival
            to ``until``, ending in an arrow and the words "still waiting".
        rows: the rows, top to bottom; by default in the order they first appear in ``tasks``.
        unit: the time unit, for the axis label.
        title: the chart title; None for none.
        figsize: width and height in inches; by default 9 wide and 0.5 per row.
        ax: draw here instead of in a new figure.

    Returns:
        The figure. Its first collection holds one wait line per task; the second one dot per
        task that ran (at its start time).
    """
    names = list(rows) if rows is not None else list(dict.fromkeys(row for row, _, _ in tasks))
    unknown = sorted({row for row, _, _ in tasks} - set(names))
    if unknown:
        raise ValueError(f"tasks name rows that are not in rows=: {unknown}")
    fig, ax = _axes(ax, figsize or (9.0, 1.4 + 0.5 * max(len(names), 2)))
    from matplotlib.collections import LineCollection

    shared = Counter(row for row, _, _ in tasks)
    seen: Counter[str] = Counter()
    segments: list[list[tuple[float, float]]] = []
    colors: list[str] = []
    ran_x: list[float] = []
    ran_y: list[float] = []
    labelled: set[str] = set()
    for row, arrived, started in tasks:
        k = seen[row]
        seen[row] += 1
        y = names.index(row) + (0.0 if shared[row] == 1 else (k % 3 - 1) * 0.18)
        end = until if started is None else started
        segments.append([(arrived, y), (end, y)])
        colors.append(OUTCOME_COLORS[DEAD] if started is None else "#555555")
        if started is None:
            ax.annotate(
                "",
                (until + 0.02 * until, y),
                (until, y),
                arrowprops={"arrowstyle": "-|>", "color": OUTCOME_COLORS[DEAD]},
            )
            if row not in labelled:  # once per row, so shared rows stay readable
                labelled.add(row)
                ax.annotate(
                    " still waiting",
                    (until + 0.02 * until, names.index(row)),
                    va="center",
                    fontsize=8,
                    color=OUTCOME_COLORS[DEAD],
                )
        else:
            ran_x.append(started)
            ran_y.append(y)
    ax.add_collection(LineCollection(segments, colors=colors, linewidths=2, zorder=2))
    ax.scatter(
        ran_x,
        ran_y,
        s=22,
        color=PALETTE[2],
        edgecolors="black",
        linewidths=0.4,
        zorder=3,
        label="ran",
    )
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(len(names) - 0.5, -0.5)
    starts = [arrived for _, arrived, _ in tasks]
    ax.set_xlim(min(starts, default=0.0) - 0.02 * until, until * 1.16)
    ax.set_xlabel(f"time ({unit})")
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title)
    return fig


def lateness(
    late_ms: Values | Mapping[str, Values],
    *,
    per_task: bool = False,
    bins: int = 20,
    title: str | None = "How late tasks started",
    figsize: tuple[float, float] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """How late tasks started, in milliseconds: a histogram, or one bar per task.

    Lateness is "when it started" minus "when it was due"; 0 is on time.

    Args:
        late_ms: lateness of each task in ms, or ``{name: lateness}`` to compare several runs
            (for example the original one-second poll against an exact scheduler).
        per_task: draw one bar per task (x is the task's index, with whole-number ticks)
            instead of a histogram.
        bins: number of histogram bins, shared by all series.
        title: the chart title; None for none.
        figsize: width and height in inches; by default 7.0 by 4.0.
        ax: draw here instead of in a new figure.

    Returns:
        The figure. A histogram holds ``bins`` bars per series; a per-task chart one bar per
        task per series.
    """
    series = _series(late_ms, "lateness")
    if bins < 1:
        raise ValueError("bins must be >= 1")
    fig, ax = _axes(ax, figsize or (7.0, 4.0))
    named = len(series) > 1 or isinstance(late_ms, Mapping)
    if per_task:
        width = 0.8 / len(series)
        for i, (name, values) in enumerate(series.items()):
            xs = [k + (i - (len(series) - 1) / 2) * width for k in range(len(values))]
            ax.bar(xs, values, width=width, color=PALETTE[i % len(PALETTE)], label=name)
        ax.axhline(0, color="black", linewidth=0.8)
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # task 3, never task 2.5
        ax.set_xlabel("task")
        ax.set_ylabel("lateness (ms)")
    else:
        everything = [v for values in series.values() for v in values]
        low, high = (min(everything), max(everything)) if everything else (0.0, 1.0)
        if low == high:
            low, high = low - 0.5, high + 0.5
        for i, (name, values) in enumerate(series.items()):
            ax.hist(
                values,
                bins=bins,
                range=(low, high),
                alpha=0.6 if len(series) > 1 else 0.9,
                color=PALETTE[i % len(PALETTE)],
                edgecolor="white",
                label=name,
            )
        ax.set_xlabel("lateness (ms)")
        ax.set_ylabel("tasks")
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    if named:
        ax.legend(frameon=False)
    return fig


def lateness_panels(
    late_ms: Mapping[str, Values],
    *,
    bins: int = 40,
    title: str | None = None,
    zero_line: bool = True,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Several lateness histograms as small multiples: one panel each, stacked, one x axis.

    Overlapping histograms hide each other; stacked panels with the same bins and the same x
    axis let the eye compare where each series lies.

    Args:
        late_ms: ``{name: lateness of each task in ms}``, drawn top to bottom in that order.
        bins: number of bins, the same edges in every panel.
        title: the title above all the panels; None for none.
        zero_line: draw a vertical line at 0 ms (on time) in every panel.
        figsize: width and height in inches; by default 7.0 wide and 1.6 per panel.

    Returns:
        The figure: one `Axes` per series, each holding ``bins`` bars.
    """
    series = _series(late_ms, "lateness")
    if not series:
        raise ValueError("nothing to draw")
    if bins < 1:
        raise ValueError("bins must be >= 1")
    everything = [v for values in series.values() for v in values]
    low, high = (min(everything), max(everything)) if everything else (0.0, 1.0)
    if low == high:
        low, high = low - 0.5, high + 0.5
    size = figsize or (7.0, 0.8 + 1.6 * len(series))
    fig: Figure
    fig, axes = _pyplot().subplots(
        len(series), 1, sharex=True, sharey=True, figsize=size, layout="constrained", squeeze=False
    )
    for i, (ax, (name, values)) in enumerate(zip(axes[:, 0], series.items(), strict=True)):
        color = PALETTE[i % len(PALETTE)]
        ax.hist(values, bins=bins, range=(low, high), color=color, edgecolor="white")
        ax.set_title(name, loc="left", fontsize=10)
        ax.set_ylabel("tasks")
        ax.grid(alpha=0.3)
        if zero_line:
            ax.axvline(0, color="black", linewidth=0.8)
    axes[-1, 0].set_xlabel("lateness (ms)")
    if title:
        fig.suptitle(title)
    return fig
