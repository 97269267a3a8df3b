"""The dashboard: a page that shows the queue live, and the two read routes it polls.

The page is static files (HTML, JavaScript, CSS) in ``taskq_lib/dashboard``: no build step, no
CDN, nothing fetched from elsewhere. It reads ``/dashboard/snapshot`` every second and
``/dashboard/types`` and ``/dlq`` every few seconds, and searches with ``/tasks/{id}``. Its two
reads show what ``/stats`` shows and a little more (workers, and the ids and types of the tasks
they hold; task types per state), never payloads, results or errors, so like ``/stats`` they
need no token. The dead-letter queue and the search use the API's own routes, which need the
token when the server has one, and so do the buttons (``POST /dlq/{id}/requeue``,
``DELETE /dlq``): the page sends the token the user types, and can do nothing the API would not
let that user do. Without a token set on the server the page offers no buttons at all.

The page builds every element with ``textContent``, never by parsing data as HTML, and is
served with a Content-Security-Policy that allows only its own script and style: a task type
or an error message holding HTML is shown as text and cannot run.
"""

from __future__ import annotations

import time
from importlib import resources
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse

from ... import overview
from ...redis_queue import RedisQueue
from ..deps import Taskq
from ..errors import ApiError, documented
from .stats import get_stats

#: The page may load its own script, style and nothing else; it may talk only to this server.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
#: Headers of the page and its files.
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
#: The files the page is made of, by the name it is served under, with their media types.
FILES = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
}

#: The page and its files: no data, so they never need a token.
page = APIRouter(include_in_schema=False)
#: What the page polls: read-only. Shaped for the page, not a public contract, so they are not
#: in the OpenAPI schema; a program asks ``/stats``, ``/dlq`` and ``/tasks/{id}``.
reads = APIRouter(prefix="/dashboard", include_in_schema=False)


def _file(name: str) -> bytes:
    return (resources.files("taskq_lib") / "dashboard" / name).read_bytes()


@page.get("/")
def root() -> RedirectResponse:
    """The API's root shows the dashboard."""
    return RedirectResponse("/dashboard", status_code=307)


@page.get("/dashboard")
def dashboard() -> Response:
    html = _file("index.html")
    return Response(html, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@page.get("/dashboard/static/{name}")
def static(name: str) -> Response:
    if name not in FILES:
        raise ApiError(404, "no such file")
    return Response(_file(name), media_type=FILES[name], headers=PAGE_HEADERS)


@reads.get("/snapshot", responses=documented(503))
def snapshot(taskq: Taskq) -> dict[str, Any]:
    """Counts per state (as ``GET /stats``), the workers and what they hold, and whether the
    server has a token (the page offers its buttons only then). ``workers`` is null for a
    queue that does not record them (in memory)."""
    queue = taskq.queue
    answer: dict[str, Any] = {
        "stats": get_stats(taskq).model_dump(),
        "token_set": taskq.token is not None,
        "workers": None,
        "workers_cut": False,
    }
    if isinstance(queue, RedisQueue):
        found, cut = overview.consumers(queue)
        answer["workers"] = [consumer.to_dict() for consumer in found]
        answer["workers_cut"] = cut
    answer["now"] = queue.clock.now() if isinstance(queue, RedisQueue) else time.time()
    return answer


@reads.get("/types", responses=documented(503))
def types(taskq: Taskq) -> dict[str, Any]:
    """Task types among the first tasks of each state (null for an in-memory queue)."""
    queue = taskq.queue
    if not isinstance(queue, RedisQueue):
        return {"sample": 0, "states": None, "cut": []}
    return overview.types_by_state(queue)
