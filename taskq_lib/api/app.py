"""``create_app``: the settings checked, the middleware, the error handlers and every router."""

from __future__ import annotations

from fastapi import FastAPI

from .. import __version__
from ..events import EventLog
from ..registry import Registry
from ..status import InspectableQueue
from ..task import DEFAULT_MAX_BYTES
from ..unique import IDEMPOTENCY_RETENTION, check_unique_for
from . import errors
from .allow import AllowedMethods
from .body_guard import BodyGuard
from .deps import Settings, guard
from .routes import dashboard, dlq, health, stats, tasks
from .schema import declare_task_types

#: Largest request body accepted, in bytes. Tasks should carry references (ids, URLs), not data.
DEFAULT_MAX_BODY = 64 * 1024


def create_app(
    queue: InspectableQueue,
    registry: Registry,
    *,
    token: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    max_task_bytes: int = DEFAULT_MAX_BYTES,
    put_timeout: float = 0.1,
    retry_after: int = 1,
    events: EventLog | None = None,
    idempotency_retention: float = IDEMPOTENCY_RETENTION,
) -> FastAPI:
    """Build the HTTP API over ``queue``, accepting the task types ``registry`` knows.

    Args:
        queue: a `RedisQueue`, or an in-memory queue wrapped in `TrackedQueue`.
        registry: the task types and handlers; unknown types are refused with 422.
        token: if set, every route that changes the queue or shows what tasks hold (the
            writes, ``GET /tasks/{id}``, ``GET /dlq``) needs ``Authorization: Bearer <token>``;
            ``/queue/length``, ``/stats`` and ``/healthz`` show only counts and stay open.
        max_body_bytes: the largest request body accepted (413 above it).
        max_task_bytes: the largest encoded task accepted (413 above it).
        put_timeout: seconds an enqueue waits for room in a full queue before 503.
        retry_after: seconds a client is told to wait after a 503 (``Retry-After``).
        events: where to record an ``enqueued`` event per accepted task, if given.
        idempotency_retention: seconds an ``Idempotency-Key`` is remembered at least (24 h by
            default; also as long as its task waits or runs).
    """
    if not isinstance(queue, InspectableQueue):
        raise TypeError(
            f"{type(queue).__name__} keeps no task status, so GET /tasks/{{id}} could not "
            "answer: pass TrackedQueue(queue), and give the same TrackedQueue to the workers, "
            "or use a RedisQueue"
        )
    if token is not None and not token:
        raise ValueError("token must not be empty (use None for no token)")
    if max_body_bytes < 1 or max_task_bytes < 1 or retry_after < 0:
        raise ValueError("need max_body_bytes >= 1, max_task_bytes >= 1 and retry_after >= 0")
    check_unique_for(idempotency_retention)

    app = FastAPI(
        title="taskq",
        version=__version__,
        description="Enqueue tasks, ask what became of them, and manage the dead-letter queue.",
    )
    app.state.queue = queue
    app.state.registry = registry
    app.state.taskq = Settings(
        queue,
        registry,
        token,
        max_task_bytes,
        put_timeout,
        retry_after,
        events,
        idempotency_retention,
    )
    app.add_middleware(BodyGuard, max_bytes=max_body_bytes)
    app.add_middleware(AllowedMethods)  # added last, so it runs first: OPTIONS has no body
    errors.install(app, retry_after)
    # One line per router: a new group of routes (a dashboard, say) is one more line here,
    # with ``**needs_token`` if it changes anything or shows what tasks hold (payloads,
    # results, errors). Counts and health stay open: load balancers and probes read them.
    needs_token = guard(token)
    app.include_router(tasks.writes, **needs_token)
    app.include_router(tasks.reads, **needs_token)
    app.include_router(stats.router)
    app.include_router(dlq.reads, **needs_token)
    app.include_router(dlq.writes, **needs_token)
    app.include_router(health.router)
    app.include_router(dashboard.page)
    app.include_router(dashboard.reads)
    declare_task_types(app, registry)
    return app
