"""Waiting for a result: `wait` returns as soon as the task ends (success, death, cancel), or
at its timeout, on every queue that keeps status; ``GET /tasks/{id}?wait=`` and
``taskq enqueue --wait`` build on it. The waits end on an event, never by a sleep in a test."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from taskq_lib import ErrorInfo, InspectableQueue, Registry, RetryPolicy, Task, WorkerPool
from taskq_lib.api import create_app
from taskq_lib.redis_queue import RedisQueue

Run = Callable[..., tuple[int, str, str]]


def later(seconds: float, action: Callable[[], object]) -> threading.Timer:
    """Do ``action`` in ``seconds`` from another thread (what a worker would do)."""
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


def finish(queue: InspectableQueue, task_id: str, how: str) -> Callable[[], None]:
    """An action that ends the queue's one task: succeed, die, or (waiting) be cancelled."""

    def act() -> None:
        if how == "cancel":
            queue.cancel(task_id)
            return
        delivery = queue.get(timeout=2)
        assert delivery is not None
        if how == "succeed":
            queue.ack(delivery, {"answer": 42})
            if isinstance(queue, RedisQueue):
                queue.flush()
        else:
            queue.fail(delivery, ErrorInfo("RuntimeError", "boom"), retry_in=None)

    return act


@pytest.mark.parametrize(
    ("how", "state"), [("succeed", "succeeded"), ("die", "dead"), ("cancel", "cancelled")]
)
def test_wait_returns_when_the_task_ends(
    inspectable_queue: InspectableQueue, how: str, state: str
) -> None:
    queue = inspectable_queue
    task = Task("email", {})
    queue.put(task)
    timer = later(0.2, finish(queue, task.id, how))
    started = time.monotonic()
    found = queue.wait(task.id, timeout=20)
    took = time.monotonic() - started
    timer.join()
    assert found is not None and found.state == state and found.final
    assert took < 10  # ended by the event, not by the 20 s timeout
    if how == "succeed":
        assert found.result == {"answer": 42}


def test_wait_times_out_with_the_status_of_that_moment(inspectable_queue: InspectableQueue) -> None:
    queue = inspectable_queue
    task = Task("email", {})
    queue.put(task, delay=60)
    started = time.monotonic()
    found = queue.wait(task.id, timeout=0.3)
    assert time.monotonic() - started >= 0.3
    assert found is not None and found.state == "scheduled" and not found.final
    assert queue.wait("no-such-task", timeout=0.1) is None
    for bad in [-1, float("inf"), float("nan"), "1"]:
        with pytest.raises(ValueError, match="timeout"):
            queue.wait(task.id, timeout=bad)  # type: ignore[arg-type]


def test_a_finished_task_answers_at_once(inspectable_queue: InspectableQueue) -> None:
    queue = inspectable_queue
    task = Task("email", {})
    queue.put(task)
    queue.cancel(task.id)
    started = time.monotonic()
    found = queue.wait(task.id, timeout=20)
    assert found is not None and found.state == "cancelled"
    assert time.monotonic() - started < 10


def registry() -> Registry:
    made = Registry()
    made.register("double", lambda task: {"twice": 2 * task.payload["n"]})
    return made


def test_get_with_wait_answers_when_the_task_ends(inspectable_queue: InspectableQueue) -> None:
    queue = inspectable_queue
    client = TestClient(create_app(queue, registry()))
    task_id = client.post("/queue/double", json={"n": 21}).json()["task_id"]
    at_once = client.get(f"/tasks/{task_id}")
    assert at_once.json()["status"] == "queued"
    pool = WorkerPool(queue, registry(), concurrency=1, poll=0.05, retry=RetryPolicy(0))
    with pool:
        answer = client.get(f"/tasks/{task_id}", params={"wait": 20})
        assert answer.status_code == 200
        assert answer.json()["status"] == "succeeded"
        assert answer.json()["result"] == {"twice": 42}
    waiting = client.post("/queue/double", json={"n": 1}).json()["task_id"]
    started = time.monotonic()
    timed_out = client.get(f"/tasks/{waiting}", params={"wait": 0.3})
    assert time.monotonic() - started >= 0.3
    assert timed_out.status_code == 200 and timed_out.json()["status"] == "queued"
    assert client.get("/tasks/nope", params={"wait": 0.1}).status_code == 404


@pytest.mark.parametrize("wait", ["-1", "31", "nan", "inf", "soon"])
def test_a_bad_wait_is_a_422(wait: str) -> None:
    from taskq_lib import MemoryQueue, TrackedQueue

    queue = TrackedQueue(MemoryQueue())
    client = TestClient(create_app(queue, registry()))
    task_id = client.post("/queue/double", json={"n": 1}).json()["task_id"]
    answer = client.get(f"/tasks/{task_id}", params={"wait": wait})
    assert answer.status_code == 422 and "wait" in answer.json()["error"]


def test_enqueue_wait_prints_the_result(run: Run, cli_queue: RedisQueue) -> None:
    def work() -> None:
        delivery = cli_queue.get(timeout=5)
        assert delivery is not None
        cli_queue.ack(delivery, {"sent": True})

    worker = threading.Thread(target=work)
    worker.start()
    code, out, err = run("enqueue", "email", "{}", "--wait", "20")
    worker.join()
    task_id, line = out.splitlines()
    assert code == 0 and err == ""
    assert '"status": "succeeded"' in line and '"result": {"sent": true}' in line
    assert task_id in line
    code, out, _ = run("enqueue", "email", "{}", "--delay", "60", "--wait", "0.2")
    assert code == 1 and '"status": "scheduled"' in out
    with pytest.raises(SystemExit):  # argparse refuses it before anything is done
        run("enqueue", "email", "{}", "--wait", "-1")
    assert len(cli_queue) == 1  # only the scheduled one


def test_a_waiting_request_does_not_hold_up_the_others(
    inspectable_queue: InspectableQueue,
) -> None:
    """While requests wait on ``?wait=``, others are answered at once: the waits run in
    threads of their own, not on the event loop nor in the pool the other routes use."""
    import asyncio

    import httpx

    app = create_app(inspectable_queue, registry())

    async def scene() -> tuple[list[str], list[str]]:
        order: list[str] = []
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            posted = await client.post("/queue/double", json={"n": 1})
            task_id = posted.json()["task_id"]

            async def wait() -> str:
                answer = await client.get(f"/tasks/{task_id}", params={"wait": 1.5})
                order.append("wait")
                return str(answer.json()["status"])

            async def stats() -> str:
                answer = await client.get("/stats")
                order.append("stats")
                return str(answer.status_code)

            waits = [asyncio.create_task(wait()) for _ in range(50)]
            await asyncio.sleep(0)  # let the waits start first
            quick = await stats()
            statuses = await asyncio.gather(*waits)
        return order, [quick, *statuses]

    order, answers = asyncio.run(scene())
    assert order[0] == "stats" and answers[0] == "200"
    assert answers[1:] == ["queued"] * 50
