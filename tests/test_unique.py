"""Unique keys and ``Idempotency-Key``: a repeated request creates nothing and answers with
the same task; the same key with another request is refused; bad keys change nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from taskq_lib import InspectableQueue, InvalidTask, MemoryQueue, Registry
from taskq_lib.api import create_app
from taskq_lib.errors import UniqueKeyConflict
from taskq_lib.redis_queue import RedisQueue

Run = Callable[..., tuple[int, str, str]]


def registry() -> Registry:
    made = Registry()
    made.register("email", lambda task: None)
    made.register("sms", lambda task: None)
    return made


def test_a_key_is_held_while_its_task_waits_or_runs(inspectable_queue: InspectableQueue) -> None:
    queue, reg = inspectable_queue, registry()
    first = reg.enqueue(queue, "email", {"to": "ana"}, unique_key="welcome-ana")
    again = reg.enqueue(queue, "email", {"to": "ana"}, unique_key="welcome-ana")
    assert again.id == first.id and len(queue) == 1
    with pytest.raises(UniqueKeyConflict) as conflict:
        reg.enqueue(queue, "email", {"to": "bo"}, unique_key="welcome-ana")
    assert conflict.value.task_id == first.id and len(queue) == 1
    delivery = queue.get(timeout=2)
    assert delivery is not None  # running: still held
    assert reg.enqueue(queue, "email", {"to": "ana"}, unique_key="welcome-ana").id == first.id
    queue.ack(delivery)
    if isinstance(queue, RedisQueue):
        queue.flush()
    # Done, and no unique_for: the key is free, so the same request makes a new task.
    fresh = reg.enqueue(queue, "email", {"to": "ana"}, unique_key="welcome-ana")
    assert fresh.id != first.id and len(queue) == 1


def test_unique_for_holds_the_key_after_the_task_ends(inspectable_queue: InspectableQueue) -> None:
    queue, reg = inspectable_queue, registry()
    first = reg.enqueue(queue, "sms", {}, unique_key="k", unique_for=3600)
    queue.cancel(first.id)
    assert reg.enqueue(queue, "sms", {}, unique_key="k", unique_for=3600).id == first.id
    other = reg.enqueue(queue, "sms", {}, unique_key="other-key")
    assert other.id != first.id


def test_concurrent_repeats_make_one_task(inspectable_queue: InspectableQueue) -> None:
    queue, reg = inspectable_queue, registry()
    ids: list[str] = []
    start = threading.Barrier(8)

    def enqueue() -> None:
        start.wait(timeout=10)
        ids.append(reg.enqueue(queue, "email", {"n": 1}, unique_key="once").id)

    threads = [threading.Thread(target=enqueue) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(ids) == 8 and len(set(ids)) == 1 and len(queue) == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"unique_key": ""},
        {"unique_key": "x" * 201},
        {"unique_key": "has space"},
        {"unique_key": "é"},
        {"unique_key": 5},
        {"unique_key": "k", "unique_for": -1},
        {"unique_key": "k", "unique_for": float("nan")},
        {"unique_for": 10},
    ],
)
def test_bad_keys_are_refused_and_change_nothing(
    inspectable_queue: InspectableQueue, fields: dict[str, object]
) -> None:
    with pytest.raises(InvalidTask):
        registry().enqueue(inspectable_queue, "email", {}, **fields)  # type: ignore[arg-type]
    assert len(inspectable_queue) == 0 and inspectable_queue.stats().get("total_enqueued", 0) == 0


def test_a_queue_without_status_cannot_hold_keys() -> None:
    with pytest.raises(TypeError, match="TrackedQueue"):
        registry().enqueue(MemoryQueue(), "email", {}, unique_key="k")


# --------------------------------------------------------------------- the HTTP API
@pytest.mark.parametrize("route", ["/tasks", "/queue/email"])
def test_a_client_retry_with_the_same_key_gets_the_same_task(
    inspectable_queue: InspectableQueue, route: str
) -> None:
    client = TestClient(create_app(inspectable_queue, registry()))

    def post(payload: dict[str, object], key: str) -> object:
        body = {"type": "email", "payload": payload} if route == "/tasks" else payload
        return client.post(route, json=body, headers={"Idempotency-Key": key})

    first = post({"to": "ana"}, "req-1")
    assert first.status_code == 202 and "idempotent-replayed" not in first.headers
    retry = post({"to": "ana"}, "req-1")
    assert retry.status_code == 202 and retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["task_id"] == first.json()["task_id"]
    assert len(inspectable_queue) == 1
    conflict = post({"to": "bo"}, "req-1")
    assert conflict.status_code == 409
    assert "different request" in conflict.json()["error"]
    assert conflict.json()["task_id"] == first.json()["task_id"]
    assert len(inspectable_queue) == 1
    assert post({"to": "ana"}, "req-2").json()["task_id"] != first.json()["task_id"]


@pytest.mark.parametrize("key", ["", "x" * 201, "a b", "ключ"])
def test_a_bad_idempotency_key_is_a_422(inspectable_queue: InspectableQueue, key: str) -> None:
    client = TestClient(create_app(inspectable_queue, registry()))
    answer = client.post(
        "/tasks",
        json={"type": "email", "payload": {}},
        headers={"Idempotency-Key": key.encode()},
    )
    assert answer.status_code == 422 and "Idempotency-Key" in answer.json()["error"]
    assert len(inspectable_queue) == 0


def test_enqueue_unique_key_on_the_command_line(run: Run, cli_queue: RedisQueue) -> None:
    code, first, _ = run("enqueue", "email", "{}", "--unique-key", "nightly")
    assert code == 0
    code, again, _ = run("enqueue", "email", "{}", "--unique-key", "nightly")
    assert code == 0 and again == first and len(cli_queue) == 1
    code, _, err = run("enqueue", "email", '{"x": 1}', "--unique-key", "nightly")
    assert code == 1 and "different" in err
    code, _, err = run("enqueue", "email", "{}", "--unique-key", "no spaces allowed")
    assert code == 2 and "unique key" in err and len(cli_queue) == 1


def test_a_refused_put_does_not_hold_the_key() -> None:
    from taskq_lib import TrackedQueue

    queue = TrackedQueue(MemoryQueue(maxsize=1))
    client = TestClient(create_app(queue, registry(), put_timeout=0.01))
    assert client.post("/queue/email", json={}).status_code == 202  # the queue is now full
    key = {"Idempotency-Key": "after-a-503"}
    assert client.post("/queue/sms", json={}, headers=key).status_code == 503
    delivery = queue.get(timeout=1)
    assert delivery is not None
    queue.ack(delivery)
    retried = client.post("/queue/sms", json={}, headers=key)
    assert retried.status_code == 202 and "idempotent-replayed" not in retried.headers
    assert len(queue) == 1


def test_the_idempotency_retention_is_a_setting(inspectable_queue: InspectableQueue) -> None:
    with pytest.raises(InvalidTask, match="unique_for"):
        create_app(inspectable_queue, registry(), idempotency_retention=-1)
    client = TestClient(create_app(inspectable_queue, registry(), idempotency_retention=0))
    key = {"Idempotency-Key": "short-lived"}
    first = client.post("/queue/email", json={}, headers=key).json()["task_id"]
    assert client.post("/queue/email", json={}, headers=key).json()["task_id"] == first
    assert client.delete(f"/tasks/{first}").status_code == 200  # no longer waiting
    # With no retention, the key was held only while its task waited: now it makes a new one.
    assert client.post("/queue/email", json={}, headers=key).json()["task_id"] != first
