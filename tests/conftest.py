"""Shared fixtures: queue backends for the contract suite, and Redis servers (fake and real).

The contract suite runs every test against every backend in ``BACKENDS``, built by
`support.make_queue`. Redis backends run on fakeredis always, and on a real ``redis-server``
when one is available: the one named by ``TASKQ_TEST_REDIS_URL``, or one this session starts
on a free loopback port. With ``TASKQ_REQUIRE_REAL_REDIS=1`` (as in CI) a missing server is
an error, not a skip.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import fakeredis
import pytest
import redis
from support import (
    INSPECTABLE_BACKENDS,
    MEMORY_BACKENDS,
    PRIORITY_BACKENDS,
    LocalCluster,
    RedisServer,
    make_queue,
)

from taskq_lib import InspectableQueue, ManualClock, TaskQueue
from taskq_lib.connection import Client, connect
from taskq_lib.redis_queue import RedisQueue

#: Each backend of the contract suite; Redis ones on the fake and on a real server.
BACKENDS = [*MEMORY_BACKENDS, "redis-fake", "redis-real", "redis-cluster"]
INSPECTABLE = [b for b in BACKENDS if b.partition("-")[0] in INSPECTABLE_BACKENDS]
PRIORITIZED = [b for b in BACKENDS if b.partition("-")[0] in PRIORITY_BACKENDS]


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
    with RedisServer() as server:
        yield server.url


@pytest.fixture(scope="session")
def cluster_url() -> Iterator[str]:
    """``redis+cluster://`` URL of a real 3-master Redis Cluster on loopback (skips if none).

    ``TASKQ_TEST_CLUSTER_URL`` names one; otherwise this session starts one (a few seconds)
    when ``redis-server`` and ``redis-cli`` are installed, and stops it at the end.
    """
    url = os.environ.get("TASKQ_TEST_CLUSTER_URL")
    if url:
        yield url
        return
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        if os.environ.get("TASKQ_REQUIRE_REAL_REDIS"):
            pytest.fail("TASKQ_REQUIRE_REAL_REDIS is set but redis-server or redis-cli is missing")
        pytest.skip("redis-server or redis-cli is not installed")
    with LocalCluster() as cluster:
        yield cluster.url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def _client(request: pytest.FixtureRequest, where: str) -> Client:
    if where == "fake":
        return fakeredis.FakeRedis(server=fakeredis.FakeServer())
    if where == "cluster":
        return connect(request.getfixturevalue("cluster_url"))
    return redis.Redis.from_url(request.getfixturevalue("real_redis_url"))


@pytest.fixture(params=["fake", "real"])
def redis_client(request: pytest.FixtureRequest) -> Iterator[Client]:
    """A client of the embedded fake Redis, then of a real server."""
    client = _client(request, request.param)
    yield client
    client.close()


@pytest.fixture
def make_redis_queue(redis_client: Client) -> Iterator[Callable[..., RedisQueue]]:
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


def _backend(request: pytest.FixtureRequest) -> Iterator[TaskQueue]:
    """The queue of backend ``request.param``, empty; closed (and its keys deleted) after."""
    backend, _, where = request.param.partition("-")
    if not where:
        queue = make_queue(backend, maxsize=0)
        yield queue
        queue.close()
        return
    client = _client(request, where)
    name = f"contract-{uuid.uuid4().hex[:8]}"
    redis_queue = make_queue(backend, client, name=name, reaper_period=0.5)
    assert isinstance(redis_queue, RedisQueue)
    yield redis_queue
    redis_queue.close()
    redis_queue.delete()
    client.close()


@pytest.fixture(params=BACKENDS)
def any_queue(request: pytest.FixtureRequest) -> Iterator[TaskQueue]:
    """Each backend in turn, empty."""
    yield from _backend(request)


@pytest.fixture(params=PRIORITIZED)
def prioritized_queue(request: pytest.FixtureRequest) -> Iterator[TaskQueue]:
    """Each backend that orders by priority, empty."""
    yield from _backend(request)


@pytest.fixture(params=INSPECTABLE)
def inspectable_queue(request: pytest.FixtureRequest) -> Iterator[InspectableQueue]:
    """Each backend that can say what became of a task, empty."""
    for queue in _backend(request):
        assert isinstance(queue, InspectableQueue)
        yield queue


@pytest.fixture
def cli_queue(real_redis_url: str) -> Iterator[RedisQueue]:
    """A queue on the real server, for tests of the ``taskq`` command (see ``run``)."""
    client = redis.Redis.from_url(real_redis_url)
    queue = RedisQueue(f"cli-{uuid.uuid4().hex[:8]}", client)
    yield queue
    queue.close()
    queue.delete()
    client.close()


@pytest.fixture
def run(
    cli_queue: RedisQueue,
    real_redis_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., tuple[int, str, str]]:
    """Run ``taskq ARGS --queue <cli_queue>`` on the real server; (code, out, err)."""
    from taskq_lib.cli import main

    monkeypatch.setenv("TASKQ_REDIS_URL", real_redis_url)

    def taskq(*args: str) -> tuple[int, str, str]:
        code = main([*args, "--queue", cli_queue.name])
        out, err = capsys.readouterr()
        return code, out, err

    return taskq
