"""What the tests and the benchmarks share: a free port, a real ``redis-server`` to start and
stop, and the one factory that builds each queue backend by name.

The tests import it as ``support`` (pytest puts ``tests/`` on the path), the benchmarks as
``tests.support`` (they run from the repository's root).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import pytest
import redis

from taskq_lib import MemoryQueue, PriorityQueue, TaskQueue, TrackedQueue
from taskq_lib.connection import Client
from taskq_lib.redis_queue import RedisQueue

#: Every backend the contract suite runs on. In memory: the FIFO queue, the priority queue,
#: and the FIFO queue wrapped to keep status. On Redis: the reliable queue.
MEMORY_BACKENDS = ("memory", "priority", "tracked")
REDIS_BACKENDS = ("redis",)
#: The backends that can say what became of a task (`InspectableQueue`): what the API needs.
INSPECTABLE_BACKENDS = ("tracked", "redis")
#: The backends that order by `Task.priority` (bigger first, first-in first-out among equals).
PRIORITY_BACKENDS = ("priority", "redis")


def make_queue(backend: str, client: Client | None = None, **options: Any) -> TaskQueue:
    """A new, empty queue of ``backend`` (a Redis one needs ``client``)."""
    if backend == "memory":
        return MemoryQueue(**options)
    if backend == "priority":
        return PriorityQueue(**options)
    if backend == "tracked":
        return TrackedQueue(MemoryQueue(**options))
    if backend == "redis":
        if client is None:
            raise ValueError("a Redis backend needs a client")
        name = options.pop("name", None) or f"test-{time.monotonic_ns():x}"
        return RedisQueue(name, client, **options)
    raise ValueError(f"unknown backend {backend!r}")


def stop_process(proc: subprocess.Popen[Any], timeout: float = 20.0) -> None:
    """Ask a child process to end (SIGTERM); kill it if it has not within ``timeout`` s."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_cluster_port() -> int:
    """A free port whose cluster bus port (10000 higher) is free too, both below 65536."""
    while True:
        port = free_port()
        if port + 10000 < 65536:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
                return port


