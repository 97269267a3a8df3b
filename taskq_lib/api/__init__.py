"""The HTTP API: the Go original's Fiber routes, retold with FastAPI, plus the answers it lacked.

``create_app(queue, registry)`` builds the app. JSON goes in and out, and ``/openapi.json``
describes every route, request and answer. What the original got wrong, and this does not:

* an unknown task type is refused with 422 naming the registered types (the original accepted
  it with 202, then its worker dropped it with a log line);
* ``GET /tasks/{id}`` says what became of a task (the original could not be asked);
* bad input gets a clear JSON error and changes nothing: malformed JSON 400, wrong types 422,
  a body over the limit 413, a full queue 503 with ``Retry-After``; no input produces a 500.

The API needs a queue that can say what became of a task: a `RedisQueue` (which keeps status
in Redis), or an in-memory queue wrapped in `TrackedQueue`.

The package, one file per concern (as starlette does):

* `app`: ``create_app``, which puts the pieces together;
* `routes/`: one ``APIRouter`` per group of routes; a new group is one module there and one
  ``include_router`` line in `app`;
* `models`: the request and answer shapes (pydantic), which are the OpenAPI schema;
* `errors`: the one error shape, and the handlers that turn exceptions into it;
* `deps`: what a route needs (the queue, the settings, the token check), as dependencies;
* `body_guard`: the middleware that checks a request body before anything parses it.
"""

from __future__ import annotations

try:
    import fastapi  # noqa: F401
except ImportError as exc:  # an optional dependency: say how to get it
    raise ImportError("taskq_lib.api needs FastAPI: pip install 'taskq-lib[api]'") from exc

from ..status import InspectableQueue, TrackedQueue
from .app import create_app

__all__ = ["InspectableQueue", "TrackedQueue", "create_app"]
