"""The huey app of the peer benchmark: one no-op task, on the Redis server of the run.

Loaded by ``huey_consumer benchmarks.peer_huey.huey`` (huey's own consumer, at its defaults)
and by the benchmark that fills its queue. The queue's name comes from ``BENCH_HUEY_NAME``.
"""

from __future__ import annotations

import os

from huey import RedisHuey  # type: ignore[import-not-found, unused-ignore]

huey = RedisHuey(
    os.environ.get("BENCH_HUEY_NAME", "bench-huey"),
    url=os.environ.get("TASKQ_REDIS_URL", "redis://127.0.0.1:6379/0"),
)


@huey.task()  # type: ignore[misc, unused-ignore]
def noop(n: int) -> None:
    """Nothing, so what is measured is the queue."""
