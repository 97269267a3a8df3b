"""One rule for what a payload or a result may hold, used by the library, the API and the CLI.

A value passes when every part of taskq, and every JSON peer that reads it, can encode, store,
decode and re-encode it without loss or crash:

* only JSON types: ``dict`` with ``str`` keys, ``list``/``tuple``, ``str``, ``int``, ``float``,
  ``bool``, ``None``;
* strings are valid Unicode (no lone surrogates, which UTF-8 cannot encode);
* integers within ``±(2**53 - 1)``: JavaScript and Lua (cjson) read every JSON number as a
  double, which holds integers exactly only up to there, and Python refuses to print an int of
  more than 4300 digits;
* floats are finite (JSON has no NaN or infinity);
* nesting at most `MAX_DEPTH` levels. Python's ``json`` gives up near its recursion limit
  (1000 frames, fewer inside a deep call stack), Lua's cjson at 1000 levels, and the HTTP
  API's parser earlier still; 64 levels is far inside all of them and deeper than any sane
  payload. A structure that contains itself fails this rule too, instead of looping forever;
* encoded, at most ``max_bytes`` bytes.

Every check raises `InvalidTask` (or its subclass `PayloadTooLarge`) with a message that
starts with the field's name and the path to the bad part, like ``payload['user'][2]``.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .errors import InvalidTask, PayloadTooLarge

#: Deepest nesting of objects and arrays in a payload or result (the value itself is level 1).
MAX_DEPTH = 64
#: Largest integer magnitude: every JSON peer that reads numbers as doubles holds it exactly.
MAX_INT = 2**53 - 1
#: Default limit for one encoded task, in bytes.
DEFAULT_MAX_BYTES = 1024 * 1024
#: Default limit for one encoded result, in bytes. Results are kept in Redis for the
#: retention time, so they are bounded like payloads.
DEFAULT_MAX_RESULT_BYTES = 1024 * 1024
#: Longest delay before a task runs, in seconds (30 days).
MAX_DELAY = 30 * 24 * 3600.0
#: Latest ``created_at`` accepted, in Unix seconds (the year 9999).
MAX_TIMESTAMP = 253_402_300_799.0

#: Made once: ``json.dumps`` with non-default options builds a new encoder on every call.
ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)

# A place in the value: the field's name, or (parent place, key or index). Built as tuples and
# only turned into text for an error message, so a good value costs no string formatting.
_Where = Any
#: Marks the place of a dict key (not of its value) in a `_Where`.
_KEY_OF = object()


def check_value(value: Any, field: str = "payload") -> None:
    """Raise `InvalidTask` naming the first part of ``value`` that breaks the rule.

    Checks everything but the encoded size (see `encode_value` and `check_payload`).
    """
    # An explicit stack, not recursion: a hostile, deeply nested value cannot crash the check.
    stack: list[tuple[Any, int, _Where]] = [(value, 1, field)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth, where = pop()
        if isinstance(item, str):
            _check_text(item, where)
        elif item is None or isinstance(item, bool):
            pass
        elif isinstance(item, int):
            if not -MAX_INT <= item <= MAX_INT:
                raise InvalidTask(
                    f"{_path(where)} is an integer of {item.bit_length()} bits, beyond "
                    f"±(2**53 - 1) = ±{MAX_INT}, which JSON peers (JavaScript, Lua) cannot "
                    "hold exactly; send it as a string"
                )
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InvalidTask(f"{_path(where)} is {item!r}; JSON has no NaN or infinity")
        elif isinstance(item, dict):
            _check_depth(depth, where)
            for key, sub in item.items():
                if not isinstance(key, str):
                    raise InvalidTask(
                        f"{_path(where)} has a non-string key {_short(key)}; JSON needs str keys"
                    )
                _check_text(key, (_KEY_OF, where))
                push((sub, depth + 1, (where, key)))
        elif isinstance(item, (list, tuple)):
            _check_depth(depth, where)
            for index, sub in enumerate(item):
                push((sub, depth + 1, (where, index)))
        else:
            raise InvalidTask(
                f"{_path(where)} is a {type(item).__name__}, which is not JSON-serialisable "
                "(use str, int, float, bool, None, list or dict)"
            )


def encode_value(value: Any, *, max_bytes: int = DEFAULT_MAX_BYTES, field: str = "payload") -> str:
    """Check ``value`` against the whole rule and return its JSON text."""
    check_value(value, field)
    text = ENCODER.encode(value)
    check_size(len(text.encode()), max_bytes, field)
    return text


def check_payload(
    value: Any, *, max_bytes: int = DEFAULT_MAX_BYTES, field: str = "payload"
) -> None:
    """Raise `InvalidTask` (or `PayloadTooLarge`) unless ``value`` passes the whole rule."""
    encode_value(value, max_bytes=max_bytes, field=field)


def check_size(size: int, max_bytes: int, field: str, what: str = "") -> None:
    """Raise `PayloadTooLarge` if ``size`` encoded bytes are over ``max_bytes``."""
    if size > max_bytes:
        raise PayloadTooLarge(size, max_bytes, field=field, what=what)


def check_int(value: Any, field: str, *, low: int = -MAX_INT, high: int = MAX_INT) -> int:
    """``value`` if it is an int (not a bool) in ``low..high``; else `InvalidTask`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidTask(f"{field} must be an int, not {type(value).__name__}")
    if not low <= value <= high:
        shown = value if value.bit_length() < 64 else f"an integer of {value.bit_length()} bits"
        raise InvalidTask(f"{field} must be between {low} and {high}, not {shown}")
    return value


