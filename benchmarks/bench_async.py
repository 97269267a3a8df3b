"""``async def`` handlers: taskq's worker against arq's, on the same redis-server, round by round.

    python -m benchmarks.bench_async                   # 3 rounds, 2,000 no-op + 500 sleep tasks
    python -m benchmarks.bench_async --rounds 5 --tasks 5000 --sleep-tasks 1000
    python -m benchmarks.bench_async --redis-url redis://127.0.0.1:6379/0

Two handlers, each an ``async def``: one that returns at once (what is measured is the queue
and the worker) and one that awaits ``asyncio.sleep(0.1)`` (a call to an HTTP service: what is
measured is how many run at once). Both workers get the same number of coroutines at once
(``--concurrency``, arq's ``max_jobs``). Each round fills the queue, then starts one worker
process that works until every task is done; throughput is tasks divided by the time from the
first start to the last end, measured inside the worker. Rounds alternate which system goes
first; the ratio is taken per round and the median reported.

arq is a peer, not a dependency: without it (``pip install arq``) the run says so and stops.
arq 0.28 asks for redis-py below 6, so installing it downgrades the course's redis-py; install
the course's again afterwards (arq's worker runs with it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from typing import Any

import redis

from .common import Result, median, redis_for_run, run_json, table

KINDS = ("noop", "sleep")
SLEEP = 0.1


class Span:
    """First start and last end of the handlers in this process, and how many ended."""

    def __init__(self) -> None:
        self.first = 0.0
        self.last = 0.0
        self.done = 0

    def start(self) -> None:
        if not self.first:
            self.first = time.perf_counter()

    def end(self) -> None:
        self.last = time.perf_counter()
        self.done += 1

    def report(self, count: int) -> dict[str, Any]:
        seconds = self.last - self.first
        return {"done": self.done, "seconds": seconds, "per_second": count / seconds}


# ------------------------------------------------------------------------ the worker processes
def taskq_worker(url: str, queue_name: str, kind: str, count: int, concurrency: int) -> None:
    from taskq_lib import EventLog, Registry, Task, WorkerPool
    from taskq_lib.redis_queue import RedisQueue

    span = Span()
    registry = Registry()

    @registry.task(kind)
    async def handler(task: Task) -> None:
        span.start()
        if kind == "sleep":
            await asyncio.sleep(SLEEP)
        span.end()

    queue = RedisQueue(queue_name, redis.Redis.from_url(url), prefetch=100, ack_batch=100)
    events = EventLog(maxlen=1000)
    pool = WorkerPool(
        queue, registry, concurrency=2, async_concurrency=concurrency, poll=0.1, events=events
    )
    with pool:
        if not events.wait_for_final(count, timeout=300):
            raise SystemExit(f"taskq: {span.done} of {count} tasks done in 300 s")
    queue.close()
    print(json.dumps(span.report(count)))


def arq_worker(url: str, queue_name: str, kind: str, count: int, concurrency: int) -> None:
    from arq.connections import RedisSettings
    from arq.worker import Worker, func

    span = Span()

    async def handler(ctx: dict[str, Any]) -> None:
        span.start()
        if kind == "sleep":
            await asyncio.sleep(SLEEP)
        span.end()

    async def main() -> None:
        worker = Worker(
            functions=[func(handler, name=kind)],
            queue_name=queue_name,
            redis_settings=RedisSettings.from_dsn(url),
            burst=True,
            max_jobs=concurrency,
            handle_signals=False,
            poll_delay=0.1,
            log_results=False,
        )
        try:
            await worker.async_run()
        finally:
            await worker.close()

    asyncio.run(main())
    if span.done != count:
        raise SystemExit(f"arq: {span.done} of {count} tasks done")
    print(json.dumps(span.report(count)))


# ------------------------------------------------------------------------ filling the queues
def fill_taskq(url: str, queue_name: str, kind: str, count: int) -> None:
    from taskq_lib import Task
    from taskq_lib.redis_queue import RedisQueue

    queue = RedisQueue(queue_name, redis.Redis.from_url(url))
    queue.put_many(Task(kind) for _ in range(count))


def fill_arq(url: str, queue_name: str, kind: str, count: int) -> None:
    from arq.connections import RedisSettings, create_pool

    async def main() -> None:
        pool = await create_pool(RedisSettings.from_dsn(url), default_queue_name=queue_name)
        try:
            for start in range(0, count, 50):  # 50 at a time: within the client's pool
                await asyncio.gather(
                    *(pool.enqueue_job(kind) for _ in range(min(50, count - start)))
                )
        finally:
            await pool.aclose()

    asyncio.run(main())


def one_run(url: str, system: str, kind: str, count: int, concurrency: int) -> float:
    """Fill a fresh queue, drain it in a worker process; tasks per second."""
    name = f"bench-async-{system}-{uuid.uuid4().hex[:8]}"
    (fill_taskq if system == "taskq" else fill_arq)(url, name, kind, count)
    args = ["benchmarks.bench_async", "worker", system, "--queue", name, "--kind", kind]
    args += ["--tasks", str(count), "--concurrency", str(concurrency), "--redis-url", url]
    try:
        out = run_json(args, url, timeout=600)
    finally:
        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(match=f"*{name}*", count=1000))
        keys += list(client.scan_iter(match="arq:job:*", count=1000))
        keys += list(client.scan_iter(match="arq:result:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    return float(out["per_second"])


def compare(
    url: str, rounds: int, counts: dict[str, int], concurrency: int
) -> tuple[list[Result], dict[str, Any]]:
    """Both systems, round by round; one Result per handler kind."""
    results, raw = [], {}
    for kind in KINDS:
        ours, theirs, ratios = [], [], []
        for n in range(rounds):
            order = ("taskq", "arq") if n % 2 == 0 else ("arq", "taskq")
            got = {s: one_run(url, s, kind, counts[kind], concurrency) for s in order}
            ours.append(got["taskq"])
            theirs.append(got["arq"])
            ratios.append(got["taskq"] / got["arq"])
            print(f"  {kind} round {n + 1}: taskq {got['taskq']:.0f}/s, arq {got['arq']:.0f}/s")
        raw[kind] = {"taskq": ours, "arq": theirs, "ratios": ratios}
        what = "async no-op handler" if kind == "noop" else f"async sleep({SLEEP}) handler"
        results.append(
            Result(
                f"async_{kind}",
                f"{what}, {counts[kind]} tasks, {concurrency} at once",
                "tasks/s",
                median(ours),
                baseline=median(theirs),
                baseline_name="arq",
                target=">= arq (median of per-round ratios >= 1)",
                met=median(ratios) >= 1.0,
                details={"rounds": raw[kind], "median_ratio": median(ratios)},
            )
        )
    return results, raw


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="compare", choices=["compare", "worker"])
    parser.add_argument("system", nargs="?", choices=["taskq", "arq"])
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=2000, help="no-op tasks per run")
    parser.add_argument("--sleep-tasks", type=int, default=500, help="sleep tasks per run")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--queue", default="")
    parser.add_argument("--kind", choices=KINDS, default="noop")
    args = parser.parse_args(argv)
    if args.mode == "worker":
        worker = taskq_worker if args.system == "taskq" else arq_worker
        worker(args.redis_url, args.queue, args.kind, args.tasks, args.concurrency)
        return 0
    try:
        import arq  # noqa: F401
    except ImportError:
        print("bench_async: arq is not installed (pip install arq); nothing to compare with")
        return 0
    with redis_for_run(args.redis_url) as url:
        counts = {"noop": args.tasks, "sleep": args.sleep_tasks}
        results, _ = compare(url, args.rounds, counts, args.concurrency)
    print(table(results))
    for result in results:
        print(f"{result.key}: median per-round ratio {result.details['median_ratio']:.2f}x")
    return 0 if all(r.met for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
