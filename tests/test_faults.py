"""Faults on a real redis-server: a worker killed with SIGKILL, Redis going away."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from support import RedisServer

from taskq_lib import Registry, Task, WorkerPool
from taskq_lib.redis_queue import RedisQueue

pytestmark = pytest.mark.real_redis


@pytest.fixture
def server() -> Iterator[RedisServer]:
    if not os.environ.get("TASKQ_REQUIRE_REAL_REDIS"):
        pytest.importorskip("shutil").which("redis-server") or pytest.skip("no redis-server")
    srv = RedisServer()
    yield srv
    srv.stop()


class WarningCounter(logging.Handler):
    """Counts warning records, and lets a test wait for a number of them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self.changed:
            self.count += 1
            self.changed.notify_all()

    def wait_for(self, count: int, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.count >= count, timeout)


CHILD = textwrap.dedent(
    """
    import sys, redis
    from taskq_lib.redis_queue import RedisQueue
    queue = RedisQueue("kill", redis.Redis.from_url(sys.argv[1]), lease=float(sys.argv[2]))
    delivery = queue.get(timeout=10)
    print(delivery.task.id if delivery else "none", flush=True)
    sys.stdin.read()  # "work" until killed
    """
)


ASYNC_CHILD = textwrap.dedent(
    """
    import asyncio, sys, redis
    from taskq_lib import Registry, WorkerPool
    from taskq_lib.redis_queue import RedisQueue
    queue = RedisQueue("kill", redis.Redis.from_url(sys.argv[1]), lease=float(sys.argv[2]))
    registry = Registry()

    @registry.task("t")
    async def work(task):
        print(task.id, flush=True)
        await asyncio.sleep(60)  # "work" until killed

    WorkerPool(queue, registry, concurrency=1, poll=0.05).start()
    sys.stdin.read()
    """
)


@pytest.mark.parametrize("child_code", [CHILD, ASYNC_CHILD], ids=["thread", "async"])
def test_task_of_a_sigkilled_worker_comes_back(server: RedisServer, child_code: str) -> None:
    lease, reaper = 0.6, 0.2
    client = redis.Redis.from_url(server.url)
    queue = RedisQueue("kill", client, lease=lease, reaper_period=reaper)
    task = Task("t", {"important": True})
    queue.put(task)
    with subprocess.Popen(
        [sys.executable, "-c", child_code, server.url, str(lease)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        guard = threading.Timer(30, child.kill)  # never hang the suite
        guard.start()
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == task.id  # the handler is running
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)
            killed = time.monotonic()
            back = queue.get(timeout=10)
            recovered = time.monotonic() - killed
        finally:
            guard.cancel()
            child.kill()
    assert back is not None and back.task.id == task.id and back.task.attempts == 2
    assert back.task.payload == {"important": True}
    assert recovered <= lease + reaper + 0.5, f"recovery took {recovered:.2f} s"
    queue.ack(back)
    assert queue.info(task.id).state == "succeeded"  # type: ignore[union-attr]


async def _async_value(task: Task) -> object:
    return task.payload["i"]


@pytest.mark.parametrize("kind", ["thread", "async"])
def test_workers_back_off_and_resume_when_redis_comes_back(
    server: RedisServer, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    client = redis.Redis.from_url(server.url, socket_timeout=2, socket_connect_timeout=1)
    queue = RedisQueue("outage", client, lease=5, reaper_period=0.2)
    registry = Registry()
    registry.register("t", _async_value if kind == "async" else lambda task: task.payload["i"])
    pool = WorkerPool(queue, registry, concurrency=2, poll=0.2, max_backoff=0.5).start()
    try:
        for i in range(10):
            registry.enqueue(queue, "t", {"i": i})
        assert pool.events.wait_for_final(10, timeout=20)
        noticed = WarningCounter()
        logging.getLogger("taskq").addHandler(noticed)
        with caplog.at_level(logging.WARNING, logger="taskq"):
            server.kill()
            # The workers now fail to reach Redis; wait until both have said so.
            assert noticed.wait_for(2, timeout=15)
            server.start()  # same port, empty (no persistence in this test)
            for i in range(10, 20):
                registry.enqueue(queue, "t", {"i": i})
            assert pool.events.wait_for_final(20, timeout=30)
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert 1 <= len(warnings) <= 6, [r.getMessage() for r in warnings]  # no flood
    finally:
        logging.getLogger("taskq").handlers.clear()
        assert pool.stop(timeout=10)
    done = sorted(e.task_id for e in pool.events.events("succeeded"))
    assert len(done) == 20 == len(set(done))
