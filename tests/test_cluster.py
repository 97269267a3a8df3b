"""Redis Cluster, for real: three masters on loopback (see `support.LocalCluster`), started
once per session by the ``cluster_url`` fixture. The contract suite runs on it too (backend
``redis-cluster``); here: queues spread over the masters, and ``taskq worker`` on several
queues of the cluster losing nothing when SIGKILLed."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Iterator
from itertools import count

import pytest
from redis.cluster import RedisCluster
from test_e2e import TIMEOUT, Child

from taskq_lib import Task
from taskq_lib.cli import main
from taskq_lib.connection import connect
from taskq_lib.keys import QueueKeys
from taskq_lib.multi_queue import MultiQueue
from taskq_lib.redis_queue import RedisQueue

pytestmark = pytest.mark.real_redis
APP = "taskq_lib.examples:registry"


@pytest.fixture
def cluster(cluster_url: str) -> Iterator[RedisCluster]:
    client = connect(cluster_url)
    assert isinstance(client, RedisCluster)
    yield client
    client.close()


def spread_names(client: RedisCluster, prefix: str) -> list[str]:
    """One queue name per master: names whose hash tag falls in each master's slots."""
    names: dict[str, str] = {}
    masters = {node.name for node in client.get_primaries()}  # type: ignore[no-untyped-call]
    for n in count():
        name = f"{prefix}-{n}"
        node = client.get_node_from_key(QueueKeys(name).pending)  # type: ignore[no-untyped-call]
        names.setdefault(node.name, name)
        if set(names) == masters:
            return sorted(names.values())
        assert n < 1000
    raise AssertionError("unreachable")


def test_queues_on_every_master_work_together(cluster: RedisCluster) -> None:
    names = spread_names(cluster, f"spread-{os.getpid()}")
    assert len(names) == 3
    queues = [RedisQueue(name, cluster, prefetch=8, ack_batch=8) for name in names]
    try:
        for queue in queues:
            queue.put_many([Task("t", {"q": queue.name}, priority=i % 4) for i in range(700)])
        # Each queue's keys are in one slot, on the master that serves it.
        for queue in queues:
            slots = {cluster.keyslot(key) for key in queue.keys.all}
            assert len(slots) == 1
        multi = MultiQueue(queues, [1, 1, 1])
        got: dict[str, list[int]] = {name: [] for name in names}
        for _ in range(2100):
            delivery = multi.get(timeout=5)
            assert delivery is not None
            got[delivery.task.payload["q"]].append(delivery.task.priority)
            multi.ack(delivery)
        assert multi.get(timeout=0.05) is None
        multi.close()
        for queue in queues:
            prios = got[queue.name]
            assert len(prios) == 700 and prios[: 700 // 4] == [3] * (700 // 4)
            stats = queue.stats()
            assert stats["total_succeeded"] == 700 and stats["pending"] == stats["in_flight"] == 0
    finally:
        for queue in queues:
            queue.delete()


def test_a_sigkilled_worker_on_the_cluster_loses_nothing(
    cluster: RedisCluster, cluster_url: str
) -> None:
    per_queue = 40
    names = spread_names(cluster, f"kill-{os.getpid()}")
    queues = [RedisQueue(name, cluster) for name in names]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("TASKQ_REDIS_URL", None)
    args = ["worker", "--app", APP, "--redis-url", cluster_url]
    args += ["--queues", ",".join(f"{n}=1" for n in names)]
    args += ["--lease", "1", "--reaper-period", "0.2", "--concurrency", "4"]
    first = second = None
    try:
        for queue in queues:
            queue.put_many([Task("email", {"to": f"{queue.name}-{i}"}) for i in range(per_queue)])
        first = Child(args, env)
        assert first.wait_for("succeeded", 20), first.log
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(timeout=TIMEOUT)
        first._reader.join(timeout=TIMEOUT)
        # What Redis holds as done, not what the log says: a task acknowledged just before
        # the kill may not have had its log line written.
        done_before = sum(queue.stats()["total_succeeded"] for queue in queues)
        assert done_before < 3 * per_queue, "the kill came too late to test anything"
        second = Child(args, env)
        assert second.wait_for("succeeded", 3 * per_queue - done_before), second.log
        second.proc.send_signal(signal.SIGTERM)
        assert second.proc.wait(timeout=TIMEOUT) == 0
        for queue in queues:
            stats = queue.stats()
            assert stats["total_succeeded"] == per_queue, (queue.name, stats)
            assert stats["pending"] == stats["in_flight"] == stats["dead"] == 0
        assert second.count("succeeded") == 3 * per_queue - done_before  # nothing ran twice
    finally:
        for child in (first, second):
            if child is not None and child.proc.poll() is None:
                child.proc.kill()
                child.proc.wait(timeout=TIMEOUT)
        for queue in queues:
            queue.delete()


def test_the_cli_enqueues_by_priority_and_reports_on_the_cluster(
    cluster: RedisCluster, cluster_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"cli-{os.getpid()}"
    queue = RedisQueue(name, cluster)
    try:
        for who, priority in (("low", "0"), ("high", "7")):
            args = ["enqueue", "email", f'{{"to": "{who}"}}', "--priority", priority]
            assert main([*args, "--redis-url", cluster_url, "--queue", name]) == 0
        assert main(["info", "--json", "--redis-url", cluster_url, "--queue", name]) == 0
        out = capsys.readouterr().out.splitlines()
        assert json.loads(out[-1])["pending"] == 2
        first = queue.get(timeout=2)
        assert first is not None and first.task.payload == {"to": "high"}
    finally:
        queue.close()
        queue.delete()
