"""What the reliable Redis queue promises beyond the contract: leases, tokens, the reaper,
batching, status, the dead-letter queue, foreign bodies. Each runs on fakeredis and on a real
``redis-server``; time-dependent cases move a `ManualClock` instead of sleeping."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest
import redis
from support import Flaky, push_pending

from taskq_lib import ErrorInfo, InvalidTask, ManualClock, PayloadTooLarge, Task
from taskq_lib.redis_queue import RedisQueue

MakeQueue = Callable[..., RedisQueue]
ERROR = ErrorInfo("RuntimeError", "boom", "traceback here")


def test_every_key_shares_one_hash_tag(make_redis_queue: MakeQueue) -> None:
    queue = make_redis_queue()
    queue.put(Task("t"), delay=5)
    queue.put(Task("t"))
    queue.fail(queue.get(timeout=1), ERROR, retry_in=None)  # type: ignore[arg-type]
    written = [k.decode() for k in queue.client.keys(f"taskq:{{{queue.name}}}:*")]
    assert written and all(f"{{{queue.name}}}" in k for k in written)
    assert set(written) <= set(queue.keys.all)


def test_expired_lease_goes_to_the_next_consumer(make_redis_queue: MakeQueue) -> None:
    clock = ManualClock()
    a = make_redis_queue(lease=10, clock=clock)
    b = make_redis_queue(lease=10, clock=clock)
    a.put(Task("t", {"n": 1}))
    first = a.get(timeout=1)
    assert first is not None and b.get(timeout=0.05) is None  # leased to a
    clock.advance(10.5)
    second = b.get(timeout=1)
    assert second is not None and second.task.id == first.task.id
    assert second.task.attempts == 2 and second.token != first.token
    # a wakes up late: its ack and its fail change nothing
    a.ack(first)
    assert a.lost_leases == 1
    a.fail(first, ERROR, retry_in=None)
    assert a.lost_leases == 2 and b.dead_letters() == []
    info = b.info(first.task.id)
    assert info is not None and info.state == "running"
    b.ack(second, {"sent": True})
    info = b.info(first.task.id)
    assert info is not None and info.state == "succeeded" and info.result == {"sent": True}
    assert b.lost_leases == 0


def test_heartbeat_keeps_the_lease(make_redis_queue: MakeQueue) -> None:
    clock = ManualClock()
    a = make_redis_queue(lease=10, clock=clock)
    b = make_redis_queue(lease=10, clock=clock)
    a.put(Task("t"))
    held = a.get(timeout=1)
    assert held is not None
    for _ in range(5):  # 25 s of work, renewed every 5 s
        clock.advance(5)
        assert a.extend_leases() == []
        assert b.get(timeout=0.01) is None
    a.ack(held)
    assert a.lost_leases == 0


def test_task_that_keeps_killing_workers_is_dead_lettered(make_redis_queue: MakeQueue) -> None:
    clock = ManualClock()
    queue = make_redis_queue(lease=1, max_attempts=3, clock=clock)
    queue.put(Task("poison"))
    for run in range(1, 4):
        delivery = queue.get(timeout=1)
        assert delivery is not None and delivery.task.attempts == run
        clock.advance(2)  # the worker "dies": no ack, no heartbeat
    assert queue.get(timeout=0.05) is None
    [dead] = queue.dead_letters()
    assert dead.error.type == "LeaseExpired" and dead.attempts == 3


def test_status_follows_the_task(make_redis_queue: MakeQueue) -> None:
    queue = make_redis_queue()
    task = Task("t", {"x": 1})
    assert queue.info(task.id) is None
    queue.put(task, delay=60)
    assert queue.info(task.id).state == "scheduled"  # type: ignore[union-attr]
    other = Task("t")
    queue.put(other)
    assert queue.info(other.id).state == "queued"  # type: ignore[union-attr]
    delivery = queue.get(timeout=1)
    assert delivery is not None
    assert queue.info(other.id).state == "running"  # type: ignore[union-attr]
    queue.fail(delivery, ERROR, retry_in=60)
    info = queue.info(other.id)
    assert info is not None and info.state == "retrying" and info.attempts == 1
    assert info.last_error == ERROR and info.task is not None and info.task.payload == {}
    stats = queue.stats()
    assert stats["scheduled"] == 2 and stats["pending"] == 0 and stats["total_enqueued"] == 2


def test_status_records_when_it_last_changed(make_redis_queue: MakeQueue) -> None:
    clock = ManualClock(start=1_700_000_000.0)
    queue = make_redis_queue(clock=clock)
    one, many = Task("t"), [Task("t"), Task("t")]
    queue.put(one)  # the one-task path of the enqueue script
    queue.put_many(many, delay=5)  # the batch path
    for task, state in [(one, "queued"), (many[0], "scheduled"), (many[1], "scheduled")]:
        info = queue.info(task.id)
        assert info is not None and (info.state, info.updated_at) == (state, 1_700_000_000.0)
    clock.advance(2.5)
    delivery = queue.get(timeout=1)
    assert delivery is not None and delivery.task.id == one.id
    queue.ack(delivery, {"ok": True})
    info = queue.info(one.id)
    assert info is not None and (info.state, info.updated_at) == ("succeeded", 1_700_000_002.5)


def test_succeeded_status_is_forgotten_after_retention(make_redis_queue: MakeQueue) -> None:
    clock = ManualClock()
    queue = make_redis_queue(retention=60, clock=clock)
    old, new = Task("t"), Task("t")
    queue.put(old)
    queue.ack(queue.get(timeout=1))  # type: ignore[arg-type]
    clock.advance(61)
    queue.put(new)
    queue.ack(queue.get(timeout=1))  # type: ignore[arg-type]  # this ack trims the old one
    assert queue.info(old.id) is None
    assert queue.info(new.id).state == "succeeded"  # type: ignore[union-attr]


def test_equal_bodies_scheduled_twice_run_twice(make_redis_queue: MakeQueue) -> None:
    clock = ManualClock()
    queue = make_redis_queue(clock=clock)
    queue.put(Task("report", {"day": "monday"}), delay=5)
    queue.put(Task("report", {"day": "monday"}), delay=5)  # the original kept only one
    clock.advance(6)
    got = [queue.get(timeout=1), queue.get(timeout=1)]
    assert all(d is not None and d.task.payload == {"day": "monday"} for d in got)
    assert got[0].task.id != got[1].task.id  # type: ignore[union-attr]


def test_duplicate_id_is_refused_and_nothing_changes(make_redis_queue: MakeQueue) -> None:
    queue = make_redis_queue()
    task = Task("t", {"v": 1})
    queue.put(task)
    with pytest.raises(InvalidTask, match=task.id):
        queue.put_many([Task("t"), Task("t", {"v": 2}, id=task.id)])
    assert len(queue) == 1
    delivery = queue.get(timeout=1)
    assert delivery is not None and delivery.task.payload == {"v": 1}


def test_put_of_a_known_id_is_refused_and_nothing_changes(make_redis_queue: MakeQueue) -> None:
    queue = make_redis_queue()
    task = Task("t", {"v": 1})
    queue.put(task, delay=5)
    before = {key: queue.client.dump(key) for key in queue.keys.all}
    for delay in (0, 5):
        with pytest.raises(InvalidTask, match=task.id):
            queue.put(Task("t", {"v": 2}, id=task.id), delay=delay)
    assert {key: queue.client.dump(key) for key in queue.keys.all} == before


def test_put_works_after_the_server_forgets_its_scripts(make_redis_queue: MakeQueue) -> None:
    queue = make_redis_queue()
    queue.put(Task("t", {"n": 1}))
    queue.client.script_flush()  # as after a restart without persistence of the script cache
    queue.put(Task("t", {"n": 2}))
    queue.client.script_flush()
    queue.put_many([Task("t", {"n": 3}), Task("t", {"n": 4})])
    got = [queue.get(timeout=1) for _ in range(4)]
    assert [d.task.payload["n"] for d in got if d is not None] == [1, 2, 3, 4]
    assert queue.stats()["total_enqueued"] == 4


def test_oversized_task_is_refused(make_redis_queue: MakeQueue) -> None:
    queue = make_redis_queue(max_bytes=1000)
    with pytest.raises(PayloadTooLarge):
        queue.put(Task("t", {"blob": "x" * 2000}))
    assert len(queue) == 0


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfenot json", b"[]", b'{"v": 99, "id": "x", "type": "t", "payload": {}}'],
)
def test_foreign_body_is_dead_lettered_and_the_worker_carries_on(
    make_redis_queue: MakeQueue, body: bytes
) -> None:
    queue = make_redis_queue(prefetch=10)
    queue.client.hset(queue.keys.bodies, "foreign", body)
    push_pending(queue, "foreign")
    good = Task("t")
    queue.put(good)
    delivery = queue.get(timeout=1)
    assert delivery is not None and delivery.task.id == good.id
    [dead] = queue.dead_letters()
    assert dead.id == "foreign" and dead.task is None and dead.error.type == "DecodeError"
    assert dead.raw is not None


def test_dead_letter_queue_requeue_and_purge(make_redis_queue: MakeQueue) -> None:
    queue = make_redis_queue()
    tasks = [Task("t", {"i": i}) for i in range(3)]
    queue.put_many(tasks)
    for _ in tasks:
        queue.fail(queue.get(timeout=1), ERROR, retry_in=None)  # type: ignore[arg-type]
    assert [d.id for d in queue.dead_letters()] == [t.id for t in tasks]
    assert queue.requeue_dead(tasks[1].id) == 1
    assert queue.requeue_dead("no-such-id") == 0
    again = queue.get(timeout=1)
    assert again is not None and again.task.id == tasks[1].id and again.task.attempts == 1
    queue.ack(again)
    assert queue.requeue_dead() == 2
    assert len(queue) == 2
    for _ in range(2):
        queue.fail(queue.get(timeout=1), ERROR, retry_in=None)  # type: ignore[arg-type]
    assert queue.purge_dead() == 2 and queue.dead_letters() == []
    assert queue.info(tasks[0].id) is None


def test_dead_letter_queue_is_bounded(make_redis_queue: MakeQueue) -> None:
    queue = make_redis_queue(dead_max=3)
    tasks = [Task("t", {"i": i}) for i in range(5)]
    queue.put_many(tasks)
    for _ in tasks:
        queue.fail(queue.get(timeout=1), ERROR, retry_in=None)  # type: ignore[arg-type]
    assert [d.id for d in queue.dead_letters()] == [t.id for t in tasks[2:]]


def test_batches_acknowledge_with_the_next_take(make_redis_queue: MakeQueue) -> None:
    queue = make_redis_queue(prefetch=50, ack_batch=50)
    queue.put_many(Task("t", {"i": i}) for i in range(120))
    seen = []
    while (delivery := queue.get(timeout=0.2)) is not None:
        seen.append(delivery.task.payload["i"])
        queue.ack(delivery)
    assert sorted(seen) == list(range(120))
    assert queue.flush() == []
    stats = queue.stats()
    assert stats["done"] == 120 and stats["in_flight"] == 0 and stats["pending"] == 0


def test_close_gives_back_prefetched_tasks(make_redis_queue: MakeQueue) -> None:
    a = make_redis_queue(prefetch=10)
    b = make_redis_queue()
    a.put_many(Task("t", {"i": i}) for i in range(10))
    first = a.get(timeout=1)
    assert first is not None
    a.close()  # 9 were taken but never started
    taken = [b.get(timeout=1) for _ in range(9)]
    assert sorted(d.task.payload["i"] for d in taken if d) == list(range(1, 10))
    assert all(d is not None and d.task.attempts == 1 for d in taken)
    assert b.get(timeout=0.05) is None  # `first` is still leased to a's worker


def test_many_consumers_and_delays_lose_nothing_and_run_nothing_twice(
    make_redis_queue: MakeQueue,
) -> None:
    producer = make_redis_queue()
    consumers = [make_redis_queue(prefetch=5, ack_batch=5) for _ in range(6)]
    producer.put_many(Task("t", {"i": i}) for i in range(300))
    producer.put_many((Task("t", {"i": i}) for i in range(300, 400)), delay=0.3)
    seen: Counter[int] = Counter()
    lock = threading.Lock()

    def consume(queue: RedisQueue) -> None:
        while (delivery := queue.get(timeout=1.0)) is not None:
            with lock:
                seen[delivery.task.payload["i"]] += 1
            queue.ack(delivery)
        queue.flush()

    threads = [threading.Thread(target=consume, args=(q,)) for q in consumers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert sorted(seen) == list(range(400))
    assert max(seen.values()) == 1
    assert producer.stats()["done"] == 400


def test_unreachable_redis_raises_connection_error() -> None:
    from redis.backoff import NoBackoff
    from redis.retry import Retry
    from support import free_port

    client = redis.Redis(port=free_port(), socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    queue = RedisQueue("x", client)
    with pytest.raises(redis.ConnectionError):
        queue.put(Task("t"))


def test_acks_survive_a_failed_round_trip(make_redis_queue: MakeQueue) -> None:
    queue = make_redis_queue(ack_batch=10)
    queue.put(Task("t"))
    delivery = queue.get(timeout=1)
    assert delivery is not None
    queue.ack(delivery)  # waits in the batch
    real_pipeline = queue.client.pipeline

    def broken_pipeline(*args: object, **kwargs: object) -> object:
        pipe = real_pipeline(*args, **kwargs)  # type: ignore[arg-type]

        def fail() -> None:
            raise redis.ConnectionError("network down")

        pipe.execute = fail  # type: ignore[method-assign,assignment]
        return pipe

    queue.client.pipeline = broken_pipeline  # type: ignore[method-assign,assignment]
    with pytest.raises(redis.ConnectionError):
        queue.get(timeout=0.1)
    queue.client.pipeline = real_pipeline  # type: ignore[method-assign]
    assert queue.flush() == []
    assert queue.info(delivery.task.id).state == "succeeded"  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ["reply-lost", "retried"])
def test_a_put_whose_script_ran_succeeds_once_even_if_the_reply_is_lost(
    make_redis_queue: MakeQueue, mode: str
) -> None:
    queue = make_redis_queue()
    Flaky(queue, mode)
    task = Task("t", {"n": 1})
    queue.put(task)  # no error: the task is queued, exactly once
    assert len(queue) == 1 and queue.stats()["total_enqueued"] == 1
    assert queue.get(timeout=1).task.id == task.id  # type: ignore[union-attr]


def test_a_put_that_raises_queued_nothing(make_redis_queue: MakeQueue) -> None:
    queue = make_redis_queue()
    Flaky(queue, "never-sent")
    with pytest.raises(redis.ConnectionError):
        queue.put(Task("t"))
    assert len(queue) == 0 and queue.stats().get("total_enqueued", 0) == 0


def test_the_same_task_put_again_is_refused_even_at_the_same_moment(
    make_redis_queue: MakeQueue,
) -> None:
    queue = make_redis_queue(clock=ManualClock())  # both puts in the same millisecond
    task = Task("t", {"text": "Pay the rent"})
    queue.put(task, delay=60)
    for delay in (3600, 0):  # not a retry of the first put: it asked for another time
        with pytest.raises(InvalidTask, match=task.id):
            queue.put(task, delay=delay)
    assert len(queue) == 1
