"""Priority on the Redis queue, beyond the contract suite: delayed tasks, expired leases and
released prefetch keep their priority; aging lets a low priority through; a dead task
requeued goes to the back of its priority's line; the helper that removes a waiting task."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files

from taskq_lib import ErrorInfo, ManualClock, Task
from taskq_lib.redis_queue import RedisQueue
from taskq_lib.scripts import assemble

MakeQueue = Callable[..., RedisQueue]


def names(queue: RedisQueue, count: int) -> list[str]:
    out = []
    for _ in range(count):
        delivery = queue.get(timeout=1)
        assert delivery is not None
        out.append(delivery.task.payload["name"])
    return out


def test_a_delayed_task_runs_by_its_priority_once_due(
    make_redis_queue: MakeQueue, clock: ManualClock
) -> None:
    queue = make_redis_queue(clock=clock)
    queue.put(Task("t", {"name": "high"}, priority=5), delay=10)
    queue.put_many([Task("t", {"name": "plain"}) for _ in range(2)])
    queue.put_many([Task("t", {"name": "batch-high"}, priority=5)], delay=10.5)
    clock.advance(11)
    assert names(queue, 4) == ["high", "batch-high", "plain", "plain"]


def test_an_expired_lease_goes_back_to_its_place(
    make_redis_queue: MakeQueue, clock: ManualClock
) -> None:
    queue = make_redis_queue(clock=clock, lease=5)
    queue.put_many([Task("t", {"name": n}, priority=1) for n in ("first", "second")])
    queue.put(Task("t", {"name": "low"}))
    lost = queue.get(timeout=1)
    assert lost is not None and lost.task.payload["name"] == "first"
    queue.put(Task("t", {"name": "third"}, priority=1))
    clock.advance(6)  # the worker holding "first" is gone
    assert names(queue, 4) == ["first", "second", "third", "low"]


def test_released_prefetch_keeps_priority_order(
    make_redis_queue: MakeQueue,
) -> None:
    queue = make_redis_queue(prefetch=3)
    queue.put_many([Task("t", {"name": f"p{p}"}, priority=p) for p in (1, 3, 2)])
    queue.put(Task("t", {"name": "p0"}))
    assert names(queue, 1) == ["p3"]  # p2 and p1 wait in this consumer's buffer
    queue.close()
    other = make_redis_queue()
    assert names(other, 3) == ["p2", "p1", "p0"]


def test_a_requeued_dead_task_goes_to_the_back_of_its_priority(
    make_redis_queue: MakeQueue,
) -> None:
    queue = make_redis_queue()
    queue.put(Task("t", {"name": "dead"}, priority=2))
    delivery = queue.get(timeout=1)
    assert delivery is not None
    queue.fail(delivery, ErrorInfo("E", "x"), retry_in=None)
    queue.put_many([Task("t", {"name": n}, priority=p) for n, p in (("two", 2), ("nine", 9))])
    queue.requeue_dead()
    assert names(queue, 3) == ["nine", "two", "dead"]


def test_aging_lets_a_waiting_low_priority_task_through(
    make_redis_queue: MakeQueue, clock: ManualClock
) -> None:
    queue = make_redis_queue(clock=clock, aging=1.0)  # one point per second waited
    queue.put(Task("t", {"name": "old-low"}, priority=0))
    clock.advance(10)
    queue.put(Task("t", {"name": "new-9"}, priority=9))  # 10 s younger: worth 9 - 10 < 0
    queue.put(Task("t", {"name": "new-11"}, priority=11))  # worth 11 - 10 > 0
    assert names(queue, 3) == ["new-11", "old-low", "new-9"]


def test_without_aging_a_stream_of_high_priorities_goes_first(
    make_redis_queue: MakeQueue, clock: ManualClock
) -> None:
    queue = make_redis_queue(clock=clock)
    queue.put(Task("t", {"name": "old-low"}, priority=0))
    clock.advance(3600)
    queue.put(Task("t", {"name": "new-1"}, priority=1))
    assert names(queue, 2) == ["new-1", "old-low"]


def test_the_remove_pending_helper_takes_a_waiting_task_off_by_id(
    make_redis_queue: MakeQueue,
) -> None:
    """``remove_pending`` (lua/includes/pending.lua), for scripts that cancel a waiting task."""
    queue = make_redis_queue()
    lua = assemble("take")  # a script that includes the pending helpers, with its header
    body = (files("taskq_lib") / "lua" / "take.lua").read_text()
    assert lua.source.endswith(body)
    remove = queue.client.register_script(
        lua.source[: -len(body)] + "\nreturn remove_pending(ARGV[1])"
    )
    keys = queue.keys.of(lua.keys)
    urgent, plain, other = Task("t", priority=4), Task("t"), Task("t")
    queue.put_many([urgent, plain, other])
    assert remove(keys, [plain.id]) == 1
    assert remove(keys, [plain.id]) == 0  # gone already
    assert remove(keys, [urgent.id]) == 1  # found under its own score
    delivery = queue.get(timeout=1)
    assert delivery is not None and delivery.task.id == other.id
    assert queue.get(timeout=0.05) is None
