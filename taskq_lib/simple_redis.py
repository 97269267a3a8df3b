"""The Go original's Redis queue, kept for teaching: ``RPUSH`` to add, ``BLPOP`` to take.

It is *at-most-once*: ``BLPOP`` removes the task from Redis before the handler runs, so if the
worker dies mid-task, the task is gone. Notebook 03 shows that happen, then uses
`taskq_lib.redis_queue.RedisQueue`, which does not lose it. Retries go straight back to the
list, with no delay, and the dead-letter list keeps only what the original's stub would have
kept if it had been written: use this class to learn from, not in a service.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from .clock import SYSTEM_CLOCK, Clock
from .deadletter import DeadLetter, ErrorInfo
from .errors import QueueClosed
from .interface import Delivery, TaskQueue, check_put
from .task import Task, decode, dumps, encode


class SimpleRedisQueue(TaskQueue):
    """A Redis list of JSON tasks, exactly as the original used it."""

    def __init__(self, name: str, client: redis.Redis, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.name = name
        self.client = client
        self.clock = clock
        self.dlq = f"{name}_dlq"  # the original's naming
        self._closed = False

    def put(self, task: Task, *, delay: float = 0.0, timeout: float | None = None) -> None:
        """``RPUSH``. A Redis list has no bound, so ``timeout`` never has to wait."""
        delay = check_put(delay, timeout)
        if self._closed:
            raise QueueClosed(f"queue {self.name!r} is closed")
        if delay:
            raise ValueError("the simple queue has no delays; use RedisQueue")
        self.client.rpush(self.name, encode(task))

    def get(self, timeout: float | None = None) -> Delivery | None:
        if self._closed:
            raise QueueClosed(f"queue {self.name!r} is closed")
        # BLPOP: from here on the task lives only in this process.
        if timeout is not None and timeout <= 0:  # BLPOP's 0 would wait forever
            body: Any = self.client.lpop(self.name)
        else:
            reply = self.client.blpop([self.name], timeout=timeout or 0)
            body = None if reply is None else reply[1]
        if body is None:
            return None
        task = decode(body)
        return Delivery(task.with_attempts(task.attempts + 1), token="")

    def ack(self, delivery: Delivery, result: Any = None) -> None:
        """Nothing to do: the task already left Redis when it was taken."""

    def fail(self, delivery: Delivery, error: ErrorInfo, *, retry_in: float | None) -> None:
        if retry_in is not None:
            self.client.rpush(self.name, encode(delivery.task))  # at once: no backoff
            return
        record = {
            "task": json.loads(encode(delivery.task)),
            "error": error.to_dict(),
            "failed_at": self.clock.now(),
            "attempts": delivery.task.attempts,
        }
        self.client.rpush(self.dlq, dumps(record))

    def dead_letters(self, limit: int = 1000) -> list[DeadLetter]:
        out = []
        for raw in self.client.lrange(self.dlq, 0, limit - 1):
            record = json.loads(raw)
            task = decode(json.dumps(record["task"]))
            error = ErrorInfo.from_dict(record["error"])
            out.append(DeadLetter(task.id, task, error, record["attempts"], record["failed_at"]))
        return out

    def requeue_dead(self, task_id: str | None = None) -> int:
        """Not atomic, like the rest of this class: a crash between the two steps loses it."""
        moved = 0
        for raw in self.client.lrange(self.dlq, 0, -1):
            record = json.loads(raw)
            if task_id in (None, record["task"]["id"]):
                self.client.lrem(self.dlq, 1, raw)  # type: ignore[arg-type]
                self.client.rpush(self.name, json.dumps(record["task"]))
                moved += 1
        return moved

    def purge_dead(self) -> int:
        count = int(self.client.llen(self.dlq))
        self.client.delete(self.dlq)
        return count

    def __len__(self) -> int:
        return int(self.client.llen(self.name))

    def close(self) -> None:
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def delete(self) -> None:
        self.client.delete(self.name, self.dlq)
