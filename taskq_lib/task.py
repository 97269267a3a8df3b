"""The task, and the one JSON codec the whole library uses (no pickle anywhere).

A task on the wire is a JSON object with a version field ``v``. Reading a body written by
someone else (garbage, a wrong shape, a future version) raises `DecodeError`; nothing read
from a queue is ever evaluated or unpickled.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .errors import DecodeError, InvalidTask, PayloadTooLarge

#: The wire format version this code writes and reads.
WIRE_VERSION = 1
#: Default limit for one encoded task, in bytes.
DEFAULT_MAX_BYTES = 1024 * 1024
#: Task types are short names: a letter or underscore, then letters, digits, ``_ . : -``.
TYPE_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_.:\-]{0,127}")

#: Made once: ``json.dumps`` with non-default options builds a new encoder on every call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


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
        check_json(self.payload)
        if not isinstance(self.id, str) or not self.id or len(self.id) > 128:
            raise InvalidTask("task id must be a non-empty string of at most 128 characters")
        if isinstance(self.priority, bool) or not isinstance(self.priority, int):
            raise InvalidTask(f"priority must be an int, not {type(self.priority).__name__}")
        if self.max_retries is not None and (
            isinstance(self.max_retries, bool)
            or not isinstance(self.max_retries, int)
            or self.max_retries < 0
        ):
            raise InvalidTask("max_retries must be None or an int >= 0")

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
    """Raise `InvalidTask` naming the first key whose value JSON cannot hold exactly."""
    # An explicit stack (not recursion) so a hostile, deeply nested payload cannot crash us.
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            _check_text(item, where)
            continue
        if item is None or isinstance(item, (bool, int)):
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                raise InvalidTask(f"{where} is {item!r}; JSON has no NaN or infinity")
            continue
        if isinstance(item, dict):
            for key, sub in item.items():
                if isinstance(key, str):
                    _check_text(key, f"a key of {where}")
                if not isinstance(key, str):
                    raise InvalidTask(f"{where} has a non-string key {key!r}; JSON needs str keys")
                stack.append((sub, f"{where}[{key!r}]"))
            continue
        if isinstance(item, (list, tuple)):
            stack.extend((sub, f"{where}[{i}]") for i, sub in enumerate(item))
            continue
        raise InvalidTask(
            f"{where} is a {type(item).__name__}, which is not JSON-serialisable "
            "(use str, int, float, bool, None, list or dict)"
        )


def _check_text(text: str, where: str) -> None:
    # JSON from a client may carry lone surrogates ("\ud800"): valid in a Python str, but
    # not encodable as UTF-8, so they would fail later, far from the cause.
    try:
        text.encode()
    except UnicodeEncodeError:
        raise InvalidTask(f"{where} is not valid Unicode (it has a lone surrogate)") from None


def encode(task: Task, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Task -> JSON bytes. Raises `PayloadTooLarge` over ``max_bytes``."""
    body = {
        "v": WIRE_VERSION,
        "id": task.id,
        "type": task.type,
        "payload": task.payload,
        "priority": task.priority,
        "max_retries": task.max_retries,
        "created_at": task.created_at,
    }
    data = _ENCODER.encode(body).encode()
    if len(data) > max_bytes:
        raise PayloadTooLarge(len(data), max_bytes)
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
