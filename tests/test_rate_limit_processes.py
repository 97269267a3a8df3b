"""Four worker processes share one rate limit through Redis: 50 tasks at ``10/s``.

Starts are spread one per 0.1 s (plus the limiter's 5% margin), so the 50 tasks take about
5.1 s whatever the number of workers, and no second holds more than 10 starts. On the fake
Redis the four "processes" are four pools in this process, each with its own queue object and
limiter (what a process has).
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import fakeredis
import pytest
import redis

from taskq_lib import EventLog, Registry, Task, WorkerPool
from taskq_lib.ratelimit import RedisLimiter
from taskq_lib.redis_queue import RedisQueue

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
TASKS, PROCESSES = 50, 4

#: One worker process: run the queue until every task is done (bounded), recording each start.
WORKER = """
import sys, time, redis
from taskq_lib import Registry, WorkerPool
from taskq_lib.redis_queue import RedisQueue
url, name, tasks = sys.argv[1], sys.argv[2], int(sys.argv[3])
client = redis.Redis.from_url(url)
registry = Registry()
registry.register("sms", lambda task: client.rpush(name + ":starts", repr(time.time())),
                  rate_limit="10/s")
queue = RedisQueue(name, client, prefetch=1)
pool = WorkerPool(queue, registry, concurrency=2, poll=0.05).start()
deadline = time.monotonic() + 30
while client.llen(name + ":starts") < tasks and time.monotonic() < deadline:
    time.sleep(0.05)
pool.stop(drain=False, timeout=10)
queue.close()
"""


def check_starts(starts: list[float]) -> None:
    starts.sort()
    assert len(starts) == TASKS
    took = starts[-1] - starts[0]
    assert 4.5 <= took <= 6.0, took
    # No one-second window (starting at any start) holds more than 10 starts.
    most = max(sum(1 for t in starts if s <= t < s + 1.0) for s in starts)
    assert most <= 10, most


def enqueue(client: redis.Redis, name: str) -> None:
    client.delete(RedisLimiter.key("sms"))  # a limit left by another test on this server
    registry = Registry()
    registry.register("sms", lambda task: None, rate_limit="10/s")
    queue = RedisQueue(name, client)
    for i in range(TASKS):
        registry.enqueue(queue, "sms", {"i": i})


def test_four_processes_hold_a_type_to_its_rate(real_redis_url: str) -> None:
    client = redis.Redis.from_url(real_redis_url)
    name = f"rate-{uuid.uuid4().hex[:8]}"
    enqueue(client, name)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, real_redis_url, name, str(TASKS)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(PROCESSES)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    starts = [float(x) for x in client.lrange(f"{name}:starts", 0, -1)]  # type: ignore[union-attr]
    RedisQueue(name, client).delete()
    client.delete(f"{name}:starts", RedisLimiter.key("sms"))
    check_starts(starts)


def test_four_pools_on_the_fake_redis_hold_a_type_to_its_rate() -> None:
    server = fakeredis.FakeServer()
    name = "rate"
    enqueue(fakeredis.FakeRedis(server=server), name)
    events = EventLog()
    starts: list[float] = []
    registry = Registry()

    @registry.task("sms", rate_limit="10/s")
    def sms(task: Task) -> None:
        starts.append(time.time())

    pools = [
        WorkerPool(
            RedisQueue(name, fakeredis.FakeRedis(server=server), consumer=f"p{n}"),
            registry,
            concurrency=2,
            poll=0.05,
            events=events,
            name=f"p{n}w",
        ).start()
        for n in range(PROCESSES)
    ]
    assert events.wait_for_final(TASKS, timeout=30)
    for pool in pools:
        assert pool.stop(timeout=10)
    assert len({id(pool.limiter) for pool in pools}) == PROCESSES  # no limiter shared in-process
    check_starts(starts)
