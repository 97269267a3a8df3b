"""Periodic tasks: schedules are checked when declared; the queue lets exactly one task through
per tick however many schedulers run; missed ticks run once; and three real ``taskq worker``
processes, one of them SIGKILLed, enqueue one task per second."""

from __future__ import annotations

import logging
import random
import signal
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from support import free_port

from taskq_lib import InvalidTask, ManualClock, Registry, Task, UnknownTaskType
from taskq_lib.periodic import Schedule, Scheduler
from taskq_lib.redis_queue import RedisQueue

Run = Callable[..., tuple[int, str, str]]


def registry() -> Registry:
    made = Registry()
    made.register("report", lambda task: {"kind": task.payload.get("kind")})
    return made


# --------------------------------------------------------------------- declaring schedules
def test_ticks_of_every_and_cron_are_absolute_times() -> None:
    every = Schedule("s", "report", every=60)
    assert every.latest(1_000_059.9) == 1_000_020 and every.next(1_000_059.9) == 1_000_080
    assert every.latest(1_000_080.0) == 1_000_080  # a tick is at or before now
    cron = Schedule("c", "report", cron="*/5 * * * *")
    noon = datetime(2026, 1, 1, 12, 7, 30, tzinfo=timezone.utc).timestamp()
    assert cron.latest(noon) == datetime(2026, 1, 1, 12, 5, tzinfo=timezone.utc).timestamp()
    assert cron.next(noon) == datetime(2026, 1, 1, 12, 10, tzinfo=timezone.utc).timestamp()
    on_tick = datetime(2026, 1, 1, 12, 10, tzinfo=timezone.utc).timestamp()
    assert cron.latest(on_tick) == on_tick and cron.next(on_tick) == on_tick + 300


@pytest.mark.parametrize(
    ("options", "error", "says"),
    [
        ({"cron": "61 * * * *"}, ValueError, "bad cron expression"),
        ({"cron": "* * *"}, ValueError, "bad cron expression"),
        ({"cron": 5}, ValueError, "cron must be a string"),
        ({"every": 0.5}, InvalidTask, "every"),
        ({"every": -1}, InvalidTask, "every"),
        ({"every": float("nan")}, InvalidTask, "every"),
        ({"every": 1, "cron": "* * * * *"}, ValueError, "either"),
        ({}, ValueError, "either"),
        ({"every": 1, "payload": {"n": 2**60}}, InvalidTask, "payload"),
        ({"every": 1, "name": ""}, ValueError, "name"),
    ],
)
def test_a_bad_schedule_is_refused_when_declared(
    options: dict[str, Any], error: type[Exception], says: str
) -> None:
    reg = registry()
    with pytest.raises(error, match=says):
        reg.periodic("report", **options)
    assert reg.schedules() == []


def test_a_schedule_needs_a_registered_type_and_a_name_of_its_own() -> None:
    reg = registry()
    with pytest.raises(UnknownTaskType):
        reg.periodic("nope", every=60)
    first = reg.periodic("report", every=60, payload={"kind": "minutely"})
    assert first.name == "report every 60s"
    with pytest.raises(ValueError, match="exists already"):
        reg.periodic("report", every=60)
    reg.periodic("report", every=60, name="another")
    assert [s.name for s in reg.schedules()] == ["report every 60s", "another"]


# --------------------------------------------------------------------- one task per tick
def periodic_ids(queue: RedisQueue) -> list[str]:
    ids = [i.decode() for i in queue.client.hkeys(queue.keys.bodies)]
    return sorted(i for i in ids if i.startswith("periodic:"))


def test_a_tick_is_claimed_once_first_sight_waits_and_missed_ticks_run_once(
    make_redis_queue: Callable[..., RedisQueue],
) -> None:
    queue = make_redis_queue()
    schedule = Schedule("s", "report", every=1)
    assert queue.put_tick("s", 100.0, schedule.task(100.0)) == -1  # first sight: recorded only
    assert len(queue) == 0
    assert queue.put_tick("s", 101.0, schedule.task(101.0)) == 1
    assert queue.put_tick("s", 101.0, schedule.task(101.0)) == 0  # the same tick again
    assert queue.put_tick("s", 100.0, schedule.task(100.0)) == 0  # an older one (a slow clock)
    assert queue.put_tick("s", 110.0, schedule.task(110.0)) == 1  # 102..109 missed: one run
    assert periodic_ids(queue) == ["periodic:s:101000", "periodic:s:110000"]
    assert queue.last_ticks() == {"s": 110.0}
    assert queue.stats()["total_enqueued"] == 2


def test_three_schedulers_enqueue_one_task_per_tick(
    make_redis_queue: Callable[..., RedisQueue],
) -> None:
    queue = make_redis_queue()
    reg = registry()
    reg.periodic("report", every=1, payload={"kind": "each second"})
    clock = ManualClock(1_800_000_000.5)
    schedulers = [Scheduler(queue, reg.schedules(), clock=clock) for _ in range(3)]
    rng = random.Random(7)
    for _ in range(6):  # the first tick is the schedule's first sight; five ticks follow
        for scheduler in rng.sample(schedulers, 3):
            scheduler.run_due()
        clock.advance(1.0)
    enqueued = [i for s in schedulers for i in s.enqueued]
    assert len(enqueued) == 5 and len(set(enqueued)) == 5
    assert periodic_ids(queue) == sorted(enqueued)
    assert len(queue) == 5 and queue.stats()["total_enqueued"] == 5
    delivery = queue.get(timeout=2)
    assert delivery is not None and delivery.task.payload == {"kind": "each second"}
    # An outage of a minute, then one scheduler back: one more task, not sixty.
    clock.advance(60)
    assert len(schedulers[2].run_due()) == 1 and schedulers[0].run_due() == []


