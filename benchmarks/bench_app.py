"""Task handlers for the benchmarks that run real ``taskq worker`` processes."""

from __future__ import annotations

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
