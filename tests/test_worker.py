"""The worker pool, on an in-memory queue and on the Redis queue."""

from __future__ import annotations

import itertools
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from taskq_lib import (
    Delivery,
    EventLog,
    MemoryQueue,
    Registry,
    RetryPolicy,
    Task,
    TaskQueue,
    WorkerPool,
)
from taskq_lib.cli import LoggedEvents
from taskq_lib.limits import DEFAULT_MAX_RESULT_BYTES
from taskq_lib.redis_queue import RedisQueue

FAST_RETRY = RetryPolicy(max_retries=2, base=0.01, cap=0.05, jitter=0, seed=1)


@pytest.fixture(params=["memory", "redis"])
def make_queue(
    request: pytest.FixtureRequest, make_redis_queue: Callable[..., RedisQueue]
) -> Callable[[], TaskQueue]:
    if request.param == "memory":
        return lambda: MemoryQueue(maxsize=0)
    return lambda: make_redis_queue(prefetch=4, ack_batch=4)


def test_every_task_runs_once(make_queue: Callable[[], TaskQueue]) -> None:
    queue, registry, done = make_queue(), Registry(), []
    lock = threading.Lock()

    def work(task: Task) -> int:
        with lock:
            done.append(task.payload["i"])
        return int(task.payload["i"]) * 2

    registry.register("double", work)
    for i in range(100):
        registry.enqueue(queue, "double", {"i": i})
    pool = WorkerPool(queue, registry, concurrency=4, poll=0.05).start()
    assert pool.events.wait_for_final(100, timeout=30)
    assert pool.stop(timeout=10)
    assert sorted(done) == list(range(100))
    assert pool.events.counts()["succeeded"] == 100
    assert {e.worker for e in pool.events.events("started")} <= {"w0", "w1", "w2", "w3"}


def test_failing_handler_is_retried_with_backoff_then_dead(
    make_queue: Callable[[], TaskQueue],
) -> None:
    queue, registry = make_queue(), Registry()

    def always_fails(task: Task) -> None:
        raise ConnectionError("smtp down")

    registry.register("email", always_fails)
    registry.register("ok", lambda task: None)
    bad = registry.enqueue(queue, "email", {"to": "x"})
    pool = WorkerPool(queue, registry, concurrency=2, retry=FAST_RETRY, poll=0.05).start()
    assert pool.events.wait_for_final(1, timeout=10)
    good = registry.enqueue(queue, "ok", {})  # the workers are still alive
    assert pool.events.wait_for_final(2, timeout=10)
    assert pool.stop(timeout=10)
    runs = [e for e in pool.events.events() if e.task_id == bad.id and e.kind == "started"]
    assert [e.attempt for e in runs] == [1, 2, 3]  # first run + max_retries=2
    gaps = [b.at - a.at for a, b in itertools.pairwise(runs)]
    assert all(gap >= 0.009 for gap in gaps)  # not retried at once
    [dead] = queue.dead_letters()
    assert dead.id == bad.id and dead.attempts == 3
    assert dead.error.type == "ConnectionError" and "smtp down" in dead.error.message
    assert dead.task is not None and dead.task.payload == {"to": "x"}  # payload untouched
    assert [e.task_id for e in pool.events.events("succeeded")] == [good.id]


def test_per_task_max_retries_wins(make_queue: Callable[[], TaskQueue]) -> None:
    queue, registry = make_queue(), Registry()
    registry.register("flaky", lambda task: 1 / 0)
    registry.enqueue(queue, "flaky", {}, max_retries=0)
    with WorkerPool(queue, registry, retry=FAST_RETRY, poll=0.05) as pool:
        assert pool.events.wait_for_final(1, timeout=10)
    assert pool.events.counts()["started"] == 1
    assert queue.dead_letters()[0].error.type == "ZeroDivisionError"


