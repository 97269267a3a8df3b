"""Cancel: a waiting task is taken back on every queue that keeps status (in memory, fakeredis,
a real redis-server), through the library, the HTTP API and the command line."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from taskq_lib import ErrorInfo, InspectableQueue, Registry, Task
from taskq_lib.api import create_app
from taskq_lib.errors import CancelRefused
from taskq_lib.redis_queue import RedisQueue

Run = Callable[..., tuple[int, str, str]]


def registry() -> Registry:
    made = Registry()
    made.register("email", lambda task: {"sent": True})
    return made


@pytest.mark.parametrize("delay", [0.0, 60.0], ids=["pending", "scheduled"])
def test_a_waiting_task_is_cancelled_and_never_runs(
    inspectable_queue: InspectableQueue, delay: float
) -> None:
    queue = inspectable_queue
    doomed, kept = Task("email", {"n": 1}), Task("email", {"n": 2})
    queue.put(doomed, delay=delay)
    queue.put(kept)
    found = queue.cancel(doomed.id)
    assert found.state == "cancelled" and found.final
    info = queue.info(doomed.id)
    assert info is not None and info.state == "cancelled"
    delivery = queue.get(timeout=2)
    assert delivery is not None and delivery.task.id == kept.id
    queue.ack(delivery)
    assert queue.get(timeout=0.2) is None  # the cancelled one is gone, not run
    assert queue.stats()["total_cancelled"] == 1


def test_a_retrying_task_can_be_cancelled(inspectable_queue: InspectableQueue) -> None:
    queue = inspectable_queue
    task = Task("email", {})
    queue.put(task)
    delivery = queue.get(timeout=2)
    assert delivery is not None
    queue.fail(delivery, ErrorInfo("RuntimeError", "boom"), retry_in=0.2)
    assert queue.cancel(task.id).state == "cancelled"
    assert queue.get(timeout=0.6) is None  # its retry never comes


def test_running_or_finished_tasks_refuse_and_unknown_ids_are_key_errors(
    inspectable_queue: InspectableQueue,
) -> None:
    queue = inspectable_queue
    task = Task("email", {})
    queue.put(task)
    delivery = queue.get(timeout=2)
    assert delivery is not None
    with pytest.raises(CancelRefused) as refused:
        queue.cancel(task.id)
    assert refused.value.state == "running"
    queue.ack(delivery, {"ok": True})
    if hasattr(queue, "flush"):
        queue.flush()
    with pytest.raises(CancelRefused, match="succeeded"):
        queue.cancel(task.id)
    info = queue.info(task.id)
    assert info is not None and info.state == "succeeded" and info.result == {"ok": True}
    with pytest.raises(KeyError):
        queue.cancel("no-such-task")


def test_delete_cancels_and_answers_404_and_409(inspectable_queue: InspectableQueue) -> None:
    queue = inspectable_queue
    client = TestClient(create_app(queue, registry(), token="t"))
    token = {"Authorization": "Bearer t"}
    task_id = client.post("/queue/email", json={}, headers=token).json()["task_id"]
    assert client.delete(f"/tasks/{task_id}").status_code == 401  # the token is needed
    answer = client.delete(f"/tasks/{task_id}", headers=token)
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled"
    assert client.get(f"/tasks/{task_id}", headers=token).json()["status"] == "cancelled"
    # Redis takes it off pending; the in-memory queues keep it as a tombstone that get drops.
    assert len(queue) == (0 if isinstance(queue, RedisQueue) else 1)
    assert queue.get(timeout=0.2) is None

    again = client.delete(f"/tasks/{task_id}", headers=token)
    assert again.status_code == 409 and again.json()["state"] == "cancelled"
    missing = client.delete("/tasks/nope", headers=token)
    assert missing.status_code == 404 and "nope" in missing.json()["error"]

    running = client.post("/queue/email", json={}, headers=token).json()["task_id"]
    assert queue.get(timeout=2) is not None
    refused = client.delete(f"/tasks/{running}", headers=token)
    assert refused.status_code == 409 and refused.json()["state"] == "running"
    assert "running" in refused.json()["error"]


def test_taskq_cancel(run: Run, cli_queue: RedisQueue) -> None:
    waiting, running = Task("email", {}), Task("email", {})
    cli_queue.put(running)
    assert cli_queue.get(timeout=2) is not None
    cli_queue.put(waiting, delay=60)
    code, out, err = run("cancel", waiting.id)
    assert (code, err) == (0, "") and waiting.id in out
    info = cli_queue.info(waiting.id)
    assert info is not None and info.state == "cancelled" and len(cli_queue) == 0
    code, _, err = run("cancel", running.id)
    assert code == 1 and "'running'" in err
    code, _, err = run("cancel", "nope")
    assert code == 1 and "no task 'nope'" in err
