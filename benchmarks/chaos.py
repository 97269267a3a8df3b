"""A chaos run: does at-least-once delivery hold while workers are killed with SIGKILL?

On a real ``redis-server`` with AOF (``appendfsync always``) on loopback, this enqueues tasks
whose handlers count each completion in Redis (see ``chaos_app.py``), runs several
``taskq worker`` processes, SIGKILLs a random one every fraction of a second and starts a
replacement, restarts Redis itself once mid-run, and mixes in delayed tasks, tasks that fail
a few times before they succeed, and ``async def`` handlers beside plain ones; meanwhile every
worker runs a one-second periodic schedule (one task per tick, whoever claims it). At the end it
prints what was enqueued, completed, lost (must be 0), run more than once (only tasks in flight
at a kill or restart may be), and dead-lettered (only tasks designed to die), and the longest
recovery after a kill.

    python -m benchmarks.chaos                  # the full run: 20,000 tasks
    python -m benchmarks.chaos --tasks 400 --work-ms 20 --json out.json   # the test suite's
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import redis

from taskq_lib import Task
from taskq_lib.redis_queue import RedisQueue
from taskq_lib.status import ACTIVE
from tests.support import RedisServer

HERE = Path(__file__).resolve().parent
QUEUE = "chaos"
COMPLETIONS = "chaos:completions"  # as in chaos_app.py
BEATS = "chaos:beats"
#: Periodic runs (one a second) a chaos run waits for before it ends, however fast its tasks go.
MIN_BEATS = 3


@dataclass
class Report:
    enqueued: int = 0
    completed: int = 0
    lost: int = 0
    run_more_than_once: int = 0
    duplicates_not_in_flight: int = 0
    dead: int = 0
    dead_not_designed: int = 0
    designed_to_die: int = 0
    kills: int = 0
    redis_restarts: int = 0
    longest_recovery_s: float = 0.0
    recovery_with_restart_s: float = 0.0  # the kill made just before Redis was restarted
    periodic_enqueued: int = 0
    periodic_completed: int = 0
    periodic_lost: int = 0  # enqueued by a schedule, then neither run nor still waiting
    lease_s: float = 0.0
    reaper_period_s: float = 0.0
    seconds: float = 0.0
    lost_ids: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.duplicates_not_in_flight == 0
            and self.dead_not_designed == 0
            and self.completed + self.dead == self.enqueued
            and self.periodic_lost == 0
        )


def aof_server() -> RedisServer:
    """redis-server with AOF on every write, in its own folder; can be killed and restarted."""
    try:
        return RedisServer("--appendonly", "yes", "--appendfsync", "always")
    except RuntimeError as exc:
        raise SystemExit(f"chaos: {exc}") from None


def make_tasks(
    count: int, rng: random.Random, work_ms: float
) -> tuple[list[Task], list[Task], set[str]]:
    """Ready tasks, delayed tasks, and the ids designed to die."""
    ready, delayed, doomed = [], [], set()
    for i in range(count):
        roll = rng.random()
        if roll < 0.02:
            task = Task("doomed", {"i": i})
            doomed.add(task.id)
        elif roll < 0.10:  # half of each kind has an async handler (chaos_app)
            kind = "flaky" if roll < 0.06 else "flaky_async"
            task = Task(kind, {"i": i, "fail_times": rng.randint(1, 3)})
        else:
            task = Task("ok" if roll < 0.55 else "ok_async", {"i": i, "ms": work_ms})
        (delayed if rng.random() < 0.05 else ready).append(task)
    return ready, delayed, doomed


class Workers:
    """The ``taskq worker`` processes, killed and replaced at random."""

    def __init__(self, url: str, count: int, lease: float, reaper: float) -> None:
        self.env = {
            **os.environ,
            "TASKQ_REDIS_URL": url,
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        }
        self.cmd = [
            sys.executable,
            "-m",
            "taskq_lib",
            "worker",
            "--app",
            "chaos_app:registry",
            "--queue",
            QUEUE,
            "--concurrency",
            "4",
            "--lease",
            str(lease),
            "--reaper-period",
            str(reaper),
            "--prefetch",
            "8",
            "--log-level",
            "ERROR",
        ]
        self.procs = [self._spawn() for _ in range(count)]

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.cmd, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def kill_one(self, rng: random.Random) -> int:
        """SIGKILL a random worker, start a replacement; return the killed one's pid."""
        i = rng.randrange(len(self.procs))
        victim = self.procs[i]
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        self.procs[i] = self._spawn()
        return victim.pid

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def in_flight(client: redis.Redis, queue: RedisQueue) -> dict[str, float]:
    return {m.decode(): s for m, s in client.zrange(queue.keys.inflight, 0, -1, withscores=True)}


