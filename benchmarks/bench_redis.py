"""Redis benchmarks: draining a queue in one worker process, enqueueing, memory per task.

Every figure is measured for taskq and for a baseline in the same rounds, on the same server.
Rounds alternate taskq and baseline, and the ratio is taken per round (then the median of the
ratios), so a noisy neighbour or a machine slowing down hurts both alike.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import redis

from taskq_lib import Task
from taskq_lib.redis_queue import RedisQueue

from .common import Result, median, paired, rate, run_json, timed
from .consumer import plain_keys

#: What the issue asks for, per row.
TARGET_CONSUME = 10_000.0  # tasks/s, and 4x the BLMOVE loop
TARGET_FLOOR_RATIO = 0.5  # of the crash-safe floor
TARGET_ENQUEUE_RATIO = 0.8
TARGET_BATCH = 250_000.0
TARGET_BATCH_RATIO = 0.5
#: Tasks per take of the floor (the take script's batch).
FLOOR_BATCH = 500
#: put and RPUSH alternate in blocks of this many tasks.
SINGLE_BLOCK = 50


def make_tasks(count: int) -> list[Task]:
    """Small no-op tasks, built before any clock starts."""
    return [Task("noop", {"n": i}) for i in range(count)]


def plain_body(task: Task) -> dict[str, Any]:
    """What the baseline serialises for a task: the same id, type and payload."""
    return {"id": task.id, "type": task.type, "payload": task.payload}


def _name(what: str) -> str:
    return f"bench-{what}-{uuid.uuid4().hex[:8]}"


# ------------------------------------------------------------------ draining, one process
def drain_taskq(url: str, mode: str, count: int, prefetch: int, concurrency: int) -> float:
    """Fill a taskq queue, then time one consumer process draining it; tasks/s."""
    client = redis.Redis.from_url(url)
    queue = RedisQueue(_name("drain"), client)
    try:
        queue.put_many(make_tasks(count))
        args = ["benchmarks.consumer", mode, "--queue", queue.name, "--count", str(count)]
        args += ["--prefetch", str(prefetch), "--concurrency", str(concurrency)]
        out = run_json(args, url, timeout=600)
        stats = queue.stats()
        # At-least-once bookkeeping really happened: every task acknowledged, none left.
        if out["processed"] != count or stats["total_succeeded"] != count or stats["in_flight"]:
            raise RuntimeError(f"{mode}: drained {out['processed']} of {count}; {stats}")
        return rate(count, out["seconds"])
    finally:
        queue.delete()
        client.close()


def drain_plain(url: str, count: int) -> float:
    """Fill a plain list, then time the ``BLMOVE`` + ``LREM`` loop draining it; tasks/s."""
    client = redis.Redis.from_url(url)
    name = _name("plain")
    pending, processing = plain_keys(name)
    try:
        pipe = client.pipeline(transaction=False)
        for task in make_tasks(count):
            pipe.rpush(pending, json.dumps(plain_body(task)))
        pipe.execute()
        out = run_json(
            ["benchmarks.consumer", "plain", "--queue", name, "--count", str(count)],
            url,
            timeout=600,
        )
        if out["processed"] != count or client.llen(processing):
            raise RuntimeError(f"plain: drained {out['processed']} of {count}")
        return rate(count, out["seconds"])
    finally:
        client.delete(pending, processing)
        client.close()


def consume(
    url: str, repeats: int, count: int, baseline_count: int, prefetch: int, concurrency: int
) -> list[Result]:
    """Throughput of one worker process against the crash-safe floor and the plain loop.

    Each round runs the four side by side: the floor (taskq's take script moving a batch of
    500 into *in flight*, acks pipelined with the next take, no Python per task), a
    `WorkerPool` and a one-thread get/ack loop with the library's defaults (adaptive
    prefetch) plus the documented fast setting ``ack_batch=None``, and the classic
    ``BLMOVE`` + ``LREM`` loop.
    """
    floor, pool, loop, base = [], [], [], []
    for _ in range(repeats):
        floor.append(drain_taskq(url, "floor", count, FLOOR_BATCH, 1))
        pool.append(drain_taskq(url, "taskq-pool", count, prefetch, concurrency))
        loop.append(drain_taskq(url, "taskq-loop", count, prefetch, 1))
        base.append(drain_plain(url, baseline_count))
    settings = {
        "prefetch": prefetch or "adaptive",
        "ack_batch": prefetch or "adaptive (None)",
        "concurrency": concurrency,
        "tasks": count,
        "floor_batch": FLOOR_BATCH,
        "baseline_tasks": baseline_count,
        "floor_runs": floor,
        "pool_runs": pool,
        "loop_runs": loop,
        "plain_runs": base,
    }
    shown = "adaptive" if not prefetch else f"prefetch={prefetch}"
    results = []
    for key, what, runs in (
        ("consume_pool", f"Redis, 1 worker process, WorkerPool({concurrency}), {shown}", pool),
        ("consume_loop", f"Redis, 1 worker process, get/ack loop in 1 thread, {shown}", loop),
    ):
        ratio, ratios = paired(runs, floor)
        results.append(
            Result(
                key,
                what,
                "tasks/s",
                median(runs),
                median(floor),
                f"Lua batch take of {FLOOR_BATCH} + pipelined acks (the floor)",
                target=f">= {TARGET_FLOOR_RATIO:g}x" if key == "consume_pool" else "reported",
                met=ratio >= TARGET_FLOOR_RATIO if key == "consume_pool" else None,
                details={**settings, "runs": runs, "baseline_runs": floor, "ratios": ratios},
                paired=ratio,
            )
        )
    ratio, ratios = paired(pool, base)
    results.append(
        Result(
            "consume_plain",
            f"the same WorkerPool({concurrency}) against the classic reliable loop",
            "tasks/s",
            median(pool),
            median(base),
            "BLMOVE+LREM loop",
            target=">= 10,000/s and >= 4x",
            met=median(pool) >= TARGET_CONSUME and ratio >= 4,
            details={**settings, "runs": pool, "baseline_runs": base, "ratios": ratios},
            paired=ratio,
        )
    )
    return results


def prefetch_sweep(url: str, count: int, values: list[int]) -> Result:
    """Throughput of the pool against ``prefetch`` (= ``ack_batch``): one run per value."""
    points = {str(p): drain_taskq(url, "taskq-pool", count, p, 4) for p in values}
    best = max(points, key=lambda p: points[p])
    return Result(
        "prefetch_sweep",
        f"Redis, WorkerPool(4), best prefetch ({best})",
        "tasks/s",
        points[best],
        details={"tasks": count, "tasks_per_s_by_prefetch": points},
    )


# ------------------------------------------------------------------ enqueueing
def enqueue_single(url: str, repeats: int, count: int) -> Result:
    """``queue.put(task)`` one at a time against ``RPUSH`` of the same JSON one at a time.

    Within a round the two alternate in blocks of 50, so both see the same machine.
    """
    client = redis.Redis.from_url(url)
    ours, base = [], []
    try:
        for _ in range(repeats):
            tasks = make_tasks(count)
            bodies = [plain_body(t) for t in tasks]
            key = _name("rpush")
            queue = RedisQueue(_name("put"), client)
            mine = theirs = 0.0
            for i in range(0, count, SINGLE_BLOCK):

                def push(
                    block: list[dict[str, Any]] = bodies[i : i + SINGLE_BLOCK], key: str = key
                ) -> None:
                    for body in block:
                        client.rpush(key, json.dumps(body))

                def put(
                    block: list[Task] = tasks[i : i + SINGLE_BLOCK], queue: RedisQueue = queue
                ) -> None:
                    for task in block:
                        queue.put(task)

                theirs += timed(push)
                mine += timed(put)
            base.append(rate(count, theirs))
            ours.append(rate(count, mine))
            client.delete(key)
            queue.delete()
    finally:
        client.close()
    ratio, ratios = paired(ours, base)
    return Result(
        "enqueue_single",
        "enqueue, one at a time (put)",
        "tasks/s",
        median(ours),
        median(base),
        "RPUSH of the same JSON, one at a time",
        target=f">= {TARGET_ENQUEUE_RATIO:g}x",
        met=ratio >= TARGET_ENQUEUE_RATIO,
        details={"tasks": count, "runs": ours, "baseline_runs": base, "ratios": ratios},
        paired=ratio,
    )


def enqueue_batch(url: str, repeats: int, count: int) -> Result:
    """``queue.put_many(tasks)`` against a bare baseline doing the same work: build each
    task's dict (id, type, payload, time), encode it with ``json``, pipeline ``RPUSH``."""
    client = redis.Redis.from_url(url)
    ours, base, server = [], [], []
    try:
        for _ in range(repeats):
            tasks = make_tasks(count)
            key = _name("pipe")
            queue = RedisQueue(_name("putmany"), client)

            def push(key: str = key, tasks: list[Task] = tasks) -> None:
                pipe = client.pipeline(transaction=False)
                for t in tasks:
                    body = {"id": t.id, "type": t.type, "payload": t.payload, "at": t.created_at}
                    pipe.rpush(key, json.dumps(body))
                pipe.execute()

            def put_many(queue: RedisQueue = queue, tasks: list[Task] = tasks) -> None:
                queue.put_many(tasks)

            base.append(rate(count, timed(push)))
            before = _eval_usec(client)
            ours.append(rate(count, timed(put_many)))
            server.append((_eval_usec(client) - before) / count)
            if len(queue) != count:
                raise RuntimeError("put_many lost tasks")
            client.delete(key)
            queue.delete()
    finally:
        client.close()
    o = median(ours)
    ratio, ratios = paired(ours, base)
    in_script = median(server)
    bound = 1e6 / in_script if in_script else float("inf")
    why = (
        f"Redis itself spends {in_script:.1f} us per task in enqueue.lua, so put_many cannot "
        f"pass {bound:,.0f}/s on this machine whatever Python does"
        if o < TARGET_BATCH and bound < 1.25 * TARGET_BATCH
        else ""
    )
    return Result(
        "enqueue_batch",
        "enqueue, batched (put_many)",
        "tasks/s",
        o,
        median(base),
        "dicts + json + pipelined RPUSH",
        target=f">= {TARGET_BATCH:,.0f}/s and >= {TARGET_BATCH_RATIO:g}x",
        met=o >= TARGET_BATCH and ratio >= TARGET_BATCH_RATIO,
        details={
            "tasks": count,
            "runs": ours,
            "baseline_runs": base,
            "ratios": ratios,
            # Time Redis itself spent in the enqueue script, per task (INFO commandstats):
            # 1e6 / this is the most put_many can reach, whatever the Python side does.
            "redis_script_us_per_task": server,
            "why": why,
        },
        paired=ratio,
    )


