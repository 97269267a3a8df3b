"""The benchmark figure: one PNG with a panel per group of results."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .common import Result

COLORS = {"taskq": "#0072B2", "baseline": "#999999", "other": "#E69F00"}


def _bars(ax: Any, title: str, bars: list[tuple[str, float, str]], unit: str) -> None:
    labels = [label for label, _, _ in bars]
    values = [value for _, value, _ in bars]
    drawn = ax.barh(labels, values, color=[COLORS[kind] for _, _, kind in bars])
    shown = [f"{v:.2f}x" if unit == "ratio" else f"{v:,.0f}" for v in values]
    ax.bar_label(drawn, labels=shown, padding=3, fontsize=8)
    if unit == "ratio":
        ax.axvline(1.0, color=COLORS["baseline"], linewidth=1)
    ax.invert_yaxis()
    ax.set_xlabel(unit)
    ax.set_xlim(0, max(values) * 1.3 if values else 1)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)


def figure(results: Sequence[Result], path: Path) -> None:
    """Draw what was measured into ``path`` (panels for the groups that ran)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_key = {r.key: r for r in results}
    panels: list[Any] = []
    pool, loop, plain = (by_key.get(k) for k in ("consume_pool", "consume_loop", "consume_plain"))
    if pool and loop and plain and pool.baseline and plain.baseline:
        panels.append(
            (
                "Redis: one worker process drains a queue (medians)",
                [
                    ("BLMOVE+LREM loop (redis-py)", plain.baseline, "baseline"),
                    ("floor: Lua batch take + pipelined acks", pool.baseline, "baseline"),
                    ("taskq, get/ack loop", loop.ours, "taskq"),
                    ("taskq, WorkerPool", pool.ours, "taskq"),
                ],
                "tasks per second",
            )
        )
    single, batch = by_key.get("enqueue_single"), by_key.get("enqueue_batch")
    if single and batch and single.baseline and batch.baseline:
        panels.append(
            (
                "Redis: enqueue",
                [
                    ("RPUSH of the same JSON, one at a time", single.baseline, "baseline"),
                    ("taskq put, one at a time", single.ours, "taskq"),
                    ("dicts + json + pipelined RPUSH", batch.baseline, "baseline"),
                    ("taskq put_many", batch.ours, "taskq"),
                ],
                "tasks per second",
            )
        )
    memory = by_key.get("memory_pool")
    if memory and memory.baseline:
        panels.append(
            (
                "In memory: 4 threads, no-op tasks",
                [
                    ("queue.Queue + 4 threads", memory.baseline, "baseline"),
                    ("ThreadPoolExecutor(4)", memory.details["thread_pool_executor"], "other"),
                    ("taskq WorkerPool(4)", memory.ours, "taskq"),
                    ("taskq WorkerPool(1)", memory.details["taskq_1_thread"], "taskq"),
                ],
                "tasks per second",
            )
        )
    ratios = [(r.key, r.ratio) for r in results if r.paired is not None]
    if ratios:
        panels.append(
            (
                "taskq / baseline, median of per-round ratios (1 = as fast)",
                [(key, float(ratio or 0), "taskq") for key, ratio in ratios],
                "ratio",
            )
        )
    delayed = by_key.get("delayed_p50")
    sweep = by_key.get("prefetch_sweep")
    extra = int(delayed is not None) + int(sweep is not None)
    count = len(panels) + extra
    if not count:
        return
    fig, axes = plt.subplots(count, 1, figsize=(8, 2.6 * count), layout="constrained")
    axes = [axes] if count == 1 else list(axes)
    for ax, (title, bars, unit) in zip(axes, panels, strict=False):
        _bars(ax, title, bars, unit)
    rest = axes[len(panels) :]
    if delayed is not None:
        ax = rest.pop(0)
        for name, key, color in (
            ("taskq", "taskq_late_ms", COLORS["taskq"]),
            ("original 1 s poller", "original_late_ms", COLORS["baseline"]),
        ):
            error = sorted(max(abs(x), 0.01) for x in delayed.details[key])
            share = [(i + 1) / len(error) for i in range(len(error))]
            ax.step(error, share, where="post", label=name, color=color)
        ax.set_xscale("log")
        ax.set_xlabel("|start - due| (ms, log scale)")
        ax.set_ylabel("share of tasks")
        ax.set_title("Delayed tasks: how far from their due time they started", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
    if sweep is not None:
        ax = rest.pop(0)
        points = sweep.details["tasks_per_s_by_prefetch"]
        xs = [int(p) for p in points]
        ax.plot(xs, list(points.values()), marker="o", color=COLORS["taskq"])
        ax.set_xscale("log")
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.set_xlabel("prefetch = ack_batch (tasks per round trip)")
        ax.set_ylabel("tasks per second")
        ax.set_ylim(bottom=0)
        ax.set_title("Redis: WorkerPool(4) throughput against batching", fontsize=10)
        ax.grid(alpha=0.3)
    fig.savefig(path, dpi=110)
    plt.close(fig)
