"""ASGI middleware that checks a request body before anything parses it."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_response as _error

_JSON_TYPE = re.compile(r"application/([a-z0-9.+-]*\+)?json", re.IGNORECASE)
_DIGITS = re.compile(r"[0-9]{1,20}")


class BodyGuard:
    """ASGI middleware: check a request body before anything parses it.

    Refuses a body over ``max_bytes`` (413), checked twice: the declared Content-Length, then
    the bytes that actually arrive (a client may send chunks, or lie); a body that is not
    JSON by its Content-Type (415); and a body that is not well-formed JSON (400).
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None and not _DIGITS.fullmatch(declared.strip()):
            await _error(400, "Content-Length must be a whole number")(scope, receive, send)
            return
        too_big = _error(413, f"the request body is over the limit of {self.max_bytes} bytes")
        if declared is not None and int(declared) > self.max_bytes:
            await too_big(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away; nobody is listening for an answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await too_big(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body:
            problem = _body_problem(body, headers.get("content-type", ""))
            if problem is not None:
                await problem(scope, receive, send)
                return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as usual

        await self.app(scope, replay, send)


def _body_problem(body: bytes, content_type: str) -> JSONResponse | None:
    """The error answer for a body that is not JSON, or None if it is."""
    media = content_type.split(";")[0].strip()
    if not _JSON_TYPE.fullmatch(media):
        return _error(415, f"send the body as JSON (Content-Type: application/json), not {media!r}")
    try:
        json.loads(body, parse_constant=_no_constant)
    except RecursionError:
        return _error(400, "malformed JSON: nested more deeply than this server accepts")
    except ValueError as exc:  # JSONDecodeError, bad UTF-8, a number too long to convert
        return _error(400, f"malformed JSON: {str(exc).split(';')[0]}")
    return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (Python accepts it, JSON does not)")
