"""Which function runs which task type.

The Go original kept a ``map[type]func(Task) error`` but accepted any type over HTTP and
dropped unknown ones later, in the worker, with only a log line. Here enqueueing an unknown
type fails at once with an error that names the types that do exist.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import InvalidTask, UnknownTaskType
from .events import ENQUEUED, REFUSED, Event, EventLog
from .interface import TaskQueue, check_put
from .periodic import Schedule, default_name
from .ratelimit import RateLimit, parse_rate
from .retry import RetryPolicy
from .status import InspectableQueue
from .task import Task, encode, validate_type
from .unique import Claim, check_key, check_unique_for, fingerprint

#: A plain function, or an ``async def`` one (its calls return a coroutine).
Handler = Callable[[Task], Any]


@dataclass(frozen=True)
class TaskOptions:
    """How the tasks of one type run: on the event loop or a thread, how often, how long."""

    is_async: bool = False
    rate_limit: RateLimit | None = None
    timeout: float | None = None


def is_async_handler(handler: Handler) -> bool:
    """Does calling ``handler`` return a coroutine (an ``async def`` function or method, or an
    object whose ``__call__`` is one)?"""
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None)  # noqa: B004 - the method, not callable()
    )


def check_timeout(timeout: object) -> float | None:
    """A time limit: None, or a finite number of seconds > 0. `ValueError` says why not."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise ValueError(f"timeout must be a number of seconds > 0, not {type(timeout).__name__}")
    if not 0 < timeout < math.inf:
        raise ValueError(f"timeout must be a finite number of seconds > 0, not {timeout!r}")
    return float(timeout)


