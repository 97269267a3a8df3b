"""One contract, every backend: what any `TaskQueue` must do.

Each test runs once per backend in ``BACKENDS`` (see conftest); the tests of what the HTTP API
needs run on the backends that keep status (`InspectableQueue`). A new backend joins the suite
by being added to `support.make_queue` and ``BACKENDS``.
"""

from __future__ import annotations

import math
import threading
import time

import pytest

from taskq_lib import ErrorInfo, InspectableQueue, QueueClosed, Task, TaskQueue
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


def test_postponed_task_comes_back_after_the_delay_without_an_attempt(
    any_queue: TaskQueue,
) -> None:
    task = Task("t", {"keep": "me"})
    any_queue.put(task)
    first = take(any_queue)
    # What a worker does with a task over its rate limit. A whole second, so that a busy
    # machine pausing this thread between the two lines cannot make the task due already.
    any_queue.postpone(first, 1.0)
    assert any_queue.get(timeout=0.05) is None  # not before it is due
    again = take(any_queue, timeout=5)
    assert again.task.id == task.id and again.task.attempts == 1  # still its first attempt
    assert again.task.payload == {"keep": "me"}
    any_queue.ack(again)
    assert any_queue.get(timeout=0.05) is None


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


def test_put_many_with_a_delay_waits(any_queue: TaskQueue) -> None:
    tasks = [Task("t", {"i": i}) for i in range(3)]
    any_queue.put_many(tasks, delay=0.4)
    assert any_queue.get(timeout=0.05) is None
    assert len(any_queue) == 3
    got = sorted(take(any_queue, timeout=5).task.payload["i"] for _ in tasks)
    assert got == [0, 1, 2]


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_put_refuses_a_delay_or_timeout_no_backend_can_honour(
    any_queue: TaskQueue, bad: float
) -> None:
    for options in ({"delay": bad}, {"timeout": bad}):
        with pytest.raises(ValueError, match=next(iter(options))):
            any_queue.put(Task("t"), **options)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=next(iter(options))):
            any_queue.put_many([Task("t")], **options)  # type: ignore[arg-type]
    any_queue.put(Task("t"), timeout=0)  # room at once: no wait needed
    assert len(any_queue) == 1


def test_requeue_dead_and_purge_dead(any_queue: TaskQueue) -> None:
    tasks = [Task("t", {"i": i}) for i in range(3)]
    any_queue.put_many(tasks)
    for _ in tasks:
        any_queue.fail(take(any_queue), ERROR, retry_in=None)
    assert any_queue.requeue_dead(tasks[0].id) == 1
    assert any_queue.requeue_dead("no-such-task") == 0
    again = take(any_queue)
    assert again.task.id == tasks[0].id and again.task.attempts == 1  # attempts start over
    any_queue.ack(again)
    assert [d.id for d in any_queue.dead_letters()] == [t.id for t in tasks[1:]]
    assert any_queue.purge_dead() == 2
    assert any_queue.dead_letters() == []


def test_wake_cuts_a_waiting_get_short(any_queue: TaskQueue) -> None:
    returned: list[Delivery | None] = []
    waiter = threading.Thread(target=lambda: returned.append(any_queue.get(timeout=60)))
    waiter.start()
    deadline = time.monotonic() + 10  # far below the get's own 60 s
    while waiter.is_alive() and time.monotonic() < deadline:
        any_queue.wake()  # again and again: the first may come before the get waits
        waiter.join(timeout=0.05)  # a wait inside Redis ends by the reaper period (0.5 s)
    assert returned == [None]


# --------------------------------------------------------------------- what the API needs
def test_info_follows_a_task_through_its_life(inspectable_queue: InspectableQueue) -> None:
    queue = inspectable_queue
    task, later = Task("t", {"x": 1}), Task("t")
    queue.put(task)
    queue.put(later, delay=60)
    assert queue.info("never-enqueued") is None
    states = [queue.info(task.id).state]  # type: ignore[union-attr]
    assert queue.info(later.id).state == "scheduled"  # type: ignore[union-attr]
    delivery = take(queue)
    states.append(queue.info(task.id).state)  # type: ignore[union-attr]
    queue.fail(delivery, ERROR, retry_in=0.01)
    states.append(queue.info(task.id).state)  # type: ignore[union-attr]
    delivery = take(queue)
    queue.ack(delivery, {"sent": True})
    if hasattr(queue, "flush"):
        queue.flush()  # a Redis queue may batch acks
    info = queue.info(task.id)
    assert info is not None
    states.append(info.state)
    assert states == ["queued", "running", "retrying", "succeeded"]
    assert (info.attempts, info.result, info.task) == (2, {"sent": True}, delivery.task)
    assert info.last_error is not None and info.last_error.message == "boom"


def test_stats_count_tasks_in_each_state(inspectable_queue: InspectableQueue) -> None:
    queue = inspectable_queue
    queue.put_many([Task("t") for _ in range(4)])
    queue.put(Task("t"), delay=60)
    queue.fail(take(queue), ERROR, retry_in=None)
    held = take(queue)
    queue.ack(take(queue))
    if hasattr(queue, "flush"):
        queue.flush()
    stats = queue.stats()
    now = {k: stats[k] for k in ("pending", "scheduled", "in_flight", "dead", "done")}
    assert now == {"pending": 1, "scheduled": 1, "in_flight": 1, "dead": 1, "done": 1}
    assert stats["total_enqueued"] == 5 and stats["total_succeeded"] == 1
    queue.ack(held)


def test_bigger_priority_first_and_fifo_among_equals(prioritized_queue: TaskQueue) -> None:
    queue = prioritized_queue
    priorities = [0, 5, -3, 5, 0, 9, -3, 2**53 - 1, 9, 0, -(2**53 - 1), 5]
    tasks = [Task("t", {"i": i}, priority=p) for i, p in enumerate(priorities)]
    for task in tasks[:6]:
        queue.put(task)
    queue.put_many(tasks[6:])
    got = [take(queue).task.payload["i"] for _ in tasks]
    expected = sorted(range(len(tasks)), key=lambda i: (-priorities[i], i))
    assert got == expected


def test_a_retry_keeps_its_priority(prioritized_queue: TaskQueue) -> None:
    queue = prioritized_queue
    urgent = Task("t", {"name": "urgent"}, priority=7)
    queue.put(urgent)
    first = take(queue)
    queue.put_many([Task("t", {"name": "plain"}) for _ in range(3)])
    queue.fail(first, ERROR, retry_in=0.0)  # due at once, behind three plain tasks in time
    again = take(queue)
    assert again.task.id == urgent.id and again.task.attempts == 2
