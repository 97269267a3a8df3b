"""The HTTP API through Starlette's TestClient (in-process, no port): routes, errors, the token,
the OpenAPI schema, and a schema-driven fuzz that finds no 5xx. Each route runs on an
in-memory `TrackedQueue`, on the Redis queue over fakeredis, and over a real ``redis-server``."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import fakeredis
import pytest
import redis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.backoff import NoBackoff
from redis.retry import Retry
from support import free_port

from taskq_lib import (
    EventLog,
    MemoryQueue,
    PriorityQueue,
    Registry,
    RetryPolicy,
    Task,
    WorkerPool,
)
from taskq_lib.api import InspectableQueue, TrackedQueue, create_app
from taskq_lib.deadletter import ErrorInfo
from taskq_lib.redis_queue import RedisQueue

ERROR = ErrorInfo("RuntimeError", "boom")


def make_registry() -> Registry:
    registry = Registry()
    registry.register("email", lambda task: {"sent_to": task.payload.get("to")})
    registry.register("sms", lambda task: None)

    def boom(task: Task) -> None:
        raise ConnectionError("smtp down")

    registry.register("boom", boom)
    return registry


@pytest.fixture
def queue(inspectable_queue: InspectableQueue) -> InspectableQueue:
    """An empty queue the API can inspect, on each backend (see conftest)."""
    return inspectable_queue


@pytest.fixture
def client(queue: InspectableQueue) -> TestClient:
    return TestClient(create_app(queue, make_registry()))


def state(queue: InspectableQueue) -> tuple[int, dict[str, int], int]:
    """What a refused request must not change."""
    return len(queue), queue.stats(), len(queue.dead_letters())


def run_workers(queue: Any, finals: int) -> EventLog:
    """Run workers until ``finals`` tasks have succeeded or died; return their events."""
    no_retry = RetryPolicy(max_retries=0)
    pool = WorkerPool(queue, make_registry(), concurrency=2, retry=no_retry, poll=0.05).start()
    try:
        assert pool.events.wait_for_final(finals, timeout=10)
    finally:
        assert pool.stop(drain=False, timeout=10)  # delayed tasks stay where they are
    return pool.events


# --------------------------------------------------------------------- the happy paths
def test_a_task_is_followed_from_202_to_done(client: TestClient, queue: InspectableQueue) -> None:
    answer = client.post("/tasks", json={"type": "email", "payload": {"to": "ana@example.com"}})
    assert answer.status_code == 202
    body = answer.json()
    assert body["type"] == "email" and body["status"] == "queued"
    task_id = body["task_id"]
    assert answer.headers["location"] == f"/tasks/{task_id}"

    before = client.get(f"/tasks/{task_id}").json()
    assert before["status"] == "queued" and before["attempts"] == 0 and before["result"] is None

    run_workers(queue, 1)
    after = client.get(f"/tasks/{task_id}")
    assert after.status_code == 200
    assert after.json() | {"updated_at": None} == {
        "task_id": task_id,
        "type": "email",
        "status": "succeeded",
        "attempts": 1,
        "max_retries": None,
        "last_error": None,
        "result": {"sent_to": "ana@example.com"},
        "updated_at": None,
        "problem": None,
    }


def test_the_originals_route_takes_the_payload_as_the_body(
    client: TestClient, queue: InspectableQueue
) -> None:
    answer = client.post("/queue/sms", json={"to": "+8801700000000"})
    assert answer.status_code == 202
    assert answer.json()["type"] == "sms" and answer.json()["status"] == "queued"
    assert client.get("/queue/length").json() == {"length": 1}
    info = queue.info(answer.json()["task_id"])
    assert info is not None and info.task is not None
    assert info.task.payload == {"to": "+8801700000000"}


def test_a_delayed_task_is_scheduled_with_its_fields(
    client: TestClient, queue: InspectableQueue
) -> None:
    body = {"type": "email", "payload": {}, "delay_seconds": 60, "priority": 7, "max_retries": 2}
    answer = client.post("/tasks", json=body)
    assert answer.status_code == 202 and answer.json()["status"] == "scheduled"
    status = client.get(f"/tasks/{answer.json()['task_id']}").json()
    assert status["status"] == "scheduled" and status["max_retries"] == 2
    stats = client.get("/stats").json()
    assert stats["scheduled"] == 1 and stats["pending"] == 0
    info = queue.info(answer.json()["task_id"])
    assert info is not None and info.task is not None and info.task.priority == 7


def test_stats_count_each_state(client: TestClient, queue: InspectableQueue) -> None:
    for kind in ["email", "email", "boom"]:
        assert client.post(f"/queue/{kind}", json={}).status_code == 202
    client.post("/tasks", json={"type": "sms", "payload": {}, "delay_seconds": 60})
    run_workers(queue, 3)
    stats = client.get("/stats").json()
    assert {k: stats[k] for k in ("pending", "scheduled", "in_flight", "dead", "done")} == {
        "pending": 0,
        "scheduled": 1,
        "in_flight": 0,
        "dead": 1,
        "done": 2,
    }
    assert stats["queue"] == queue.name
    assert stats["totals"]["enqueued"] == 4 and stats["totals"]["succeeded"] == 2
    assert client.get("/queue/length").json() == {"length": 1}
    assert client.get("/healthz").json() == {"status": "ok", "queue": queue.name}


def test_a_failed_task_shows_its_error_and_can_be_requeued_then_purged(
    client: TestClient, queue: InspectableQueue
) -> None:
    task_id = client.post("/queue/boom", json={"n": 1}).json()["task_id"]
    run_workers(queue, 1)
    status = client.get(f"/tasks/{task_id}").json()
    assert status["status"] == "dead" and status["attempts"] == 1
    assert status["last_error"]["type"] == "ConnectionError"
    assert status["last_error"]["message"] == "smtp down"

    dlq = client.get("/dlq").json()
    assert dlq["count"] == 1
    [item] = dlq["items"]
    assert item["task_id"] == task_id and item["type"] == "boom" and item["payload"] == {"n": 1}
    assert item["error"]["type"] == "ConnectionError" and "smtp down" in item["error"]["traceback"]

    assert client.post("/dlq/no-such-task/requeue").status_code == 404
    assert client.post("/dlq/*/requeue").status_code == 404  # not a wildcard over HTTP
    assert client.post(f"/dlq/{task_id}/requeue").json() == {"requeued": 1}
    again = client.get(f"/tasks/{task_id}").json()
    assert again["status"] == "queued" and again["attempts"] == 0
    assert client.get("/dlq").json()["count"] == 0

    run_workers(queue, 1)
    assert client.get("/dlq").json()["count"] == 1
    assert client.delete("/dlq").json() == {"purged": 1}
    assert client.get("/dlq").json() == {"queue": queue.name, "count": 0, "items": []}
    assert client.get(f"/tasks/{task_id}").status_code == 404  # forgotten with the purge


def test_an_unknown_task_is_404(client: TestClient) -> None:
    answer = client.get("/tasks/never-enqueued")
    assert answer.status_code == 404
    assert "never-enqueued" in answer.json()["error"]


def test_enqueued_events_are_recorded_when_asked() -> None:
    events = EventLog()
    client = TestClient(create_app(TrackedQueue(MemoryQueue()), make_registry(), events=events))
    task_id = client.post("/queue/email", json={}).json()["task_id"]
    [event] = events.events()
    assert (event.kind, event.task_id, event.task_type) == ("enqueued", task_id, "email")


def test_the_api_records_enqueued_before_the_put_and_refused_when_full() -> None:
    events = EventLog()

    class SeesItsEvent(TrackedQueue):
        def put(self, task: Task, *, delay: float = 0.0, timeout: float | None = None) -> None:
            # A worker may take the task the moment it is put: "enqueued" must be there first.
            assert [e.kind for e in events.events() if e.task_id == task.id] == ["enqueued"]
            super().put(task, delay=delay, timeout=timeout)

    queue = SeesItsEvent(MemoryQueue(maxsize=1))
    client = TestClient(create_app(queue, make_registry(), events=events, put_timeout=0.01))
    first = client.post("/queue/email", json={})
    second = client.post("/queue/email", json={})
    assert (first.status_code, second.status_code) == (202, 503)
    kinds = [(e.kind, e.task_id == first.json()["task_id"]) for e in events.events()]
    assert kinds == [("enqueued", True), ("enqueued", False), ("refused", False)]


# --------------------------------------------------------------------- bad input
LIMIT = 1024  # a small body limit, so the 413 cases stay small

JSON = {"content-type": "application/json"}
BAD_REQUESTS: list[tuple[str, str, dict[str, Any], int, str]] = [
    ("POST", "/tasks", {"content": b'{"type": "email",', "headers": JSON}, 400, "malformed JSON"),
    ("POST", "/tasks", {"content": b"\xff\xfe{}", "headers": JSON}, 400, "malformed JSON"),
    ("POST", "/queue/email", {"content": b'{"x": NaN}', "headers": JSON}, 400, "NaN is not JSON"),
    ("POST", "/tasks", {"content": b"{}", "headers": {"content-type": "text/plain"}}, 415, "JSON"),
    ("POST", "/queue/email", {"content": b"{}"}, 415, "Content-Type"),
    ("POST", "/tasks", {"json": {"type": 5, "payload": {}}}, 422, "type"),
    ("POST", "/tasks", {"json": {"type": "email", "payload": [1]}}, 422, "payload"),
    (
        "POST",
        "/tasks",
        {"json": {"type": "email", "payload": {}, "priority": "9"}},
        422,
        "priority",
    ),
    (
        "POST",
        "/tasks",
        {"json": {"type": "email", "payload": {}, "priority": True}},
        422,
        "priority",
    ),
    (
        "POST",
        "/tasks",
        {"json": {"type": "email", "payload": {}, "delay_seconds": -1}},
        422,
        "delay",
    ),
    (
        "POST",
        "/tasks",
        {"json": {"type": "email", "payload": {}, "max_retries": -1}},
        422,
        "max_retries",
    ),
    ("POST", "/tasks", {"json": {"type": "email", "payload": {}, "delay": 5}}, 422, "delay"),
    ("POST", "/tasks", {"json": {"payload": {}}}, 422, "type: Field required"),
    ("POST", "/tasks", {"json": {"type": "email", "payload": {"x": 1e400}}}, 400, "malformed"),
    (
        "POST",
        "/tasks",
        {"content": b'{"type":"email","payload":{"x":1e400}}', "headers": JSON},
        422,
        "inf",
    ),
    ("POST", "/tasks", {"json": {"type": "bad type!", "payload": {}}}, 422, "should match pattern"),
    ("POST", "/queue/email", {"json": [1, 2]}, 422, "dictionary"),
    ("POST", "/queue/email", {}, 422, "Field required"),
    ("POST", "/tasks", {"json": {"type": "email", "payload": {"x": "y" * LIMIT}}}, 413, "limit"),
    (
        "POST",
        "/queue/email",
        {"chunks": [b'{"x": "', b"y" * LIMIT, b'"}'], "headers": JSON},
        413,
        "limit",
    ),
    (
        "POST",
        "/queue/email",
        {"content": b"{}", "headers": {**JSON, "content-length": "x"}},
        400,
        "Content-Length",
    ),
    (
        "POST",
        "/queue/email",
        {"content": b"{}", "headers": {**JSON, "content-length": str(10**9)}},
        413,
        "limit",
    ),
    ("GET", "/dlq?limit=0", {}, 422, "limit"),
    ("GET", "/dlq?limit=many", {}, 422, "limit"),
    ("PUT", "/tasks", {}, 405, "Method Not Allowed"),
    ("GET", "/no/such/route", {}, 404, "Not Found"),
]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "says"),
    BAD_REQUESTS,
    ids=[f"{m} {p} {s} {says}" for m, p, _, s, says in BAD_REQUESTS],
)
def test_bad_input_gets_a_clear_error_and_changes_nothing(
    queue: InspectableQueue, method: str, path: str, kwargs: dict[str, Any], status: int, says: str
) -> None:
    client = TestClient(create_app(queue, make_registry(), max_body_bytes=LIMIT))
    queue.put(Task("email", {"already": "here"}))
    before = state(queue)
    kwargs = dict(kwargs)
    if "json" in kwargs:  # sent as is: NaN and infinity included
        kwargs["content"] = json.dumps(kwargs.pop("json")).encode()
        kwargs["headers"] = JSON
    if "chunks" in kwargs:  # streamed, with no Content-Length
        kwargs["content"] = iter(kwargs.pop("chunks"))
    answer = client.request(method, path, **kwargs)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert isinstance(error, str) and says in error
    assert state(queue) == before


def test_json_nested_too_deeply_is_400() -> None:
    queue = TrackedQueue(MemoryQueue())
    client = TestClient(create_app(queue, make_registry(), max_body_bytes=300_000))
    answer = client.post("/queue/email", content=b"[" * 200_000, headers=JSON)
    assert answer.status_code == 400 and "nested" in answer.json()["error"]
    assert len(queue) == 0


def test_an_unknown_type_is_refused_naming_the_registered_ones(
    client: TestClient, queue: InspectableQueue
) -> None:
    before = state(queue)
    for answer in [
        client.post("/tasks", json={"type": "fax", "payload": {}}),
        client.post("/queue/fax", json={}),
    ]:
        assert answer.status_code == 422
        body = answer.json()
        assert body["known_types"] == ["boom", "email", "sms"]
        assert "'fax'" in body["error"] and "'email'" in body["error"]
    assert state(queue) == before


def test_validation_errors_list_each_field(client: TestClient) -> None:
    body = client.post("/tasks", json={"type": 1, "payload": [], "extra": 0}).json()
    assert sorted(tuple(d["loc"]) for d in body["details"]) == [
        ("body", "extra"),
        ("body", "payload"),
        ("body", "type"),
    ]


def test_a_task_over_the_task_limit_is_413() -> None:
    queue = TrackedQueue(MemoryQueue())
    client = TestClient(create_app(queue, make_registry(), max_task_bytes=200))
    answer = client.post("/queue/email", json={"text": "x" * 300})
    assert answer.status_code == 413 and "over the limit of 200 bytes" in answer.json()["error"]
    assert len(queue) == 0


@pytest.mark.parametrize("inner", [MemoryQueue, PriorityQueue])
def test_a_full_queue_is_503_with_retry_after(inner: type[MemoryQueue]) -> None:
    queue = TrackedQueue(inner(maxsize=1))
    client = TestClient(create_app(queue, make_registry(), put_timeout=0.01, retry_after=3))
    assert client.post("/queue/email", json={}).status_code == 202
    before = state(queue)
    answer = client.post("/queue/email", json={})
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "3"
    assert "full" in answer.json()["error"]
    assert state(queue) == before


def test_a_closed_queue_is_503() -> None:
    queue = TrackedQueue(MemoryQueue())
    client = TestClient(create_app(queue, make_registry()))
    queue.close()
    answer = client.post("/queue/email", json={})
    assert answer.status_code == 503 and "closing" in answer.json()["error"]
    assert "retry-after" in answer.headers


def test_redis_out_of_reach_is_503_not_500() -> None:
    unreachable = redis.Redis(port=free_port(), retry=Retry(NoBackoff(), 0))  # fail at once
    client = TestClient(create_app(RedisQueue("gone", unreachable), make_registry()))
    for answer in [
        client.get("/healthz"),
        client.post("/queue/email", json={}),
        client.get("/tasks/x"),
        client.get("/stats"),
    ]:
        assert answer.status_code == 503
        assert "unreachable" in answer.json()["error"] and answer.headers["retry-after"] == "1"


def test_a_queue_without_status_is_refused_with_a_hint() -> None:
    with pytest.raises(TypeError, match="TrackedQueue"):
        create_app(MemoryQueue(), make_registry())  # type: ignore[arg-type]


# --------------------------------------------------------------------- the token
@pytest.fixture
def guarded() -> tuple[TestClient, TrackedQueue]:
    queue = TrackedQueue(MemoryQueue())
    return TestClient(create_app(queue, make_registry(), token="s3cret")), queue


GUARDED = [
    ("POST", "/tasks", {"json": {"type": "email", "payload": {}}}),
    ("POST", "/queue/email", {"json": {}}),
    ("POST", "/dlq/some-id/requeue", {}),
    ("DELETE", "/dlq", {}),
    ("GET", "/tasks/some-id", {}),  # what tasks hold (payloads, results, errors) is not public
    ("GET", "/dlq", {}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), GUARDED)
@pytest.mark.parametrize("auth", [None, "Bearer wrong", "Basic czNjcmV0", "Bearer s3cret2"])
def test_writes_and_task_reads_need_the_token(
    guarded: tuple[TestClient, TrackedQueue],
    method: str,
    path: str,
    kwargs: dict[str, Any],
    auth: str | None,
) -> None:
    client, queue = guarded
    headers = {} if auth is None else {"Authorization": auth}
    before = state(queue)
    answer = client.request(method, path, headers=headers, **kwargs)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert "Bearer" in answer.json()["error"]
    assert state(queue) == before


def test_the_right_token_writes_and_reads_and_counts_need_none(
    guarded: tuple[TestClient, TrackedQueue],
) -> None:
    client, _ = guarded
    token = {"Authorization": "Bearer s3cret"}
    answer = client.post("/queue/email", json={}, headers=token)
    assert answer.status_code == 202
    for path in ["/dlq", f"/tasks/{answer.json()['task_id']}"]:
        read = client.get(path, headers=token)
        assert read.status_code == 200, path
    assert read.json()["type"] == "email"
    for path in ["/queue/length", "/stats", "/healthz"]:  # counts only: open to probes
        assert client.get(path).status_code == 200, path


def test_an_empty_token_is_a_mistake() -> None:
    with pytest.raises(ValueError, match="token"):
        create_app(TrackedQueue(MemoryQueue()), make_registry(), token="")


# --------------------------------------------------------------------- the schema
def test_the_openapi_schema_describes_every_route_and_error() -> None:
    app = create_app(TrackedQueue(MemoryQueue()), make_registry(), token="t")
    schema = TestClient(app).get("/openapi.json").json()
    operations = {
        (method.upper(), path): op
        for path, item in schema["paths"].items()
        for method, op in item.items()
    }
    assert set(operations) == {
        ("POST", "/tasks"),
        ("POST", "/queue/{task_type}"),
        ("GET", "/tasks/{task_id}"),
        ("DELETE", "/tasks/{task_id}"),
        ("GET", "/queue/length"),
        ("GET", "/stats"),
        ("GET", "/dlq"),
        ("POST", "/dlq/{task_id}/requeue"),
        ("DELETE", "/dlq"),
        ("GET", "/healthz"),
    }
    post = operations[("POST", "/tasks")]
    assert {"202", "400", "401", "409", "413", "415", "422", "503"} <= set(post["responses"])
    assert operations[("DELETE", "/tasks/{task_id}")]["security"] == [{"HTTPBearer": []}]
    assert post["security"] == [{"HTTPBearer": []}]
    assert operations[("GET", "/tasks/{task_id}")]["security"] == [{"HTTPBearer": []}]
    assert operations[("GET", "/dlq")]["security"] == [{"HTTPBearer": []}]
    assert "security" not in operations[("GET", "/stats")]
    assert "security" not in operations[("GET", "/healthz")]
    request = schema["components"]["schemas"]["TaskRequest"]
    assert set(request["required"]) == {"type", "payload"}
    assert request["additionalProperties"] is False
    status = schema["components"]["schemas"]["Status"]
    assert set(status["enum"]) == {
        "queued",
        "scheduled",
        "running",
        "succeeded",
        "retrying",
        "dead",
        "cancelled",
    }


# --------------------------------------------------------------------- TrackedQueue itself
def test_tracked_queue_forgets_the_oldest_successes_beyond_keep() -> None:
    queue = TrackedQueue(MemoryQueue(maxsize=0), keep=2)
    tasks = [Task("email", {"i": i}) for i in range(3)]
    for task in tasks:
        queue.put(task)
    for _ in tasks:
        delivery = queue.get(timeout=1)
        assert delivery is not None
        queue.ack(delivery, delivery.task.payload["i"])
    assert queue.info(tasks[0].id) is None
    kept = queue.info(tasks[2].id)
    assert kept is not None and kept.state == "succeeded" and kept.result == 2
    assert queue.stats()["done"] == 2 and queue.stats()["total_succeeded"] == 3


def test_tracked_queue_leaves_no_trace_of_a_refused_put() -> None:
    queue = TrackedQueue(MemoryQueue(maxsize=1, put_timeout=0.01))
    queue.put(Task("email"))
    refused = Task("email")
    with pytest.raises(Exception, match="full"):
        queue.put(refused)
    assert queue.info(refused.id) is None
    assert queue.stats()["pending"] == 1 and queue.stats()["total_enqueued"] == 1


def test_tracked_queue_records_retries_with_their_error() -> None:
    queue = TrackedQueue(MemoryQueue(maxsize=0))
    queue.put(Task("email", id="t1"))
    delivery = queue.get(timeout=1)
    assert delivery is not None
    queue.fail(delivery, ERROR, retry_in=60)
    info = queue.info("t1")
    assert info is not None and info.state == "retrying" and info.last_error == ERROR
    assert queue.stats()["scheduled"] == 1
    assert queue.requeue_dead("t1") == 0  # not dead: nothing to requeue


# --------------------------------------------------------------------- fuzz
def _operations(app: Any) -> list[tuple[str, str, bool]]:
    """(method, path template, has a body) for every operation in the app's OpenAPI schema."""
    schema = app.openapi()
    return [
        (method.upper(), path, "requestBody" in op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
    ]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
payloads = st.dictionaries(st.text(max_size=6), json_values, max_size=3)
valid_tasks = st.fixed_dictionaries(
    {"type": st.sampled_from(["email", "sms", "boom"]), "payload": payloads},
    optional={
        "priority": st.integers(-(2**60), 2**60),
        "delay_seconds": st.floats(0, 100),
        "max_retries": st.integers(0, 5),
    },
)
task_bodies = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["email", "sms", "boom", "fax", ""]) | json_values,
        "payload": payloads | json_values,
        "priority": st.integers() | json_values,
        "delay_seconds": st.floats() | st.integers() | json_values,
        "max_retries": st.integers(-2, 5) | json_values,
        "extra": json_values,
    },
)
segments = st.sampled_from(["email", "fax", "*", "length", "", "%", "x" * 300]) | st.text(
    max_size=12
)


