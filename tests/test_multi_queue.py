"""Workers on several queues (`MultiQueue`): strict order, weights, and where acks go."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable

import fakeredis
import pytest
import redis

from taskq_lib import ErrorInfo, MemoryQueue, Registry, Task, TaskQueue, WorkerPool
from taskq_lib.cli import main
from taskq_lib.connection import Client
from taskq_lib.multi_queue import MultiQueue, parse_weights
from taskq_lib.redis_queue import RedisQueue

MakeQueue = Callable[..., RedisQueue]


@pytest.fixture(params=["memory", "fake", "real"])
def make(request: pytest.FixtureRequest) -> Callable[[str], TaskQueue]:
    """Queues of one kind by name: in memory, on fake Redis, on a real server."""
    if request.param == "memory":
        return lambda name: MemoryQueue(0, name=name)
    if request.param == "fake":
        client: redis.Redis = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    else:
        client = redis.Redis.from_url(request.getfixturevalue("real_redis_url"))
    made: list[RedisQueue] = []

    def redis_queue(name: str) -> TaskQueue:
        queue = RedisQueue(f"{name}-{uuid.uuid4().hex[:8]}", client, prefetch=4, ack_batch=4)
        made.append(queue)
        return queue

    def clean_up() -> None:
        for queue in made:
            queue.delete()
        client.close()

    request.addfinalizer(clean_up)
    return redis_queue


def fill(queue: TaskQueue, count: int) -> None:
    queue.put_many([Task("t", {"queue": queue.name, "i": i}) for i in range(count)])


def drain(multi: MultiQueue, count: int) -> list[str]:
    """Take and ack ``count`` tasks; the name of each one's queue, in order."""
    out = []
    for _ in range(count):
        delivery = multi.get(timeout=2)
        assert delivery is not None
        out.append(delivery.task.payload["queue"])
        multi.ack(delivery)
    return out


def test_strict_order_takes_a_lower_queue_only_when_the_higher_is_empty(
    make: Callable[[str], TaskQueue],
) -> None:
    high, low = make("high"), make("low")
    fill(low, 3)
    fill(high, 2)
    multi = MultiQueue([high, low])
    assert drain(multi, 2) == [high.name] * 2
    fill(high, 1)
    assert drain(multi, 4) == [high.name, low.name, low.name, low.name]
    assert multi.get(timeout=0.05) is None
    multi.close()


def test_weights_share_the_takes_exactly_while_every_queue_has_work(
    make: Callable[[str], TaskQueue],
) -> None:
    queues = [make("high"), make("default"), make("low")]
    for queue in queues:
        fill(queue, 150)
    multi = MultiQueue(queues, [6, 3, 1])
    taken = drain(multi, 200)
    # Every run of 10 takes holds 6, 3 and 1: fair from the first takes on, not on average.
    for start in range(0, 200, 10):
        window = Counter(taken[start : start + 10])
        assert [window[q.name] for q in queues] == [6, 3, 1]
    multi.close()


def test_an_empty_queue_gives_its_share_to_the_others(make: Callable[[str], TaskQueue]) -> None:
    high, low = make("high"), make("low")
    fill(low, 20)
    multi = MultiQueue([high, low], [9, 1])
    assert drain(multi, 20) == [low.name] * 20
    multi.close()


def test_acks_and_fails_go_to_the_queue_the_task_came_from(redis_client: Client) -> None:
    first = RedisQueue(f"first-{uuid.uuid4().hex[:8]}", redis_client)
    second = RedisQueue(f"second-{uuid.uuid4().hex[:8]}", redis_client)
    try:
        first.put(Task("t", {"queue": "first"}))
        second.put(Task("t", {"queue": "second"}))
        multi = MultiQueue([first, second])
        one, two = multi.get(timeout=1), multi.get(timeout=1)
        assert one is not None and two is not None
        multi.fail(two, ErrorInfo("E", "no"), retry_in=None)
        multi.ack(one, {"ok": True})
        multi.close()
        assert first.stats()["total_succeeded"] == 1 and first.stats()["dead"] == 0
        assert second.stats()["dead"] == 1 and second.stats().get("total_succeeded", 0) == 0
        with pytest.raises(KeyError):
            multi.ack(one)  # already settled
    finally:
        first.delete()
        second.delete()


def test_a_worker_pool_runs_every_queue_of_a_multi_queue(redis_client: Client) -> None:
    queues = [RedisQueue(f"{n}-{id(object()):x}", redis_client) for n in "abc"]  # type: ignore[arg-type]
    registry = Registry()
    seen: list[str] = []
    lock = threading.Lock()
    all_done = threading.Event()

    @registry.task("t")
    def record(task: Task) -> None:
        with lock:
            seen.append(task.payload["queue"])
            if len(seen) == 30:
                all_done.set()

    for queue in queues:
        fill(queue, 10)
    pool = WorkerPool(MultiQueue(queues, [1, 1, 1]), registry, concurrency=3)
    pool.start()
    try:
        assert all_done.wait(10)
    finally:
        pool.stop(timeout=5)
        for queue in queues:
            queue.delete()
    assert Counter(seen) == {q.name: 10 for q in queues}


@pytest.mark.parametrize(
    ("text", "error"),
    [("high=0", "NAME=WEIGHT"), ("high", "NAME=WEIGHT"), ("a=1,a=2", "twice"), ("=3", "NAME")],
)
def test_bad_weights_are_refused(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_weights(text)


def test_the_worker_command_refuses_bad_queue_options(capsys: pytest.CaptureFixture[str]) -> None:
    head = [
        "worker",
        "--app",
        "taskq_lib.examples:registry",
        "--redis-url",
        "redis://127.0.0.1:1/0",
    ]
    with pytest.raises(SystemExit) as exit_info:
        main([*head, "--queues", "high=x"])
    assert exit_info.value.code == 2
    assert "NAME=WEIGHT" in capsys.readouterr().err
    # Refused before Redis is reached (nothing listens on port 1).
    assert main([*head, "--queue", "a", "--queues", "a=1,b=2"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main([*head, "--queue", "a", "--queue", "a"]) == 2
    assert "twice" in capsys.readouterr().err


def test_a_delayed_task_of_any_queue_is_taken_once_due(make: Callable[[str], TaskQueue]) -> None:
    first, second = make("first"), make("second")
    task = Task("t", {"queue": second.name})
    second.put(task, delay=0.2)
    multi = MultiQueue([first, second])
    assert multi.get(timeout=0.05) is None  # not due yet
    delivery = multi.get(timeout=5)
    assert delivery is not None and delivery.task.id == task.id
    multi.ack(delivery)
    multi.close()
