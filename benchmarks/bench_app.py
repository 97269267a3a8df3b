"""Task handlers for the benchmarks that run real ``taskq worker`` processes."""

from __future__ import annotations

import os
import threading

from taskq_lib import Registry, Task

registry = Registry()
_never = threading.Event()


@registry.task("noop")
def noop(task: Task) -> None:
    """Nothing."""


@registry.task("hang_first")
def hang_first(task: Task) -> None:
    """The first delivery hangs (its worker gets killed meanwhile); the next ones return."""
    if task.attempts == 1:
        _never.wait(float(task.payload.get("hang_s", 60)))


@registry.task("nap")
def nap(task: Task) -> int:
    """A slow task: ``seconds`` of waiting (1 s unless said). Returns the worker's process id,
    so that a benchmark can tell which worker ran it."""
    _never.wait(float(task.payload.get("seconds", 1.0)))
    return os.getpid()


@registry.task("noop_pid")
def noop_pid(task: Task) -> int:
    """Nothing, and the worker's process id."""
    return os.getpid()