def _body(data: Any) -> bytes:
    return json.dumps(data, allow_nan=True).encode()


@st.composite
def http_requests(draw: st.DrawFn, operations: list[tuple[str, str, bool]]) -> dict[str, Any]:
    method, template, has_body = draw(st.sampled_from(operations))
    path = re.sub(r"\{[^}]+\}", lambda _: quote(draw(segments), safe=""), template)
    if template == "/dlq" and method == "GET":
        path += "?limit=" + quote(
            draw(st.sampled_from(["1", "0", "1001", "x"]) | st.text(max_size=4))
        )
    media = ["application/json"] * 6 + ["application/merge-patch+json", "text/plain", ""]
    headers = {"content-type": draw(st.sampled_from(media))}
    content = b""
    if has_body or draw(st.integers(0, 9)) == 0:
        content = draw(
            st.one_of(
                valid_tasks.map(_body),
                payloads.map(_body),
                task_bodies.map(_body),
                json_values.map(_body),
                st.binary(max_size=40),
            )
        )
    return {"method": method, "url": path, "headers": headers, "content": content}


@pytest.mark.parametrize("backend", ["memory", "redis-fake"])
def test_fuzzing_every_route_of_the_schema_finds_no_5xx(backend: str) -> None:
    if backend == "memory":
        queue: InspectableQueue = TrackedQueue(MemoryQueue(maxsize=0))
    else:
        queue = RedisQueue("fuzz", fakeredis.FakeRedis(server=fakeredis.FakeServer()))
    app = create_app(queue, make_registry(), max_body_bytes=512)
    client = TestClient(app)  # raises any exception a route lets escape
    operations = _operations(app)
    seen: set[tuple[str, str]] = set()

    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(http_requests(operations))
    def check(request: dict[str, Any]) -> None:
        before = len(queue)
        answer = client.request(**request)
        assert answer.status_code < 500, (request, answer.text)
        body = answer.json()
        if answer.status_code >= 400:
            assert isinstance(body["error"], str) and body["error"]
            assert len(queue) == before  # a refused request adds nothing
        seen.add((request["method"], answer.request.url.path.split("/")[1]))

    check()
    assert {m for m, _ in seen} == {"GET", "POST", "DELETE"}


