"""Inputs a careless or hostile client sends, tried on purpose against the library and the
Lua scripts. Each gets a clear error, and nothing already queued is lost or changed."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
import redis
from support import push_pending

from taskq_lib import InvalidTask, MemoryQueue, Registry, Task, UnknownTaskType
from taskq_lib.redis_queue import RedisQueue

MakeQueue = Callable[..., RedisQueue]


def deeply_nested(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels - 1):
        value = [value]
    return value


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
    push_pending(queue, "ghost")
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
    push_pending(queue, "w")
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
        ("email", {"n": 2**53}, InvalidTask),  # beyond what JavaScript and Lua hold exactly
        ("email", {"n": 10**5000}, InvalidTask),  # too long for Python to print
        ("email", {"deep": deeply_nested(65)}, InvalidTask),  # JSON peers stop near 200 or 1000
        ("email", {"deep": deeply_nested(100_000)}, InvalidTask),
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


# --------------------------------------------------------------------- every field, one error type
BAD_FIELDS = [
    ({"delay": float("inf")}, "delay"),
    ({"delay": float("nan")}, "delay"),
    ({"delay": "soon"}, "delay"),
    ({"delay": -1}, "delay"),
    ({"delay": 10**400}, "delay"),
    ({"id": ""}, "id"),
    ({"id": "a\nb"}, "id"),
    ({"id": "\x1b[2J"}, "id"),
    ({"id": "\ud800"}, "id"),
    ({"id": 42}, "id"),
    ({"id": "x" * 129}, "id"),
    ({"created_at": "yesterday"}, "created_at"),
    ({"created_at": float("nan")}, "created_at"),
    ({"created_at": -1.0}, "created_at"),
    ({"created_at": 1e300}, "created_at"),
    ({"priority": 2**53}, "priority"),
    ({"priority": 1.5}, "priority"),
    ({"max_retries": 10**20}, "max_retries"),
]


@pytest.mark.parametrize(("fields", "name"), BAD_FIELDS, ids=lambda v: repr(v)[:30])
def test_every_refusal_at_enqueue_is_an_invalid_task_naming_the_field(
    queue_with_work: RedisQueue, fields: dict[str, Any], name: str
) -> None:
    registry = Registry()
    registry.register("email", lambda task: None)
    memory = MemoryQueue(maxsize=0)
    before = snapshot(queue_with_work)
    for queue in (queue_with_work, memory):
        with pytest.raises(InvalidTask, match=f"^{name}"):
            registry.enqueue(queue, "email", {"to": "ana@example.com"}, **fields)
    assert snapshot(queue_with_work) == before and len(memory) == 0


# --------------------------------------------------------------------- forged log lines
FORGED = "x\n2026-01-01 00:00:00 CRITICAL taskq: all tasks deleted\x1b[2J\u202e"


def test_ids_and_error_texts_cannot_forge_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    from taskq_lib.cli import LoggedEvents
    from taskq_lib.events import DEAD, RETRYING, Event

    events = LoggedEvents()
    with caplog.at_level(logging.INFO, logger="taskq"):
        events.record(Event(0.0, RETRYING, FORGED, "email", "w0", 1, FORGED))
        events.record(Event(0.0, DEAD, FORGED, "email", "w0", 2, FORGED))
    assert len(caplog.records) == 2
    for record in caplog.records:
        text = record.getMessage()
        assert "\n" not in text and "\x1b" not in text and "\u202e" not in text
        assert "x\\n2026-01-01" in text and "\\x1b[2J\\u202e" in text  # escaped, still readable


def test_a_foreign_id_cannot_forge_the_queue_log_lines(
    make_redis_queue: MakeQueue, caplog: pytest.LogCaptureFixture
) -> None:
    queue = make_redis_queue()
    queue.client.hset(queue.keys.bodies, FORGED, b"not json\nERROR forged")
    push_pending(queue, FORGED)
    with caplog.at_level(logging.WARNING, logger="taskq"):
        assert queue.get(timeout=0.2) is None
    [record] = caplog.records
    assert "cannot be decoded" in record.getMessage()
    assert not any(char in record.getMessage() for char in "\n\x1b\u202e")
    [dead] = queue.dead_letters()
    assert dead.id == FORGED  # the id itself is kept as it is; only the log line escapes it


# --------------------------------------------------------------------- the command line
def taskq(*args: str, env: dict[str, str] | None = None, **options: Any) -> Any:
    """Run ``python -m taskq_lib ARGS`` as a real process; its CompletedProcess."""
    options.setdefault("stdout", subprocess.PIPE)
    return subprocess.run(
        [sys.executable, "-m", "taskq_lib", *args],
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {}), "TASKQ_REDIS_URL": ""},
        **options,
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--prefetch", "0"], "--prefetch: must be 1..10000"),
        (["--prefetch", "10001"], "--prefetch: must be 1..10000"),
        (["--lease", "0.01"], "--lease: must be 1..86400 seconds: a shorter lease runs out"),
        (["--lease", "1e300"], "--lease: must be 1..86400 seconds"),
        (["--lease", "nan"], "--lease: must be 1..86400 seconds"),
        (["--shutdown-timeout", "1e300"], "--shutdown-timeout: must be 0..86400 seconds"),
        (["--reaper-period", "0"], "--reaper-period: must be 0.01..86400 seconds"),
        (["--concurrency", "0"], "--concurrency: must be 1..1000"),
        (["--concurrency", "100000"], "--concurrency: must be 1..1000"),
        (["--async-concurrency", "0"], "--async-concurrency: must be 1..10000"),
    ],
)
def test_the_worker_command_refuses_settings_that_cannot_work(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from taskq_lib.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["worker", "--app", "taskq_lib.examples:registry", *args])
    assert exited.value.code == 2 and says in capsys.readouterr().err


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis://:s3cret@host:notaport/0", "Port could not be cast to integer"),
        ("redis://:s3c/ret@host/0", "must be percent-encoded"),
        ("redis://:s3cret@[::1/0", "Invalid IPv6 URL"),
        ("redis://:s3cret@host:99999/0", "Port out of range"),
        ("redis://:s3cret@host/zero", "the database must be a number"),
        ("http://:s3cret@host/0", "must start with redis://"),
        ("redis://:s3cret@/0", "names no host"),
    ],
)
def test_a_malformed_redis_url_is_refused_without_showing_its_password(url: str, says: str) -> None:
    done = taskq("info", "--redis-url", url)
    assert done.returncode == 2 and done.stdout == ""
    assert says in done.stderr and "bad Redis URL" in done.stderr
    assert "s3" not in done.stderr and "ret" not in done.stderr.replace("Redis", "")
    assert "Traceback" not in done.stderr


@pytest.mark.real_redis
def test_enqueue_refuses_a_payload_nested_too_deeply(real_redis_url: str) -> None:
    from taskq_lib.cli import main

    for depth, says in [(70, "nested deeper than 64 levels"), (15_000, "nested too deeply")]:
        payload = '{"a":' * depth + "1" + "}" * depth
        done = taskq("enqueue", "email", payload, "--redis-url", real_redis_url)
        assert done.returncode == 2 and says in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert main(["info", "--redis-url", real_redis_url]) == 0  # the server is fine


@pytest.mark.real_redis
def test_output_into_a_closed_pipe_ends_quietly(real_redis_url: str) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head` that has already exited: every write fails
    try:
        done = taskq("info", "--json", "--redis-url", real_redis_url, stdout=write_end)
    finally:
        os.close(write_end)
    assert done.returncode == 141, done.stderr
    assert done.stderr == ""  # no BrokenPipeError traceback, no "Exception ignored"


@pytest.mark.real_redis
def test_a_redis_that_needs_a_password_says_so_in_plain_words() -> None:
    from support import RedisServer

    server = RedisServer("--requirepass", "s3cret-pw")
    try:
        done = taskq("info", "--redis-url", server.url)
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert f"Redis at {server.url} needs a password, and the URL has none" in done.stderr
        wrong = server.url.replace("redis://", "redis://:not-it@")
        done = taskq("worker", "--app", "taskq_lib.examples:registry", "--redis-url", wrong)
        assert done.returncode == 1 and "refused the user name or password" in done.stderr
        assert "not-it" not in done.stderr
        right = server.url.replace("redis://", "redis://:s3cret-pw@")
        done = taskq("info", "--redis-url", right)
        assert done.returncode == 0 and "s3cret" not in done.stdout + done.stderr
    finally:
        server.stop()


@pytest.mark.real_redis
def test_dlq_list_does_not_let_an_error_text_drive_the_terminal(
    real_redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from taskq_lib import ErrorInfo
    from taskq_lib.cli import main

    client = redis.Redis.from_url(real_redis_url)
    queue = RedisQueue("dlq-forged", client)
    try:
        queue.put(Task("email", {}))
        delivery = queue.get(timeout=5)
        assert delivery is not None
        queue.fail(delivery, ErrorInfo("ValueError", FORGED), retry_in=None)
        assert main(["dlq", "list", "--queue", "dlq-forged", "--redis-url", real_redis_url]) == 0
        out = capsys.readouterr().out
        assert len(out.splitlines()) == 2 and "\x1b" not in out and "\u202e" not in out
        assert "CRITICAL taskq: all tasks deleted\\x1b[2J" in out
    finally:
        queue.close()
        queue.delete()
        client.close()


@pytest.mark.parametrize("lease", [0.0, -1.0, float("nan"), float("inf"), 1e12])
def test_a_lease_that_cannot_work_is_refused_when_the_queue_is_made(lease: float) -> None:
    import fakeredis

    with pytest.raises(ValueError, match="lease"):
        RedisQueue("q", fakeredis.FakeRedis(), lease=lease)
