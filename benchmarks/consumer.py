"""The consumer side of the Redis benchmarks, run in its own process by the parent.

Each mode drains a queue that the parent filled beforehand, times itself, and prints one JSON
object on its last line of output::

    python -m benchmarks.consumer taskq-pool --queue Q --count N --prefetch 100 --concurrency 4
    python -m benchmarks.consumer taskq-loop --queue Q --count N --prefetch 100
    python -m benchmarks.consumer plain --queue Q --count N
    python -m benchmarks.consumer idle --queue Q --seconds 5

The Redis server comes from ``TASKQ_REDIS_URL``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import threading
import time
from typing import Any

from taskq_lib import EventLog, Registry, Task, WorkerPool
from taskq_lib.connection import get_redis
from taskq_lib.redis_queue import RedisQueue

#: Keys of the plain redis-py baseline queue: ``<queue>:pending`` and ``<queue>:processing``.
PLAIN_PARTS = ("pending", "processing")


def plain_keys(queue: str) -> tuple[str, str]:
    pending, processing = (f"bench-plain:{queue}:{part}" for part in PLAIN_PARTS)
    return pending, processing


def noop(task: Any) -> None:
    """The task: nothing, so what is measured is the queue."""


def taskq_pool(queue: str, count: int, prefetch: int, concurrency: int) -> dict[str, Any]:
    """A WorkerPool on a RedisQueue: the way a service runs taskq."""
    done = threading.Event()
    counter = itertools.count(1)

    def handler(task: Task) -> None:
        if next(counter) == count:
            done.set()

    registry = Registry()
    registry.register("noop", handler)
    q = RedisQueue(queue, get_redis(), prefetch=prefetch or None, ack_batch=prefetch or None)
    pool = WorkerPool(q, registry, concurrency=concurrency, events=EventLog(maxlen=1000))
    start = time.perf_counter()
    pool.start()
    finished = done.wait(timeout=300)
    pool.events.wait_for_final(count, timeout=30)  # the last few acks are being recorded
    q.flush()  # acknowledgements still waiting for a batch: done means acknowledged
    seconds = time.perf_counter() - start
    pool.stop(drain=False)
    q.close()
    return {"seconds": seconds, "processed": count if finished else -1}


def taskq_loop(queue: str, count: int, prefetch: int) -> dict[str, Any]:
    """One thread: get, run, ack. No pool, no events: the queue's own cost."""
    q = RedisQueue(queue, get_redis(), prefetch=prefetch or None, ack_batch=prefetch or None)
    processed = 0
    wall_start = time.time()  # wall clock too: several consumers' spans are compared
    start = time.perf_counter()
    while processed < count:
        delivery = q.get(timeout=5)
        if delivery is None:
            break
        noop(delivery.task)
        q.ack(delivery)
        processed += 1
    q.flush()
    seconds = time.perf_counter() - start
    q.close()
    return {"seconds": seconds, "processed": processed, "start": wall_start, "end": time.time()}


def floor(queue: str, count: int, batch: int) -> dict[str, Any]:
    """The crash-safe floor: taskq's own take script moves a batch into *in flight* (leases,
    tokens, attempts) and the ack script, pipelined with the next take, marks it done. No
    Python per task beyond collecting ids and tokens: what Redis and the network allow."""
    q = RedisQueue(queue, get_redis())
    client: Any = q.client
    take, ack = q._scripts["take"], q._scripts["ack"]  # benchmark only: the scripts themselves
    take_keys, ack_keys = q._keys["take"], q._keys["ack"]
    for script in (take, ack):
        client.script_load(script.script)
    prefix = f"floor:{os.getpid()}"
    processed, acks = 0, []
    start = time.perf_counter()
    while True:
        now = round(time.time() * 1000)
        pipe = client.pipeline(transaction=False)
        if acks:
            pipe.execute_command(
                "EVALSHA", ack.sha, len(ack_keys), *ack_keys, now, 86_400_000, *acks
            )
        if processed >= count:
            pipe.execute()
            break
        args = [now, 30_000, batch, prefix, 10]
        pipe.execute_command("EVALSHA", take.sha, len(take_keys), *take_keys, *args)
        reply = pipe.execute()[-1]
        if len(reply) == 1:
            break
        acks = []
        for i in range(1, len(reply), 4):
            acks += [reply[i], reply[i + 1], ""]
        processed += (len(reply) - 1) // 4
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "processed": processed}


def plain(queue: str, count: int) -> dict[str, Any]:
    """The baseline: redis-py, ``BLMOVE`` to a processing list, run, ``LREM``; one at a time.

    This is the classic reliable-queue pattern (the task stays in Redis while it runs), without
    leases: nothing brings back the task of a worker that died.
    """
    client = get_redis()
    pending, processing = plain_keys(queue)
    processed = 0
    start = time.perf_counter()
    while processed < count:
        raw = client.blmove(pending, processing, 5, "LEFT", "RIGHT")
        if raw is None:
            break
        noop(json.loads(raw))
        client.lrem(processing, 1, raw)  # type: ignore[arg-type]  # stubs say str; bytes work
        processed += 1
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "processed": processed}


def idle(queue: str, seconds: float, concurrency: int) -> dict[str, Any]:
    """CPU time a worker process spends with nothing to do, over ``seconds``."""
    registry = Registry()
    registry.register("noop", noop)
    q = RedisQueue(queue, get_redis())  # the defaults a service starts with
    pool = WorkerPool(q, registry, concurrency=concurrency, events=EventLog(maxlen=1000))
    pool.start()
    stop = threading.Event()
    stop.wait(1.0)  # warm up: threads started, first waits planned
    cpu, wall = time.process_time(), time.perf_counter()
    stop.wait(seconds)  # the measurement is this wait: the process must stay idle
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    pool.stop(drain=False)
    q.close()
    return {"cpu_seconds": cpu, "wall_seconds": wall, "core_percent": 100 * cpu / wall}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["taskq-pool", "taskq-loop", "floor", "plain", "idle"])
    parser.add_argument("--queue", required=True)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--prefetch", type=int, default=0, help="0: adaptive (the default)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    if args.mode == "taskq-pool":
        out = taskq_pool(args.queue, args.count, args.prefetch, args.concurrency)
    elif args.mode == "taskq-loop":
        out = taskq_loop(args.queue, args.count, args.prefetch)
    elif args.mode == "floor":
        out = floor(args.queue, args.count, args.prefetch)
    elif args.mode == "plain":
        out = plain(args.queue, args.count)
    else:
        out = idle(args.queue, args.seconds, args.concurrency)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
