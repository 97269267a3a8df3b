"""How many tasks wait, and how many are in each state."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import Taskq
from ..errors import documented
from ..models import QueueLength, Stats

router = APIRouter()


@router.get("/queue/length", response_model=QueueLength, responses=documented(503))
def get_length(taskq: Taskq) -> QueueLength:
    """Tasks waiting (pending or scheduled), as the original's route answered."""
    return QueueLength(length=len(taskq.queue))


@router.get("/stats", response_model=Stats, responses=documented(503))
def get_stats(taskq: Taskq) -> Stats:
    """Tasks per state: pending, scheduled, in flight, dead, done; and totals."""
    counts = taskq.queue.stats()
    totals = {k.removeprefix("total_"): v for k, v in counts.items() if k.startswith("total_")}
    return Stats(
        queue=taskq.queue.name,
        pending=counts["pending"],
        scheduled=counts["scheduled"],
        in_flight=counts["in_flight"],
        dead=counts["dead"],
        done=counts["done"],
        totals=totals,
    )
