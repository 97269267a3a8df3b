"""The dashboard's list of workers with real ``taskq worker`` processes on a real Redis: each is
listed under its ``host:pid`` from its start, idle or not, and leaves the list when it stops."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator

import httpx
import pytest
from support import free_port
from test_e2e import APP, TIMEOUT, Child, environment

pytestmark = [pytest.mark.real_redis, pytest.mark.slow]


@pytest.fixture
def children() -> Iterator[list[Child]]:
    """Processes to kill at the end if they still run."""
    started: list[Child] = []
    yield started
    for child in started:
        if child.proc.poll() is None:
            child.proc.kill()
            child.proc.wait(timeout=TIMEOUT)


def test_taskq_workers_are_listed_while_they_run(
    real_redis_url: str, children: list[Child]
) -> None:
    queue, port = f"dash-e2e-{os.getpid()}-{free_port()}", free_port()
    env = environment(TASKQ_REDIS_URL=real_redis_url)
    server = Child(["serve", "--app", APP, "--queue", queue, "--port", str(port)], env)
    children.append(server)
    assert server.wait_for("Uvicorn running on"), server.log
    workers = [Child(["worker", "--app", APP, "--queue", queue], env) for _ in range(2)]
    children.extend(workers)
    for worker in workers:
        assert worker.wait_for(" is listed in "), worker.log
    names = [f"{socket.gethostname()}:{worker.proc.pid}" for worker in workers]

    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT) as http:
        listed = http.get("/dashboard/snapshot").json()["workers"]
        assert sorted(w["name"] for w in listed) == sorted(names)
        assert all(w["holding"] == 0 and w["last_seen"] is not None for w in listed)
        assert workers[1].stop(signal.SIGTERM) == 0, workers[1].log
        listed = http.get("/dashboard/snapshot").json()["workers"]
        assert [w["name"] for w in listed] == names[:1]  # a stopped worker leaves at once
    assert workers[0].stop(signal.SIGTERM) == 0
    assert server.stop(signal.SIGTERM) == 0, server.log
