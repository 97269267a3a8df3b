"""Enqueue a task, and ask what became of it."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from starlette.convertors import Convertor, register_url_convertor

from ...errors import InvalidTask, PayloadTooLarge, QueueClosed, QueueFull, UnknownTaskType
from ...status import Status
from ..deps import Settings, Taskq
from ..errors import ApiError, documented
from ..models import TYPE_REGEX, Accepted, TaskRequest, TaskStatus, task_status

log = logging.getLogger("taskq.api")

#: Routes that change the queue: `create_app` adds the token check to them.
writes = APIRouter()
#: Routes that only read.
reads = APIRouter()


def enqueue(
    taskq: Settings, task_type: str, payload: dict[str, Any], response: Response, **fields: Any
) -> Accepted:
    queue = taskq.queue
    delay = fields.pop("delay_seconds", 0.0)
    try:
        task = taskq.registry.enqueue(
            queue,
            task_type,
            payload,
            delay=delay,
            timeout=taskq.put_timeout,
            max_bytes=taskq.max_task_bytes,
            events=taskq.events,
            **fields,
        )
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
    log.debug("enqueued %s task %s (%s)", task.type, task.id, status)
    response.headers["Location"] = f"/tasks/{task.id}"
    return Accepted(task_id=task.id, type=task.type, status=status)


#: What both enqueue routes answer.
ENQUEUE: dict[str, Any] = {
    "status_code": 202,
    "response_model": Accepted,
    "responses": documented(400, 413, 415, 422, 503),
}


@writes.post("/tasks", summary="Enqueue a task", **ENQUEUE)
def post_task(body: TaskRequest, response: Response, taskq: Taskq) -> Accepted:
    """Check the task and queue it. 202 means accepted, not done: ask ``GET /tasks/{id}``."""
    return enqueue(
        taskq,
        body.type,
        body.payload,
        response,
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
    **{**ENQUEUE, "responses": documented(400, 405, 413, 415, 422, 503)},
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
) -> Accepted:
    """The body is the payload object; the type is in the path."""
    return enqueue(taskq, task_type, payload, response)


@reads.get(
    "/tasks/{task_id}",
    response_model=TaskStatus,
    responses=documented(404, 422, 503),
    summary="What became of a task",
)
def get_task(task_id: str, taskq: Taskq) -> TaskStatus:
    found = taskq.queue.info(task_id)
    if found is None:
        raise ApiError(
            404,
            f"no task {task_id[:200]!r} in queue {taskq.queue.name!r}: unknown, or finished "
            "long enough ago to be forgotten",
        )
    return task_status(found)
