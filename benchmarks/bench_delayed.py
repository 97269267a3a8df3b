"""Delayed tasks: how late 1,000 tasks due over 2 seconds start, taskq against the original.

The original (section 5 of the chapter) stores the due time in whole seconds and polls once a
second: ``ZRANGEBYSCORE -inf now LIMIT 0 1``, then ``ZREM``. Its port here keeps both habits.
taskq promotes due tasks inside its take script and waits precisely for the next one.
Lateness is "when the handler started" minus "when the task was due"; negative means early.
The original can start a task up to a second early (its scores drop the fraction of a second),
so the table compares the timing error, ``|lateness|``; the JSON keeps the signed values.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import redis

from taskq_lib import EventLog, Registry, Task, WorkerPool
from taskq_lib.redis_queue import RedisQueue

from .common import Result, percentile

TARGET_P50_MS = 2.0
TARGET_P99_MS = 10.0


def due_times(count: int, spread: float, lead: float) -> list[float]:
    """``count`` due times spread evenly over ``spread`` seconds, starting ``lead`` s from now."""
    first = time.time() + lead
    return [first + spread * i / count for i in range(count)]


def taskq_lateness(url: str, count: int, spread: float) -> list[float]:
    """Lateness (ms) of each task on a RedisQueue worked by a WorkerPool of 4 threads."""
    client = redis.Redis.from_url(url)
    queue = RedisQueue(f"bench-delayed-{uuid.uuid4().hex[:8]}", client)
    late: list[float] = []
    lock = threading.Lock()

    def handler(task: Task) -> None:
        started = time.time()
        with lock:
            late.append((started - task.payload["due"]) * 1000)

    registry = Registry()
    registry.register("delayed", handler)
    pool = WorkerPool(queue, registry, concurrency=4, events=EventLog(maxlen=1000)).start()
    try:
        for due in due_times(count, spread, lead=0.5):
            queue.put(Task("delayed", {"due": due}), delay=max(0.0, due - time.time()))
        pool.events.wait_for_final(count, timeout=spread + 30)
    finally:
        pool.stop(drain=False)
        queue.close()
        queue.delete()
        client.close()
    return late


class OriginalDelayedQueue:
    """The chapter's DelayedQueue, ported line by line (with its ``fmt`` import added)."""

    def __init__(self, client: redis.Redis, name: str) -> None:
        self.client, self.name = client, name

    def schedule(self, task: dict[str, Any], delay: float) -> None:
        score = float(int(time.time() + delay))  # Go: time.Now().Add(delay).Unix()
        self.client.zadd(self.name, {json.dumps(task): score})

    def poll(self) -> dict[str, Any] | None:
        now = float(int(time.time()))  # Go: time.Now().Unix()
        found = self.client.zrangebyscore(self.name, "-inf", now, start=0, num=1)
        if not found:
            return None
        member = str(found[0], "utf-8") if isinstance(found[0], bytes) else str(found[0])
        self.client.zrem(self.name, member)  # not atomic with the read; result ignored
        task: dict[str, Any] = json.loads(member)
        return task

    def start_worker(self, stop: threading.Event, handler: Any) -> None:
        next_tick = time.monotonic() + 1.0  # Go: time.NewTicker(time.Second)
        while not stop.wait(max(0.0, next_tick - time.monotonic())):
            next_tick += 1.0
            while (task := self.poll()) is not None:
                handler(task)


def original_lateness(url: str, count: int, spread: float) -> list[float]:
    """Lateness (ms) of each task on the original's one-second poller."""
    client = redis.Redis.from_url(url)
    queue = OriginalDelayedQueue(client, f"bench-original-delayed-{uuid.uuid4().hex[:8]}")
    late: list[float] = []
    all_done = threading.Event()

    def handler(task: dict[str, Any]) -> None:
        late.append((time.time() - task["payload"]["due"]) * 1000)
        if len(late) == count:
            all_done.set()

    stop = threading.Event()
    worker = threading.Thread(target=queue.start_worker, args=(stop, handler), daemon=True)
    worker.start()
    try:
        for due in due_times(count, spread, lead=0.5):
            task = {"id": str(uuid.uuid4()), "type": "delayed", "payload": {"due": due}}
            queue.schedule(task, delay=max(0.0, due - time.time()))
        all_done.wait(timeout=spread + 30)
    finally:
        stop.set()
        worker.join(timeout=5)
        client.delete(queue.name)
        client.close()
    return late


def summary(late: list[float]) -> dict[str, float]:
    """Percentiles of the timing error ``|lateness|``, and the signed extremes."""
    error = [abs(x) for x in late]
    return {
        "p50_ms": percentile(error, 50),
        "p90_ms": percentile(error, 90),
        "p99_ms": percentile(error, 99),
        "max_ms": max(error),
        "latest_ms": max(late),
        "earliest_ms": min(late),
        # More than the millisecond that rounding due times to whole ms can explain.
        "early_by_more_than_1ms": float(sum(1 for x in late if x < -1.0)),
    }


def lateness(url: str, count: int, spread: float) -> list[Result]:
    """The delayed rows: p50 and p99 lateness, taskq against the original."""
    ours = taskq_lateness(url, count, spread)
    theirs = original_lateness(url, count, spread)
    s_ours, s_theirs = summary(ours), summary(theirs)
    details = {
        "tasks": count,
        "spread_s": spread,
        "taskq": s_ours,
        "original": s_theirs,
        "taskq_late_ms": [round(x, 3) for x in ours],
        "original_late_ms": [round(x, 3) for x in theirs],
    }
    what = f"delayed: |lateness| of {count:,} tasks due over {spread:g} s"
    return [
        Result(
            "delayed_p50",
            f"{what}, p50",
            "ms",
            s_ours["p50_ms"],
            s_theirs["p50_ms"],
            "original 1 s poller",
            target="<= 2 ms",
            met=s_ours["p50_ms"] <= TARGET_P50_MS,
            higher_is_better=False,
            details=details,
        ),
        Result(
            "delayed_p99",
            f"{what}, p99",
            "ms",
            s_ours["p99_ms"],
            s_theirs["p99_ms"],
            "original 1 s poller",
            target="<= 10 ms",
            met=s_ours["p99_ms"] <= TARGET_P99_MS,
            higher_is_better=False,
        ),
    ]
