"""`SimpleRedisQueue`, the original's RPUSH/BLPOP queue, kept for teaching: what it does, and
the loss it is kept to show. On fakeredis and on a real ``redis-server``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from taskq_lib import ErrorInfo, QueueClosed, Task
from taskq_lib.simple_redis import SimpleRedisQueue

ERROR = ErrorInfo("RuntimeError", "boom")


@pytest.fixture
def queue(redis_client: redis.Redis) -> Iterator[SimpleRedisQueue]:
    made = SimpleRedisQueue(f"simple-{uuid.uuid4().hex[:8]}", redis_client)
    yield made
    made.delete()


def test_first_in_first_out_with_the_payload_intact(queue: SimpleRedisQueue) -> None:
    tasks = [Task("t", {"i": i, "s": "é"}) for i in range(5)]
    for task in tasks:
        queue.put(task)
    assert len(queue) == 5
    got = [queue.get(timeout=1) for _ in tasks]
    assert [d.task.payload for d in got if d] == [t.payload for t in tasks]
    assert all(d is not None and d.task.attempts == 1 for d in got)


def test_a_taken_task_is_gone_from_redis_at_most_once(queue: SimpleRedisQueue) -> None:
    queue.put(Task("t"))
    delivery = queue.get(timeout=1)
    assert delivery is not None
    # The worker now "dies": nothing in Redis remembers the task.
    assert len(queue) == 0 and queue.client.llen(queue.name) == 0
    assert queue.dead_letters() == []


def test_get_with_no_wait_returns_at_once(queue: SimpleRedisQueue) -> None:
    assert queue.get(timeout=0) is None


def test_a_retry_goes_straight_back_and_a_dead_task_can_be_read_requeued_and_purged(
    queue: SimpleRedisQueue,
) -> None:
    first, second = Task("t", {"n": 1}), Task("t", {"n": 2})
    queue.put(first)
    queue.put(second)
    queue.fail(queue.get(timeout=1), ERROR, retry_in=5.0)  # type: ignore[arg-type]
    assert len(queue) == 2  # back at once: the original had no backoff
    queue.fail(queue.get(timeout=1), ERROR, retry_in=None)  # type: ignore[arg-type]
    [dead] = queue.dead_letters()
    assert (dead.id, dead.error.message, dead.attempts) == (second.id, "boom", 1)
    assert queue.requeue_dead(second.id) == 1 and queue.dead_letters() == []
    queue.fail(queue.get(timeout=1), ERROR, retry_in=None)  # type: ignore[arg-type]
    assert queue.purge_dead() == 1 and queue.dead_letters() == []


def test_no_delays_and_no_puts_after_close(queue: SimpleRedisQueue) -> None:
    with pytest.raises(ValueError, match="no delays"):
        queue.put(Task("t"), delay=1)
    queue.close()
    with pytest.raises(QueueClosed):
        queue.put(Task("t"))
    with pytest.raises(QueueClosed):
        queue.get(timeout=0)
