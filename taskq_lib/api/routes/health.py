"""Whether the API and its queue answer: for load balancers and probes (never needs a token)."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import Taskq
from ..errors import documented
from ..models import Health

router = APIRouter()


@router.get("/healthz", response_model=Health, responses=documented(503))
def healthz(taskq: Taskq) -> Health:
    """200 if the queue answers (for Redis: the server is reachable)."""
    len(taskq.queue)
    return Health(status="ok", queue=taskq.queue.name)