def held_by(client: redis.Redis, queue: RedisQueue, pid: int) -> dict[str, float]:
    """The leases a worker process held: delivery tokens start with ``host:pid:``."""
    mine = f"{socket.gethostname()}:{pid}:".encode()
    ids = [
        k.decode()
        for k, token in client.hgetall(queue.keys.tokens).items()
        if token.startswith(mine)
    ]
    scores = client.zmscore(queue.keys.inflight, ids) if ids else []
    return {i: s for i, s in zip(ids, scores, strict=True) if s is not None}


def recovery_time(
    client: redis.Redis, queue: RedisQueue, killed_at: float, leases: dict[str, float], limit: float
) -> float:
    """Seconds from the kill until every lease held then was reaped or renewed by someone."""
    while time.monotonic() - killed_at < limit:
        try:
            now = in_flight(client, queue)
        except redis.RedisError:
            now = leases  # Redis is restarting: not recovered yet
        if all(now.get(task_id) != score for task_id, score in leases.items()):
            return time.monotonic() - killed_at
        time.sleep(0.01)
    return limit


def run(
    tasks: int,
    workers: int,
    work_ms: float,
    kill_every: float,
    lease: float,
    reaper: float,
    seed: int,
    time_limit: float,
) -> Report:
    rng = random.Random(seed)
    report = Report(lease_s=lease, reaper_period_s=reaper)
    server = aof_server()
    started = time.monotonic()
    pool: Workers | None = None
    try:
        client = redis.Redis.from_url(server.url, socket_timeout=5, retry_on_timeout=True)
        queue = RedisQueue(QUEUE, client, lease=lease, reaper_period=reaper)
        ready, delayed, doomed = make_tasks(tasks, rng, work_ms)
        queue.put_many(ready)
        queue.put_many(delayed, delay=1.0)
        report.enqueued, report.designed_to_die = tasks, len(doomed)
        all_ids = {t.id for t in ready + delayed}
        pool = Workers(server.url, workers, lease, reaper)
        may_repeat: set[str] = set()
        recoveries: list[threading.Thread] = []
        times: list[float] = []

        def watch(killed_at: float, leases: dict[str, float], into: list[float]) -> None:
            into.append(recovery_time(client, queue, killed_at, leases, limit=30))

        at_restart: list[float] = []

        def work_left() -> int:
            try:
                stats = queue.stats()
                beats = client.hlen(BEATS)
            except redis.RedisError:
                return -1  # Redis is restarting
            left = stats["pending"] + stats["scheduled"] + stats["in_flight"]
            # Keep the chaos going until the periodic schedule has run a few times, too.
            return left if left or beats >= MIN_BEATS else -1

        # Kill a random worker every `kill_every` seconds for as long as there is work, and
        # restart Redis once, when about half the work is done.
        deadline = time.monotonic() + time_limit
        while time.monotonic() < deadline and (left := work_left()) != 0:
            time.sleep(kill_every)  # the chaos is paced by the clock, on purpose
            pid = pool.kill_one(rng)
            killed_at = time.monotonic()
            leases = held_by(client, queue, pid)
            may_repeat |= set(leases)
            report.kills += 1
            restart = report.redis_restarts == 0 and 0 <= left <= tasks // 2
            watcher = threading.Thread(
                target=watch, args=(killed_at, leases, at_restart if restart else times)
            )
            watcher.start()
            recoveries.append(watcher)
            if restart:
                may_repeat |= set(in_flight(client, queue))
                server.kill()  # SIGKILL: only what AOF wrote survives
                server.start()
                report.redis_restarts += 1
        for watcher in recoveries:
            watcher.join(timeout=60)
        report.longest_recovery_s = round(max(times, default=0.0), 3)
        report.recovery_with_restart_s = round(max(at_restart, default=0.0), 3)
        pool.stop()
        pool = None

        counts = {k.decode(): int(v) for k, v in client.hgetall(COMPLETIONS).items()}
        dead_ids = {d.id for d in queue.dead_letters(limit=tasks)}
        completed = {i for i, n in counts.items() if n >= 1}
        repeated = {i for i, n in counts.items() if n > 1}
        lost = all_ids - completed - dead_ids
        report.completed = len(completed)
        report.lost = len(lost)
        report.lost_ids = sorted(lost)[:20]
        report.run_more_than_once = len(repeated)
        report.duplicates_not_in_flight = len(repeated - may_repeat)
        report.dead = len(dead_ids)
        report.dead_not_designed = len(dead_ids - doomed)
        # The schedule's tasks: ids name their tick, so none can be enqueued twice for one.
        beats = {k.decode() for k in client.hkeys(queue.keys.bodies)} - all_ids
        ran = {k.decode() for k in client.hkeys(BEATS)}
        # Still waiting or in flight when the workers stopped: not run yet, but not lost.
        waiting = {i for i in beats - ran if _state(queue, i) in ACTIVE}
        report.periodic_enqueued = len(beats)
        report.periodic_completed = len(beats & ran)
        report.periodic_lost = len(beats - ran - waiting - dead_ids)
    finally:
        if pool is not None:
            pool.stop()
        server.stop()
    report.seconds = round(time.monotonic() - started, 1)
    return report


