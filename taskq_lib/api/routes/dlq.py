"""The dead-letter queue: list it, send a task back to run again, or empty it."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query

from ..deps import Taskq
from ..errors import ApiError, documented
from ..models import DeadLetters, Purged, Requeued, dead_letter

log = logging.getLogger("taskq.api")

#: Routes that only read.
reads = APIRouter()
#: Routes that change the queue: `create_app` adds the token check to them.
writes = APIRouter()


@reads.get("/dlq", response_model=DeadLetters, responses=documented(422, 503))
def get_dead(taskq: Taskq, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> DeadLetters:
    """The dead-letter queue, oldest death first, with each task's last error."""
    items = [dead_letter(d) for d in taskq.queue.dead_letters(limit)]
    return DeadLetters(queue=taskq.queue.name, count=len(items), items=items)


@writes.post(
    "/dlq/{task_id}/requeue",
    response_model=Requeued,
    responses=documented(404, 422, 503),
)
def requeue(task_id: str, taskq: Taskq) -> Requeued:
    """Send a dead task back to the queue to run again, with its attempts reset."""
    moved = taskq.queue.requeue_dead(task_id)
    if not moved:
        raise ApiError(404, f"task {task_id[:200]!r} is not in the dead-letter queue")
    log.info("requeued dead task %s", task_id)
    return Requeued(requeued=moved)


@writes.delete("/dlq", response_model=Purged, responses=documented(503))
def purge(taskq: Taskq) -> Purged:
    """Empty the dead-letter queue; its tasks are forgotten."""
    purged = taskq.queue.purge_dead()
    log.info("purged %d dead tasks from queue %s", purged, taskq.queue.name)
    return Purged(purged=purged)
