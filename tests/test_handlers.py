"""Handlers as users write them: ``async def`` handlers, rate limits per type, time limits.

Each promise on an in-memory queue and on the Redis queue (fake and real)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis

from taskq_lib import EventLog, ManualClock, MemoryQueue, Registry, RetryPolicy, Task, WorkerPool
from taskq_lib.interface import TaskQueue
from taskq_lib.ratelimit import LocalLimiter, RateLimit, RedisLimiter, parse_rate
from taskq_lib.redis_queue import RedisQueue

FAST_RETRY = RetryPolicy(max_retries=1, base=0.01, cap=0.05, jitter=0, seed=1)


@pytest.fixture(params=["memory", "redis"])
def make_queue(
    request: pytest.FixtureRequest, make_redis_queue: Callable[..., RedisQueue]
) -> Callable[[], TaskQueue]:
    if request.param == "memory":
        return lambda: MemoryQueue(maxsize=0)
    return lambda: make_redis_queue(prefetch=4, ack_batch=4, lease=1.0)


# ----------------------------------------------------------------------- registration
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rate_limit": "ten"}, "is not a rate"),
        ({"rate_limit": "0/s"}, "is not a rate"),
        ({"rate_limit": "10/fortnight"}, "is not a rate"),
        ({"rate_limit": 10}, "is not a rate"),
        ({"timeout": -1}, "finite number of seconds > 0"),
        ({"timeout": 0}, "finite number of seconds > 0"),
        ({"timeout": float("nan")}, "finite number of seconds > 0"),
        ({"timeout": "5"}, "number of seconds > 0, not str"),
        ({"timeout": True}, "number of seconds > 0, not bool"),
    ],
)
def test_bad_settings_fail_at_registration_and_register_nothing(
    options: dict[str, object], message: str
) -> None:
    registry = Registry()
    with pytest.raises(ValueError, match=message):
        registry.task("sms", **options)(lambda task: None)  # type: ignore[arg-type]
    assert "sms" not in registry


def test_rates_are_read_per_second_minute_and_hour() -> None:
    assert parse_rate("10/s") == RateLimit(10, 1.0)
    assert parse_rate("100 / minute") == RateLimit(100, 60.0)
    assert parse_rate("1000/h").interval == pytest.approx(3.6 * 1.05)  # 5% margin
    assert str(parse_rate("5/m")) == "5/m"


def test_registry_knows_which_handlers_are_async() -> None:
    registry = Registry()

    @registry.task("plain")
    def plain(task: Task) -> None: ...

    @registry.task("coro", timeout=2)
    async def coro(task: Task) -> None: ...

    class Caller:
        async def __call__(self, task: Task) -> None: ...

    registry.register("obj", Caller())
    assert [registry.options(t).is_async for t in ("plain", "coro", "obj")] == [False, True, True]  # type: ignore[union-attr]
    assert registry.options("coro").timeout == 2.0  # type: ignore[union-attr]


# ----------------------------------------------------------------------- async handlers
def test_async_handlers_run_concurrently_beside_thread_handlers(
    make_queue: Callable[[], TaskQueue],
) -> None:
    queue, registry = make_queue(), Registry()
    inside, most = 0, 0
    gate = asyncio.Event()  # set once 5 coroutines are inside at once: proves they overlap

    @registry.task("fetch")
    async def fetch(task: Task) -> int:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        if inside == 5:
            gate.set()
        await asyncio.wait_for(gate.wait(), 10)
        inside -= 1
        return int(task.payload["i"]) + 1

    @registry.task("plain")
    def plain(task: Task) -> str:
        return "thread"

    for i in range(5):
        registry.enqueue(queue, "fetch", {"i": i})
    registry.enqueue(queue, "plain", {})
    pool = WorkerPool(queue, registry, concurrency=1, async_concurrency=5, poll=0.05).start()
    assert pool.events.wait_for_final(6, timeout=20)
    assert pool.stop(timeout=10)
    assert most == 5  # one worker thread fed five coroutines that ran at once
    assert pool.events.counts()["succeeded"] == 6
    async_rows = {e.worker for e in pool.events.events("started") if e.task_type == "fetch"}
    assert async_rows <= {f"wa{n}" for n in range(5)}


def test_async_handler_failures_are_retried_then_dead_lettered(
    make_queue: Callable[[], TaskQueue],
) -> None:
    queue, registry = make_queue(), Registry()

    @registry.task("flaky")
    async def flaky(task: Task) -> None:
        await asyncio.sleep(0)
        raise ConnectionError("provider down")

    task = registry.enqueue(queue, "flaky", {})
    pool = WorkerPool(queue, registry, concurrency=1, retry=FAST_RETRY, poll=0.05).start()
    assert pool.events.wait_for_final(1, timeout=10)
    assert pool.stop(timeout=10)
    starts = [e.attempt for e in pool.events.events("started") if e.task_id == task.id]
    assert starts == [1, 2]
    (dead,) = queue.dead_letters()
    assert dead.id == task.id and dead.error.type == "ConnectionError"


def test_stop_waits_for_coroutines_in_flight(make_queue: Callable[[], TaskQueue]) -> None:
    queue, registry = make_queue(), Registry()
    started = threading.Event()

    @registry.task("slow")
    async def slow(task: Task) -> str:
        started.set()
        await asyncio.sleep(0.2)
        return "done"

    registry.enqueue(queue, "slow", {})
    pool = WorkerPool(queue, registry, concurrency=1, poll=0.05).start()
    assert started.wait(10)
    assert pool.stop(drain=False, timeout=10)  # returns only once the coroutine ended
    assert pool.events.counts()["succeeded"] == 1 and pool.busy == 0


def test_run_one_waits_for_an_async_handler() -> None:
    queue, registry = MemoryQueue(maxsize=0), Registry()

    @registry.task("add")
    async def add(task: Task) -> int:
        return int(task.payload["a"]) + 1

    registry.enqueue(queue, "add", {"a": 1})
    pool = WorkerPool(queue, registry)
    delivery = queue.get(timeout=1)
    assert delivery is not None
    pool.run_one(delivery, "here")
    assert pool.events.counts()["succeeded"] == 1
    pool.stop(timeout=5)


# ----------------------------------------------------------------------- time limits
def test_async_handler_past_its_time_limit_is_cancelled_and_retried(
    make_queue: Callable[[], TaskQueue],
) -> None:
    queue, registry = make_queue(), Registry()
    cancelled = threading.Event()

    @registry.task("hang", timeout=0.1, retry=FAST_RETRY)
    async def hang(task: Task) -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    task = registry.enqueue(queue, "hang", {})
    pool = WorkerPool(queue, registry, concurrency=1, poll=0.05).start()
    assert pool.events.wait_for_final(1, timeout=10)
    assert pool.stop(timeout=10)
    assert cancelled.is_set()
    kinds = [e.kind for e in pool.events.events() if e.task_id == task.id]
    assert kinds == ["started", "retrying", "started", "dead"]
    (dead,) = queue.dead_letters()
    assert dead.error.type == "TimeoutError"
    assert "ran past its time limit of 0.1 s" in dead.error.message


def test_a_timeout_the_handler_raises_itself_is_reported_as_its_own() -> None:
    queue, registry = MemoryQueue(maxsize=0), Registry()

    @registry.task("own", timeout=30, retry=RetryPolicy(max_retries=0))
    async def own(task: Task) -> None:
        raise TimeoutError("the SMS provider did not answer")

    registry.enqueue(queue, "own", {})
    with WorkerPool(queue, registry, concurrency=1, poll=0.05) as pool:
        assert pool.events.wait_for_final(1, timeout=10)
    assert queue.dead_letters()[0].error.message == "the SMS provider did not answer"


def test_thread_handler_past_its_time_limit_is_failed_and_its_late_result_dropped(
    make_queue: Callable[[], TaskQueue], caplog: pytest.LogCaptureFixture
) -> None:
    queue, registry = make_queue(), Registry()
    release = threading.Event()
    runs = []

    @registry.task("hung", timeout=0.2, retry=RetryPolicy(max_retries=0))
    def hung(task: Task) -> str:
        runs.append(task.attempts)
        release.wait(10)  # a call that never answers, until the test lets it go
        return "too late"

    task = registry.enqueue(queue, "hung", {})
    pool = WorkerPool(queue, registry, concurrency=1, poll=0.05)
    with caplog.at_level(logging.WARNING, logger="taskq.worker"):
        pool.start()
        assert pool.events.wait_for_final(1, timeout=10)  # dead while the thread still hangs
        assert pool.busy == 1
        release.set()
        assert pool.stop(timeout=10)
    (dead,) = queue.dead_letters()
    assert dead.id == task.id and dead.error.type == "TimeoutError"
    assert pool.events.counts().get("succeeded", 0) == 0  # "too late" was not reported
    assert runs == [1]
    text = caplog.text
    assert "passed its time limit of 0.2 s" in text and "the thread is still busy" in text
    assert "after its time limit had failed it" in text


def test_a_hung_thread_no_longer_holds_its_redis_lease(
    make_redis_queue: Callable[..., RedisQueue],
) -> None:
    queue, registry = make_redis_queue(lease=0.3), Registry()
    release = threading.Event()

    @registry.task("hung", timeout=0.2, retry=RetryPolicy(max_retries=0))
    def hung(task: Task) -> None:
        release.wait(10)

    task = registry.enqueue(queue, "hung", {})
    pool = WorkerPool(queue, registry, concurrency=1, poll=0.05).start()
    try:
        assert pool.events.wait_for_final(1, timeout=10)
        info = queue.info(task.id)
        assert info is not None and info.state == "dead"
        assert queue.stats()["in_flight"] == 0  # the heartbeat renews nothing for it
    finally:
        release.set()
        assert pool.stop(timeout=10)


# ----------------------------------------------------------------------- rate limits
@pytest.fixture(params=["local", "redis"])
def limiter_and_clock(
    request: pytest.FixtureRequest, redis_client: redis.Redis
) -> Iterator[tuple[LocalLimiter | RedisLimiter, ManualClock]]:
    clock = ManualClock()
    if request.param == "local":
        yield LocalLimiter(clock), clock
        return
    limiter = RedisLimiter(redis_client, clock)
    keys = [limiter.key("sms"), limiter.key("email")]
    redis_client.delete(*keys)  # the limits of other tests, kept by another clock's time
    yield limiter, clock
    redis_client.delete(*keys)


def test_limiter_spreads_starts_and_keeps_a_slot_for_each_waiting_task(
    limiter_and_clock: tuple[LocalLimiter | RedisLimiter, ManualClock],
) -> None:
    limiter, clock = limiter_and_clock
    rate = RateLimit(8, 1.0)  # one start every 0.125 s, plus the 5% margin
    step = 0.125 * 1.05
    assert limiter.acquire("sms", "a", rate) == 0.0
    # Three tasks over the limit reserve the next three slots.
    waits = [limiter.acquire("sms", t, rate) for t in "bcd"]
    assert waits == pytest.approx([step, 2 * step, 3 * step], abs=0.001)
    assert limiter.acquire("email", "x", rate) == 0.0  # another type has its own limit
    clock.advance(step)
    assert limiter.acquire("sms", "c", rate) == pytest.approx(step, abs=0.001)  # not yet
    assert limiter.acquire("sms", "b", rate) == 0.0  # b's slot has come
    assert limiter.acquire("sms", "b2", rate) == pytest.approx(3 * step, abs=0.001)  # after d
    clock.advance(step)
    assert limiter.acquire("sms", "c", rate) == 0.0
    clock.advance(step / 2)
    assert limiter.acquire("sms", "d", rate) == pytest.approx(step / 2, abs=0.001)
    clock.advance(step / 2)
    assert limiter.acquire("sms", "d", rate) == 0.0


def test_a_task_over_the_limit_waits_in_the_queue_without_an_attempt_or_blocking_others(
    make_queue: Callable[[], TaskQueue],
) -> None:
    queue, registry, events = make_queue(), Registry(), EventLog()

    sms_type = f"sms-{uuid.uuid4().hex[:8]}"  # limits are per type, in Redis shared by tests
    registry.register(sms_type, lambda task: "sent", rate_limit="5/s")
    registry.register("email", lambda task: "sent")
    sms = [registry.enqueue(queue, sms_type, {"i": i}) for i in range(4)]
    emails = [registry.enqueue(queue, "email", {"i": i}) for i in range(4)]
    pool = WorkerPool(queue, registry, concurrency=2, poll=0.05, events=events).start()
    assert events.wait_for_final(8, timeout=20)
    assert pool.stop(timeout=10)
    starts = {e.task_id: e for e in events.events("started")}
    assert all(starts[t.id].attempt == 1 for t in sms)  # a postponement is not an attempt
    sms_times = sorted(starts[t.id].at for t in sms)
    gaps = [b - a for a, b in itertools.pairwise(sms_times)]
    assert min(gaps) >= 0.19  # one every 0.21 s (0.2 s and 5%), less a lag in recording
    assert len(events.events("postponed")) >= 3
    # Emails did not wait behind the limited SMS: all started before the last SMS did.
    assert max(starts[t.id].at for t in emails) < sms_times[-1]
    assert events.counts().get("retrying", 0) == 0
