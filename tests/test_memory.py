"""In-memory queues: backpressure, closing, priority order and aging."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest

from taskq_lib import (
    ErrorInfo,
    ManualClock,
    MemoryQueue,
    PriorityQueue,
    QueueClosed,
    QueueFull,
    Task,
)


def test_full_queue_waits_then_raises() -> None:
    queue = MemoryQueue(maxsize=2, put_timeout=0.1)
    queue.put(Task("t"))
    queue.put(Task("t"))
    started = time.monotonic()
    with pytest.raises(QueueFull, match="stayed full"):
        queue.put(Task("t"))
    assert 0.08 <= time.monotonic() - started < 2
    assert len(queue) == 2  # the refused task was not half-added


def test_full_queue_accepts_once_a_worker_takes_one() -> None:
    queue = MemoryQueue(maxsize=1, put_timeout=30)
    queue.put(Task("t"))
    taker = threading.Timer(0.05, queue.get, kwargs={"timeout": 1})
    taker.start()
    started = time.monotonic()
    queue.put(Task("t"))  # blocks until the timer's get makes room
    taker.join(timeout=5)
    assert len(queue) == 1
    assert time.monotonic() - started < 10, "the get did not wake the waiting put"


def test_bounded_queue_with_many_takers_loses_no_task_and_no_wakeup() -> None:
    # Gets take ready tasks without the lock; each must still wake a put waiting for room.
    # A missed wakeup would hold a put for its whole 30 s timeout.
    queue, total = MemoryQueue(maxsize=2, put_timeout=30), 2000
    seen: list[int] = []

    def take() -> None:
        with contextlib.suppress(QueueClosed):  # closed and drained: this taker is done
            while (delivery := queue.get(timeout=5)) is not None:
                seen.append(delivery.task.payload["i"])  # list.append is atomic
                queue.ack(delivery)

    takers = [threading.Thread(target=take) for _ in range(4)]
    for taker in takers:
        taker.start()
    started = time.monotonic()
    for i in range(total):
        queue.put(Task("t", {"i": i}))
    queue.close()
    for taker in takers:
        taker.join(timeout=30)
    assert not any(taker.is_alive() for taker in takers)
    assert sorted(seen) == list(range(total))
    assert time.monotonic() - started < 20, "a put waited out its timeout: a wakeup was missed"


def test_a_due_task_joins_the_line_when_due_even_while_tasks_keep_coming() -> None:
    clock = ManualClock()
    queue = MemoryQueue(maxsize=0, clock=clock)
    queue.put(Task("t", {"n": "later"}), delay=1)
    for n in ("b1", "b2", "b3"):
        queue.put(Task("t", {"n": n}))
    clock.advance(2)
    order = [queue.get(timeout=0)]  # the due task is promoted now, behind b2 and b3
    queue.put(Task("t", {"n": "b4"}))
    order += [queue.get(timeout=0) for _ in range(4)]
    assert [d.task.payload["n"] for d in order if d] == ["b1", "b2", "b3", "later", "b4"]


def test_close_drains_then_reports_closed() -> None:
    queue = MemoryQueue()
    queue.put(Task("t", {"i": 1}))
    queue.close()
    with pytest.raises(QueueClosed):
        queue.put(Task("t"))
    delivery = queue.get(timeout=1)
    assert delivery is not None and delivery.task.payload == {"i": 1}
    with pytest.raises(QueueClosed):
        queue.get(timeout=1)


def test_close_wakes_a_blocked_get() -> None:
    queue = MemoryQueue()
    threading.Timer(0.05, queue.close).start()
    with pytest.raises(QueueClosed):
        queue.get(timeout=5)


def test_retry_is_not_refused_by_a_full_queue() -> None:
    queue = MemoryQueue(maxsize=1, put_timeout=0)
    queue.put(Task("t"))
    delivery = queue.get(timeout=1)
    queue.put(Task("t"))
    assert delivery is not None
    queue.fail(delivery, ErrorInfo("E", "x"), retry_in=0)
    assert len(queue) == 2


def test_maxsize_must_not_be_negative() -> None:
    with pytest.raises(ValueError):
        MemoryQueue(maxsize=-1)


def test_requeue_dead_runs_again() -> None:
    queue = MemoryQueue()
    queue.put(Task("t", id="a"))
    queue.fail(queue.get(timeout=1), ErrorInfo("E", "x"), retry_in=None)  # type: ignore[arg-type]
    assert queue.requeue_dead("a") and not queue.requeue_dead("a")
    again = queue.get(timeout=1)
    assert again is not None and again.task.attempts == 1
    assert queue.purge_dead() == 0


def test_priority_order_with_fifo_among_equals() -> None:
    queue = PriorityQueue()
    specs = [(1, "a"), (5, "b"), (1, "c"), (5, "d"), (3, "e"), (1, "f")]
    for priority, name in specs:
        queue.put(Task("t", {"name": name}, priority=priority))
    order = [queue.get(timeout=1).task.payload["name"] for _ in specs]  # type: ignore[union-attr]
    assert order == ["b", "d", "e", "a", "c", "f"]


def test_without_aging_a_low_priority_task_starves() -> None:
    clock = ManualClock()
    queue = PriorityQueue(clock=clock)
    queue.put(Task("t", {"name": "low"}, priority=0))
    for _ in range(50):  # a steady stream of high-priority work
        queue.put(Task("t", {"name": "high"}, priority=10))
        clock.advance(1)
        assert queue.get(timeout=0).task.payload["name"] == "high"  # type: ignore[union-attr]


def test_aging_gives_a_waiting_task_its_turn() -> None:
    clock = ManualClock()
    queue = PriorityQueue(clock=clock, aging=1.0)  # one point per second waited
    queue.put(Task("t", {"name": "low"}, priority=0))
    served = []
    for _ in range(50):
        queue.put(Task("t", {"name": "high"}, priority=10))
        clock.advance(1)
        served.append(queue.get(timeout=0).task.payload["name"])  # type: ignore[union-attr]
    assert "low" in served
    assert served.index("low") <= 12  # ~10 s of waiting outweighs 10 points of priority


def test_aging_must_not_be_negative() -> None:
    with pytest.raises(ValueError):
        PriorityQueue(aging=-1)
