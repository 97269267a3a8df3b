"""Unique keys: the same task asked for twice is enqueued once.

A client that retries ``POST /tasks`` after a lost answer, or a program that enqueues "refresh
user 42" whenever something changes, sends the same request again. With a *unique key* (the
API's ``Idempotency-Key`` header, `Registry.enqueue`'s ``unique_key``), the repeat creates
nothing and answers with the task that holds the key.

The rule, the same on every queue: a key is **held** while its task waits or runs, and at least
``unique_for`` seconds after it was enqueued. A repeat while it is held gets the holder back if
it is the same request (same *fingerprint*: type, payload, priority, retries, delay), and
`UniqueKeyConflict` if not. Once the key is free, the next enqueue with it makes a new task.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from .errors import InvalidTask
from .limits import MAX_DELAY, check_number
from .task import Task

#: Longest unique key, in characters.
MAX_KEY_LENGTH = 200
#: Visible ASCII only: a key travels in an HTTP header and in log lines.
KEY_PATTERN = re.compile(rf"[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}")
#: How long the API keeps an ``Idempotency-Key`` held by default: 24 hours.
IDEMPOTENCY_RETENTION = 24 * 3600.0


@dataclass(frozen=True)
class Claim:
    """A unique key a put claims: the key, the request's `fingerprint`, and ``hold``, the
    seconds the key stays held at least (it is also held while its task waits or runs)."""

    key: str
    fingerprint: str
    hold: float = 0.0


def check_key(key: object) -> str:
    """A unique key: 1 to 200 visible ASCII characters; `InvalidTask` otherwise."""
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        shown = repr(key)[:60]
        raise InvalidTask(
            f"unique key must be 1 to {MAX_KEY_LENGTH} visible ASCII characters (no spaces), "
            f"not {shown}"
        )
    return key


def check_unique_for(seconds: object) -> float:
    """How long a key stays held at least: None is 0 (only while the task waits or runs)."""
    if seconds is None:
        return 0.0
    return check_number(seconds, "unique_for (seconds)", low=0.0, high=MAX_DELAY)


def fingerprint(task: Task, delay: float) -> str:
    """What makes two requests the same: type, payload, priority, retries and delay."""
    request: dict[str, Any] = {
        "type": task.type,
        "payload": task.payload,
        "priority": task.priority,
        "max_retries": task.max_retries,
        "delay": delay,
    }
    text = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