def _eval_usec(client: redis.Redis) -> int:
    """Microseconds Redis has spent in EVAL so far (put_many sends EVAL)."""
    stats: dict[str, Any] = client.info("commandstats")
    return int(stats.get("cmdstat_eval", {}).get("usec", 0))


# ------------------------------------------------------------------ memory
def memory_per_task(url: str, count: int) -> Result:
    """Bytes of Redis memory per pending small task (``INFO memory`` before and after)."""
    client = redis.Redis.from_url(url)
    tasks = make_tasks(count)
    queue = RedisQueue(_name("memory"), client)
    key = _name("memory-plain")
    try:
        before = int(client.info("memory")["used_memory"])
        queue.put_many(tasks)
        ours = (int(client.info("memory")["used_memory"]) - before) / count
        per_key = {
            k.split(":")[-1]: (client.memory_usage(k, samples=0) or 0) / count
            for k in queue.keys.all
            if client.exists(k)
        }
        before = int(client.info("memory")["used_memory"])
        pipe = client.pipeline(transaction=False)
        for task in tasks:
            pipe.rpush(key, json.dumps(plain_body(task)))
        pipe.execute()
        base = (int(client.info("memory")["used_memory"]) - before) / count
        body = sum(len(json.dumps(plain_body(t))) for t in tasks) / count
    finally:
        queue.delete()
        client.delete(key)
        client.close()
    return Result(
        "memory_per_task",
        "Redis memory per pending small task",
        "bytes",
        ours,
        base,
        "JSON in a plain list",
        target="reported",
        higher_is_better=False,
        details={"tasks": count, "bytes_per_task_by_key": per_key, "plain_json_body_bytes": body},
    )
