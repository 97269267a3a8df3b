"""One consumer, several queues: strict order or weights, as Celery and asynq workers do.

``taskq worker --queue high --queue low`` takes from ``low`` only when ``high`` is empty
(strict order). ``taskq worker --queues high=6,default=3,low=1`` shares the takes 6:3:1 while
every queue has work, and gives a queue's share to the others while it is empty. Weights are
dealt by smooth weighted round robin (as nginx balances upstreams): over every run of
``6 + 3 + 1`` takes each queue is first asked exactly its weight's number of times, spread out
rather than in bursts; no randomness, so the shares hold from the first takes on.

`MultiQueue` is a `TaskQueue` that takes from its queues; a worker pool runs on it unchanged.
Tasks are put on one of its queues (``multi["high"].put(task)``), not on the MultiQueue.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from redis.cluster import RedisCluster

from .deadletter import DeadLetter, ErrorInfo
from .errors import QueueClosed
from .interface import Delivery, TaskQueue
from .redis_queue import LOCAL_WAIT, RedisQueue
from .task import Task

#: Longest local wait between two rounds of asking every queue, when the queues cannot be
#: waited on together (queues in memory, or on several slots of a Redis Cluster, where one
#: BLPOP cannot watch keys of different slots). An idle consumer then asks each queue 10 times
#: a second: a task waits at most this long more, and idle workers cost a little Redis time.
POLL = 0.1


def parse_weights(text: str) -> list[tuple[str, int]]:
    """``"high=6,default=3,low=1"`` -> ``[("high", 6), ("default", 3), ("low", 1)]``.

    Raises ValueError for a missing or non-positive weight, or a queue named twice.
    """
    pairs: list[tuple[str, int]] = []
    for item in text.split(","):
        name, eq, weight = item.strip().partition("=")
        if not name or not eq or not weight.strip().isdigit() or int(weight) < 1:
            raise ValueError(f"each queue is NAME=WEIGHT with a whole weight >= 1, not {item!r}")
        pairs.append((name, int(weight)))
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise ValueError(f"a queue is named twice in {text!r}")
    return pairs


class MultiQueue(TaskQueue):
    """Takes from several queues: in strict order, or by weights.

    Args:
        queues: the queues, highest first (their names must differ).
        weights: one whole weight >= 1 per queue; None means strict order.
    """

    def __init__(self, queues: Sequence[TaskQueue], weights: Sequence[int] | None = None) -> None:
        if not queues:
            raise ValueError("a MultiQueue needs at least one queue")
        names = [q.name for q in queues]
        if len(set(names)) != len(names):
            raise ValueError(f"queue names must differ, got {names}")
        if weights is not None and (
            len(weights) != len(queues) or any(type(w) is not int or w < 1 for w in weights)
        ):
            raise ValueError("weights: one whole number >= 1 per queue")
        self.queues = list(queues)
        self.weights = None if weights is None else list(weights)
        self.name = "+".join(names)
        self._current = [0] * len(queues)  # smooth weighted round robin state
        self._owner: dict[tuple[str, str], TaskQueue] = {}  # delivery -> its queue
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._wakeups = 0
        self._blocking = _shared_blocking_client(self.queues)

    @classmethod
    def weighted(cls, queues: Iterable[tuple[TaskQueue, int]]) -> MultiQueue:
        """A MultiQueue from (queue, weight) pairs."""
        pairs = list(queues)
        return cls([q for q, _ in pairs], [w for _, w in pairs])

    def __getitem__(self, name: str) -> TaskQueue:
        for queue in self.queues:
            if queue.name == name:
                return queue
        raise KeyError(f"no queue {name!r} here; the queues are {self.name}")

    # ----------------------------------------------------------------- taking
    def order(self) -> list[TaskQueue]:
        """The queues in the order the next take asks them."""
        weights = self.weights
        if weights is None:
            return self.queues
        with self._lock:
            for i, weight in enumerate(weights):
                self._current[i] += weight
            first = max(range(len(weights)), key=lambda i: self._current[i])
            self._current[first] -= sum(weights)
        rest = sorted((i for i in range(len(weights)) if i != first), key=lambda i: -weights[i])
        return [self.queues[first], *(self.queues[i] for i in rest)]

    def get(self, timeout: float | None = None) -> Delivery | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        wakeups = self._wakeups
        while True:
            self._wake.clear()
            closed = 0
            for queue in self.order():
                try:
                    delivery = queue.get(timeout=0)
                except QueueClosed:
                    closed += 1
                    continue
                if delivery is not None:
                    with self._lock:
                        self._owner[(delivery.task.id, delivery.token)] = queue
                    return delivery
            if closed == len(self.queues):
                raise QueueClosed(f"queues {self.name!r} are closed")
            remaining = math.inf if deadline is None else deadline - time.monotonic()
            if remaining <= 0 or self._wakeups != wakeups:
                return None
            self._wait(remaining)

    def _wait(self, remaining: float) -> None:
        """Wait for a nudge from any queue (one BLPOP on all of them when one Redis server
        holds them all), or a short local wait otherwise; never past the moment a delayed
        task or an expiring lease of a Redis queue is due."""
        due = [q.next_ms for q in self.queues if isinstance(q, RedisQueue) and q.next_ms >= 0]
        if due:
            remaining = min(remaining, max(0.0, min(due) / 1000 - self._now()))
        if self._blocking is not None and remaining > LOCAL_WAIT:
            client, keys, longest = self._blocking
            # Redis returns from BLPOP up to ~100 ms late: ask it for a little less.
            client.blpop(keys, timeout=max(0.01, min(remaining - 0.15, longest)))
        else:
            self._wake.wait(min(remaining, POLL))

    def _now(self) -> float:
        """Now, in seconds, by the clock of the Redis queues (the first one's)."""
        for queue in self.queues:
            if isinstance(queue, RedisQueue):
                return queue.clock.now()
        return time.time()

    def _pop_owner(self, delivery: Delivery) -> TaskQueue:
        with self._lock:
            owner = self._owner.pop((delivery.task.id, delivery.token), None)
        if owner is None:
            raise KeyError(f"task {delivery.task.id!r} was not taken through this MultiQueue")
        return owner

    def ack(self, delivery: Delivery, result: Any = None) -> None:
        self._pop_owner(delivery).ack(delivery, result)

    def fail(self, delivery: Delivery, error: ErrorInfo, *, retry_in: float | None) -> None:
        self._pop_owner(delivery).fail(delivery, error, retry_in=retry_in)

    # ----------------------------------------------------------------- the rest
    def put(self, task: Task, *, delay: float = 0.0, timeout: float | None = None) -> None:
        """Refused: a task belongs on one queue. Put it there (``multi["high"].put(task)``)."""
        raise TypeError(f"put the task on one of the queues {self.name!r}: multi[name].put(task)")

    def dead_letters(self, limit: int = 1000) -> list[DeadLetter]:
        """The dead letters of every queue, oldest death first."""
        every = [d for queue in self.queues for d in queue.dead_letters(limit)]
        return sorted(every, key=lambda d: d.died_at)[:limit]

    def requeue_dead(self, task_id: str | None = None) -> int:
        return sum(queue.requeue_dead(task_id) for queue in self.queues)

    def purge_dead(self) -> int:
        return sum(queue.purge_dead() for queue in self.queues)

    def __len__(self) -> int:
        return sum(len(queue) for queue in self.queues)

    def close(self) -> None:
        for queue in self.queues:
            queue.close()
        self._wake.set()

    def wake(self) -> None:
        self._wakeups += 1
        self._wake.set()
        for queue in self.queues:
            queue.wake()

    @property
    def closed(self) -> bool:
        return all(queue.closed for queue in self.queues)


def _shared_blocking_client(queues: list[TaskQueue]) -> tuple[Any, list[str], float] | None:
    """(client, wakeup keys, longest wait) if every queue is a RedisQueue on one server."""
    if not all(isinstance(q, RedisQueue) for q in queues):
        return None
    redis_queues = [q for q in queues if isinstance(q, RedisQueue)]
    client = redis_queues[0].client
    if isinstance(client, RedisCluster) or any(q.client is not client for q in redis_queues):
        return None
    longest = min(q.reaper_period for q in redis_queues)
    return client, [q.keys.wakeup for q in redis_queues], longest
