"""Beyond one Redis node: what priorities cost, and what a Redis Cluster adds.

* ``priority_cost``: one consumer draining a queue whose tasks have ten different priorities,
  against the same queue with every task at priority 0 (first-in first-out), in the same run.
  Target: taking with priorities costs at most 20% of the FIFO path's throughput.
* ``cluster_throughput``: N queues, each drained by its own consumer process, on a 3-master
  cluster (``support.LocalCluster``) against the same on one node, in the same run.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import uuid
from typing import Any

from taskq_lib import Task
from taskq_lib.connection import connect
from taskq_lib.redis_queue import RedisQueue
from tests.support import LocalCluster

from .common import ROOT, Result, median, rate, run_json, subprocess_env

TARGET_PRIORITY_RATIO = 0.8


def _fill(url: str, name: str, count: int, priorities: int) -> RedisQueue:
    queue = RedisQueue(name, connect(url))
    rng = random.Random(7)
    tasks = [Task("noop", {"n": i}, priority=rng.randrange(priorities)) for i in range(count)]
    queue.put_many(tasks)
    return queue


def _drain(url: str, count: int, priorities: int, prefetch: int) -> float:
    """Fill a queue, then time one consumer process draining it; tasks/s."""
    queue = _fill(url, f"bench-prio-{uuid.uuid4().hex[:8]}", count, priorities)
    try:
        args = ["benchmarks.consumer", "taskq-loop", "--queue", queue.name, "--count", str(count)]
        out = run_json([*args, "--prefetch", str(prefetch)], url, timeout=600)
        if out["processed"] != count or queue.stats()["total_succeeded"] != count:
            raise RuntimeError(f"priority drain: {out['processed']} of {count}")
        return rate(count, out["seconds"])
    finally:
        queue.delete()


def priority_cost(url: str, repeats: int, count: int, prefetch: int) -> Result:
    """Drain rate with ten priorities against all at priority 0, alternating."""
    mixed, fifo = [], []
    for _ in range(repeats):
        fifo.append(_drain(url, count, 1, prefetch))
        mixed.append(_drain(url, count, 10, prefetch))
    ours, base = median(mixed), median(fifo)
    return Result(
        "priority_cost",
        "Redis, 1 consumer, tasks of 10 priorities",
        "tasks/s",
        ours,
        base,
        "all at priority 0 (FIFO)",
        target=">= 0.8x FIFO",
        met=ours >= TARGET_PRIORITY_RATIO * base,
        details={"tasks": count, "prefetch": prefetch, "runs": mixed, "fifo_runs": fifo},
    )


def _aggregate(url: str, queues: int, count: int, prefetch: int) -> float:
    """``queues`` queues of ``count`` tasks, one consumer process each, all at once; tasks/s
    over the time from the first consumer's start to the last one's end."""
    names = [f"bench-scale-{n}-{uuid.uuid4().hex[:6]}" for n in range(queues)]
    filled = [_fill(url, name, count, 1) for name in names]
    try:
        head = [sys.executable, "-m", "benchmarks.consumer", "taskq-loop"]
        tail = ["--count", str(count), "--prefetch", str(prefetch)]
        procs = [
            subprocess.Popen(
                [*head, "--queue", name, *tail],
                cwd=ROOT,
                env=subprocess_env(url),
                stdout=subprocess.PIPE,
                text=True,
            )
            for name in names
        ]
        outs: list[dict[str, Any]] = []
        for proc in procs:
            stdout, _ = proc.communicate(timeout=600)
            outs.append(json.loads(stdout.strip().splitlines()[-1]))
        if any(out["processed"] != count for out in outs):
            raise RuntimeError(f"scale: {[o['processed'] for o in outs]} of {count} each")
        span = max(o["end"] for o in outs) - min(o["start"] for o in outs)
        return rate(queues * count, span)
    finally:
        for queue in filled:
            queue.delete()


def cluster_throughput(url: str, repeats: int, queues: int, count: int, prefetch: int) -> Result:
    """N queues with N consumer processes: a 3-master cluster against one node."""
    try:
        cluster = LocalCluster()
    except RuntimeError as exc:
        raise SystemExit(f"bench: {exc}") from None
    one, many = [], []
    with cluster:
        for _ in range(repeats):
            one.append(_aggregate(url, queues, count, prefetch))
            many.append(_aggregate(cluster.url, queues, count, prefetch))
    ours, base = median(many), median(one)
    return Result(
        "cluster_throughput",
        f"{queues} queues, {queues} consumer processes, 3-master cluster",
        "tasks/s",
        ours,
        base,
        "the same on one node",
        details={
            "queues": queues,
            "tasks_per_queue": count,
            "prefetch": prefetch,
            "runs": many,
            "one_node_runs": one,
        },
    )
