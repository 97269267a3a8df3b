"""What the API accepted, or another client stored, reads back through every route: never a
500. One rule for depth and number size holds at every edge (the API, the CLI, the library),
and a value in Redis that breaks it, or is no JSON at all, is a per-item problem or a 503."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import Flaky

from taskq_lib import ErrorInfo, InvalidTask, MemoryQueue, Registry, Task
from taskq_lib.api import create_app
from taskq_lib.limits import MAX_DEPTH, check_payload
from taskq_lib.redis_queue import RedisQueue
from taskq_lib.status import InspectableQueue

MakeQueue = Callable[..., RedisQueue]


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def registry() -> Registry:
    made = Registry()
    made.register("t", lambda task: None)
    return made


HOSTILE_PAYLOADS = [
    pytest.param(nested(MAX_DEPTH + 1), id="too-deep"),
    pytest.param(nested(400), id="far-too-deep"),
    pytest.param({"n": 2**53}, id="integer-beyond-2**53"),
    pytest.param({"n": [1, -(2**70)]}, id="huge-negative-integer"),
]


@pytest.mark.parametrize("payload", HOSTILE_PAYLOADS)
def test_the_api_refuses_what_it_could_not_read_back(
    inspectable_queue: InspectableQueue, payload: dict[str, Any]
) -> None:
    client = TestClient(create_app(inspectable_queue, registry()))
    for answer in (
        client.post("/tasks", json={"type": "t", "payload": payload}),
        client.post("/queue/t", json=payload),
    ):
        assert answer.status_code == 422, answer.text
    assert len(inspectable_queue) == 0


def test_the_deepest_payload_allowed_reads_back_through_every_route(
    inspectable_queue: InspectableQueue,
) -> None:
    client = TestClient(create_app(inspectable_queue, registry()))
    payload = nested(MAX_DEPTH)
    task_id = client.post("/queue/t", json=payload).json()["task_id"]
    delivery = inspectable_queue.get(timeout=2)
    assert delivery is not None
    inspectable_queue.fail(delivery, ErrorInfo("E", "x"), retry_in=None)
    assert client.get(f"/tasks/{task_id}").status_code == 200
    [item] = client.get("/dlq").json()["items"]
    assert item["payload"] == payload


@pytest.mark.parametrize("payload", HOSTILE_PAYLOADS)
def test_the_library_refuses_the_same_values(payload: dict[str, Any]) -> None:
    with pytest.raises(InvalidTask):
        check_payload(payload)
    with pytest.raises(InvalidTask):
        registry().enqueue(MemoryQueue(), "t", payload)


# --------------------------------------------------------------------- what another client wrote
def plant_dead(queue: RedisQueue, task_id: str, body: str, error: str = '{"type": "E"}') -> None:
    """A dead task as a foreign writer might leave it."""
    queue.client.hset(queue.keys.bodies, task_id, body)
    queue.client.hset(queue.keys.errors, task_id, error)
    queue.client.hset(queue.keys.state, task_id, "dead:1700000000000")
    queue.client.zadd(queue.keys.dead, {task_id: 1_700_000_000_000})


def foreign_body(payload: Any) -> str:
    return json.dumps({"v": 1, "id": "x", "type": "t", "payload": payload})


def test_a_stored_body_the_rule_refuses_is_a_per_item_problem(
    make_redis_queue: MakeQueue,
) -> None:
    queue = make_redis_queue()
    queue.put(Task("t", {"fine": True}))
    good = queue.get(timeout=1)
    assert good is not None
    queue.fail(good, ErrorInfo("E", "boom"), retry_in=None)
    plant_dead(queue, "deep", foreign_body(nested(200)))
    plant_dead(queue, "huge", foreign_body({"n": 10**30}))
    plant_dead(queue, "bad-error", foreign_body({}), error="{not json")
    client = TestClient(create_app(queue, registry()))
    listing = client.get("/dlq")
    assert listing.status_code == 200, listing.text
    items = {item["task_id"]: item for item in listing.json()["items"]}
    assert items[good.task.id]["payload"] == {"fine": True}  # the good one is not hidden
    for bad, why in (("deep", "nested deeper"), ("huge", "2**53")):
        assert items[bad]["payload"] is None and items[bad]["raw"]
        answer = client.get(f"/tasks/{bad}")
        assert answer.status_code == 200 and answer.json()["type"] is None
        assert why in answer.json()["problem"]
    assert items["bad-error"]["error"]["type"] == "Unreadable"
    assert client.get("/tasks/bad-error").json()["last_error"] is None


def test_an_unreadable_result_or_attempt_count_is_named_not_a_500(
    make_redis_queue: MakeQueue,
) -> None:
    queue = make_redis_queue()
    task = Task("t")
    queue.put(task)
    queue.client.hset(queue.keys.results, task.id, "[" * 5000)
    queue.client.hset(queue.keys.attempts, task.id, "many")
    answer = TestClient(create_app(queue, registry())).get(f"/tasks/{task.id}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["result"] is None and body["attempts"] == 0 and body["type"] == "t"
    assert "result" in body["problem"] and "attempts" in body["problem"]


@pytest.mark.parametrize(
    ("key", "field", "value", "route"),
    [
        ("state", "some-task", "exploded:1", "/tasks/some-task"),
        ("counters", "enqueued", "lots", "/stats"),
    ],
)
def test_stored_data_no_item_can_survive_is_a_503(
    make_redis_queue: MakeQueue, key: str, field: str, value: str, route: str
) -> None:
    queue = make_redis_queue()
    queue.client.hset(queue.keys.key(key), field, value)
    answer = TestClient(create_app(queue, registry())).get(route)
    assert answer.status_code == 503 and "cannot read" in answer.json()["error"]


@pytest.mark.parametrize(
    ("mode", "status", "queued"), [("never-sent", 503, 0), ("reply-lost", 202, 1)]
)
def test_a_503_on_enqueue_means_nothing_was_enqueued(
    make_redis_queue: MakeQueue, mode: str, status: int, queued: int
) -> None:
    queue = make_redis_queue()
    client = TestClient(create_app(queue, registry()))
    Flaky(queue, mode)
    answer = client.post("/queue/t", json={})
    assert (answer.status_code, len(queue)) == (status, queued)