class RedisServer:
    """A ``redis-server`` process on loopback, in a folder of its own.

    ``extra`` arguments go to the server (``"--appendonly", "yes"`` for AOF). `kill` and `start`
    restart it on the same port and folder; `stop` ends it for good and removes the folder.
    """

    def __init__(self, *extra: str, start: bool = True, port: int = 0) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="taskq-redis-")
        self.args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir]
        self.args += ["--save", "", "--appendonly", "no", *extra]  # later arguments win
        self.proc: subprocess.Popen[bytes] | None = None
        if start:
            try:
                self.start()
            except BaseException:
                self.stop()  # no process or folder left behind
                raise

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20.0) -> None:
        """Start the server and wait until it answers and has loaded what it kept."""
        self.proc = subprocess.Popen(
            self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                try:
                    if client.ping() and client.info("persistence").get("loading") == 0:
                        return
                except redis.AuthenticationError:
                    return  # up, and wants a password (--requirepass)
                except (redis.ConnectionError, redis.BusyLoadingError):
                    pass
                time.sleep(0.02)
        finally:
            client.close()
        self.kill()
        raise RuntimeError(f"redis-server did not start within {timeout} s")

    def kill(self) -> None:
        """SIGKILL the server: only what it wrote to disk survives a `start`."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def stop(self) -> None:
        """Stop the server for good and remove its folder."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Flaky:
    """Wraps a client's ``execute_command`` to lose a put's reply, or to never send it."""

    def __init__(self, queue: RedisQueue, mode: str) -> None:
        queue.client.script_load(queue._scripts["enqueue"].script)  # no NOSCRIPT round first
        self.real = queue.client.execute_command
        self.mode = mode
        queue.client.execute_command = self  # type: ignore[method-assign]

    def __call__(self, *args: Any, **options: Any) -> Any:
        if args[0] != "EVALSHA" or self.mode == "done":
            return self.real(*args, **options)
        mode, self.mode = self.mode, "done"
        if mode == "never-sent":
            raise redis.ConnectionError("connection refused")
        self.real(*args, **options)
        if mode == "reply-lost":
            raise redis.TimeoutError("timed out reading the reply")
        return self.real(*args, **options)  # "retried": the client ran it a second time


def push_pending(queue: RedisQueue, task_id: str, priority: int = 0) -> None:
    """Put an id on a queue's pending set by hand, as another client could (no places entry)."""
    queue.client.zadd(queue.keys.pending, {f"{10**15:016d}{task_id}": -priority})


class LocalCluster:
    """A Redis Cluster on loopback: ``masters`` ``redis-server --cluster-enabled yes``, each
    with ``replicas`` replicas, joined by ``redis-cli --cluster create``; one folder for all.

    `url` is its ``redis+cluster://`` URL; `stop` ends every server and removes the folder.
    """

    def __init__(self, masters: int = 3, replicas: int = 0, node_timeout_ms: int = 1000) -> None:
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RuntimeError("redis-cli is not installed (apt-get install redis-tools)")
        self.dir = tempfile.mkdtemp(prefix="taskq-cluster-")
        self.nodes: list[RedisServer] = []
        try:
            for n in range(masters * (1 + replicas)):
                config = f"{self.dir}/nodes-{n}.conf"
                self.nodes.append(
                    RedisServer(
                        "--cluster-enabled", "yes", "--cluster-config-file", config,
                        "--cluster-node-timeout", str(node_timeout_ms),
                        # A replica that lost its master for a while still takes over.
                        "--cluster-replica-validity-factor", "0",
                        port=free_cluster_port(),
                    )
                )  # fmt: skip
            addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
            create = [cli, "--cluster", "create", *addresses, "--cluster-yes"]
            subprocess.run(
                [*create, "--cluster-replicas", str(replicas)],
                check=True,
                capture_output=True,
                timeout=60,
            )
            self.wait_ok()
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes[:3])

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Wait until every running node says the cluster is ok and knows every slot."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self._ok(node) for node in self.nodes if node.proc is not None):
                return
            time.sleep(0.05)
        raise RuntimeError(f"the cluster was not ok within {timeout} s")

    @staticmethod
    def _ok(node: RedisServer) -> bool:
        client = redis.Redis(port=node.port, socket_connect_timeout=1, socket_timeout=1)
        try:
            info = client.cluster("info")
            return bool(info["cluster_state"] == "ok" and int(info["cluster_slots_ok"]) == 16384)
        except redis.RedisError:
            return False
        finally:
            client.close()

    def master_of(self, key: str) -> RedisServer:
        """The node that serves ``key``'s slot now."""
        for node in self.nodes:
            if node.proc is None:
                continue
            client = redis.Redis(port=node.port, socket_timeout=1)
            try:
                slot = int(client.cluster("keyslot", key))
                role = client.role()[0]
                if role in (b"master", "master"):
                    for start, end, *_ in client.cluster("slots"):
                        if start <= slot <= end:
                            served = [n for n in self.nodes if n.port == _[0][1]]
                            if served:
                                return served[0]
            finally:
                client.close()
        raise RuntimeError(f"no running node serves {key!r}")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- browser tests and the course command ------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
#: Flags for a headless Chromium on a machine with no network but loopback.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def unavailable(reason: str) -> NoReturn:
    """Skip, or fail when the environment promises a browser (CI sets TASKQ_REQUIRE_BROWSER)."""
    if os.environ.get("TASKQ_REQUIRE_BROWSER"):
        pytest.fail(f"TASKQ_REQUIRE_BROWSER is set but {reason}")
    pytest.skip(reason)


def chromium() -> str:
    """The system's Chromium (``TASKQ_CHROMIUM`` or Debian's); Playwright downloads none."""
    for name in (os.environ.get("TASKQ_CHROMIUM", ""), "/usr/bin/chromium", "chromium"):
        found = shutil.which(name) if name else None
        if found:
            return found
    unavailable("no Chromium is installed (apt-get install chromium)")


def load_lab_module() -> ModuleType:
    """``scripts/lab.py``, the one place that says how the course starts JupyterLab."""
    spec = importlib.util.spec_from_file_location("course_lab", ROOT / "scripts" / "lab.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
