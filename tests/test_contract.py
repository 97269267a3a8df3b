"""One contract, every backend: what any `TaskQueue` must do.

Each test runs once per backend in ``BACKENDS`` (see conftest). A new backend joins the suite
by being added there.
"""

from __future__ import annotations

import threading
import time

import pytest

from taskq_lib import ErrorInfo, QueueClosed, Task, TaskQueue
from taskq_lib.interface import Delivery

ERROR = ErrorInfo("RuntimeError", "boom")


def take(queue: TaskQueue, timeout: float = 2.0) -> Delivery:
    delivery = queue.get(timeout=timeout)
    assert delivery is not None, "expected a task within the timeout"
    return delivery


def test_fifo_for_equal_priority(any_queue: TaskQueue) -> None:
    tasks = [Task("t", {"i": i}) for i in range(20)]
    for task in tasks:
        any_queue.put(task)
    got = [take(any_queue).task.id for _ in tasks]
    assert got == [t.id for t in tasks]


def test_payload_and_fields_survive(any_queue: TaskQueue) -> None:
    task = Task("email", {"to": "ana@example.com", "tags": ["a", "b"], "n": 1.5}, priority=2)
    any_queue.put(task)
    back = take(any_queue).task
    assert back.payload == task.payload and back.type == "email" and back.id == task.id
    assert back.attempts == 1


def test_get_times_out_with_none(any_queue: TaskQueue) -> None:
    started = time.monotonic()
    assert any_queue.get(timeout=0.2) is None
    assert time.monotonic() - started >= 0.15


def test_get_wakes_when_a_task_arrives(any_queue: TaskQueue) -> None:
    task = Task("t")
    timer = threading.Timer(0.1, any_queue.put, args=(task,))
    timer.start()
    try:
        assert take(any_queue, timeout=5).task.id == task.id
    finally:
        timer.cancel()


def test_len_counts_waiting_not_in_flight(any_queue: TaskQueue) -> None:
    for _ in range(3):
        any_queue.put(Task("t"))
    assert len(any_queue) == 3
    delivery = take(any_queue)
    assert len(any_queue) == 2
    any_queue.ack(delivery)
    assert len(any_queue) == 2


def test_acked_task_does_not_come_back(any_queue: TaskQueue) -> None:
    any_queue.put(Task("t"))
    any_queue.ack(take(any_queue), {"ok": True})
    assert any_queue.get(timeout=0.1) is None


def test_failed_task_retries_after_delay_with_attempts_counted(any_queue: TaskQueue) -> None:
    task = Task("t", {"keep": "me"})
    any_queue.put(task)
    first = take(any_queue)
    any_queue.fail(first, ERROR, retry_in=0.3)
    assert any_queue.get(timeout=0.05) is None  # not before it is due
    second = take(any_queue, timeout=5)
    assert second.task.id == task.id and second.task.attempts == 2
    assert second.task.payload == {"keep": "me"}  # no retry count written into the payload


def test_fail_without_retry_dead_letters(any_queue: TaskQueue) -> None:
    task = Task("t", {"x": 1})
    any_queue.put(task)
    any_queue.fail(take(any_queue), ErrorInfo("ValueError", "bad input", "tb"), retry_in=None)
    assert any_queue.get(timeout=0.1) is None
    [dead] = any_queue.dead_letters()
    assert dead.id == task.id and dead.task is not None and dead.task.payload == {"x": 1}
    assert dead.error.type == "ValueError" and dead.error.message == "bad input"
    assert dead.attempts == 1 and dead.died_at > 0


def test_delayed_task_waits(any_queue: TaskQueue) -> None:
    now, later = Task("t", {"when": "now"}), Task("t", {"when": "later"})
    any_queue.put(later, delay=0.4)
    any_queue.put(now)
    assert take(any_queue).task.id == now.id
    assert any_queue.get(timeout=0.05) is None
    assert len(any_queue) == 1
    started = time.monotonic()
    assert take(any_queue, timeout=5).task.id == later.id
    assert time.monotonic() - started <= 2.0


def test_put_many(any_queue: TaskQueue) -> None:
    tasks = [Task("t", {"i": i}) for i in range(50)]
    any_queue.put_many(tasks)
    assert len(any_queue) == 50
    assert sorted(take(any_queue).task.payload["i"] for _ in tasks) == list(range(50))


def test_put_after_close_raises(any_queue: TaskQueue) -> None:
    any_queue.close()
    with pytest.raises(QueueClosed):
        any_queue.put(Task("t"))


def test_no_task_lost_or_doubled_with_concurrent_consumers(any_queue: TaskQueue) -> None:
    total = 400
    any_queue.put_many(Task("t", {"i": i}) for i in range(total))
    seen: list[int] = []
    lock = threading.Lock()

    def consume() -> None:
        while True:
            delivery = any_queue.get(timeout=0.3)
            if delivery is None:
                return
            with lock:
                seen.append(delivery.task.payload["i"])
            any_queue.ack(delivery)

    threads = [threading.Thread(target=consume) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert sorted(seen) == list(range(total))
