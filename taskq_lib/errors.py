"""Every error taskq raises on purpose. Catch `TaskqError` to catch them all."""

from __future__ import annotations


class TaskqError(Exception):
    """Base class for taskq's own errors."""


class InvalidTask(TaskqError, ValueError):
    """Bad input refused by the library: a task at enqueue time (bad type, id, payload,
    number, delay, or too big), or a handler's result. The message names the field."""


class PayloadTooLarge(InvalidTask):
    """An encoded task (or result) is larger than the configured limit.

    ``field`` names what is too large (``payload``, ``result``); ``what`` says what was
    measured, when that is more than the field (the whole task).
    """

    def __init__(self, size: int, limit: int, *, field: str = "payload", what: str = "") -> None:
        measured = f"{what} is " if what else "it is "
        super().__init__(
            f"{field} too large: {measured}{size} bytes encoded, over the limit of {limit} bytes"
        )
        self.size = size
        self.limit = limit
        self.field = field


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


class UniqueKeyConflict(TaskqError):
    """A unique key (an ``Idempotency-Key``) is held by a task made from a different request.

    ``task_id`` is the task that holds the key. The same key with the same request is not an
    error: it answers with that task.
    """

    def __init__(self, key: str, task_id: str) -> None:
        super().__init__(
            f"unique key {key[:200]!r} is held by task {task_id!r}, which was enqueued with a "
            "different type, payload or options; use a new key for a new task"
        )
        self.key = key
        self.task_id = task_id


class CancelRefused(TaskqError):
    """The task is running or has finished: too late to take it back. ``state`` says which."""

    def __init__(self, task_id: str, state: str) -> None:
        super().__init__(
            f"task {task_id[:200]!r} has status {state!r}: only a waiting task can be cancelled"
        )
        self.task_id = task_id
        self.state = state
