"""What the tests and the benchmarks share: a free port, a real ``redis-server`` to start and
stop, and the one factory that builds each queue backend by name.

The tests import it as ``support`` (pytest puts ``tests/`` on the path), the benchmarks as
``tests.support`` (they run from the repository's root).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from typing import Any

import redis

from taskq_lib import MemoryQueue, PriorityQueue, TaskQueue, TrackedQueue
from taskq_lib.redis_queue import RedisQueue

#: Every backend the contract suite runs on. In memory: the FIFO queue, the priority queue,
#: and the FIFO queue wrapped to keep status. On Redis: the reliable queue.
MEMORY_BACKENDS = ("memory", "priority", "tracked")
REDIS_BACKENDS = ("redis",)
#: The backends that can say what became of a task (`InspectableQueue`): what the API needs.
INSPECTABLE_BACKENDS = ("tracked", "redis")


def make_queue(backend: str, client: redis.Redis | None = None, **options: Any) -> TaskQueue:
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


def free_port() -> int:
    """A TCP port on loopback that nothing listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A ``redis-server`` process on loopback, in a folder of its own.

    ``extra`` arguments go to the server (``"--appendonly", "yes"`` for AOF). `kill` and `start`
    restart it on the same port and folder; `stop` ends it for good and removes the folder.
    """

    def __init__(self, *extra: str, start: bool = True) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="taskq-redis-")
        self.args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir]
        self.args += ["--save", "", "--appendonly", "no", *extra]  # later arguments win
        self.proc: subprocess.Popen[bytes] | None = None
        if start:
            self.start()

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
    queue.client.zadd(queue.keys.pending, {f"{0:016d}{task_id}": -priority})
