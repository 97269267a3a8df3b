"""Every error taskq raises on purpose. Catch `TaskqError` to catch them all."""

from __future__ import annotations


class TaskqError(Exception):
    """Base class for taskq's own errors."""


class InvalidTask(TaskqError, ValueError):
    """A task was refused at enqueue time: bad type, bad payload, or too big."""


class PayloadTooLarge(InvalidTask):
    """The encoded task is larger than the configured limit."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"task is {size} bytes encoded, over the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class UnknownTaskType(InvalidTask, LookupError):
    """No handler is registered for this task type."""

    def __init__(self, task_type: str, known: list[str]) -> None:
        names = ", ".join(repr(k) for k in known) or "none"
        super().__init__(f"no handler registered for task type {task_type!r}; known types: {names}")
        self.task_type = task_type
        self.known = known


class DecodeError(TaskqError, ValueError):
    """Bytes read from a queue are not a task this version of taskq understands."""


class QueueFull(TaskqError):
    """The queue stayed full for the whole put timeout (backpressure)."""


class QueueClosed(TaskqError):
    """The queue was closed: no more puts, and gets find nothing left."""
