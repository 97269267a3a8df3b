"""Handlers for the chaos run. Each success is counted in Redis, so the run can tell a task
that never ran (lost) from one that ran twice (a duplicate)."""

from __future__ import annotations

import asyncio
import time

from taskq_lib import Registry, RetryPolicy, Task
from taskq_lib.connection import get_redis

#: Hash: task id -> how many times its handler ran to completion.
COMPLETIONS = "chaos:completions"
#: Hash: periodic task id -> how many times it ran to completion.
BEATS = "chaos:beats"

registry = Registry()
_redis = get_redis()
# Generous: a Redis restart mid-run fails a few runs that are not the handler's fault.
_fast = RetryPolicy(max_retries=20, base=0.02, cap=0.5, jitter=0.5)


@registry.task("ok", retry=_fast)
def ok(task: Task) -> None:
    time.sleep(task.payload.get("ms", 0) / 1000)  # stands for the I/O a real handler waits on
    _redis.hincrby(COMPLETIONS, task.id, 1)


@registry.task("flaky", retry=_fast)
def flaky(task: Task) -> None:
    """Fails on its first ``fail_times`` runs, then succeeds."""
    if task.attempts <= int(task.payload["fail_times"]):
        raise RuntimeError(f"planned failure {task.attempts}")
    _redis.hincrby(COMPLETIONS, task.id, 1)


@registry.task("ok_async", retry=_fast)
async def ok_async(task: Task) -> None:
    """`ok` as an ``async def``: run on the worker's event loop, many at once."""
    await asyncio.sleep(task.payload.get("ms", 0) / 1000)
    _redis.hincrby(COMPLETIONS, task.id, 1)  # one quick local call: no need to leave the loop


@registry.task("flaky_async", retry=_fast)
async def flaky_async(task: Task) -> None:
    """`flaky` as an ``async def``."""
    await asyncio.sleep(0)
    if task.attempts <= int(task.payload["fail_times"]):
        raise RuntimeError(f"planned failure {task.attempts}")
    _redis.hincrby(COMPLETIONS, task.id, 1)


@registry.task("doomed", retry=RetryPolicy(max_retries=1, base=0.02, cap=0.05))
def doomed(task: Task) -> None:
    """Always fails: designed to end in the dead-letter queue."""
    raise RuntimeError("designed to die")


@registry.task("beat")
def beat(task: Task) -> None:
    """A periodic task, enqueued once a second by whichever worker claims the tick."""
    _redis.hincrby(BEATS, task.id, 1)


registry.periodic("beat", every=1)
