"""The dashboard's reads (who holds which task, which workers beat, task types per state) on
fakeredis and a real ``redis-server``, and its routes through the TestClient: the page's
headers, the snapshot matching ``GET /stats``, and the in-memory queue's answers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import fakeredis
import httpx
import pytest
from fastapi.testclient import TestClient
from support import push_pending

from taskq_lib import ManualClock, MemoryQueue, Registry, Task
from taskq_lib.api import TrackedQueue, create_app
from taskq_lib.api.background import BackgroundServer
from taskq_lib.api.routes.dashboard import CSP
from taskq_lib.deadletter import ErrorInfo
from taskq_lib.overview import (
    LISTED_PER_CONSUMER,
    body_type,
    consumer_of,
    consumers,
    types_by_state,
)
from taskq_lib.presence import Presence, seen, seen_key
from taskq_lib.redis_queue import RedisQueue

MakeQueue = Callable[..., RedisQueue]


def registry() -> Registry:
    reg = Registry()
    reg.register("email", lambda task: None)
    reg.register("sms", lambda task: None)
    return reg


def test_a_token_names_its_consumer() -> None:
    assert consumer_of("host-1:4242:a1b2c3d4e5f6:3") == "host-1:4242"
    assert consumer_of("my:odd:name:0123:0") == "my:odd:name"


def test_a_body_type_is_read_as_written() -> None:
    assert body_type(b'{"type": "<script>x</script>", "id": "1"}') == "<script>x</script>"
    assert body_type(b"not json") is None
    assert body_type(b"[1, 2]") is None
    assert body_type(b'{"type": 5}') is None
    assert body_type(None) is None


def test_consumers_say_who_holds_what(make_redis_queue: MakeQueue) -> None:
    a = make_redis_queue(consumer="alpha:1", prefetch=1)
    b = make_redis_queue(consumer="beta:2", prefetch=1)
    tasks = [Task("email", {"i": i}) for i in range(3)] + [Task("sms", {})]
    a.put_many(tasks)
    held_a = [a.get(timeout=1), a.get(timeout=1)]
    held_b = b.get(timeout=1)
    assert None not in held_a and held_b is not None
    found, cut = consumers(a)
    assert not cut
    by_name = {c.name: c for c in found}
    assert [c.name for c in found] == ["alpha:1", "beta:2"]  # busiest first
    assert by_name["alpha:1"].holding == 2 and by_name["beta:2"].holding == 1
    assert {h.task_id for h in by_name["alpha:1"].tasks} == {d.task.id for d in held_a if d}
    held = by_name["beta:2"].tasks[0]
    assert held.type == "email" and held.attempts == 1
    assert held.lease_until is not None and held.lease_until > time.time() + 25  # 30 s lease
    a.ack(held_a[0])  # type: ignore[arg-type]
    found, _ = consumers(a)
    assert {c.name: c.holding for c in found} == {"alpha:1": 1, "beta:2": 1}


def test_all_held_tasks_are_counted_and_the_first_listed(make_redis_queue: MakeQueue) -> None:
    queue = make_redis_queue(consumer="busy:1", prefetch=LISTED_PER_CONSUMER + 5)
    queue.put_many([Task("sms", {}) for _ in range(LISTED_PER_CONSUMER + 5)])
    assert queue.get(timeout=1) is not None  # takes them all (prefetch), hands out one
    [busy], cut = consumers(queue)
    assert not cut and busy.holding == LISTED_PER_CONSUMER + 5
    assert len(busy.tasks) == LISTED_PER_CONSUMER and {t.type for t in busy.tasks} == {"sms"}


def test_consumers_are_cut_at_the_limit(make_redis_queue: MakeQueue) -> None:
    queue = make_redis_queue(consumer="many:1", prefetch=5)
    queue.put_many([Task("email", {}) for _ in range(5)])
    assert queue.get(timeout=1) is not None  # takes 5 (prefetch), hands out one
    found, cut = consumers(queue, limit=3)
    assert cut and found[0].holding == 3
    found, cut = consumers(queue, limit=5)
    assert not cut and found[0].holding == 5


def test_presence_lists_idle_workers_and_forgets_stopped_ones(make_redis_queue: MakeQueue) -> None:
    clock = ManualClock()
    queue = make_redis_queue(consumer="idle:7", clock=clock)
    other = make_redis_queue(consumer="gone:8", clock=clock)
    Presence(queue, period=5, forget_after=30).beat()
    Presence(other, period=5, forget_after=30).beat()
    assert seen(queue) == {"idle:7": clock.now(), "gone:8": clock.now()}
    clock.advance(20)
    Presence(queue, period=5, forget_after=30).beat()
    clock.advance(15)  # "gone" beat 35 s ago: forgotten by the readers and the next beat
    assert seen(queue, forget_after=30) == {"idle:7": clock.now() - 15}
    Presence(queue, period=5, forget_after=30).beat()
    members = queue.client.zrange(seen_key(queue.name), 0, -1)
    assert members == [b"idle:7"]
    assert 0 < queue.client.pttl(seen_key(queue.name)) <= 30_000  # gone when nobody beats
    found, _ = consumers(queue)
    assert [(c.name, c.holding) for c in found] == [("idle:7", 0)]


def test_presence_thread_beats_and_stop_removes_the_worker(make_redis_queue: MakeQueue) -> None:
    queue = make_redis_queue(consumer="live:9")
    presence = Presence(queue, period=0.05, forget_after=1).start()
    deadline = time.monotonic() + 5
    while "live:9" not in seen(queue) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "live:9" in seen(queue)
    presence.stop()
    assert seen(queue) == {}


def test_presence_keys_stay_in_the_queues_hash_slot() -> None:
    assert seen_key("emails") == "taskq:{emails}:workers"
    with pytest.raises(ValueError):
        Presence(RedisQueue("q", fakeredis.FakeRedis()), period=5, forget_after=5)


def test_types_are_counted_per_state(make_redis_queue: MakeQueue) -> None:
    queue = make_redis_queue(prefetch=1)
    queue.put_many([Task("email", {}) for _ in range(3)] + [Task("sms", {}) for _ in range(2)])
    queue.put(Task("sms", {}), delay=60)
    taken = queue.get(timeout=1)
    assert taken is not None and taken.task.type == "email"
    queue.fail(taken, ErrorInfo("E", "m"), retry_in=None)
    running = queue.get(timeout=1)
    assert running is not None
    answer = types_by_state(queue)
    assert answer["states"] == {
        "pending": {"sms": 2, "email": 1},
        "scheduled": {"sms": 1},
        "in_flight": {"email": 1},
        "dead": {"email": 1},
    }
    assert answer["cut"] == []
    small = types_by_state(queue, sample=1)
    assert small["cut"] == ["pending"] and sum(small["states"]["pending"].values()) == 1


def test_a_foreign_body_is_counted_under_its_own_type(make_redis_queue: MakeQueue) -> None:
    """A producer that bypasses the checks can write any type: it is counted, as written."""
    queue = make_redis_queue()
    hostile = "<script>alert(1)</script>"
    body = json.dumps({"v": 1, "id": "x1", "type": hostile, "payload": {}})
    queue.client.hset(queue.keys.bodies, "x1", body)
    push_pending(queue, "x1")
    queue.client.hset(queue.keys.bodies, "x2", b"\xff not json")
    push_pending(queue, "x2")
    assert types_by_state(queue)["states"]["pending"] == {hostile: 1, "None": 1}


# --------------------------------------------------------------------- the routes
def test_the_page_is_served_with_a_strict_policy() -> None:
    client = TestClient(create_app(TrackedQueue(MemoryQueue()), registry()))
    root = client.get("/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/dashboard"
    page = client.get("/dashboard")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
    assert page.headers["x-content-type-options"] == "nosniff"
    for name, kind in [("dashboard.js", "text/javascript"), ("dashboard.css", "text/css")]:
        assert f"/dashboard/static/{name}" in page.text
        file = client.get(f"/dashboard/static/{name}")
        assert file.status_code == 200 and file.headers["content-type"].startswith(kind)
    assert "innerHTML" not in client.get("/dashboard/static/dashboard.js").text
    for bad in ["index.html", "..%2F..%2Fapi%2Fapp.py", "x.js"]:
        assert client.get(f"/dashboard/static/{bad}").status_code == 404


def test_the_snapshot_counts_what_stats_counts(make_redis_queue: MakeQueue) -> None:
    queue = make_redis_queue(consumer="w:1")
    client = TestClient(create_app(queue, registry(), token="secret"))
    for kind in ["email", "email", "sms"]:
        assert (
            client.post(
                "/tasks",
                json={"type": kind, "payload": {}},
                headers={"Authorization": "Bearer secret"},
            ).status_code
            == 202
        )
    assert queue.get(timeout=1) is not None
    snap = client.get("/dashboard/snapshot").json()
    assert snap["stats"] == client.get("/stats").json()
    assert snap["stats"]["pending"] == 2 and snap["stats"]["in_flight"] == 1
    assert snap["token_set"] is True
    assert [(w["name"], w["holding"]) for w in snap["workers"]] == [("w:1", 1)]
    assert abs(snap["now"] - time.time()) < 5
    types = client.get("/dashboard/types").json()
    assert types["states"]["pending"] == {"email": 1, "sms": 1}


def test_an_in_memory_queue_has_counts_but_no_workers_or_types() -> None:
    queue = TrackedQueue(MemoryQueue(maxsize=0))
    client = TestClient(create_app(queue, registry()))
    client.post("/tasks", json={"type": "sms", "payload": {}})
    snap = client.get("/dashboard/snapshot").json()
    assert snap["stats"]["pending"] == 1 and snap["token_set"] is False
    assert snap["workers"] is None
    assert client.get("/dashboard/types").json()["states"] is None


def test_dashboard_routes_are_not_in_the_public_schema() -> None:
    schema: dict[str, Any] = (
        TestClient(create_app(TrackedQueue(MemoryQueue()), registry())).get("/openapi.json").json()
    )
    assert not [path for path in schema["paths"] if "dashboard" in path or path == "/"]


def test_a_background_server_serves_the_app_until_stopped() -> None:
    app = create_app(TrackedQueue(MemoryQueue()), registry())
    with BackgroundServer(app) as server:
        assert httpx.get(f"{server.url}/healthz", timeout=10).json()["status"] == "ok"
        port = int(server.url.rsplit(":", 1)[1])
        with pytest.raises(RuntimeError, match="could not start"):
            BackgroundServer(app, port=port).start()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/healthz", timeout=10)
