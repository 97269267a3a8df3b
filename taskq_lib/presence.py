"""Which worker processes are alive: each records "seen now" in Redis every few seconds.

A task in flight already says which consumer holds it (its delivery token starts with the
consumer's name), but a worker that holds nothing leaves no trace. So a running worker beats:
one round trip every ``period`` seconds adds ``consumer -> now`` to a sorted set of the queue
(``taskq:{name}:workers``, under the queue's hash tag like every other key) and drops entries
older than ``forget_after``. The set stays as small as the number of recent workers, and the
key expires when no worker has beaten for ``forget_after``.
"""

from __future__ import annotations

import logging
import threading

import redis

from .keys import PREFIX
from .logtext import oneline
from .redis_queue import RedisQueue

log = logging.getLogger("taskq.presence")

#: Seconds between two beats of a worker.
PERIOD = 5.0
#: Seconds after its last beat that a worker is forgotten (a few missed beats).
FORGET_AFTER = 30.0


def seen_key(queue_name: str) -> str:
    """The sorted set of workers seen recently: consumer -> time of its last beat (ms)."""
    return f"{PREFIX}:{{{queue_name}}}:workers"


def seen(queue: RedisQueue, forget_after: float = FORGET_AFTER) -> dict[str, float]:
    """Consumers that beat in the last ``forget_after`` seconds -> time of their last beat."""
    since = _now_ms(queue) - round(forget_after * 1000)
    found: list[tuple[bytes, float]] = queue.client.zrangebyscore(  # type: ignore[assignment]
        seen_key(queue.name), since, "+inf", withscores=True
    )
    return {_text(name): score / 1000 for name, score in found}


class Presence:
    """Beats for ``queue.consumer`` from a daemon thread, from `start` until `stop`."""

    def __init__(
        self, queue: RedisQueue, *, period: float = PERIOD, forget_after: float = FORGET_AFTER
    ) -> None:
        if period <= 0 or forget_after <= period:
            raise ValueError("need period > 0 and forget_after > period")
        self.queue = queue
        self.period = period
        self.forget_after = forget_after
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> None:
        """Record "seen now" for this consumer, forget stale ones: one round trip."""
        queue, key = self.queue, seen_key(self.queue.name)
        now = _now_ms(queue)
        keep = round(self.forget_after * 1000)
        pipe = queue.client.pipeline(transaction=False)
        pipe.zadd(key, {queue.consumer: now})
        pipe.zremrangebyscore(key, "-inf", now - keep)
        pipe.pexpire(key, keep)
        pipe.execute()

    def start(self) -> Presence:
        self._thread = threading.Thread(target=self._run, name="taskq-presence", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop beating and say so at once (a stopped worker leaves the list now)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self.queue.client.zrem(seen_key(self.queue.name), self.queue.consumer)
        except redis.RedisError as exc:
            log.warning(
                "could not remove worker %s from the list: %s", oneline(self.queue.consumer), exc
            )

    def _run(self) -> None:
        failing, first = False, True
        while True:
            try:
                self.beat()
                if first:
                    name, key = oneline(self.queue.consumer), oneline(seen_key(self.queue.name))
                    log.info("worker %s is listed in %s", name, key)
                failing, first = False, False
            except redis.RedisError as exc:
                if not failing:  # one line per outage
                    log.warning("presence beat failed (%s); will keep trying", exc)
                failing = True
            if self._stop.wait(self.period):
                return


def _now_ms(queue: RedisQueue) -> int:
    return round(queue.clock.now() * 1000)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
