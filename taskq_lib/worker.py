"""A pool of worker threads: take a task, run its handler, report the outcome.

What the Go original's workers lacked, and these have:

* nothing a handler does kills its worker: an exception (even one whose ``str()`` raises),
  ``sys.exit()``, ``KeyboardInterrupt`` or a result that cannot be stored is recorded as a
  failure with its reason, retried with backoff or dead-lettered by the retry policy, and the
  worker goes on to the next task;
* a task of a type nobody handles is dead-lettered with the reason, not dropped;
* `stop` is graceful: in-flight tasks finish, ready ones are run first (``drain=True``) or
  left in the queue, and the join is bounded by a timeout;
* workers never print: they record `Event`s that you read after the work is done.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from .clock import SYSTEM_CLOCK, Clock
from .deadletter import ErrorInfo
from .errors import InvalidTask, QueueClosed, UnknownTaskType
from .events import DEAD, RETRYING, STARTED, SUCCEEDED, Event, EventLog
from .interface import Delivery, TaskQueue
from .logtext import oneline
from .registry import Registry
from .retry import RetryPolicy

log = logging.getLogger("taskq.worker")


class WorkerPool:
    """``concurrency`` threads working one queue.

    Args:
        queue: where tasks come from.
        registry: task type -> handler (and per-type retry policies).
        concurrency: number of worker threads.
        retry: the retry policy for types without their own.
        events: where to record what happened; a new `EventLog` if not given.
        poll: seconds a worker waits in one ``get`` before checking whether to stop.
        max_backoff: longest pause between tries while the queue cannot be reached.
    """

    def __init__(
        self,
        queue: TaskQueue,
        registry: Registry,
        *,
        concurrency: int = 4,
        retry: RetryPolicy | None = None,
        events: EventLog | None = None,
        clock: Clock = SYSTEM_CLOCK,
        poll: float = 0.5,
        max_backoff: float = 5.0,
        name: str = "w",
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.queue = queue
        self.registry = registry
        self.concurrency = concurrency
        self.retry = retry or RetryPolicy()
        self.events = events if events is not None else EventLog()
        self.clock = clock
        self.poll = poll
        self.max_backoff = max_backoff
        self.name = name
        self._threads: list[threading.Thread] = []
        self._draining = threading.Event()
        self._stopping = threading.Event()
        self._running: dict[str, bool] = {}  # worker -> running a handler now

    def start(self) -> WorkerPool:
        if self._threads:
            raise RuntimeError("pool already started")
        for i in range(self.concurrency):
            worker = f"{self.name}{i}"
            thread = threading.Thread(target=self._loop, args=(worker,), name=worker, daemon=True)
            self._threads.append(thread)
            thread.start()
        return self

    def stop(self, *, drain: bool = True, timeout: float = 10.0) -> bool:
        """Stop the workers; return True if all of them ended within ``timeout`` seconds.

        With ``drain=True`` workers first run every task that is ready, then stop; delayed
        tasks and retries not yet due stay in the queue. With ``drain=False`` they finish the
        task in hand and leave the rest. If the timeout passes while draining, workers are told
        to stop after their current task.
        """
        deadline = time.monotonic() + timeout
        if drain:
            self._draining.set()
            self.queue.wake()  # idle workers look at the stop flag now, not after `poll`
            for thread in self._threads:
                thread.join(max(0.0, deadline - time.monotonic()))
        self._stopping.set()
        self.queue.wake()
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def __enter__(self) -> WorkerPool:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop(drain=exc_type is None)

    @property
    def busy(self) -> int:
        """Workers running a handler right now."""
        return sum(self._running.values())

    def _loop(self, worker: str) -> None:
        failures = 0  # consecutive failed gets: the queue's server may be away
        rng = random.Random(worker)
        while not self._stopping.is_set():
            delivery = None
            try:
                delivery = self.queue.get(timeout=self.poll)
            except QueueClosed:
                # Closed and empty. A task a sibling holds that fails comes back to that sibling.
                if self._draining.is_set():
                    return
                self._stopping.wait(self.poll)
                continue
            except Exception as exc:  # a lost connection must not end the worker
                failures += 1
                if failures == 1:  # one log line per outage, not one per attempt
                    log.warning("%s: cannot get tasks (%s); backing off", worker, oneline(exc))
                backoff = min(self.max_backoff, 0.05 * 2 ** min(failures, 16))
                self._stopping.wait(backoff * (0.5 + rng.random() / 2))
                continue
            if failures:
                log.info("%s: getting tasks again after %d failed tries", worker, failures)
                failures = 0
            if delivery is not None:
                self._running[worker] = True  # one atomic dict write: no lock needed
                try:
                    self.run_one(delivery, worker)
                except BaseException as exc:  # run_one records handler errors; this is ours
                    log.error(
                        "%s: error while finishing task %s (%s); the worker goes on",
                        worker,
                        oneline(delivery.task.id),
                        oneline(f"{type(exc).__name__}: {oneline(exc)}"),
                    )
                finally:
                    self._running[worker] = False
            elif self._draining.is_set():
                return  # nothing ready: drained

    def run_one(self, delivery: Delivery, worker: str = "") -> None:
        """Run one delivery's handler and tell the queue how it went."""
        task = delivery.task
        record = self.events.record
        record(Event(self.clock.now(), STARTED, task.id, task.type, worker, task.attempts))
        try:
            handler = self.registry.handler(task.type)
            result = handler(task)
        except UnknownTaskType as exc:
            # Retrying cannot help: dead-letter at once, with the reason.
            self._dead(delivery, ErrorInfo.from_exception(exc), worker)
        except Exception as exc:
            self._failed(delivery, ErrorInfo.from_exception(exc), worker)
        except BaseException as exc:
            # sys.exit() or KeyboardInterrupt raised by the handler itself (signals reach only
            # the main thread): the task failed; the worker must not end with it.
            log.warning(
                "%s: task %s (%s) raised %s; recorded as a failure",
                worker,
                oneline(task.id),
                task.type,
                oneline(f"{type(exc).__name__}({oneline(exc)})"),
            )
            self._failed(delivery, ErrorInfo.from_exception(exc), worker)
            if threading.current_thread() is threading.main_thread():
                raise  # run_one called directly: a real Ctrl+C must still stop the program
        else:
            self._succeeded(delivery, result, worker)

    def _succeeded(self, delivery: Delivery, result: Any, worker: str) -> None:
        task = delivery.task
        try:
            self.queue.ack(delivery, result)
        except InvalidTask as exc:
            # The result breaks the rule of taskq_lib.limits (not JSON, too deep, too big):
            # a failure of the task, not a task left in flight.
            self._failed(delivery, ErrorInfo.from_exception(exc), worker)
            return
        except Exception as exc:
            self._report_failed(delivery, exc)
            return
        self.events.record(
            Event(self.clock.now(), SUCCEEDED, task.id, task.type, worker, task.attempts)
        )

    def _report(self, tell: Callable[..., None], delivery: Delivery, *args: Any, **kw: Any) -> bool:
        """Tell the queue an outcome. If that fails (server away), the lease will expire and
        the task run again: at-least-once, never lost."""
        try:
            tell(delivery, *args, **kw)
            return True
        except Exception as exc:
            self._report_failed(delivery, exc)
            return False

    def _report_failed(self, delivery: Delivery, exc: Exception) -> None:
        log.warning(
            "could not report task %s to the queue: %s", oneline(delivery.task.id), oneline(exc)
        )

    def _failed(self, delivery: Delivery, error: ErrorInfo, worker: str) -> None:
        task = delivery.task
        policy = self.registry.policy(task.type) or self.retry
        if policy.should_retry(task.attempts, task.max_retries):
            delay = policy.delay(max(1, task.attempts))
            if not self._report(self.queue.fail, delivery, error, retry_in=delay):
                return
            self.events.record(
                Event(
                    self.clock.now(),
                    RETRYING,
                    task.id,
                    task.type,
                    worker,
                    task.attempts,
                    f"{error}; next run in {delay:.3f} s",
                )
            )
        else:
            self._dead(delivery, error, worker)

    def _dead(self, delivery: Delivery, error: ErrorInfo, worker: str) -> None:
        task = delivery.task
        if not self._report(self.queue.fail, delivery, error, retry_in=None):
            return
        self.events.record(
            Event(self.clock.now(), DEAD, task.id, task.type, worker, task.attempts, str(error))
        )
