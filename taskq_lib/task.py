"""The task, and the one JSON codec the whole library uses (no pickle anywhere).

A task on the wire is a JSON object with a version field ``v``. Reading a body written by
someone else (garbage, a wrong shape, a future version) raises `DecodeError`; nothing read
from a queue is ever evaluated or unpickled.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .errors import DecodeError, InvalidTask
from .limits import (
    DEFAULT_MAX_BYTES,
    ENCODER,
    MAX_INT,
    MAX_TIMESTAMP,
    check_int,
    check_size,
    check_timestamp,
    check_value,
)

__all__ = ["DEFAULT_MAX_BYTES", "WIRE_VERSION", "Task", "check_json", "decode", "encode"]

#: The wire format version this code writes and reads.
WIRE_VERSION = 1
#: Task types are short names: a letter or underscore, then letters, digits, ``_ . : -``.
TYPE_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_.:\-]{0,127}")
#: Task ids: 1 to 128 characters, none of them a control character or a line break, so an id
#: can be shown in a log line or a terminal as it is.
ID_PATTERN = re.compile(r"[^\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]{1,128}")


@dataclass(frozen=True)
class Task:
    """One unit of work: run the handler registered for ``type`` with ``payload``.

    ``attempts`` counts deliveries so far. It is metadata kept by the queue, never written
    into the user's payload (the original stored ``_retry_count`` inside it).
    """

    type: str
    payload: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    priority: int = 0
    max_retries: int | None = None
    created_at: float = field(default_factory=time.time)
    attempts: int = 0

    def __post_init__(self) -> None:
        validate_type(self.type)
        if not isinstance(self.payload, dict):
            kind = type(self.payload).__name__
            raise InvalidTask(f"payload must be a JSON object (dict), not {kind}")
        check_value(self.payload, "payload")
        if not isinstance(self.id, str) or not ID_PATTERN.fullmatch(self.id):
            raise InvalidTask(
                "id must be a string of 1 to 128 characters without control characters or "
                f"line breaks, not {_shown(self.id)}"
            )
        # The checks below have a fast path for the common case and name the field otherwise.
        if type(self.priority) is not int or not -MAX_INT <= self.priority <= MAX_INT:
            check_int(self.priority, "priority")
        if self.max_retries is not None and (
            type(self.max_retries) is not int or not 0 <= self.max_retries <= MAX_INT
        ):
            check_int(self.max_retries, "max_retries", low=0)
        if type(self.created_at) is not float or not 0 <= self.created_at <= MAX_TIMESTAMP:
            check_timestamp(self.created_at)

    def with_attempts(self, attempts: int) -> Task:
        """A copy of this task with the delivery count set (the payload is shared, not copied)."""
        # No second validation: this task was checked when it was made. Copying the instance
        # dict directly costs a tenth of copy.copy, and a worker does it once per delivery.
        twin = object.__new__(type(self))
        fields = twin.__dict__
        fields.update(self.__dict__)
        fields["attempts"] = attempts
        return twin


def validate_type(task_type: object) -> str:
    """Check a task type name; return it or raise `InvalidTask` saying what is wrong."""
    if not isinstance(task_type, str):
        raise InvalidTask(f"task type must be a string, not {type(task_type).__name__}")
    if not task_type:
        raise InvalidTask("task type must not be empty")
    if not TYPE_PATTERN.fullmatch(task_type):
        raise InvalidTask(
            f"task type {task_type[:80]!r} is malformed: use a letter or '_' first, then letters, "
            "digits or '_.:-', at most 128 characters"
        )
    return task_type


def check_json(value: Any, path: str = "payload") -> None:
    """Raise `InvalidTask` naming the first part of ``value`` that breaks the rule of
    `taskq_lib.limits` (all of it but the size)."""
    check_value(value, path)


def _shown(value: object) -> str:
    """A bad value, shortened, for an error message."""
    text = repr(value) if isinstance(value, str) else type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def encode(task: Task, max_bytes: int = DEFAULT_MAX_BYTES, *, compact: bool = False) -> bytes:
    """Task -> JSON bytes. Raises `PayloadTooLarge` over ``max_bytes``.

    ``compact`` leaves out the fields at their default (``decode`` fills them in): the
    Redis queue keeps every waiting task's body, where 31 bytes a task add up.
    """
    body: dict[str, Any] = {
        "v": WIRE_VERSION,
        "id": task.id,
        "type": task.type,
        "payload": task.payload,
    }
    if task.priority or not compact:
        body["priority"] = task.priority
    if task.max_retries is not None or not compact:
        body["max_retries"] = task.max_retries
    body["created_at"] = task.created_at
    data = ENCODER.encode(body).encode()
    check_size(len(data), max_bytes, "payload", what="the task")
    return data


def decode(data: bytes | str, attempts: int = 0) -> Task:
    """JSON bytes -> Task. Raises `DecodeError` with the reason for anything else."""
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(f"not JSON: {exc}") from None
    except RecursionError:
        raise DecodeError("not JSON: nested too deeply") from None
    if not isinstance(body, dict):
        raise DecodeError(f"expected a JSON object, got {type(body).__name__}")
    version = body.get("v")
    if version != WIRE_VERSION:
        raise DecodeError(f"unsupported wire version {version!r} (this code reads {WIRE_VERSION})")
    missing = [name for name in ("id", "type", "payload") if name not in body]
    if missing:
        raise DecodeError(f"missing field(s): {', '.join(missing)}")
    try:
        return Task(
            id=body["id"],
            type=body["type"],
            payload=body["payload"],
            priority=body.get("priority", 0),
            max_retries=body.get("max_retries"),
            created_at=float(body.get("created_at", 0.0)),
            attempts=attempts,
        )
    except (InvalidTask, TypeError, ValueError) as exc:
        raise DecodeError(f"invalid task: {exc}") from None


def dumps(value: Any) -> str:
    """The library's JSON for everything that is not a task body (results, errors)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
