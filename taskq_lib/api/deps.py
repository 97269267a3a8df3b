"""What routes need, as FastAPI dependencies: the app's settings and the bearer-token check.

`create_app` stores one `Settings` on ``app.state``; a route asks for it with a ``Taskq``
parameter, so routers are plain module-level objects that any app can include.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..events import EventLog
from ..registry import Registry
from ..status import InspectableQueue
from ..unique import IDEMPOTENCY_RETENTION
from .errors import ApiError, documented

log = logging.getLogger("taskq.api")


@dataclass(frozen=True)
class Settings:
    """Everything a route may need, fixed when the app is built."""

    queue: InspectableQueue
    registry: Registry
    token: str | None
    max_task_bytes: int
    put_timeout: float
    retry_after: int
    events: EventLog | None
    #: Seconds an ``Idempotency-Key`` stays held (see `taskq_lib.unique`).
    idempotency_for: float = IDEMPOTENCY_RETENTION

    @property
    def busy(self) -> dict[str, str]:
        """The headers of a 503: when to try again."""
        return {"Retry-After": str(self.retry_after)}


def settings(request: Request) -> Settings:
    """The settings of the app serving ``request``."""
    found: Settings = request.app.state.taskq
    return found


Taskq = Annotated[Settings, Depends(settings)]

#: The bearer-token scheme; module-level, so FastAPI can resolve it from annotations.
BEARER = HTTPBearer(
    auto_error=False,
    description="If the server has a token: needed to change the queue or read tasks.",
)


def require_token(
    taskq: Taskq,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> None:
    """Refuse with 401 unless the request carries the app's token (if it has one)."""
    if taskq.token is None:
        return
    given = b"" if credentials is None else credentials.credentials.encode()
    if not hmac.compare_digest(given, taskq.token.encode()):
        log.warning("refused a request: missing or wrong bearer token")
        raise ApiError(
            401,
            "this route needs the header Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )


def guard(token: str | None) -> dict[str, Any]:
    """``include_router`` arguments that make a router's routes need the token, if one is set.

    Without a token they add nothing, so the schema then promises no 401.
    """
    if token is None:
        return {}
    return {"dependencies": [Depends(require_token)], "responses": documented(401)}
