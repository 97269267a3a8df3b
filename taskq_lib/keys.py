"""Key names. Every key of queue ``name`` carries the hash tag ``{name}``, so on Redis Cluster
they all live in one slot and a Lua script may touch them together."""

from __future__ import annotations

#: Prefix of every key taskq writes.
PREFIX = "taskq"

#: The per-queue keys, in the order the Lua scripts expect them in KEYS (see lua/keys.lua).
#: The first ``ENQUEUE_PARTS`` are all that the enqueue script touches, and all it is sent.
PARTS = (
    "pending",
    "scheduled",
    "bodies",
    "state",
    "wakeup",
    "counters",
    "inflight",
    "tokens",
    "dead",
    "done",
    "attempts",
    "errors",
    "results",
)
ENQUEUE_PARTS = 6


class QueueKeys:
    """The key names of one queue."""

    def __init__(self, name: str) -> None:
        if not name or any(c in name for c in "{}") or len(name) > 200:
            raise ValueError(f"bad queue name {name!r}: 1-200 characters, no braces")
        self.name = name
        self.all = [f"{PREFIX}:{{{name}}}:{part}" for part in PARTS]
        for part, key in zip(PARTS, self.all, strict=False):
            setattr(self, part, key)
        #: The keys of the enqueue script, the hottest call: half as many to send and parse.
        self.enqueue = self.all[:ENQUEUE_PARTS]

    pending: str
    inflight: str
    tokens: str
    scheduled: str
    dead: str
    done: str
    bodies: str
    state: str
    attempts: str
    errors: str
    results: str
    wakeup: str
    counters: str