def check_number(value: Any, field: str, *, low: float, high: float) -> float:
    """``value`` as a float if it is a finite real number in ``low..high``; else `InvalidTask`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidTask(f"{field} must be a number, not {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:  # an int too big for a float
        number = math.inf if value > 0 else -math.inf
    if not math.isfinite(number) or not low <= number <= high:
        raise InvalidTask(f"{field} must be a finite number between {low:g} and {high:g}")
    return number


def check_delay(delay: Any, field: str = "delay") -> float:
    """A delay in seconds: a finite number from 0 to `MAX_DELAY` (30 days)."""
    return check_number(delay, f"{field} (seconds)", low=0.0, high=MAX_DELAY)


def check_timestamp(value: Any, field: str = "created_at") -> float:
    """A Unix time in seconds, from 0 to the year 9999."""
    return check_number(value, f"{field} (Unix seconds)", low=0.0, high=MAX_TIMESTAMP)


def _check_depth(depth: int, where: _Where) -> None:
    if depth > MAX_DEPTH:
        raise InvalidTask(
            f"{_path(where)} is nested deeper than {MAX_DEPTH} levels "
            "(or contains itself); flatten it"
        )


def _check_text(text: str, where: _Where) -> None:
    # JSON from a client may carry lone surrogates ("\ud800"): valid in a Python str, but
    # not encodable as UTF-8, so they would fail later, far from the cause.
    if text.isascii():
        return
    try:
        text.encode()
    except UnicodeEncodeError:
        message = f"{_path(where)} is not valid Unicode (it has a lone surrogate)"
        raise InvalidTask(message) from None


def _path(where: _Where) -> str:
    """The text of a place: ``payload['user'][2]``, or ``a key of payload['user']``."""
    parts: list[str] = []
    prefix = ""
    while isinstance(where, tuple):
        parent, key = where
        if parent is _KEY_OF:
            prefix, where = "a key of ", key
        else:
            parts.append(f"[{_short(key)}]")
            where = parent
    parts.reverse()
    if len(parts) > 8:  # a path as deep as the nesting limit would be a paragraph
        parts[6:-1] = ["..."]
    return prefix + str(where) + "".join(parts)


def _short(key: Any) -> str:
    """A key as shown in a message: its repr, cut to 40 characters."""
    text = repr(key) if not isinstance(key, int) or key.bit_length() < 64 else "<big int>"
    return text if len(text) <= 40 else text[:37] + "..."