class Registry:
    """Task types and their handlers (and, optionally, a retry policy per type)."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._policies: dict[str, RetryPolicy] = {}
        self._options: dict[str, TaskOptions] = {}
        self._schedules: dict[str, Schedule] = {}
        self._lock = threading.Lock()

    def register(
        self,
        task_type: str,
        handler: Handler,
        *,
        retry: RetryPolicy | None = None,
        rate_limit: str | RateLimit | None = None,
        timeout: float | None = None,
    ) -> None:
        """Run ``handler(task)`` for tasks of ``task_type``. The handler raises to fail.

        Args:
            handler: a function, or an ``async def`` function (run on the worker's event loop).
            retry: this type's retry policy (else the worker's).
            rate_limit: at most this many starts per period, across every worker process:
                ``"10/s"``, ``"100/m"``, ``"1000/h"``. Tasks over it wait in the queue.
            timeout: seconds a run may take. Past it, an async handler is cancelled; a thread
                handler is recorded as failed (and retried by the policy), though its thread
                runs on until the function returns: a thread cannot be stopped from outside.

        Bad settings raise `ValueError` here, before anything is registered.
        """
        validate_type(task_type)
        if not callable(handler):
            raise TypeError(f"handler for {task_type!r} is not callable")
        options = TaskOptions(
            is_async=is_async_handler(handler),
            rate_limit=None if rate_limit is None else parse_rate(rate_limit),
            timeout=check_timeout(timeout),
        )
        with self._lock:
            self._handlers[task_type] = handler
            self._options[task_type] = options
            if retry is not None:
                self._policies[task_type] = retry

    def task(
        self,
        task_type: str,
        *,
        retry: RetryPolicy | None = None,
        rate_limit: str | RateLimit | None = None,
        timeout: float | None = None,
    ) -> Callable[[Handler], Handler]:
        """Decorator form of `register`; the function may be ``def`` or ``async def``."""

        def decorate(handler: Handler) -> Handler:
            self.register(task_type, handler, retry=retry, rate_limit=rate_limit, timeout=timeout)
            return handler

        return decorate

    def periodic(
        self,
        task_type: str,
        *,
        every: float | None = None,
        cron: str | None = None,
        payload: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> Schedule:
        """Enqueue a task of ``task_type`` every ``every`` seconds, or at each time of the cron
        expression ``cron`` (five fields, UTC), from every ``taskq worker`` (one task per tick
        however many run; see `taskq_lib.periodic`). The type must be registered first; a bad
        period, cron expression or payload raises here, at registration."""
        if task_type not in self:
            raise UnknownTaskType(task_type, self.types())
        schedule = Schedule(
            default_name(task_type, every, cron) if name is None else name,
            task_type,
            {} if payload is None else payload,
            every,
            cron,
        )
        with self._lock:
            if schedule.name in self._schedules:
                raise ValueError(f"a schedule named {schedule.name!r} exists already")
            self._schedules[schedule.name] = schedule
        return schedule

    def schedules(self) -> list[Schedule]:
        """The periodic schedules, in the order they were declared."""
        with self._lock:
            return list(self._schedules.values())

    def handler(self, task_type: str) -> Handler:
        """The handler for ``task_type``; `UnknownTaskType` names the known types if none."""
        found = self._handlers.get(task_type)  # one atomic dict read: no lock needed
        if found is None:
            raise UnknownTaskType(task_type, self.types())
        return found

    def options(self, task_type: str) -> TaskOptions | None:
        """How tasks of ``task_type`` run; None if the type is unknown."""
        return self._options.get(task_type)

    def policy(self, task_type: str) -> RetryPolicy | None:
        """The retry policy registered for ``task_type``, if any."""
        return self._policies.get(task_type)

    def types(self) -> list[str]:
        with self._lock:
            return sorted(self._handlers)

    def __contains__(self, task_type: object) -> bool:
        with self._lock:
            return task_type in self._handlers

    def new_task(
        self, task_type: str, payload: dict[str, Any] | None = None, **fields: Any
    ) -> Task:
        """Build a validated task of a registered type."""
        validate_type(task_type)
        if task_type not in self:
            raise UnknownTaskType(task_type, self.types())
        return Task(type=task_type, payload={} if payload is None else payload, **fields)

    def enqueue(
        self,
        queue: TaskQueue,
        task_type: str,
        payload: dict[str, Any] | None = None,
        *,
        delay: float = 0.0,
        timeout: float | None = None,
        max_bytes: int | None = None,
        events: EventLog | None = None,
        unique_key: str | None = None,
        unique_for: float | None = None,
        **fields: Any,
    ) -> Task:
        """Check, build and put a task on ``queue``; return it (its ``id`` is the handle).

        The one way the API, the command line and programs enqueue. Refused with
        `UnknownTaskType` or `InvalidTask` before anything is queued; see `submit` for the rest.

        With ``unique_key`` (on an `InspectableQueue`), a task is not enqueued while another
        holds that key: it is held while its task waits or runs, and at least ``unique_for``
        seconds. The same request again returns the task that holds the key (compare ids to
        tell); a different one raises `UniqueKeyConflict`. See `taskq_lib.unique`.
        """
        if unique_key is None and unique_for is not None:
            raise InvalidTask("unique_for needs a unique_key")
        task = self.new_task(task_type, payload, **fields)
        if unique_key is None:
            return submit(
                queue, task, delay=delay, timeout=timeout, max_bytes=max_bytes, events=events
            )
        return submit_unique(
            queue,
            task,
            unique_key,
            unique_for=unique_for,
            delay=delay,
            timeout=timeout,
            max_bytes=max_bytes,
            events=events,
        )


def submit(
    queue: TaskQueue,
    task: Task,
    *,
    delay: float = 0.0,
    timeout: float | None = None,
    max_bytes: int | None = None,
    events: EventLog | None = None,
) -> Task:
    """Put a built task on ``queue``: `Registry.enqueue` without the registry's type check.

    Args:
        delay: seconds before the task may run.
        timeout: seconds to wait for room in a bounded queue before `QueueFull`.
        max_bytes: if given, `PayloadTooLarge` for a task whose encoding is bigger (queues that
            do not encode tasks check no size of their own).
        events: where to record ``enqueued`` (before the put, so that a worker's ``started``
            cannot come first) and, if the put fails, ``refused``.
    """
    if max_bytes is not None:
        encode(task, max_bytes)
    if events is not None:
        events.record(Event(task.created_at, ENQUEUED, task.id, task.type))
    try:
        queue.put(task, delay=delay, timeout=timeout)
    except Exception as exc:
        if events is not None:
            events.record(Event(task.created_at, REFUSED, task.id, task.type, detail=str(exc)))
        raise
    return task


def submit_unique(
    queue: TaskQueue,
    task: Task,
    key: str,
    *,
    unique_for: float | None = None,
    delay: float = 0.0,
    timeout: float | None = None,
    max_bytes: int | None = None,
    events: EventLog | None = None,
) -> Task:
    """`submit` with a unique key: put ``task`` unless ``key`` is held, and return the task
    that holds it (``task`` itself, or the earlier one). See `Registry.enqueue`."""
    if not isinstance(queue, InspectableQueue):
        raise TypeError(
            f"{type(queue).__name__} keeps no task status, so it cannot tell whether the task "
            "holding a unique key still waits or runs: use a RedisQueue or a TrackedQueue"
        )
    check_key(key)
    hold = check_unique_for(unique_for)
    delay = check_put(delay, timeout)
    if max_bytes is not None:
        encode(task, max_bytes)
    if events is not None:
        events.record(Event(task.created_at, ENQUEUED, task.id, task.type))
    try:
        claim = Claim(key, fingerprint(task, delay), hold)
        holder = queue.put_unique(task, claim, delay=delay, timeout=timeout)
    except Exception as exc:
        if events is not None:
            events.record(Event(task.created_at, REFUSED, task.id, task.type, detail=str(exc)))
        raise
    if holder == task.id:
        return task
    if events is not None:
        detail = f"unique key held by task {holder}"
        events.record(Event(task.created_at, REFUSED, task.id, task.type, detail=detail))
    found = queue.info(holder)
    if found is not None and found.task is not None:
        return found.task
    # The holder was forgotten since (its retention passed): its id is all there is.
    return dataclasses.replace(task, id=holder)
