"""What a dashboard shows about a Redis queue besides its counts: which consumer holds which
task, which workers were seen recently, and which task types wait in each state.

Everything here only reads, and every read is bounded: a dashboard polls these every second or
few, so none may cost more as a queue grows. Where a bound cuts a list short, the answer says so.
Task bodies are read only to learn their type (a body may be up to ``max_bytes``): at most
`LISTED_LIMIT` per `consumers` call and 4 x `TYPE_SAMPLE` per `types_by_state` call.

Who holds a task is already in Redis: each delivery token starts with its consumer's name
(``host:pid``, see `RedisQueue`), and ``tokens`` maps every task in flight to its token. A
worker that holds nothing shows up only through its presence beat (see `presence`).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .keys import pending_id
from .presence import seen
from .redis_queue import RedisQueue

#: Most deliveries read to say who holds what (a queue with more in flight is cut short).
HELD_LIMIT = 500
#: Most task bodies read per state to count task types.
TYPE_SAMPLE = 50
#: Most held tasks listed per consumer, and in all (all are counted; only listed bodies are read).
LISTED_PER_CONSUMER = 20
LISTED_LIMIT = 100


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
    list of deliveries short.

    Every delivery read is counted; the bodies read (for the type) are only those of the tasks
    listed: at most `LISTED_PER_CONSUMER` per consumer and `LISTED_LIMIT` in all.
    """
    found: dict[str, Consumer] = {}
    for name, when in seen(queue).items():
        found[name] = Consumer(name, last_seen=when)
    listed: list[tuple[Consumer, str]] = []
    read = 0
    for task_id, token in queue.client.hscan_iter(queue.keys.tokens, count=limit):
        if read == limit:
            break
        read += 1
        name = consumer_of(_text(token))
        holder = found.setdefault(name, Consumer(name))
        holder.holding += 1
        if holder.holding <= LISTED_PER_CONSUMER and len(listed) < LISTED_LIMIT:
            listed.append((holder, _text(task_id)))
    cut = read == limit and queue.client.hlen(queue.keys.tokens) > limit
    if listed:
        ids = [task_id for _, task_id in listed]
        pipe = queue.client.pipeline(transaction=False)
        pipe.hmget(queue.keys.bodies, ids)
        pipe.hmget(queue.keys.attempts, ids)
        for task_id in ids:  # ZMSCORE would be one command, but needs Redis 6.2
            pipe.zscore(queue.keys.inflight, task_id)
        bodies, runs, *deadlines = pipe.execute()
        for (holder, task_id), body, run, deadline in zip(
            listed, bodies, runs, deadlines, strict=True
        ):
            until = None if deadline is None else deadline / 1000
            holder.tasks.append(Held(task_id, body_type(body), int(run or 0), until))
    ordered = sorted(found.values(), key=lambda c: (-c.holding, c.name))
    return ordered, cut


def types_by_state(queue: RedisQueue, *, sample: int = TYPE_SAMPLE) -> dict[str, Any]:
    """Task types among the first ``sample`` tasks of each state that holds tasks.

    Returns ``{"sample": n, "states": {state: {type: count}}, "cut": [states sampled]}``; a
    body that cannot be read counts under the type ``None``.
    """
    keys = queue.keys
    pipe = queue.client.pipeline(transaction=False)
    pipe.zrange(keys.pending, 0, sample - 1)
    pipe.zrange(keys.scheduled, 0, sample - 1)
    pipe.zrange(keys.inflight, 0, sample - 1)
    pipe.zrange(keys.dead, 0, sample - 1)
    pipe.zcard(keys.pending)
    pipe.zcard(keys.scheduled)
    pipe.zcard(keys.inflight)
    pipe.zcard(keys.dead)
    replies = pipe.execute()
    names = ("pending", "scheduled", "in_flight", "dead")
    ids = dict(zip(names, replies[:4], strict=True))
    ids["pending"] = [pending_id(member) for member in ids["pending"]]
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
