"""Serve an app from a background thread: for a notebook or a test that wants a real port.

``taskq serve`` is the way to run the API as a service. In a notebook, the kernel's thread must
stay free to run cells, so this runs uvicorn in a daemon thread on a free loopback port::

    server = BackgroundServer(create_app(queue, registry)).start()
    print(server.url + "/dashboard")
    ...
    server.stop()

It logs nothing of its own (uvicorn's loggers go to the process's logging setup) and never
prints, so it leaves no output in a notebook.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType
from typing import Any


class BackgroundServer:
    """uvicorn serving ``app`` on ``host`` (loopback) and a free port, in a daemon thread."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        if port == 0:
            with socket.socket() as probe:
                probe.bind((host, 0))
                port = int(probe.getsockname()[1])
        self.url = f"http://{host}:{port}"
        config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="taskq-api", daemon=True)

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        """Start serving; return once the port accepts connections (or raise after ``timeout``)."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:  # uvicorn sets a flag, and offers nothing to wait on
            if not self._thread.is_alive():
                raise RuntimeError(f"the server could not start on {self.url} (is the port taken?)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start on {self.url} within {timeout} s")
            time.sleep(0.01)
        return self

    def _run(self) -> None:
        # uvicorn raises SystemExit when it cannot start (it logged why); start() then says so.
        with contextlib.suppress(SystemExit):
            self._server.run()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving: finish requests in progress, close the port, end the thread."""
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