def test_unknown_type_is_dead_lettered_not_dropped(make_queue: Callable[[], TaskQueue]) -> None:
    queue, registry = make_queue(), Registry()
    registry.register("email", lambda task: None)
    queue.put(Task("fax", {"n": 1}))  # written by a producer that knows other types
    with WorkerPool(queue, registry, retry=FAST_RETRY, poll=0.05) as pool:
        assert pool.events.wait_for_final(1, timeout=10)
    [dead] = queue.dead_letters()
    assert dead.attempts == 1 and "known types: 'email'" in dead.error.message


def test_unserialisable_result_is_a_failure(make_queue: Callable[[], TaskQueue]) -> None:
    queue, registry = make_queue(), Registry()
    registry.register("t", lambda task: object())
    registry.enqueue(queue, "t", {}, max_retries=0)
    with WorkerPool(queue, registry, poll=0.05) as pool:
        assert pool.events.wait_for_final(1, timeout=10)
    assert "not JSON-serialisable" in queue.dead_letters()[0].error.message


def test_stop_without_drain_leaves_waiting_tasks() -> None:
    queue, registry = MemoryQueue(maxsize=0), Registry()
    gate, started = threading.Event(), threading.Event()

    def slow(task: Task) -> None:
        started.set()
        gate.wait(10)

    registry.register("slow", slow)
    for _ in range(5):
        registry.enqueue(queue, "slow", {})
    pool = WorkerPool(queue, registry, concurrency=1, poll=0.05).start()
    assert started.wait(5)
    gate.set()
    assert pool.stop(drain=False, timeout=10)
    assert pool.events.counts()["succeeded"] == 1  # the task in hand finished
    assert len(queue) == 4


def test_stop_is_bounded_by_its_timeout() -> None:
    queue, registry = MemoryQueue(maxsize=0), Registry()
    gate, started = threading.Event(), threading.Event()
    registry.register("stuck", lambda task: (started.set(), gate.wait(10)))
    registry.enqueue(queue, "stuck", {})
    pool = WorkerPool(queue, registry, concurrency=1, poll=0.05).start()
    assert started.wait(5)
    begun = time.monotonic()
    assert pool.stop(timeout=0.2) is False  # the handler is still running
    assert time.monotonic() - begun < 2
    gate.set()


def test_drain_leaves_tasks_that_are_not_due() -> None:
    queue, registry = MemoryQueue(maxsize=0), Registry()
    registry.register("t", lambda task: None)
    registry.enqueue(queue, "t", {}, delay=60)
    registry.enqueue(queue, "t", {})
    pool = WorkerPool(queue, registry, concurrency=2, poll=30).start()
    begun = time.monotonic()
    assert pool.stop(drain=True, timeout=10)
    assert time.monotonic() - begun < 5
    assert pool.events.counts()["succeeded"] == 1 and len(queue) == 1


def test_drain_runs_retries_that_are_ready() -> None:
    queue, registry = MemoryQueue(maxsize=0), Registry()
    calls = []

    def flaky(task: Task) -> None:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("not yet")

    registry.register("flaky", flaky)
    registry.enqueue(queue, "flaky", {})
    at_once = RetryPolicy(max_retries=5, base=0, jitter=0)
    pool = WorkerPool(queue, registry, concurrency=3, retry=at_once, poll=0.05).start()
    assert pool.stop(drain=True, timeout=10)
    assert pool.events.counts()["succeeded"] == 1 and len(calls) == 3


def test_retry_policy_backoff_is_exponential_capped_and_seeded() -> None:
    policy = RetryPolicy(base=1, factor=2, cap=5, jitter=0)
    assert [policy.delay(n) for n in range(1, 6)] == [1, 2, 4, 5, 5]
    a = RetryPolicy(jitter=0.5, seed=7)
    b = RetryPolicy(jitter=0.5, seed=7)
    assert [a.delay(3) for _ in range(5)] == [b.delay(3) for _ in range(5)]
    assert all(1.0 <= RetryPolicy(base=1, jitter=0.5).delay(2) <= 2.0 for _ in range(50))
    with pytest.raises(ValueError):
        RetryPolicy(jitter=2)
    with pytest.raises(ValueError):
        policy.delay(0)


def test_events_wait_times_out() -> None:
    assert EventLog().wait_for_final(1, timeout=0.05) is False


