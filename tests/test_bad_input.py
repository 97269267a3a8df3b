"""Inputs a careless or hostile client sends, tried on purpose against the library and the
Lua scripts. Each gets a clear error, and nothing already queued is lost or changed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis

from taskq_lib import InvalidTask, Registry, Task, UnknownTaskType
from taskq_lib.redis_queue import RedisQueue

MakeQueue = Callable[..., RedisQueue]


def snapshot(queue: RedisQueue) -> dict[str, Any]:
    """Every key of the queue, dumped: equal snapshots mean nothing changed."""
    return {key: queue.client.dump(key) for key in queue.keys.all}


@pytest.fixture
def queue_with_work(make_redis_queue: MakeQueue) -> RedisQueue:
    queue = make_redis_queue()
    queue.put_many(Task("t", {"i": i}) for i in range(5))
    queue.put(Task("t", {"later": True}), delay=60)
    held = queue.get(timeout=1)
    assert held is not None
    return queue


BAD_SCRIPT_CALLS = [
    ("take", ["now", 1000, 1, "p", 0]),
    ("take", [1, 1000, "many", "p", 0]),
    ("take", [1, 1000, -5, "p", 0]),
    ("take", [1, 1000, 10**9, "p", 0]),
    ("enqueue", [1, "id-only"]),
    ("enqueue", [1, "x", "{}", "soon"]),
    ("ack", [1, 1000, "id", "token"]),
    ("ack", ["", 1000, "id", "token", ""]),
    ("fail", [1, "id", "token", "{}", "never", 10, 10]),
    ("extend", [1, 1000, "id"]),
    ("release", [1, "id"]),
    ("requeue", ["yesterday", "all"]),
    ("requeue", [1, "*"]),
]


@pytest.mark.parametrize(("script", "args"), BAD_SCRIPT_CALLS)
def test_bad_script_arguments_are_refused_before_any_write(
    queue_with_work: RedisQueue, script: str, args: list[Any]
) -> None:
    queue = queue_with_work
    before = snapshot(queue)
    with pytest.raises(redis.ResponseError, match="taskq: "):
        queue._run(script, args)
    assert snapshot(queue) == before


def test_pending_id_without_a_body_is_dead_lettered_not_dropped(
    make_redis_queue: MakeQueue,
) -> None:
    queue = make_redis_queue()
    queue.client.rpush(queue.keys.pending, "ghost")
    task = Task("t")
    queue.put(task)
    delivery = queue.get(timeout=1)
    assert delivery is not None and delivery.task.id == task.id
    [ghost] = queue.dead_letters()
    assert (ghost.id, ghost.task, ghost.error.type) == ("ghost", None, "MissingBody")
    info = queue.info("ghost")
    assert info is not None and info.state == "dead"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"null",
        b'"a string"',
        b'{"v": 1, "id": "w", "type": "t"}',
        b'{"v": 1, "id": "w", "type": "t", "payload": [1]}',
        b'{"v": 1, "id": "w", "type": "t", "payload": {}, "priority": "high"}',
        b'{"v": 1, "id": "w", "type": "t", "payload": {}, "max_retries": -1}',
        b'{"v": "1", "id": "w", "type": "t", "payload": {}}',
        b'{"v": 1, "id": "w", "type": "t", "payload": {"x": NaN}}',
        b"\x80\x04\x95pickle-looking bytes.",
    ],
)
def test_foreign_bodies_go_to_the_dead_letter_queue(
    make_redis_queue: MakeQueue, body: bytes
) -> None:
    queue = make_redis_queue()
    queue.client.hset(queue.keys.bodies, "w", body)
    queue.client.rpush(queue.keys.pending, "w")
    assert queue.get(timeout=0.2) is None
    [dead] = queue.dead_letters()
    assert dead.id == "w" and dead.task is None and dead.error.type == "DecodeError"
    info = queue.info("w")
    assert info is not None and info.state == "dead"


@pytest.mark.parametrize(
    ("task_type", "payload", "error"),
    [
        ("email", {"to": b"bytes"}, InvalidTask),
        ("email", {"when": object()}, InvalidTask),
        ("email", "not a dict", InvalidTask),
        ("email", {"deep": [[[{"x": {1, 2}}]]]}, InvalidTask),
        ("fax", {}, UnknownTaskType),
        ("", {}, InvalidTask),
        ("email\n", {}, InvalidTask),
        ("../../etc/passwd", {}, InvalidTask),
        ("x" * 10_000, {}, InvalidTask),
    ],
)
def test_bad_tasks_are_refused_and_the_queue_is_unchanged(
    queue_with_work: RedisQueue, task_type: str, payload: Any, error: type[Exception]
) -> None:
    registry = Registry()
    registry.register("email", lambda task: None)
    before = snapshot(queue_with_work)
    with pytest.raises(error):
        registry.enqueue(queue_with_work, task_type, payload)
    assert snapshot(queue_with_work) == before


def test_unicode_survives_the_round_trip(make_redis_queue: MakeQueue) -> None:
    queue = make_redis_queue()
    payload = {"নাম": "টাস্ক কিউ", "emoji": "📬", "nul": "a\u0000b", "rtl": "\u202e"}
    queue.put(Task("t", payload))
    delivery = queue.get(timeout=1)
    assert delivery is not None and delivery.task.payload == payload


def test_bad_queue_names_are_refused() -> None:
    for name in ["", "a{b}", "x" * 300]:
        with pytest.raises(ValueError, match="bad queue name"):
            RedisQueue(name, redis.Redis())


HOSTILE_BODIES = [
    (b'{"type": "email", "payload": {"x": "\\ud800"}}', 422),  # a lone surrogate
    (b'{"type": "email", "payload": {"\\udfff": 1}}', 422),
    (b'{"type": "\\u00e9mail", "payload": {}}', 422),  # not a registered type
    (b"", 422),  # "body: Field required"
    (b"null", 422),
    (b"\xff\xfe{}", 400),  # not UTF-8
    (b'{"type": "email", "payload": {}, "payload": []}', 422),  # duplicate keys: the last wins
    (b'{"type": "email", "payload": {"k": "' + b"x" * 200_000 + b'"}}', 413),
]


@pytest.mark.parametrize(("body", "status"), HOSTILE_BODIES, ids=lambda v: repr(v)[:40])
def test_hostile_http_bodies_get_a_4xx_and_change_nothing(body: bytes, status: int) -> None:
    from fastapi.testclient import TestClient

    from taskq_lib import MemoryQueue
    from taskq_lib.api import TrackedQueue, create_app

    queue = TrackedQueue(MemoryQueue(maxsize=0))
    registry = Registry()
    registry.register("email", lambda task: None)
    queue.put(Task("email", {"already": "here"}))
    client = TestClient(create_app(queue, registry))
    answer = client.post("/tasks", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == status, answer.text
    assert "error" in answer.json()
    assert len(queue) == 1


def test_unicode_payload_goes_through_the_api() -> None:
    from fastapi.testclient import TestClient

    from taskq_lib import MemoryQueue
    from taskq_lib.api import TrackedQueue, create_app

    queue = TrackedQueue(MemoryQueue(maxsize=0))
    registry = Registry()
    registry.register("email", lambda task: None)
    client = TestClient(create_app(queue, registry))
    payload = {"নাম": "টাস্ক কিউ", "emoji": "📬"}
    answer = client.post("/tasks", json={"type": "email", "payload": payload})
    assert answer.status_code == 202
    delivery = queue.get(timeout=1)
    assert delivery is not None and delivery.task.payload == payload