def _state(queue: RedisQueue, task_id: str) -> str | None:
    found = queue.info(task_id)
    return None if found is None else found.state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--work-ms", type=float, default=5, help="each ok task's simulated I/O")
    parser.add_argument("--kill-every", type=float, default=0.3, help="seconds between kills")
    parser.add_argument("--lease", type=float, default=1.0)
    parser.add_argument("--reaper-period", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--time-limit", type=float, default=600, help="seconds to finish the work")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    report = run(
        args.tasks,
        args.workers,
        args.work_ms,
        args.kill_every,
        args.lease,
        args.reaper_period,
        args.seed,
        args.time_limit,
    )
    rows = [
        ("tasks enqueued", report.enqueued),
        ("tasks completed", report.completed),
        ("tasks lost (must be 0)", report.lost),
        ("tasks run more than once", report.run_more_than_once),
        ("  of them not held by a killed worker (must be 0)", report.duplicates_not_in_flight),
        ("tasks dead-lettered", report.dead),
        ("  designed to die", report.designed_to_die),
        ("  not designed to die (must be 0)", report.dead_not_designed),
        ("periodic tasks enqueued (one a second)", report.periodic_enqueued),
        ("  completed", report.periodic_completed),
        ("  lost (must be 0)", report.periodic_lost),
        ("worker SIGKILLs / Redis restarts", f"{report.kills} / {report.redis_restarts}"),
        ("longest recovery after a kill (s)", report.longest_recovery_s),
        ("  bound: lease + reaper period (s)", round(report.lease_s + report.reaper_period_s, 3)),
        ("recovery of the kill with the Redis restart (s)", report.recovery_with_restart_s),
        ("run time (s)", report.seconds),
    ]
    for name, value in rows:
        print(f"{name:<48} {value}")
    print("chaos:", "PASSED" if report.ok else "FAILED")
    if args.json:
        args.json.write_text(json.dumps({**asdict(report), "ok": report.ok}, indent=2))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