# --------------------------------------------------------------------- methods and the schema
@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/dlq", "GET, DELETE, OPTIONS"),
        ("/tasks", "POST, OPTIONS"),
        ("/tasks/some-id", "GET, DELETE, OPTIONS"),
        ("/queue/length", "GET, OPTIONS"),
        ("/queue/email", "POST, OPTIONS"),
        ("/dlq/some-id/requeue", "POST, OPTIONS"),
    ],
)
def test_options_and_405_name_every_method_of_the_path(path: str, allowed: str) -> None:
    client = TestClient(create_app(TrackedQueue(MemoryQueue()), make_registry(), token="t"))
    answer = client.options(path)  # no token needed to ask what a path accepts
    assert (answer.status_code, answer.headers["allow"]) == (204, allowed)
    refused = client.put(path, json={})
    assert (refused.status_code, refused.headers["allow"]) == (405, allowed)


def test_queue_length_is_never_taken_for_a_task_type() -> None:
    registry = make_registry()
    registry.register("length", lambda task: None)
    queue = TrackedQueue(MemoryQueue())
    client = TestClient(create_app(queue, registry))
    answer = client.post("/queue/length", json={})
    assert (answer.status_code, answer.headers["allow"]) == (405, "GET, OPTIONS")
    assert len(queue) == 0 and client.get("/queue/length").json() == {"length": 0}
    schema = client.get("/openapi.json").json()
    [param] = [
        p for p in schema["paths"]["/queue/{task_type}"]["post"]["parameters"] if p["in"] == "path"
    ]
    assert param["schema"]["not"] == {"const": "length"}  # and the schema says so


