"""A pool of worker threads: take a task, run its handler, report the outcome.

What the Go original's workers lacked, and these have:

* nothing a handler does kills its worker: an exception (even one whose ``str()`` raises),
  ``sys.exit()``, ``KeyboardInterrupt`` or a result that cannot be stored is recorded as a
  failure with its reason, retried with backoff or dead-lettered by the retry policy, and the
  worker goes on to the next task;
* a task of a type nobody handles is dead-lettered with the reason, not dropped;
* `stop` is graceful: in-flight tasks finish, ready ones are run first (``drain=True``) or
  left in the queue, and the join is bounded by a timeout;
* workers never print: they record `Event`s that you read after the work is done;
* ``async def`` handlers run on one event loop per pool (`aio.AsyncRunner`), up to
  ``async_concurrency`` at once, with the same retries, leases and graceful stop;
* a type's rate limit is asked before its handler runs; a task over it goes back to the queue
  for the time the limiter says (`TaskQueue.postpone`: not an attempt, not a failure);
* a type's time limit ends a run: an async handler is cancelled; a thread handler is recorded
  as failed with a `TimeoutError` reason and retried by the policy. Its thread cannot be
  stopped (Python has no way to kill a thread), so the worker logs that the thread is still
  busy; the task's lease is no longer renewed, so the task cannot be held forever.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from .aio import AsyncRunner
from .clock import SYSTEM_CLOCK, Clock
from .deadletter import ErrorInfo
from .errors import InvalidTask, QueueClosed, UnknownTaskType
from .events import DEAD, POSTPONED, RETRYING, STARTED, SUCCEEDED, Event, EventLog
from .interface import Delivery, TaskQueue
from .logtext import oneline
from .ratelimit import Limiter
from .registry import Handler, Registry
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
        async_concurrency: most ``async def`` handlers running at once on the pool's event
            loop (started the first time one is needed).
        limiter: where rate limits are counted; by default the queue's own
            (`TaskQueue.rate_limiter`: in Redis for a Redis queue, shared by all processes).
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
        async_concurrency: int = 100,
        limiter: Limiter | None = None,
    ) -> None:
        if concurrency < 1 or async_concurrency < 1:
            raise ValueError("concurrency and async_concurrency must be >= 1")
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
        self.async_concurrency = async_concurrency
        self.limiter = limiter if limiter is not None else queue.rate_limiter()
        self._runner: AsyncRunner | None = None  # the event loop, once an async task comes
        self._runner_lock = threading.Lock()
        self._watched: dict[str, _Watched] = {}  # token -> thread run under a time limit
        self._watchdog: threading.Thread | None = None

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
        ended = not any(thread.is_alive() for thread in self._threads)
        if self._runner is not None:  # coroutines in flight finish like threads' tasks do
            ended = self._runner.wait_idle(max(0.0, deadline - time.monotonic())) and ended
            self._runner.close()
        if self._watchdog is not None:
            self._watchdog.join(max(0.0, deadline - time.monotonic()))
        return ended

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
        """Workers running a handler right now (threads, and coroutines on the event loop)."""
        running = sum(self._running.values())
        return running + (self._runner.active if self._runner is not None else 0)

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
                    self._dispatch(delivery, worker)
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

    def _dispatch(self, delivery: Delivery, worker: str) -> None:
        """Ask the type's rate limit, then run the task: on the event loop (without waiting
        for it) or in this thread."""
        task = delivery.task
        options = self.registry.options(task.type)
        if options is None:  # unknown type: run_one dead-letters it with the reason
            self.run_one(delivery, worker)
        elif options.rate_limit is not None and (
            wait := self.limiter.acquire(task.type, task.id, options.rate_limit)
        ):
            self._postpone(delivery, wait, str(options.rate_limit), worker)
        elif options.is_async:
            self._submit(delivery, self.registry.handler(task.type), options.timeout)
        else:
            self.run_one(delivery, worker)

    def _postpone(self, delivery: Delivery, wait: float, rate: str, worker: str) -> None:
        task = delivery.task
        if self._report(self.queue.postpone, delivery, wait):
            detail = f"rate limit {rate}: back in the queue for {wait:.3f} s"
            now = self.clock.now()
            self.events.record(
                Event(now, POSTPONED, task.id, task.type, worker, task.attempts, detail)
            )

    def run_one(self, delivery: Delivery, worker: str = "") -> None:
        """Run one delivery's handler and tell the queue how it went.

        An async handler runs on the pool's event loop; this call waits for it to end.
        (The pool's own threads do not wait: they hand it over and take the next task.)
        """
        task = delivery.task
        options = self.registry.options(task.type)
        if options is not None and options.is_async:
            self._submit(delivery, self.registry.handler(task.type), options.timeout).result()
            return
        timeout = None if options is None else options.timeout
        if timeout is not None:
            self._run_watched(delivery, worker, timeout)
            return
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

    # ----------------------------------------------------------------- async handlers
    def _submit(self, delivery: Delivery, handler: Handler, timeout: float | None) -> Any:
        """Start the task on the event loop (waiting for a free place); return its future."""
        if self._runner is None:
            with self._runner_lock:
                if self._runner is None:
                    self._runner = AsyncRunner(self.async_concurrency, name=self.name)

        async def job(place: str) -> None:
            await self._run_async(delivery, handler, timeout, place)

        future = self._runner.submit(job)
        future.add_done_callback(lambda done: self._note_async_error(done, delivery))
        return future

    def _note_async_error(self, done: Any, delivery: Delivery) -> None:
        """Log what went wrong while finishing an async task (its handler's errors are
        recorded as failures; this is ours), as the thread loop does, never silently."""
        if done.cancelled():
            return
        exc = done.exception()
        if exc is not None:
            log.error(
                "error while finishing task %s on the event loop (%s); the worker goes on",
                oneline(delivery.task.id),
                oneline(f"{type(exc).__name__}: {oneline(exc)}"),
            )

    async def _run_async(
        self, delivery: Delivery, handler: Handler, timeout: float | None, worker: str
    ) -> None:
        task = delivery.task
        self.events.record(
            Event(self.clock.now(), STARTED, task.id, task.type, worker, task.attempts)
        )
        run: asyncio.Future[Any] | None = None
        try:
            run = asyncio.ensure_future(handler(task))
            result = await (run if timeout is None else asyncio.wait_for(run, timeout))
        except (TimeoutError, asyncio.TimeoutError) as exc:
            # Ours if wait_for cancelled the handler; else a TimeoutError the handler raised.
            ours = timeout is not None and run is not None and run.cancelled()
            reason = _time_limit_error(task.type, timeout) if ours else exc
            self._failed(delivery, ErrorInfo.from_exception(reason), worker)
        except asyncio.CancelledError:
            # The loop is closing (stop ran out of time): tell nothing; the lease expires and
            # the queue hands the task out again.
            raise
        except Exception as exc:
            self._failed(delivery, ErrorInfo.from_exception(exc), worker)
        except BaseException as exc:  # sys.exit() in a handler: a failure, as in a thread
            self._failed(delivery, ErrorInfo.from_exception(exc), worker)
        else:
            self._succeeded(delivery, result, worker)

    # ----------------------------------------------------------------- time limits
    def _run_watched(self, delivery: Delivery, worker: str, timeout: float) -> None:
        """Run a thread handler under a time limit: past it, the watchdog fails the task and
        this thread's own outcome, when it comes, is dropped."""
        task = delivery.task
        watched = _Watched(delivery, worker, timeout, time.monotonic() + timeout)
        self._watched[delivery.token] = watched
        self._start_watchdog()
        self.events.record(
            Event(self.clock.now(), STARTED, task.id, task.type, worker, task.attempts)
        )
        outcome: BaseException | None = None
        try:
            result = self.registry.handler(task.type)(task)
        except BaseException as exc:  # sorted out below, once we know the run is still ours
            outcome = exc
        finally:
            self._watched.pop(delivery.token, None)
        if not watched.claim():
            log.warning(
                "%s: task %s (%s) returned after its time limit had failed it; what it "
                "returned is dropped, and the thread takes tasks again",
                worker,
                oneline(task.id),
                task.type,
            )
            return
        if outcome is None:
            self._succeeded(delivery, result, worker)
        else:
            self._failed(delivery, ErrorInfo.from_exception(outcome), worker)
            if not isinstance(outcome, Exception) and threading.current_thread() is (
                threading.main_thread()
            ):
                raise outcome

    def _start_watchdog(self) -> None:
        with self._runner_lock:
            if self._watchdog is None:
                self._watchdog = threading.Thread(
                    target=self._watch, name=f"{self.name}-watchdog", daemon=True
                )
                self._watchdog.start()

    def _watch(self) -> None:
        """Fail every thread run that passes its time limit (checked 20 times a second)."""
        while not self._stopping.is_set() or self._watched:
            time.sleep(0.05)  # a pause, not a wait for an event: nothing else wakes this
            now = time.monotonic()
            for token, watched in list(self._watched.items()):
                if now >= watched.deadline:
                    self._watched.pop(token, None)  # the thread's own pop is then a no-op
                    if watched.claim():
                        self._expire(watched)

    def _expire(self, watched: _Watched) -> None:
        task = watched.delivery.task
        log.warning(
            "%s: task %s (%s) passed its time limit of %g s: recorded as failed; the thread "
            "is still busy running it and takes no task until the function returns (a thread "
            "cannot be stopped: give the handler its own timeouts, make it async, or run the "
            "work in a subprocess)",
            watched.worker,
            oneline(task.id),
            task.type,
            watched.timeout,
        )
        error = ErrorInfo.from_exception(_time_limit_error(task.type, watched.timeout))
        self._failed(watched.delivery, error, watched.worker)

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


class _Watched:
    """A thread run under a time limit. Its outcome is reported once: by the thread when the
    handler returns in time, or by the watchdog when the limit passes."""

    def __init__(self, delivery: Delivery, worker: str, timeout: float, deadline: float) -> None:
        self.delivery, self.worker = delivery, worker
        self.timeout, self.deadline = timeout, deadline
        self._lock = threading.Lock()
        self._claimed = False

    def claim(self) -> bool:
        """True for the first caller only: that one reports the outcome."""
        with self._lock:
            first, self._claimed = not self._claimed, True
            return first


def _time_limit_error(task_type: str, timeout: float | None) -> TimeoutError:
    return TimeoutError(f"task type {task_type!r} ran past its time limit of {timeout:g} s")