def test_a_scheduler_keeps_going_while_redis_is_away(caplog: pytest.LogCaptureFixture) -> None:
    no_retry = Retry(NoBackoff(), 0)
    away = redis.Redis(port=free_port(), socket_connect_timeout=0.2, retry=no_retry)
    scheduler = Scheduler(RedisQueue("away", away), [Schedule("s", "report", every=1)])
    with caplog.at_level(logging.WARNING, logger="taskq.periodic"):
        scheduler.start()
        assert scheduler._thread is not None
        scheduler._thread.join(timeout=2.5)  # it retries about once a second meanwhile
        assert scheduler._thread.is_alive()  # an outage does not end it
        scheduler.stop(timeout=5)
    assert not scheduler._thread.is_alive()
    assert [r.getMessage()[:30] for r in caplog.records] == ["scheduler cannot reach Redis ("]


def test_taskq_periodic_lists_the_schedules(
    run: Run, cli_queue: RedisQueue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sched_app.py").write_text(APP_SOURCE.format(every=3600))
    monkeypatch.chdir(tmp_path)
    cli_queue.put_tick("tick every 3600s", 7200.0, Task("tick", {}))
    code, out, err = run("periodic", "--app", "sched_app:registry")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert "2 periodic schedule(s)" in lines[0]
    assert "tick every 3600s  tick  every 3600s  last 1970-01-01 02:00:00Z  next " in lines[1]
    assert "nightly  tick  cron 0 3 * * *  last never  next " in lines[2]
    assert lines[2].endswith("03:00:00Z")
    sys.modules.pop("sched_app", None)


# --------------------------------------------------------------------- real workers
APP_SOURCE = """
import os
import time

import redis

from taskq_lib import Registry

registry = Registry()
RAN = os.environ.get("TICK_RAN")  # a list the test waits on (BLPOP), if set


@registry.task("tick")
def tick(task):
    time.sleep(0.3)  # long enough that a SIGKILL may land in the middle of a run
    if RAN:
        redis.Redis.from_url(os.environ["TASKQ_REDIS_URL"]).rpush(RAN, task.id)
    return {{"ran": task.id}}


registry.periodic("tick", every={every})
registry.periodic("tick", cron="0 3 * * *", name="nightly")
"""


@pytest.mark.real_redis
@pytest.mark.slow
def test_three_workers_one_task_per_second_and_a_sigkill_changes_nothing(
    real_redis_url: str, tmp_path: Path
) -> None:
    from test_e2e import Child, environment

    (tmp_path / "tick_app.py").write_text(APP_SOURCE.format(every=1))
    name = f"periodic-{time.time_ns()}"
    ran = f"{name}-ran"
    env = environment(TASKQ_REDIS_URL=real_redis_url, PYTHONPATH=str(tmp_path), TICK_RAN=ran)
    client = redis.Redis.from_url(real_redis_url)
    queue = RedisQueue(name, client)
    seen: list[str] = []

    def wait_for_run(task_id: str) -> None:
        """Block (BLPOP, bounded) until the handler reports a run of ``task_id``."""
        deadline = time.monotonic() + 30
        while task_id not in seen:
            left = deadline - time.monotonic()
            assert left > 0, f"no run of {task_id} in 30 s; runs: {seen}"
            popped: Any = client.blpop([ran], timeout=max(1, round(left)))
            if popped is not None:
                seen.append(popped[1].decode())

    args = [
        "worker",
        "--app",
        "tick_app",
        "--queue",
        name,
        "--lease",
        "1",
        "--reaper-period",
        "0.2",
    ]
    workers = [Child(args, env) for _ in range(3)]
    try:
        for worker in workers:
            assert worker.wait_for("worker started"), worker.log
        first = float(int(time.time()) + 2)  # after every worker's first sight of the schedule
        ticks = [first + n for n in range(5)]
        ids = [f"periodic:tick every 1s:{round(t * 1000)}" for t in ticks]
        wait_for_run(ids[1])
        workers[0].proc.send_signal(signal.SIGKILL)  # mid-run, maybe holding a task
        workers[0].proc.wait(timeout=30)
        for task_id in ids:
            wait_for_run(task_id)
        finals = [queue.wait(i, timeout=30) for i in ids]
        assert [f.state if f else None for f in finals] == ["succeeded"] * 5
        window = [i for i in periodic_ids(queue) if ids[0] <= i <= ids[-1]]
        assert window == sorted(ids)  # one task for each of the five ticks, no other
        assert queue.stats()["total_enqueued"] == len(periodic_ids(queue))
    finally:
        for worker in workers:
            if worker.proc.poll() is None:
                worker.stop(signal.SIGTERM)
        queue.delete()
        client.delete(ran)
        client.close()
