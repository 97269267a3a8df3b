"""A worker's life in one process: its CPU use when idle, and its tasks after a SIGKILL."""

from __future__ import annotations

import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable

import redis

from taskq_lib import Task
from taskq_lib.redis_queue import RedisQueue

from .common import ROOT, Result, median, run_json, subprocess_env

TARGET_IDLE_PERCENT = 1.0


def idle_cpu(url: str, seconds: float, concurrency: int) -> Result:
    """CPU of an idle worker process (WorkerPool, default settings) with nothing due.

    One task is scheduled an hour ahead, so the worker has a schedule to watch but no work.
    """
    client = redis.Redis.from_url(url)
    queue = RedisQueue(f"bench-idle-{uuid.uuid4().hex[:8]}", client)
    try:
        queue.put(Task("noop"), delay=3600)
        before = client.info("commandstats")
        args = ["benchmarks.consumer", "idle", "--queue", queue.name]
        args += ["--seconds", str(seconds), "--concurrency", str(concurrency)]
        out = run_json(args, url, timeout=seconds + 60)
        after = client.info("commandstats")
    finally:
        queue.delete()
        client.close()
    calls = {
        name.removeprefix("cmdstat_"): int(after[name]["calls"])
        - int(before.get(name, {}).get("calls", 0))
        for name in after
        if name.startswith("cmdstat_")
    }
    busy = out["core_percent"]
    return Result(
        "idle_cpu",
        f"idle worker process ({concurrency} threads), nothing due",
        "%",
        busy,
        target="< 1% of a core",
        met=busy < TARGET_IDLE_PERCENT,
        higher_is_better=False,
        details={**out, "redis_calls_during_run": {k: v for k, v in calls.items() if v > 0}},
    )


def _worker(url: str, queue: str, lease: float, reaper: float) -> subprocess.Popen[str]:
    """A real ``taskq worker`` process, one thread, logging at INFO to stderr."""
    args = [sys.executable, "-m", "taskq_lib", "worker", "--app", "benchmarks.bench_app:registry"]
    args += ["--queue", queue, "--concurrency", "1", "--prefetch", "1", "--lease", str(lease)]
    args += ["--reaper-period", str(reaper), "--log-level", "INFO"]
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env=subprocess_env(url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_started(proc: subprocess.Popen[str], timeout: float) -> None:
    """Read the worker's log until it says it started (at most ``timeout`` seconds)."""
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([proc.stderr], [], [], left)
        if not ready:
            break
        line = proc.stderr.readline()
        if not line:
            raise RuntimeError("worker exited before it started")
        if "worker started" in line:
            return
    raise RuntimeError(f"worker did not start within {timeout:g} s")


def _poll(check: Callable[[], bool], timeout: float, step: float = 0.002) -> float:
    """Poll ``check()`` until true; return the time (monotonic) it first was."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return time.monotonic()
        time.sleep(step)  # a harness watching another process: polling is the only way
    raise RuntimeError("timed out")


def recovery_once(url: str, lease: float, reaper: float) -> float:
    """SIGKILL a worker mid-task; seconds until another worker has the task again."""
    client = redis.Redis.from_url(url)
    queue = RedisQueue(f"bench-kill-{uuid.uuid4().hex[:8]}", client)
    victim = survivor = None
    try:
        victim = _worker(url, queue.name, lease, reaper)
        _wait_started(victim, 30)
        task = Task("hang_first", {"hang_s": 60})

        def deliveries() -> int:
            return int(client.hget(queue.keys.attempts, task.id) or 0)

        queue.put(task)
        _poll(lambda: deliveries() >= 1, 10)  # the victim holds it
        survivor = _worker(url, queue.name, lease, reaper)
        _wait_started(survivor, 30)  # idle, so it is the one that reaps
        victim.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        victim.wait(timeout=10)
        back = _poll(lambda: deliveries() >= 2, lease + reaper + 30)
        return back - killed
    finally:
        for proc in (victim, survivor):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
        queue.delete()
        client.close()


def recovery(url: str, repeats: int, lease: float, reaper: float) -> Result:
    """The SIGKILL row: the slowest of ``repeats`` recoveries against lease + reaper period."""
    times = [recovery_once(url, lease, reaper) for _ in range(repeats)]
    bound = lease + reaper
    return Result(
        "sigkill_recovery",
        f"task of a SIGKILLed worker handed out again (lease {lease:g} s)",
        "s",
        max(times),
        target=f"<= lease + reaper period = {bound:g} s",
        met=max(times) <= bound,
        higher_is_better=False,
        details={
            "runs": times,
            "median": median(times),
            "lease_s": lease,
            "reaper_period_s": reaper,
        },
    )
