"""What a dashboard shows about a Redis queue besides its counts: which consumer holds which
task, which workers were seen recently, and which task types wait in each state.

Everything here only reads, and every read is bounded: a dashboard polls these every second or
two, so none may cost more as a queue grows. Where a bound cuts a list short, the answer says so.

Who holds a task is already in Redis: each delivery token starts with its consumer's name
(``host:pid``, see `RedisQueue`), and ``tokens`` maps every task in flight to its token. A
worker that holds nothing shows up only through its presence beat (see `presence`).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .presence import seen
from .redis_queue import RedisQueue

#: Most deliveries read to say who holds what (a queue with more in flight is cut short).
HELD_LIMIT = 500
#: Most task bodies read per state to count task types.
TYPE_SAMPLE = 100
#: Most held tasks listed per consumer (all are counted).
LISTED_PER_CONSUMER = 20


@dataclass(frozen=True)
class Held:
    """One task in flight: its id, type, runs so far and lease deadline (Unix time)."""

    task_id: str
    type: str | None
    attempts: int
    lease_until: float | None


@dataclass
class Consumer:
    """One consumer (a worker process): when it was last seen and the tasks it holds."""

    name: str
    last_seen: float | None = None
    holding: int = 0
    tasks: list[Held] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "last_seen": self.last_seen,
            "holding": self.holding,
            "tasks": [held.__dict__ for held in self.tasks],
        }


def consumer_of(token: str) -> str:
    """The consumer name a delivery token starts with: ``host:pid:<random>:<n>`` -> ``host:pid``."""
    return token.rsplit(":", 2)[0]


def body_type(body: bytes | str | None) -> str | None:
    """A stored body's task type as written, or None if the body is not a JSON object.

    Read without the checks of `decode`, so that a malformed type written by another producer
    is counted under its own name (and shown as text) rather than hidden.
    """
    if body is None:
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    kind = data.get("type") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


def consumers(queue: RedisQueue, *, limit: int = HELD_LIMIT) -> tuple[list[Consumer], bool]:
    """Workers seen recently or holding tasks, busiest first; and whether ``limit`` cut the
    list of deliveries short."""
    found: dict[str, Consumer] = {}
    for name, when in seen(queue).items():
        found[name] = Consumer(name, last_seen=when)
    tokens: list[tuple[str, str]] = []
    for task_id, token in queue.client.hscan_iter(queue.keys.tokens, count=limit):
        if len(tokens) == limit:
            break
        tokens.append((_text(task_id), _text(token)))
    cut = len(tokens) == limit and queue.client.hlen(queue.keys.tokens) > limit
    if tokens:
        ids = [task_id for task_id, _ in tokens]
        pipe = queue.client.pipeline(transaction=False)
        pipe.hmget(queue.keys.bodies, ids)
        pipe.hmget(queue.keys.attempts, ids)
        pipe.zmscore(queue.keys.inflight, ids)
        bodies, runs, deadlines = pipe.execute()
        for (task_id, token), body, run, deadline in zip(
            tokens, bodies, runs, deadlines, strict=True
        ):
            name = consumer_of(token)
            holder = found.setdefault(name, Consumer(name))
            holder.holding += 1
            if len(holder.tasks) < LISTED_PER_CONSUMER:
                until = None if deadline is None else deadline / 1000
                held = Held(task_id, body_type(body), int(run or 0), until)
                holder.tasks.append(held)
    ordered = sorted(found.values(), key=lambda c: (-c.holding, c.name))
    return ordered, cut


def types_by_state(queue: RedisQueue, *, sample: int = TYPE_SAMPLE) -> dict[str, Any]:
    """Task types among the first ``sample`` tasks of each state that holds tasks.

    Returns ``{"sample": n, "states": {state: {type: count}}, "cut": [states sampled]}``; a
    body that cannot be read counts under the type ``None``.
    """
    keys = queue.keys
    pipe = queue.client.pipeline(transaction=False)
    pipe.lrange(keys.pending, 0, sample - 1)
    pipe.zrange(keys.scheduled, 0, sample - 1)
    pipe.zrange(keys.inflight, 0, sample - 1)
    pipe.zrange(keys.dead, 0, sample - 1)
    pipe.llen(keys.pending)
    pipe.zcard(keys.scheduled)
    pipe.zcard(keys.inflight)
    pipe.zcard(keys.dead)
    replies = pipe.execute()
    names = ("pending", "scheduled", "in_flight", "dead")
    ids = dict(zip(names, replies[:4], strict=True))
    sizes = dict(zip(names, replies[4:], strict=True))
    everyone = [task_id for state in names for task_id in ids[state]]
    bodies = queue.client.hmget(keys.bodies, everyone) if everyone else []
    kinds = iter(body_type(body) for body in bodies)
    states: dict[str, dict[str, int]] = {}
    for state in names:
        counted = Counter(next(kinds) for _ in ids[state])
        states[state] = {str(kind): n for kind, n in sorted(counted.items(), key=_by_count)}
    cut = [state for state in names if int(sizes[state]) > sample]
    return {"sample": sample, "states": states, "cut": cut}


def _by_count(item: tuple[str | None, int]) -> tuple[int, str]:
    return -item[1], str(item[0])


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