def test_wait_until_conditions_may_read_the_log() -> None:
    """A condition that calls events() or counts() runs under the log's lock: no deadlock."""
    from taskq_lib import Event

    log, outcome = EventLog(), []
    recorder = threading.Timer(0.05, log.record, args=(Event(0.0, "started", "t1", "x"),))

    def wait() -> None:
        outcome.append(log.wait_until(lambda seen: len(seen.events("started")) > 0, timeout=0.01))
        recorder.start()
        outcome.append(log.wait_until(lambda seen: seen.counts()["started"] == 1, timeout=5))

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    waiter.join(timeout=10)
    recorder.cancel()
    assert not waiter.is_alive(), "wait_until deadlocked on its own lock"
    assert outcome == [False, True]


def test_events_recorded_from_many_threads_are_all_counted_and_waited_for() -> None:
    from taskq_lib import Event

    log, per_thread = EventLog(maxlen=100), 5000

    def record(worker: str) -> None:
        for i in range(per_thread):
            log.record(Event(0.0, "succeeded", f"{worker}-{i}", "x", worker))

    threads = [threading.Thread(target=record, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    assert log.wait_for_final(4 * per_thread, timeout=30)  # woken by the last record
    for thread in threads:
        thread.join(timeout=10)
    assert log.counts()["succeeded"] == 4 * per_thread  # no count lost without a lock
    assert len(log.events()) == 100


def test_bounded_event_log_keeps_the_newest_and_counts_all() -> None:
    from taskq_lib import Event

    log = EventLog(maxlen=3)
    for i in range(10):
        log.record(Event(float(i), "succeeded", f"t{i}", "x"))
    assert [e.task_id for e in log.events()] == ["t7", "t8", "t9"]
    assert log.counts()["succeeded"] == 10
    assert log.wait_for_final(10, timeout=0.01)


def test_idle_pool_stops_without_waiting_out_its_poll() -> None:
    queue, registry = MemoryQueue(maxsize=0), Registry()
    pool = WorkerPool(queue, registry, concurrency=3, poll=30).start()
    begun = time.monotonic()
    assert pool.stop(timeout=10)
    assert time.monotonic() - begun < 5  # far less than the 30 s poll


def test_drain_stop_ends_on_a_closed_queue() -> None:
    queue, registry = MemoryQueue(maxsize=0), Registry()
    registry.register("t", lambda task: None)
    for _ in range(3):
        registry.enqueue(queue, "t", {})
    pool = WorkerPool(queue, registry, concurrency=2, poll=30).start()
    assert pool.events.wait_for_final(3, timeout=10)
    queue.close()
    assert pool.stop(drain=True, timeout=10)


def test_refused_enqueue_is_recorded_after_enqueued() -> None:
    from taskq_lib import QueueFull

    queue, registry, events = MemoryQueue(maxsize=1, put_timeout=0), Registry(), EventLog()
    registry.register("t", lambda task: None)
    registry.enqueue(queue, "t", {}, events=events)
    with pytest.raises(QueueFull):
        registry.enqueue(queue, "t", {}, events=events)
    assert [e.kind for e in events.events()] == ["enqueued", "enqueued", "refused"]


# --------------------------------------------------------------------- a hostile handler
class Unprintable(Exception):
    """An exception whose ``str()`` itself raises."""

    def __str__(self) -> str:
        raise RuntimeError("no text for you")


def raise_unprintable(task: Task) -> None:
    raise Unprintable()


def call_exit(task: Task) -> None:
    sys.exit("bye\nCRITICAL taskq: forged line")


def raise_interrupt(task: Task) -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("handler", "error_type", "message", "logged"),
    [
        (raise_unprintable, "Unprintable", "<str() of this Unprintable raised RuntimeError>", ""),
        (call_exit, "SystemExit", "bye\nCRITICAL taskq: forged line", "raised SystemExit(bye\\n"),
        (raise_interrupt, "KeyboardInterrupt", "", "raised KeyboardInterrupt()"),
    ],
    ids=["str-raises", "sys.exit", "KeyboardInterrupt"],
)
def test_nothing_a_handler_does_kills_its_worker(
    make_queue: Callable[[], TaskQueue],
    caplog: pytest.LogCaptureFixture,
    handler: Callable[[Task], None],
    error_type: str,
    message: str,
    logged: str,
) -> None:
    queue, registry = make_queue(), Registry()
    registry.register("bad", handler)
    registry.register("ok", lambda task: "fine")
    bad = registry.enqueue(queue, "bad", {}, max_retries=0)
    with caplog.at_level(logging.WARNING, logger="taskq"):
        events = LoggedEvents()  # what `taskq worker` logs
        pool = WorkerPool(queue, registry, concurrency=1, poll=0.05, events=events).start()
        assert pool.events.wait_for_final(1, timeout=10)
        registry.enqueue(queue, "ok", {})  # the one worker thread is still there to run it
        assert pool.events.wait_for_final(2, timeout=10)
        assert pool.stop(timeout=10)
    [dead] = queue.dead_letters()
    assert dead.id == bad.id and dead.error.type == error_type and dead.error.message == message
    assert pool.events.counts()["succeeded"] == 1
    lines = [r.getMessage() for r in caplog.records]
    [dead_line] = [text for text in lines if "dead-lettered" in text]
    assert f"task {bad.id} (bad)" in dead_line and f"{error_type}: " in dead_line
    if logged:  # not an Exception: the worker itself says what it caught
        [line] = [text for text in lines if "recorded as a failure" in text]
        assert logged in line
    assert not any("\n" in text for text in lines)  # every line is one line


def test_a_huge_retry_count_does_not_overflow_the_backoff() -> None:
    policy = RetryPolicy(max_retries=10**12, base=0.5, cap=30, jitter=0)
    assert policy.delay(1) == 0.5 and policy.delay(5000) == 30 and policy.delay(10**30) == 30
    assert RetryPolicy(base=0, jitter=0).delay(10**6) == 0
    queue, registry = MemoryQueue(maxsize=0), Registry()
    registry.register("flaky", lambda task: 1 / 0)
    pool = WorkerPool(queue, registry, retry=policy)
    pool.run_one(Delivery(Task("flaky").with_attempts(5000), "token"))
    [retrying] = pool.events.events("retrying")
    assert retrying.attempt == 5000 and retrying.detail.endswith("next run in 30.000 s")


def deep_result(task: Task) -> Any:
    value: Any = "bottom"
    for _ in range(10_000):
        value = [value]
    return value


def looped_result(task: Task) -> Any:
    value: dict[str, Any] = {}
    value["self"] = value
    return value


@pytest.mark.parametrize(
    ("handler", "says"),
    [
        (lambda task: "x" * (DEFAULT_MAX_RESULT_BYTES + 1), "result too large"),
        (deep_result, "nested deeper than 64 levels"),
        (looped_result, "contains itself"),
        (lambda task: {"n": 10**5000}, r"result['n'] is an integer of 16610 bits"),
        (lambda task: {"n": 2**60}, "beyond ±(2**53 - 1)"),
        (lambda task: {"x": float("nan")}, "JSON has no NaN"),
    ],
    ids=["too-big", "too-deep", "contains-itself", "huge-int", "unsafe-int", "nan"],
)
def test_a_result_that_cannot_be_stored_fails_the_task(
    make_queue: Callable[[], TaskQueue], handler: Callable[[Task], Any], says: str
) -> None:
    queue, registry = make_queue(), Registry()
    registry.register("t", handler)
    task = registry.enqueue(queue, "t", {}, max_retries=0)
    with WorkerPool(queue, registry, poll=0.05) as pool:
        assert pool.events.wait_for_final(1, timeout=10)
    [dead] = queue.dead_letters()
    assert dead.id == task.id and says in dead.error.message
    assert pool.events.counts()["succeeded"] == 0
    if isinstance(queue, RedisQueue):  # not left running, its lease renewed forever
        info = queue.info(task.id)
        assert info is not None and info.state == "dead" and queue.stats()["in_flight"] == 0
