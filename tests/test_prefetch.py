"""Adaptive prefetch: slow handlers get small batches, fast ones big batches, and a mix of
slow and quick tasks spreads over two consumers instead of waiting in one's buffer."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable

import pytest

from taskq_lib import EventLog, Registry, Task, WorkerPool
from taskq_lib.prefetch import MOST, AdaptivePrefetch
from taskq_lib.redis_queue import RedisQueue

MakeQueue = Callable[..., RedisQueue]


def run(sizer: AdaptivePrefetch, per_second: float, seconds: float) -> list[int]:
    """Drive ``sizer`` as a consumer finishing ``per_second`` tasks would (a fake clock):
    take a batch, finish it at that rate, take the next; return the batch sizes asked for."""
    now, sizes = 0.0, []
    while now < seconds:
        size = sizer.next_size(now)
        sizes.append(size)
        now += size / per_second
        sizer.finished(size)
    return sizes


def test_fast_handlers_get_big_batches_up_to_the_bound() -> None:
    sizes = run(AdaptivePrefetch(lease=30), per_second=20_000, seconds=2)
    assert sizes[0] == 1  # nothing known yet: one task
    assert sizes[-1] == MOST  # 20,000/s x 0.05 s = 1,000, bounded
    assert all(b <= 2 * a for a, b in itertools.pairwise(sizes))  # grows by doubling


def test_slow_handlers_get_one_task_per_take() -> None:
    # 8 threads on 1-second tasks finish 8 a second: 8 x 0.05 s < 1, so one task per take.
    assert set(run(AdaptivePrefetch(lease=30), per_second=8, seconds=20)) == {1}


def test_the_batch_shrinks_when_handlers_turn_slow() -> None:
    sizer = AdaptivePrefetch(lease=30)
    run(sizer, per_second=20_000, seconds=1)
    assert sizer.size == MOST
    now = 1.0
    for _ in range(20):  # one second of 2 tasks a second
        now += 0.5
        sizer.finished(1)
        sizer.next_size(now)
    assert sizer.size == 1


def test_the_window_stays_far_inside_the_lease() -> None:
    assert AdaptivePrefetch(lease=1).window == pytest.approx(0.01)
    with pytest.raises(ValueError, match="window"):
        AdaptivePrefetch(lease=30, window=0)


def test_a_fixed_prefetch_is_kept_and_adaptive_is_the_default(make_redis_queue: MakeQueue) -> None:
    assert make_redis_queue().prefetch is None
    fixed = make_redis_queue(prefetch=3)
    fixed.put_many(Task("t", {"i": i}) for i in range(5))
    assert fixed.get(timeout=1) is not None
    assert fixed.stats()["in_flight"] == 3


def test_a_queue_sizes_its_takes_by_its_handlers(make_redis_queue: MakeQueue) -> None:
    fast, slow = make_redis_queue(ack_batch=None), make_redis_queue(ack_batch=None)
    fast.put_many(Task("t", {"i": i}) for i in range(3000))
    while (delivery := fast.get(timeout=0.2)) is not None:
        fast.ack(delivery)
    assert fast.adaptive.size >= 8  # thousands a second: batches grew
    slow.put_many(Task("t", {"i": i}) for i in range(3))
    work = threading.Event()
    while (delivery := slow.get(timeout=0.2)) is not None:
        work.wait(0.1)  # the handler's work: a tenth of a second
        slow.ack(delivery)
        assert slow.stats()["in_flight"] == 0  # nothing held beyond the task in hand
    assert slow.adaptive.size == 1


def test_a_mix_of_slow_and_quick_tasks_spreads_over_two_consumers(
    make_redis_queue: MakeQueue,
) -> None:
    slow_ran: Counter[str] = Counter()
    lock = threading.Lock()
    work = threading.Event()

    def registry(name: str) -> Registry:
        reg = Registry()

        def nap(task: Task) -> None:
            work.wait(0.2)  # the handler's work
            with lock:
                slow_ran[name] += 1

        reg.register("nap", nap)
        reg.register("noop", lambda task: None)
        return reg

    queues = {name: make_redis_queue(ack_batch=None) for name in ("a", "b")}
    events = EventLog()  # shared: one wait sees both consumers' work
    pools = [
        WorkerPool(q, registry(name), concurrency=2, events=events, poll=0.1, name=name).start()
        for name, q in queues.items()
    ]
    # Quick tasks make both consumers' batches grow; then 8 slow ones come in a row, so
    # one big take may hold them all while the other consumer runs out of work.
    tasks = [Task("noop", {"i": i}) for i in range(600)]
    tasks[400:400] = [Task("nap", {"k": k}) for k in range(8)]
    queues["a"].put_many(tasks)
    try:
        assert events.wait_for_final(len(tasks), timeout=30)
    finally:
        for pool in pools:
            pool.stop(timeout=10)
    # Each consumer has 2 threads: an even split is 4 and 4; 2 more on a side is a race.
    assert min(slow_ran.values(), default=0) >= 3 and len(slow_ran) == 2, slow_ran
