"""Key names. Every key of queue ``name`` carries the hash tag ``{name}``, so on Redis Cluster
they all live in one slot and a Lua script may touch them together.

`PARTS` is the one list of a queue's keys: their names, Redis types and contents. The Lua
scripts get their ``local PENDING = KEYS[1]`` lines, and the check that each key has its type,
generated from it (see `scripts`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: Prefix of every key taskq writes.
PREFIX = "taskq"


@dataclass(frozen=True)
class Part:
    """One key of a queue: its name (``taskq:{queue}:<name>``), Redis type and contents."""

    name: str
    type: str
    holds: str


# name       type  what it holds
_TABLE = """
pending      zset  ids that may run now, after a 16-digit line number; score -priority
scheduled    zset  id -> due time (ms): delayed tasks and retries
bodies       hash  id -> task JSON, as enqueued (never rewritten)
state        hash  id -> "status:ms", e.g. "queued:1700000000000"
wakeup       list  a nudge for consumers blocked waiting for work
counters     hash  totals since the queue was created
inflight     zset  id -> lease deadline (ms)
tokens       hash  id -> token of the current delivery
dead         zset  id -> time of death (ms): the dead-letter queue
done         zset  id -> time of success (ms), kept for the retention time
attempts     hash  id -> attempts so far (deliveries to a worker)
errors       hash  id -> last error JSON
results      hash  id -> result JSON
cancelled    zset  id -> time of cancelling (ms), kept for the retention time
uniques      hash  unique key -> JSON {id, fp, hold}: the task holding the key
expiries     zset  unique key -> when to look at it again (ms), to forget it once free
periodic     hash  schedule name -> its last claimed tick (ms)
places       hash  id -> its score on pending, for tasks whose score is not 0 (a priority)
"""
PARTS = tuple(Part(*line.split(maxsplit=2)) for line in _TABLE.strip().splitlines())
#: Each part by name.
BY_NAME = {part.name: part for part in PARTS}


class QueueKeys:
    """The key names of one queue: ``keys.pending`` and so on, and ``keys.all``."""

    def __init__(self, name: str) -> None:
        if not name or any(c in name for c in "{}") or len(name) > 200:
            raise ValueError(f"bad queue name {name!r}: 1-200 characters, no braces")
        self.name = name
        self.all = [self.key(part.name) for part in PARTS]
        for part, key in zip(PARTS, self.all, strict=True):
            setattr(self, part.name, key)
        #: The pub/sub channel on which scripts announce tasks that reached a final state
        #: (a channel, not a key: nothing is stored under it). See ``lua/includes/finished.lua``.
        self.finished = f"{PREFIX}:{{{name}}}:finished"

    def key(self, part: str) -> str:
        """The full key of one part (``pending`` -> ``taskq:{name}:pending``)."""
        if part not in BY_NAME:
            raise KeyError(f"no key part {part!r}; the parts are {', '.join(BY_NAME)}")
        return f"{PREFIX}:{{{self.name}}}:{part}"

    def of(self, parts: Iterable[str]) -> list[str]:
        """The full keys of ``parts``, in that order (what a script gets in KEYS)."""
        return [self.key(part) for part in parts]

    pending: str
    scheduled: str
    bodies: str
    state: str
    wakeup: str
    counters: str
    inflight: str
    tokens: str
    dead: str
    done: str
    attempts: str
    errors: str
    results: str
    cancelled: str
    uniques: str
    expiries: str
    periodic: str
    places: str


#: A member of ``pending`` is a line number of this many digits, then the task id (see
#: ``lua/includes/pending.lua``): equal priorities sort by it, first in, first out.
LINE_DIGITS = 16


def pending_id(member: bytes | str) -> str:
    """The task id in a member of a queue's ``pending`` sorted set."""
    text = member.decode() if isinstance(member, bytes) else member
    return text[LINE_DIGITS:]
