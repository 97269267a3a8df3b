"""Text from outside (task ids, error messages) made safe to put in one log line.

A log line is trusted by whoever reads it. An error message or task id is not: one holding a
newline could add a line that looks like it came from taskq (``...\\nERROR taskq.worker: ...``),
and terminal escape codes or Unicode direction marks could hide or reorder what is shown.
`oneline` escapes all of those, so one log call stays one honest line.
"""

from __future__ import annotations

import re

#: Control characters (C0, DEL, C1), line and paragraph separators, and the Unicode marks that
#: change text direction.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: Longest text `oneline` returns before cutting.
LIMIT = 2000


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char)
    if named:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def oneline(value: object, limit: int = LIMIT) -> str:
    """``str(value)`` with control characters and line breaks escaped, cut to ``limit``.

    Never raises: an object whose ``str()`` fails is described by its type instead.
    """
    try:
        text = value if isinstance(value, str) else str(value)
    except BaseException as exc:  # a hostile __str__ may raise anything
        text = f"<{type(value).__name__} whose str() raised {type(exc).__name__}>"
    if len(text) > limit:
        text = text[:limit] + f"... ({len(text) - limit} more characters)"
    return _UNSAFE.sub(_escape, text)
