"""One rule for what a payload or a result may hold: JSON types, nesting depth, number size and
encoded size, checked the same way at every edge (the API, the command line, the library, and
values read back from Redis).

A value that breaks it is refused where it comes in, so nothing stored can later fail to be
read back, shown by the API or listed by the command line.
"""

from __future__ import annotations

from typing import Any

from .errors import InvalidTask
from .task import DEFAULT_MAX_BYTES, check_json, dumps

#: Deepest nesting of objects and arrays (the value itself is level 1). Far inside what
#: Python's json, Lua's cjson and the API's response encoder can handle.
MAX_DEPTH = 64
#: Largest integer magnitude: what every JSON peer that reads numbers as doubles holds exactly.
MAX_INT = 2**53 - 1


def check_payload(
    value: Any, *, max_bytes: int = DEFAULT_MAX_BYTES, field: str = "payload"
) -> None:
    """Raise `InvalidTask` (or `PayloadTooLarge`) unless ``value`` passes the whole rule."""
    check_json(value, field)
    stack: list[tuple[Any, int]] = [(value, 1)]  # a stack, not recursion: depth is hostile
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list, tuple)):
            if depth > MAX_DEPTH:
                raise InvalidTask(f"{field} is nested more than {MAX_DEPTH} levels deep")
            items = item.values() if isinstance(item, dict) else item
            stack.extend((sub, depth + 1) for sub in items)
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_INT:
            raise InvalidTask(
                f"{field} holds an integer beyond ±(2**53 - 1), which JSON peers (JavaScript, "
                "Lua) cannot hold exactly; send it as a string"
            )
    size = len(dumps(value).encode())
    if size > max_bytes:
        raise InvalidTask(f"{field} is {size} bytes encoded, over the limit of {max_bytes} bytes")
