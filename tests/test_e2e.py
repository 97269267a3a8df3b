"""End to end, with real processes: ``taskq serve`` (uvicorn on a free loopback port), ``taskq
worker`` subprocesses and a real ``redis-server``. Tasks are posted over HTTP and seen done;
SIGTERM to a worker in the middle of a batch loses nothing and runs nothing twice.

Each process's log (stderr) is read by a thread; the test waits for the lines it expects, so it
never guesses a time with ``sleep``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support import free_port

pytestmark = [pytest.mark.real_redis, pytest.mark.slow]

APP = "taskq_lib.examples:registry"
TIMEOUT = 30.0  # seconds; the upper bound of every wait (they normally take milliseconds)


class Child:
    """A ``python -m taskq_lib ...`` process; its stderr lines are collected as they come."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "taskq_lib", *args, "--log-level", "INFO"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._ended = False
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        with self.proc.stderr:  # closed at the end of the output
            for line in self.proc.stderr:
                with self._changed:
                    self.lines.append(line.rstrip("\n"))
                    self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def count(self, text: str) -> int:
        with self._changed:
            return sum(text in line for line in self.lines)

    def wait_for(self, text: str, count: int = 1) -> bool:
        """Wait until ``count`` log lines contain ``text``; False if the process ended first."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._ended or sum(text in line for line in self.lines) >= count, TIMEOUT
            )
        return self.count(text) >= count

    def stop(self, how: signal.Signals) -> int:
        """Send ``how``; return the exit code, and collect the last lines."""
        self.proc.send_signal(how)
        code = self.proc.wait(timeout=TIMEOUT)
        self._reader.join(timeout=TIMEOUT)
        return code

    @property
    def log(self) -> str:
        with self._changed:
            return "\n".join(self.lines)


@pytest.fixture
def start() -> Iterator[Any]:
    """Start children; any still running at the end is killed."""
    children: list[Child] = []

    def spawn(*args: str, env: dict[str, str]) -> Child:
        child = Child(list(args), env)
        children.append(child)
        return child

    yield spawn
    for child in children:
        if child.proc.poll() is None:
            child.proc.kill()
            child.proc.wait(timeout=TIMEOUT)
        child._reader.join(timeout=TIMEOUT)


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKQ_")}
    return {**env, **extra}


def test_http_tasks_are_done_and_sigterm_mid_batch_loses_nothing(
    real_redis_url: str, start: Any
) -> None:
    queue, port, emails = f"e2e-{os.getpid()}-{free_port()}", free_port(), 40
    env = environment(TASKQ_REDIS_URL=real_redis_url)
    server = start("serve", "--app", APP, "--queue", queue, "--port", str(port), env=env)
    assert server.wait_for("Uvicorn running on"), server.log
    worker_args = ("worker", "--app", APP, "--queue", queue, "--concurrency", "2")

    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT) as http:
        ids = []
        for n in range(emails):
            answer = http.post("/tasks", json={"type": "email", "payload": {"to": f"u{n}@x.org"}})
            assert answer.status_code == 202 and answer.json()["status"] == "queued"
            ids.append(answer.json()["task_id"])
        answer = http.post("/queue/sms", json={"to": "+8801700000000"})
        assert answer.status_code == 202
        ids.append(answer.json()["task_id"])
        refused = http.post("/queue/fax", json={})
        assert refused.status_code == 422 and "email" in refused.json()["known_types"]
        assert http.get("/queue/length").json() == {"length": len(ids)}

        # A worker that prefetches: some tasks sit in its memory, taken but not started.
        first = start(*worker_args, "--prefetch", "4", env=env)
        assert first.wait_for(" succeeded", count=4), first.log
        assert first.stop(signal.SIGTERM) == 0, first.log
        assert "SIGTERM: stopping" in first.log and "worker stopped" in first.log

        states = Counter(http.get(f"/tasks/{i}").json()["status"] for i in ids)
        assert set(states) == {"succeeded", "queued"}, states  # stopped mid-batch; none lost
        stats = http.get("/stats").json()
        assert stats["in_flight"] == 0 and stats["dead"] == 0
        assert stats["pending"] == states["queued"]

        second = start(*worker_args, env=env)
        assert second.wait_for(" succeeded", count=states["queued"]), second.log
        assert second.stop(signal.SIGINT) == 0, second.log

        final = [http.get(f"/tasks/{i}").json() for i in ids]
        assert all(t["status"] == "succeeded" and t["attempts"] == 1 for t in final), final
        assert final[0]["result"] == {"sent": "email", "to": "u0@x.org"}
        assert http.get("/stats").json()["totals"]["succeeded"] == len(ids)
    assert first.count(" succeeded") + second.count(" succeeded") == len(ids)  # none ran twice
    assert server.stop(signal.SIGTERM) == 0, server.log


def test_serve_without_redis_runs_its_own_workers_behind_a_token(start: Any) -> None:
    port = free_port()
    env = environment(TASKQ_API_TOKEN="s3cret")
    server = start("serve", "--app", APP, "--port", str(port), "--workers", "2", env=env)
    assert server.wait_for("Uvicorn running on"), server.log
    assert "no Redis" in server.log and "bearer token in force" in server.log
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT) as http:
        assert http.post("/queue/notification", json={}).status_code == 401
        assert http.get("/dlq").status_code == 401
        headers = {"Authorization": "Bearer s3cret"}
        ids = [
            http.post(f"/queue/{kind}", json={"to": "ana"}, headers=headers).json()["task_id"]
            for kind in ["email", "sms", "notification"]
        ]
        assert server.wait_for(" succeeded", count=3), server.log
        for task_id in ids:
            assert http.get(f"/tasks/{task_id}").status_code == 401
            status = http.get(f"/tasks/{task_id}", headers=headers).json()
            assert status["status"] == "succeeded" and status["result"]["to"] == "ana"
    assert server.stop(signal.SIGINT) == 0, server.log
    assert "server stopped" in server.log
