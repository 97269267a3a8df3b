"""ASGI middleware: ``OPTIONS`` on a path answers which methods it accepts.

FastAPI answers ``OPTIONS`` with 405, and its 405 names only the methods of the first route
that matched the path (``GET /dlq`` hides ``DELETE /dlq``). Here ``OPTIONS`` answers 204 with
``Allow`` listing every method of every route on the path; `allowed_methods` also serves the
405 answers, so both say the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

#: The methods a route may have (OPTIONS is this middleware's own).
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(routes: Iterable[BaseRoute], path: str) -> list[str]:
    """Every method some route accepts on ``path``, plus OPTIONS; empty if no route matches.

    Asked the way the router itself decides (``matches``), so path convertors and included
    routers count exactly as they do when a request is routed.
    """
    methods = [
        method
        for method in METHODS
        if any(route.matches(_scope(path, method))[0] is Match.FULL for route in routes)
    ]
    return [*methods, "OPTIONS"] if methods else []


def _scope(path: str, method: str) -> dict[str, Any]:
    return {"type": "http", "path": path, "root_path": "", "method": method, "headers": []}


class AllowedMethods:
    """Answer ``OPTIONS`` with 204 and ``Allow``; pass everything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            allowed = allowed_methods(scope["app"].routes, scope["path"])
            if allowed:
                answer = Response(status_code=204, headers={"Allow": ", ".join(allowed)})
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)