def test_what_the_schema_declares_about_a_task_type_is_what_the_api_enforces() -> None:
    client = TestClient(create_app(TrackedQueue(MemoryQueue()), make_registry()))
    schema = client.get("/openapi.json").json()
    declared = schema["components"]["schemas"]["TaskRequest"]["properties"]["type"]["pattern"]
    [param] = [
        p for p in schema["paths"]["/queue/{task_type}"]["post"]["parameters"] if p["in"] == "path"
    ]
    assert param["schema"]["pattern"] == declared
    for name in ["email", "x" * 129, "bad type", "1st", "a:b.c-d_e", "é"]:
        schema_valid = re.search(declared, name) is not None
        by_body = client.post("/tasks", json={"type": name, "payload": {}})
        by_path = client.post(f"/queue/{quote(name, safe='')}", json={})
        for answer in (by_body, by_path):
            # A type the schema allows is refused only for not being registered (known_types).
            refused_by_rule = answer.status_code == 422 and "known_types" not in answer.json()
            assert refused_by_rule == (not schema_valid), (name, answer.text)


def _from_schema(field: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values the schema declares valid for one TaskRequest field (numbers to their bounds)."""
    if "anyOf" in field:
        return st.one_of([_from_schema(option) for option in field["anyOf"]])
    kind = field["type"]
    if kind == "null":
        return st.none()
    low, high = field.get("minimum"), field.get("maximum")
    if kind == "integer":
        return st.integers(int(low), int(high))
    return st.floats(low, high, allow_nan=False) | st.sampled_from([low, high])


def test_every_enqueue_the_schema_declares_valid_is_accepted() -> None:
    queue = TrackedQueue(MemoryQueue(maxsize=0))
    client = TestClient(create_app(queue, make_registry()))
    properties = client.get("/openapi.json").json()["components"]["schemas"]["TaskRequest"]
    fields = {k: v for k, v in properties["properties"].items() if k not in ("type", "payload")}
    # Within what the payload's description declares: JSON, integers within ±(2**53 - 1),
    # valid Unicode (text() makes no lone surrogates), far fewer than 64 levels.
    leaves = st.none() | st.booleans() | st.text() | st.integers(-(2**53) + 1, 2**53 - 1)
    leaves |= st.floats(allow_nan=False, allow_infinity=False)
    nested = st.recursive(
        leaves, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=20
    )
    payloads = st.dictionaries(st.text(), nested)
    bodies = st.fixed_dictionaries(
        {"type": st.sampled_from(make_registry().types()), "payload": payloads},
        optional={name: _from_schema(field) for name, field in fields.items()},
    )

    @settings(max_examples=150, deadline=None, database=None)
    @given(bodies)
    def check(body: dict[str, Any]) -> None:
        answer = client.post("/tasks", json=body)
        assert answer.status_code == 202, (body, answer.text)

    check()


def test_priority_over_http_changes_the_order_a_redis_worker_runs_tasks(
    client: TestClient, queue: InspectableQueue
) -> None:
    if not isinstance(queue, RedisQueue):
        pytest.skip("the tracked memory queue is first-in first-out by design")
    ids = {}
    for name, priority in (("later", 0), ("urgent", 9), ("soon", 5), ("later-too", 0)):
        body = {"type": "email", "payload": {"to": name}, "priority": priority}
        answer = client.post("/tasks", json=body)
        assert answer.status_code == 202
        ids[answer.json()["task_id"]] = name
    log = run_workers_one_at_a_time(queue, len(ids))
    assert [ids[event.task_id] for event in log.events("started")] == [
        "urgent",
        "soon",
        "later",
        "later-too",
    ]


def run_workers_one_at_a_time(queue: Any, finals: int) -> EventLog:
    """One worker thread, so that the order it starts tasks in is the queue's order."""
    pool = WorkerPool(queue, make_registry(), concurrency=1, poll=0.05).start()
    try:
        assert pool.events.wait_for_final(finals, timeout=10)
    finally:
        pool.stop(timeout=5)
    return pool.events
