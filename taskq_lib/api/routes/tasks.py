"""Enqueue a task, and ask what became of it."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Any

from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Header, Path, Query, Response
from starlette.convertors import Convertor, register_url_convertor

from ...errors import (
    CancelRefused,
    InvalidTask,
    PayloadTooLarge,
    QueueClosed,
    QueueFull,
    UniqueKeyConflict,
    UnknownTaskType,
)
from ...logtext import oneline
from ...status import Status
from ...unique import KEY_PATTERN, MAX_KEY_LENGTH
from ..deps import Settings, Taskq
from ..errors import ApiError, documented
from ..models import TYPE_REGEX, Accepted, TaskRequest, TaskStatus, task_status

log = logging.getLogger("taskq.api")

#: Routes that change the queue: `create_app` adds the token check to them.
writes = APIRouter()
#: Routes that only read.
reads = APIRouter()


#: The ``Idempotency-Key`` header: a client's name for one request, so that its retry after a
#: lost answer creates nothing (see `taskq_lib.unique`).
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Your name for this request (1-200 visible ASCII characters). A repeat "
        "with the same key within the retention (24 h by default) answers with the same "
        "task_id and creates nothing; the same key with a different request is a 409.",
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        pattern=f"^{KEY_PATTERN.pattern}$",
    ),
]


def enqueue(
    taskq: Settings,
    task_type: str,
    payload: dict[str, Any],
    response: Response,
    key: str | None = None,
    **fields: Any,
) -> Accepted:
    queue = taskq.queue
    delay = fields.pop("delay_seconds", 0.0)
    unique: dict[str, Any] = {}
    if key is not None:  # the id is chosen here, so that a repeat shows by its other id
        unique = {"unique_key": key, "unique_for": taskq.idempotency_for, "id": str(uuid.uuid4())}
    try:
        task = taskq.registry.enqueue(
            queue,
            task_type,
            payload,
            delay=delay,
            timeout=taskq.put_timeout,
            max_bytes=taskq.max_task_bytes,
            events=taskq.events,
            **unique,
            **fields,
        )
    except UniqueKeyConflict as exc:
        raise ApiError(
            409,
            f"Idempotency-Key {exc.key!r} was used for a different request "
            f"(task {exc.task_id}); use a new key for a new task",
            task_id=exc.task_id,
        ) from None
    except UnknownTaskType as exc:
        raise ApiError(422, str(exc), known_types=exc.known) from None
    except PayloadTooLarge as exc:
        raise ApiError(413, str(exc)) from None
    except InvalidTask as exc:
        raise ApiError(422, str(exc)) from None
    except QueueFull:
        log.warning("queue %s is full: refused a task of type %s", queue.name, task_type)
        raise ApiError(503, "the queue is full; try again later", headers=taskq.busy) from None
    except QueueClosed:
        raise ApiError(503, "the queue is closing; try again later", headers=taskq.busy) from None
    status = Status.SCHEDULED if delay > 0 else Status.QUEUED
    if unique and task.id != unique["id"]:  # a repeat: the task that holds the key
        response.headers["Idempotent-Replayed"] = "true"
        found = queue.info(task.id)
        status = status if found is None else Status(found.state)
    log.debug("enqueued %s task %s (%s)", task.type, task.id, status)
    response.headers["Location"] = f"/tasks/{task.id}"
    return Accepted(task_id=task.id, type=task.type, status=status)


#: What both enqueue routes answer.
ENQUEUE: dict[str, Any] = {
    "status_code": 202,
    "response_model": Accepted,
    "responses": documented(400, 409, 413, 415, 422, 503),
}


@writes.post("/tasks", summary="Enqueue a task", **ENQUEUE)
def post_task(
    body: TaskRequest, response: Response, taskq: Taskq, key: IdempotencyKey = None
) -> Accepted:
    """Check the task and queue it. 202 means accepted, not done: ask ``GET /tasks/{id}``."""
    return enqueue(
        taskq,
        body.type,
        body.payload,
        response,
        key,
        priority=body.priority,
        max_retries=body.max_retries,
        delay_seconds=body.delay_seconds,
    )


class TaskTypeSegment(Convertor[str]):
    """A path segment that may name a task type: anything but ``length``, which is the route
    ``GET /queue/length``. So ``POST /queue/length`` is answered 405, never taken for a type."""

    regex = "(?!length(?:/|$))[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("taskq_type", TaskTypeSegment())


@writes.post(
    "/queue/{task_type:taskq_type}",
    summary="Enqueue a task (the original's route)",
    **{**ENQUEUE, "responses": {**ENQUEUE["responses"], **documented(405)}},
)
def post_queue(
    task_type: Annotated[
        str,
        Path(
            description="A registered task type; never `length`, the path of GET /queue/length.",
            pattern=TYPE_REGEX,
            json_schema_extra={"not": {"const": "length"}},
        ),
    ],
    payload: dict[str, Any],
    response: Response,
    taskq: Taskq,
    key: IdempotencyKey = None,
) -> Accepted:
    """The body is the payload object; the type is in the path."""
    return enqueue(taskq, task_type, payload, response, key)


@reads.get(
    "/tasks/{task_id}",
    response_model=TaskStatus,
    responses=documented(404, 422, 503),
    summary="What became of a task",
)
async def get_task(
    task_id: str,
    taskq: Taskq,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=MAX_WAIT_SECONDS,
            allow_inf_nan=False,
            description=f"Seconds to wait for the task to finish (at most {MAX_WAIT_SECONDS:g}):"
            " the answer comes as soon as it succeeds, dies or is cancelled, or when the wait "
            "is over (then with its status of that moment).",
        ),
    ] = 0.0,
) -> TaskStatus:
    queue = taskq.queue
    if wait > 0:
        # A waiting request holds a thread of its own pool: the event loop and the threads of
        # the other routes are never blocked by waiters.
        found = await to_thread.run_sync(queue.wait, task_id, wait, limiter=_waiters())
    else:
        found = await to_thread.run_sync(queue.info, task_id)
    if found is None:
        raise _no_task(task_id, queue.name)
    return task_status(found)


def _no_task(task_id: str, queue_name: str) -> ApiError:
    return ApiError(
        404,
        f"no task {task_id[:200]!r} in queue {queue_name!r}: unknown, or finished "
        "long enough ago to be forgotten",
    )


#: Longest ``?wait=`` a client may ask for, in seconds.
MAX_WAIT_SECONDS = 30.0
#: Most requests waiting at once (each holds a thread; more wait for a free one).
MAX_WAITERS = 64
_WAITERS: list[CapacityLimiter] = []


def _waiters() -> CapacityLimiter:
    """The waiters' own thread limit, made in the event loop on first use."""
    if not _WAITERS:
        _WAITERS.append(CapacityLimiter(MAX_WAITERS))
    return _WAITERS[0]


@writes.delete(
    "/tasks/{task_id}",
    response_model=TaskStatus,
    responses=documented(404, 409, 503),
    summary="Cancel a waiting task",
)
def delete_task(task_id: str, taskq: Taskq) -> TaskStatus:
    """Take back a task that waits (pending or scheduled): it will not run, and its status is
    ``cancelled``. A running or finished task is a 409 that gives its status."""
    try:
        found = taskq.queue.cancel(task_id)
    except KeyError:
        raise _no_task(task_id, taskq.queue.name) from None
    except CancelRefused as exc:
        raise ApiError(409, str(exc), state=exc.state) from None
    log.info("cancelled task %s", oneline(task_id))
    return task_status(found)
