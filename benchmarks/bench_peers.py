"""``taskq worker`` at its defaults against the fastest Python peer at its defaults, and two
default workers sharing a mix of slow and no-op tasks.

Every figure is measured from outside the worker processes, the same way for taskq and the
peer: fill the queue, start the peer's own consumer command with no flags, and time from the
first task taken to the last one done (polled every few milliseconds). Rounds alternate taskq
and the peer; the ratio is taken per round and the median of the ratios is reported, because
a shared machine's speed drifts within minutes.
"""

from __future__ import annotations

import importlib
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from typing import Any

import redis

from taskq_lib import Task
from taskq_lib.redis_queue import RedisQueue
from tests.support import stop_process

from .bench_worker import _poll, _wait_started
from .common import ROOT, Result, median, subprocess_env

#: What the issue asks for: the default worker at least this many times the fastest peer.
TARGET_PEER_RATIO = 5.0
#: The mix: 1-second tasks among no-op tasks, shared by two default worker processes.
MIX_SLOW, MIX_FAST, MIX_SECONDS = 16, 4000, 1.0


def _spawn(args: list[str], url: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env={**subprocess_env(url), **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _end(proc: subprocess.Popen[str]) -> None:
    stop_process(proc, timeout=30)


def _worker_args(queue: str) -> list[str]:
    """``taskq worker`` with no tuning flag: the defaults users run."""
    return ["taskq_lib", "worker", "--app", "benchmarks.bench_app:registry", "--queue", queue]


def taskq_default_once(url: str, count: int, flags: tuple[str, ...] = ()) -> float:
    """Tasks/s of one ``taskq worker`` process at its defaults (plus ``flags``) on no-op
    tasks."""
    client = redis.Redis.from_url(url)
    queue = RedisQueue(f"bench-default-{uuid.uuid4().hex[:8]}", client)
    proc = None
    try:
        queue.put_many(Task("noop", {"n": i}) for i in range(count))
        proc = _spawn([*_worker_args(queue.name), *flags], url)
        start = _poll(lambda: len(queue) < count, 60)
        end = _poll(lambda: queue.stats().get("total_succeeded", 0) >= count, 300)
        return count / (end - start)
    finally:
        if proc is not None:
            _end(proc)
        queue.delete()
        client.close()


def huey_once(url: str, count: int) -> float:
    """Tasks/s of huey's own consumer (``huey_consumer APP``, no flags) on no-op tasks."""
    name = f"bench-huey-{uuid.uuid4().hex[:8]}"
    os.environ["BENCH_HUEY_NAME"], os.environ["TASKQ_REDIS_URL"] = name, url
    app: Any = importlib.reload(importlib.import_module("benchmarks.peer_huey"))
    proc = None
    try:
        for i in range(count):
            app.noop(i)
        proc = _spawn(
            ["huey.bin.huey_consumer", "benchmarks.peer_huey.huey"], url, {"BENCH_HUEY_NAME": name}
        )
        start = _poll(lambda: app.huey.pending_count() < count, 60)
        end = _poll(lambda: app.huey.pending_count() == 0, 300)
        return count / (end - start)
    finally:
        if proc is not None:
            _end(proc)
        app.huey.flush()


def peers(url: str, repeats: int, count: int) -> list[Result]:
    """The default worker against huey at its defaults, round by round."""
    try:
        importlib.import_module("huey")
    except ImportError:
        print("bench: peers skipped: huey is not installed (pip install huey into .venv)")
        return []
    ours, theirs, ratios = [], [], []
    for _ in range(repeats):
        o, h = taskq_default_once(url, count), huey_once(url, count)
        ours.append(o)
        theirs.append(h)
        ratios.append(o / h)
    ratio = median(ratios)
    return [
        Result(
            "peer_defaults",
            "`taskq worker` at its defaults, no-op tasks",
            "tasks/s",
            median(ours),
            median(theirs),
            "huey_consumer at its defaults",
            target=f">= {TARGET_PEER_RATIO:g}x",
            met=ratio >= TARGET_PEER_RATIO,
            details={"tasks": count, "runs": ours, "baseline_runs": theirs, "ratios": ratios},
            paired=ratio,
        )
    ]


def mix_spread(url: str) -> Result:
    """Two default ``taskq worker`` processes share 1-second tasks mixed among no-op tasks:
    how many slow tasks each ran, and how long the lot took against the ideal."""
    client = redis.Redis.from_url(url)
    queue = RedisQueue(f"bench-mix-{uuid.uuid4().hex[:8]}", client)
    procs: list[subprocess.Popen[str]] = []
    try:
        for _ in range(2):
            proc = subprocess.Popen(
                [sys.executable, "-m", *_worker_args(queue.name)],
                cwd=ROOT,
                env=subprocess_env(url),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            procs.append(proc)
            _wait_started(proc, 30)
            # The worker logs a line per task: keep reading, or a full pipe would stop it.
            threading.Thread(target=proc.stderr.read, daemon=True).start()  # type: ignore[union-attr]
        slow = [Task("nap", {"seconds": MIX_SECONDS}) for _ in range(MIX_SLOW)]
        tasks = slow + [Task("noop_pid", {"n": i}) for i in range(MIX_FAST)]
        random.Random(14).shuffle(tasks)
        total = len(tasks)
        started = time.monotonic()
        queue.put_many(tasks)
        ended = _poll(lambda: queue.stats().get("total_succeeded", 0) >= total, 120, step=0.01)
        by_pid = Counter(info.result for t in slow if (info := queue.info(t.id)) is not None)
    finally:
        for proc in procs:
            _end(proc)
        queue.delete()
        client.close()
    threads = 2 * 4  # two processes, four threads each (the default --concurrency)
    ideal = MIX_SECONDS * -(-MIX_SLOW // threads)
    shares = sorted(by_pid.values())
    makespan = ended - started
    even = len(shares) == 2 and shares[0] >= MIX_SLOW // 2 - 2
    return Result(
        "mix_spread",
        f"2 default workers, {MIX_SLOW} x {MIX_SECONDS:g}-s tasks among {MIX_FAST} no-op tasks",
        "s",
        makespan,
        ideal,
        "ideal (slow tasks / 8 threads)",
        target="slow tasks split within 2 of even; time <= ideal + 1.5 s",
        met=even and makespan <= ideal + 1.5,
        higher_is_better=False,
        details={"slow_tasks_per_worker": shares, "makespan_s": makespan, "ideal_s": ideal},
    )
