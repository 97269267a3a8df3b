"""Shared fixtures: queue backends for the contract suite, and Redis servers (fake and real).

The contract suite runs every test against every backend in ``BACKENDS``. Redis backends run
on fakeredis always, and on a real ``redis-server`` when one is available: the one named by
``TASKQ_TEST_REDIS_URL``, or one this session starts on a free loopback port. With
``TASKQ_REQUIRE_REAL_REDIS=1`` (as in CI) a missing server is an error, not a skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import fakeredis
import pytest
import redis

from taskq_lib import ManualClock, MemoryQueue, PriorityQueue, TaskQueue
from taskq_lib.redis_queue import RedisQueue

MEMORY_BACKENDS = ["memory", "priority"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A ``redis-server`` process on loopback, for tests that need the real thing."""

    def __init__(self, *extra: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="taskq-redis-")
        self.args = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            self.dir,
            "--save",
            "",
            "--appendonly",
            "no",
            *extra,
        ]
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # wait for the port to accept connections
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start within 10 s")

    def stop(self) -> None:
        """Stop the server for good and remove its folder."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


def real_redis_available() -> bool:
    return bool(os.environ.get("TASKQ_TEST_REDIS_URL")) or shutil.which("redis-server") is not None


@pytest.fixture(scope="session")
def real_redis_url() -> Iterator[str]:
    """URL of a real Redis server for this test session (skips if there is none)."""
    url = os.environ.get("TASKQ_TEST_REDIS_URL")
    if url:
        yield url
        return
    if shutil.which("redis-server") is None:
        if os.environ.get("TASKQ_REQUIRE_REAL_REDIS"):
            pytest.fail("TASKQ_REQUIRE_REAL_REDIS is set but redis-server is not installed")
        pytest.skip("redis-server is not installed")
    server = RedisServer()
    yield server.url
    server.stop()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


QueueFactory = Callable[..., TaskQueue]


def make_memory_queue(backend: str, **kwargs: object) -> TaskQueue:
    if backend == "memory":
        return MemoryQueue(**kwargs)  # type: ignore[arg-type]
    if backend == "priority":
        return PriorityQueue(**kwargs)  # type: ignore[arg-type]
    raise ValueError(backend)


REDIS_BACKENDS = ["redis-fake", "redis-real"]
BACKENDS = MEMORY_BACKENDS + REDIS_BACKENDS


@pytest.fixture(params=["fake", "real"])
def redis_client(request: pytest.FixtureRequest) -> Iterator[redis.Redis]:
    """A client of the embedded fake Redis, then of a real server."""
    if request.param == "fake":
        client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    else:
        client = redis.Redis.from_url(request.getfixturevalue("real_redis_url"))
    yield client
    client.close()


@pytest.fixture
def make_redis_queue(redis_client: redis.Redis) -> Iterator[Callable[..., RedisQueue]]:
    """Build RedisQueues on a fresh queue name; their keys are deleted afterwards."""
    made: list[RedisQueue] = []
    name = f"test-{uuid.uuid4().hex[:8]}"

    def make(**kwargs: Any) -> RedisQueue:
        kwargs.setdefault("reaper_period", 0.5)
        queue = RedisQueue(name, redis_client, **kwargs)
        made.append(queue)
        return queue

    yield make
    for queue in made:
        queue.close()
    if made:
        made[0].delete()


@pytest.fixture(params=BACKENDS)
def any_queue(request: pytest.FixtureRequest) -> Iterator[TaskQueue]:
    """Each backend in turn, empty."""
    backend = request.param
    if backend in MEMORY_BACKENDS:
        queue: TaskQueue = make_memory_queue(backend, maxsize=0)
        yield queue
        queue.close()
        return
    if backend == "redis-fake":
        client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    else:
        client = redis.Redis.from_url(request.getfixturevalue("real_redis_url"))
    redis_queue = RedisQueue(f"contract-{uuid.uuid4().hex[:8]}", client, reaper_period=0.5)
    yield redis_queue
    redis_queue.close()
    redis_queue.delete()
    client.close()
