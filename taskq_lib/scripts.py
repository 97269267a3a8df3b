"""The Lua scripts that make every Redis state change atomic, loaded once per client."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

import redis
from redis.commands.core import Script

NAMES = ("enqueue", "take", "ack", "fail", "extend", "release", "requeue", "purge")


@cache
def source(name: str) -> str:
    """A script's Lua source, with the shared header (key names, helpers) in front."""
    lua = files("taskq_lib") / "lua"
    return lua.joinpath("keys.lua").read_text() + "\n" + lua.joinpath(f"{name}.lua").read_text()


def load(client: redis.Redis) -> dict[str, Script]:
    """Every script, registered on ``client`` (EVALSHA, loading it again after a restart)."""
    return {name: client.register_script(source(name)) for name in NAMES}
