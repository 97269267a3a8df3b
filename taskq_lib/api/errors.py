"""The one error shape every answer other than 2xx has, and the handlers that produce it.

A route raises `ApiError`; validation errors, HTTP errors, a failing Redis and bugs are each
turned into ``{"error": "...", ...}`` here, with the status code that says who must act.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import redis
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import DecodeError
from .allow import allowed_methods
from .models import ErrorBody

log = logging.getLogger("taskq.api")

#: What each error status means, for the OpenAPI schema.
MEANING = {
    400: "Malformed JSON, or a malformed header.",
    401: "The server has a token, and this request's bearer token is missing or wrong.",
    404: "No such task.",
    405: "This path does not take this method (``POST /queue/length``, say); Allow lists those "
    "it takes.",
    409: "Conflict: the Idempotency-Key was used for a different request, or the task runs "
    "or has finished and cannot be cancelled (its status is given).",
    413: "The body is larger than the limit.",
    415: "The body is not JSON (Content-Type must be application/json).",
    422: "A field or parameter is missing or of the wrong type, or the task type is unknown.",
    503: "The queue is full, closing, or its server is unreachable or holds data this server "
    "cannot read; see Retry-After.",
}


class ApiError(Exception):
    """An error answer: status code, message, and optional headers and extra fields."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers
        self.extra = extra


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """The JSON answer ``{"error": message, ...extra}`` (fields that are None left out)."""
    body = {"error": message, **{k: v for k, v in extra.items() if v is not None}}
    return JSONResponse(body, status_code=status, headers=headers)


def documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers a route can give."""
    return {code: {"model": ErrorBody, "description": MEANING[code]} for code in codes}


def install(app: FastAPI, retry_after: int) -> None:
    """Make ``app`` answer every error with the one error shape."""
    busy = {"Retry-After": str(retry_after)}

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> Response:
        return error_response(exc.status, exc.message, exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> Response:
        # Malformed JSON never gets here: BodyGuard answered it with 400 already.
        details = [
            {
                "loc": [p if isinstance(p, int) else str(p) for p in problem.get("loc", ())],
                "msg": str(problem.get("msg", "")),
                "type": str(problem.get("type", "")),
            }
            for problem in exc.errors()
        ]
        summary = "; ".join(f"{_where(d['loc'])}: {d['msg']}" for d in details[:5])
        return error_response(422, f"invalid request: {summary}", details=details)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:  # name every method of the path, not one route's
            allowed = ", ".join(allowed_methods(request.app.routes, request.url.path))
            headers = {**(headers or {}), "Allow": allowed}
        return error_response(exc.status_code, str(exc.detail), headers)

    @app.exception_handler(redis.RedisError)
    async def on_redis_error(request: Request, exc: redis.RedisError) -> Response:
        log.warning("%s %s: Redis failed: %s", request.method, request.url.path, exc)
        message = "the queue's Redis server is unreachable or failing; try again later"
        return error_response(503, message, busy)

    @app.exception_handler(DecodeError)
    async def on_unreadable(request: Request, exc: DecodeError) -> Response:
        # Data another client (or another version) wrote: the server is fine, the data not.
        log.warning("%s %s: stored data cannot be read: %s", request.method, request.url.path, exc)
        return error_response(503, f"the queue holds data this server cannot read: {exc}", busy)

    @app.exception_handler(Exception)
    async def on_bug(request: Request, exc: Exception) -> Response:
        log.exception("%s %s failed", request.method, request.url.path)
        return error_response(500, "internal error; the server log has the details")


def _where(loc: Sequence[str | int]) -> str:
    """``["body", "payload", "to"]`` -> ``payload.to``: the field, without where it was sent."""
    return ".".join(str(p) for p in loc[1:]) or (str(loc[0]) if loc else "request")
