"""The Lua scripts against the tables they are generated from: key names (`keys.PARTS`) and
state names (`status.Status`); and each script refusing keys of the wrong type, written by
another client, before its first write."""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib.resources import files
from typing import Any

import pytest
import redis

from taskq_lib import ErrorInfo, Status, Task
from taskq_lib.keys import BY_NAME, PARTS
from taskq_lib.redis_queue import RedisQueue
from taskq_lib.scripts import NAMES, assemble

MakeQueue = Callable[..., RedisQueue]
LUA = files("taskq_lib") / "lua"
LUA_FILES = sorted(
    [f"{name}.lua" for name in NAMES]
    + [f"includes/{p.name}" for p in LUA.joinpath("includes").iterdir() if p.name.endswith(".lua")]
)
KEY_NAMES = {part.name.upper(): part.name for part in PARTS}


def declared(text: str, kind: str) -> list[str]:
    return [n for line in re.findall(rf"^--- {kind}:(.*)$", text, re.M) for n in line.split()]


def code(text: str) -> str:
    """The Lua without comments, string literals and state names: where key names are used."""
    text = re.sub(r"--[^\n]*", "", text)
    text = re.sub(r"^local STATUS = .*$|\bSTATUS\.[A-Z_]+", "", text, flags=re.M)
    return re.sub(r"'[^']*'", "''", text)


@pytest.mark.parametrize("path", LUA_FILES)
def test_each_lua_file_declares_exactly_the_keys_it_uses(path: str) -> None:
    text = LUA.joinpath(path).read_text()
    used = {KEY_NAMES[w] for w in re.findall(r"\b[A-Z_]+\b", code(text)) if w in KEY_NAMES}
    assert set(declared(text, "keys")) == used
    assert set(declared(text, "keys")) <= set(BY_NAME)
    # No key taken by position in the files: the header is generated.
    assert "KEYS[" not in code(text)


@pytest.mark.parametrize("name", NAMES)
def test_a_script_gets_its_keys_by_name_in_the_order_it_is_sent_them(name: str) -> None:
    lua = assemble(name)
    lines = re.findall(r"^local ([A-Z_]+) += KEYS\[(\d+)\]", lua.source, re.M)
    assert [(KEY_NAMES[n], int(i)) for n, i in lines] == [
        (part, i) for i, part in enumerate(lua.keys, 1)
    ]
    order = [part.name for part in PARTS]
    assert list(lua.keys) == sorted(lua.keys, key=order.index)
    # Every key the assembled script uses is one of the names the header defines.
    used = {w for w in re.findall(r"\b[A-Z_]+\b", code(lua.source)) if w in KEY_NAMES}
    assert used == {part.upper() for part in lua.keys}


def test_the_scripts_write_exactly_the_states_of_the_status_table() -> None:
    sources = [LUA.joinpath(path).read_text() for path in LUA_FILES]
    named = {n for text in sources for n in re.findall(r"\bSTATUS\.([A-Z_]+)", text)}
    assert named == {status.name for status in Status}
    written_as_text = [
        m for text in sources for m in re.findall(r"state(?:_at)?\(\s*(?:id,\s*)?'", text)
    ]
    assert written_as_text == []  # a state is always STATUS.X, never a bare string


# --------------------------------------------------------------------- keys of the wrong type
def script_args(queue: RedisQueue, held: Any) -> dict[str, list[Any]]:
    """Arguments that make each script write, for a queue holding ``held``."""
    now, task_id, token = queue._now_ms(), held.task.id, held.token
    return {
        "enqueue": [now, "new-id", '{"v": 1}', 0],
        "take": [now + 10**9, 1000, 5, "p", 1],  # everything due, every lease expired
        "ack": [now, 0, task_id, token, '"ok"'],
        "fail": [now, task_id, token, "{}", -1, 0, 0],
        "extend": [now, 1000, task_id, token],
        "release": [now, task_id, token],
        "requeue": [now, "all"],
        "purge": [],
    }


CASES = [(name, part) for name in NAMES for part in assemble(name).keys]


@pytest.mark.parametrize(("script", "part"), CASES)
def test_a_key_of_the_wrong_type_is_refused_before_any_write(
    make_redis_queue: MakeQueue, script: str, part: str
) -> None:
    queue = make_redis_queue()
    queue.put_many(Task("t", {"i": i}) for i in range(3))
    queue.put(Task("t", {"later": True}), delay=0.001)
    held = queue.get(timeout=1)
    assert held is not None
    queue.put(Task("t", {"dead": True}))
    doomed = queue.get(timeout=1)
    assert doomed is not None
    queue.fail(doomed, ErrorInfo("E", "x"), retry_in=None)
    key = queue.keys.key(part)
    queue.client.delete(key)
    queue.client.set(key, "planted by another client")
    before = {k: queue.client.dump(k) for k in queue.keys.all}
    with pytest.raises(redis.ResponseError, match=f"taskq: key {re.escape(key)} is a string"):
        queue._run(script, script_args(queue, held))
    assert {k: queue.client.dump(k) for k in queue.keys.all} == before
