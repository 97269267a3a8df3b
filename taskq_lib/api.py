"""The HTTP API: the Go original's Fiber routes, retold with FastAPI, plus the answers it lacked.

``create_app(queue, registry)`` builds the app. JSON goes in and out, and ``/openapi.json``
describes every route, request and answer. What the original got wrong, and this does not:

* an unknown task type is refused with 422 naming the registered types (the original accepted
  it with 202, then its worker dropped it with a log line);
* ``GET /tasks/{id}`` says what became of a task (the original could not be asked);
* bad input gets a clear JSON error and changes nothing: malformed JSON 400, wrong types 422,
  a body over the limit 413, a full queue 503 with ``Retry-After``; no input produces a 500.

The API needs a queue that can say what became of a task: a `RedisQueue` (which keeps status
in Redis), or an in-memory queue wrapped in `TrackedQueue`.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Protocol, runtime_checkable

try:
    from fastapi import Depends, FastAPI, Path, Query, Request, Response
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
    from pydantic import BaseModel, ConfigDict, Field
    from starlette.datastructures import Headers
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.types import ASGIApp, Message, Receive, Scope, Send
except ImportError as exc:  # an optional dependency: say how to get it
    raise ImportError("taskq_lib.api needs FastAPI: pip install 'taskq-lib[api]'") from exc

import redis

from . import __version__
from .deadletter import DeadLetter, ErrorInfo
from .errors import InvalidTask, PayloadTooLarge, QueueClosed, QueueFull, UnknownTaskType
from .events import ENQUEUED, Event, EventLog, Status
from .interface import Delivery, TaskQueue
from .memory import MemoryQueue
from .redis_queue import TaskInfo
from .registry import Registry
from .task import DEFAULT_MAX_BYTES, Task, encode

log = logging.getLogger("taskq.api")

#: Largest request body accepted, in bytes. Tasks should carry references (ids, URLs), not data.
DEFAULT_MAX_BODY = 64 * 1024
#: Longest delay a client may ask for: 30 days.
MAX_DELAY_SECONDS = 30 * 24 * 3600.0
#: Priorities are integers that every JSON reader holds exactly (JavaScript's safe range).
MAX_PRIORITY = 2**53 - 1
#: Most retries a client may ask for.
MAX_RETRIES = 1000

#: The bearer-token scheme; module-level, so FastAPI can resolve it from annotations.
_BEARER = HTTPBearer(auto_error=False, description="Needed by the write routes if a token is set.")

_JSON_TYPE = re.compile(r"application/([a-z0-9.+-]*\+)?json", re.IGNORECASE)
_DIGITS = re.compile(r"[0-9]{1,20}")


# --------------------------------------------------------------------- status for memory queues
@runtime_checkable
class InspectableQueue(Protocol):
    """A queue that can say what became of a task; what the API needs.

    `RedisQueue` is one (status lives in Redis). Wrap an in-memory queue in `TrackedQueue`.
    """

    name: str

    def put(self, task: Task, *, delay: float = 0.0, timeout: float | None = None) -> None: ...

    def __len__(self) -> int: ...

    def dead_letters(self, limit: int = 1000) -> list[DeadLetter]: ...

    def info(self, task_id: str) -> TaskInfo | None: ...

    def stats(self) -> dict[str, int]: ...

    def requeue_dead(self, task_id: str | None = None) -> int: ...

    def purge_dead(self) -> int: ...


@dataclass
class _Record:
    task: Task
    state: Status
    attempts: int
    updated_at: float
    last_error: ErrorInfo | None = None
    result: Any = None


class TrackedQueue(TaskQueue):
    """An in-memory queue that remembers what became of each task, for ``GET /tasks/{id}``.

    A `MemoryQueue` forgets a task as soon as a worker takes it. This wrapper keeps one small
    record per task (status, runs, last error, result), updated as tasks pass through it. Give
    the same `TrackedQueue` to the API and to the `WorkerPool`: what bypasses it is not seen.

    Args:
        inner: the queue that holds the tasks (`MemoryQueue` or `PriorityQueue`).
        keep: records of succeeded tasks kept, newest first; older ones are forgotten.
    """

    def __init__(self, inner: MemoryQueue, *, keep: int = 10_000) -> None:
        if keep < 0:
            raise ValueError("keep must be >= 0")
        self.inner = inner
        self.name = inner.name
        self.keep = keep
        self._records: dict[str, _Record] = {}
        self._succeeded: OrderedDict[str, None] = OrderedDict()  # oldest first, for forgetting
        self._totals: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _now(self) -> float:
        return self.inner.clock.now()

    def _set(self, task: Task, state: Status, attempts: int, **changes: Any) -> None:
        """Record a status change; the caller holds the lock."""
        old = self._records.get(task.id)
        record = _Record(task, state, attempts, self._now())
        if old is not None:
            record.last_error, record.result = old.last_error, old.result
        for name, value in changes.items():
            setattr(record, name, value)
        self._records[task.id] = record
        self._succeeded.pop(task.id, None)
        if state is Status.SUCCEEDED:
            self._succeeded[task.id] = None
            while len(self._succeeded) > self.keep:
                forgotten, _ = self._succeeded.popitem(last=False)
                del self._records[forgotten]

    def put(self, task: Task, *, delay: float = 0.0, timeout: float | None = None) -> None:
        with self._lock:
            # Recorded before the put, so a worker's "running" cannot be overwritten by it.
            previous = self._records.get(task.id)
            self._set(task, Status.SCHEDULED if delay > 0 else Status.QUEUED, 0)
        try:
            self.inner.put(task, delay=delay, timeout=timeout)
        except BaseException:
            with self._lock:  # refused: leave no trace
                if previous is None:
                    self._records.pop(task.id, None)
                else:
                    self._records[task.id] = previous
            raise
        with self._lock:
            self._totals["enqueued"] += 1

    def get(self, timeout: float | None = None) -> Delivery | None:
        delivery = self.inner.get(timeout)
        if delivery is not None:
            task = delivery.task
            with self._lock:
                self._set(task, Status.RUNNING, task.attempts)
        return delivery

    def ack(self, delivery: Delivery, result: Any = None) -> None:
        self.inner.ack(delivery, result)
        task = delivery.task
        with self._lock:
            self._set(task, Status.SUCCEEDED, task.attempts, result=result)
            self._totals["succeeded"] += 1

    def fail(self, delivery: Delivery, error: ErrorInfo, *, retry_in: float | None) -> None:
        task = delivery.task
        state = Status.DEAD if retry_in is None else Status.RETRYING
        # Under the lock: a retry due at once may be taken by another worker, whose "running"
        # must come after this "retrying".
        with self._lock:
            self.inner.fail(delivery, error, retry_in=retry_in)
            self._set(task, state, task.attempts, last_error=error)
            self._totals["dead" if retry_in is None else "retried"] += 1

    def dead_letters(self, limit: int = 1000) -> list[DeadLetter]:
        return self.inner.dead_letters(limit)

    def requeue_dead(self, task_id: str | None = None) -> int:
        """Put one dead task (or all, with None) back to run again, with its runs reset."""
        ids = [d.id for d in self.inner.dead_letters()] if task_id is None else [task_id]
        moved = 0
        for one in ids:
            with self._lock:
                record = self._records.get(one)
                if self.inner.requeue_dead(one):
                    moved += 1
                    if record is not None:
                        self._set(record.task, Status.QUEUED, 0)
        return moved

    def purge_dead(self) -> int:
        """Empty the dead-letter queue and forget its tasks; return how many."""
        with self._lock:
            dead = self.inner.dead_letters()
            for letter in dead:
                record = self._records.get(letter.id)
                if record is not None and record.state is Status.DEAD:
                    del self._records[letter.id]
            return self.inner.purge_dead()

    def info(self, task_id: str) -> TaskInfo | None:
        """What became of a task; None if it is unknown (or was forgotten)."""
        with self._lock:
            record = self._records.get(task_id)
            if record is None:
                return None
            return TaskInfo(
                id=task_id,
                state=record.state.value,
                attempts=record.attempts,
                task=record.task,
                last_error=record.last_error,
                result=record.result,
                updated_at=record.updated_at,
            )

    def stats(self) -> dict[str, int]:
        """Counts per state now, and totals since the queue was made (like `RedisQueue`)."""
        with self._lock:
            states = Counter(record.state for record in self._records.values())
            totals = {f"total_{k}": v for k, v in sorted(self._totals.items())}
        return {
            "pending": states[Status.QUEUED],
            "scheduled": states[Status.SCHEDULED] + states[Status.RETRYING],
            "in_flight": states[Status.RUNNING],
            "dead": states[Status.DEAD],
            "done": states[Status.SUCCEEDED],
            **totals,
        }

    def __len__(self) -> int:
        return len(self.inner)

    def close(self) -> None:
        self.inner.close()

    @property
    def closed(self) -> bool:
        return self.inner.closed


# --------------------------------------------------------------------- request and answer shapes
class TaskRequest(BaseModel):
    """A task to enqueue. Types are checked strictly: ``"5"`` is not a priority."""

    model_config = ConfigDict(strict=True, extra="forbid")

    type: str = Field(description="A registered task type.", examples=["email"])
    payload: dict[str, Any] = Field(
        description="The data the handler needs: a JSON object.",
        examples=[{"to": "ana@example.com"}],
    )
    priority: int = Field(
        0, ge=-MAX_PRIORITY, le=MAX_PRIORITY, description="Bigger runs sooner (priority queues)."
    )
    delay_seconds: float = Field(
        0.0, ge=0, le=MAX_DELAY_SECONDS, allow_inf_nan=False, description="Run after this delay."
    )
    max_retries: int | None = Field(
        None, ge=0, le=MAX_RETRIES, description="Retries after a failure; null: the default."
    )


class Accepted(BaseModel):
    """The answer to an enqueue: the task's id is the handle to ask about it later."""

    task_id: str
    type: str
    status: Status


class ErrorDetail(BaseModel):
    """One problem with the request: where (``loc``) and what."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error answer has this shape."""

    error: str = Field(description="What is wrong, in one sentence.")
    details: list[ErrorDetail] | None = Field(None, description="Each invalid field.")
    known_types: list[str] | None = Field(None, description="For an unknown task type.")


class ErrorInfoModel(BaseModel):
    """Why a run failed."""

    type: str
    message: str
    traceback: str = ""


class TaskStatus(BaseModel):
    """What became of a task."""

    task_id: str
    type: str | None
    status: Status
    attempts: int = Field(description="Runs so far.")
    max_retries: int | None
    last_error: ErrorInfoModel | None
    result: Any = Field(None, description="The handler's return value, once succeeded.")
    updated_at: float | None = Field(description="Unix time of the last status change.")


class QueueLength(BaseModel):
    """Tasks waiting: ready now or scheduled for later (not those running)."""

    length: int


class Stats(BaseModel):
    """How many tasks are in each state now, and totals since the queue was created."""

    queue: str
    pending: int
    scheduled: int
    in_flight: int
    dead: int
    done: int
    totals: dict[str, int]


class DeadLetterModel(BaseModel):
    """A task that will not run again unless requeued."""

    task_id: str
    type: str | None
    payload: dict[str, Any] | None
    attempts: int
    error: ErrorInfoModel
    died_at: float
    raw: str | None = Field(None, description="The stored body, if it could not be decoded.")


class DeadLetters(BaseModel):
    queue: str
    count: int
    items: list[DeadLetterModel]


class Requeued(BaseModel):
    requeued: int


class Purged(BaseModel):
    purged: int


class Health(BaseModel):
    status: str
    queue: str


# --------------------------------------------------------------------- errors
class ApiError(Exception):
    """An error answer: status code, message, and optional headers and extra fields."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers
        self.extra = extra


def _error(
    status: int, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"error": message, **{k: v for k, v in extra.items() if v is not None}}
    return JSONResponse(body, status_code=status, headers=headers)


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers a route can give."""
    meaning = {
        400: "Malformed JSON, or a malformed header.",
        401: "The bearer token is missing or wrong.",
        404: "No such task.",
        413: "The body is larger than the limit.",
        415: "The body is not JSON (Content-Type must be application/json).",
        422: "A field or parameter is missing or of the wrong type, or the task type is unknown.",
        503: "The queue is full, closing, or its server is unreachable; see Retry-After.",
    }
    return {code: {"model": ErrorBody, "description": meaning[code]} for code in codes}


class BodyGuard:
    """ASGI middleware: check a request body before anything parses it.

    Refuses a body over ``max_bytes`` (413), checked twice: the declared Content-Length, then
    the bytes that actually arrive (a client may send chunks, or lie); a body that is not
    JSON by its Content-Type (415); and a body that is not well-formed JSON (400).
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None and not _DIGITS.fullmatch(declared.strip()):
            await _error(400, "Content-Length must be a whole number")(scope, receive, send)
            return
        too_big = _error(413, f"the request body is over the limit of {self.max_bytes} bytes")
        if declared is not None and int(declared) > self.max_bytes:
            await too_big(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away; nobody is listening for an answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await too_big(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body:
            problem = _body_problem(body, headers.get("content-type", ""))
            if problem is not None:
                await problem(scope, receive, send)
                return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as usual

        await self.app(scope, replay, send)


def _body_problem(body: bytes, content_type: str) -> JSONResponse | None:
    """The error answer for a body that is not JSON, or None if it is."""
    media = content_type.split(";")[0].strip()
    if not _JSON_TYPE.fullmatch(media):
        return _error(415, f"send the body as JSON (Content-Type: application/json), not {media!r}")
    try:
        json.loads(body, parse_constant=_no_constant)
    except RecursionError:
        return _error(400, "malformed JSON: nested more deeply than this server accepts")
    except ValueError as exc:  # JSONDecodeError, bad UTF-8, a number too long to convert
        return _error(400, f"malformed JSON: {str(exc).split(';')[0]}")
    return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (Python accepts it, JSON does not)")


# --------------------------------------------------------------------- the app
def create_app(
    queue: InspectableQueue,
    registry: Registry,
    *,
    token: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    max_task_bytes: int = DEFAULT_MAX_BYTES,
    put_timeout: float = 0.1,
    retry_after: int = 1,
    events: EventLog | None = None,
) -> FastAPI:
    """Build the HTTP API over ``queue``, accepting the task types ``registry`` knows.

    Args:
        queue: a `RedisQueue`, or an in-memory queue wrapped in `TrackedQueue`.
        registry: the task types and handlers; unknown types are refused with 422.
        token: if set, the write routes need ``Authorization: Bearer <token>``.
        max_body_bytes: the largest request body accepted (413 above it).
        max_task_bytes: the largest encoded task accepted (413 above it).
        put_timeout: seconds an enqueue waits for room in a full queue before 503.
        retry_after: seconds a client is told to wait after a 503 (``Retry-After``).
        events: where to record an ``enqueued`` event per accepted task, if given.
    """
    if not isinstance(queue, InspectableQueue):
        raise TypeError(
            f"{type(queue).__name__} keeps no task status, so GET /tasks/{{id}} could not "
            "answer: pass TrackedQueue(queue), and give the same TrackedQueue to the workers, "
            "or use a RedisQueue"
        )
    if token is not None and not token:
        raise ValueError("token must not be empty (use None for no token)")
    if max_body_bytes < 1 or max_task_bytes < 1 or retry_after < 0:
        raise ValueError("need max_body_bytes >= 1, max_task_bytes >= 1 and retry_after >= 0")

    app = FastAPI(
        title="taskq",
        version=__version__,
        description="Enqueue tasks, ask what became of them, and manage the dead-letter queue.",
    )
    app.state.queue = queue
    app.state.registry = registry
    app.add_middleware(BodyGuard, max_bytes=max_body_bytes)
    busy = {"Retry-After": str(retry_after)}

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> Response:
        return _error(exc.status, exc.message, exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> Response:
        # Malformed JSON never gets here: BodyGuard answered it with 400 already.
        problems = list(exc.errors())
        details = [
            {
                "loc": [p if isinstance(p, int) else str(p) for p in problem.get("loc", ())],
                "msg": str(problem.get("msg", "")),
                "type": str(problem.get("type", "")),
            }
            for problem in problems
        ]
        summary = "; ".join(f"{_where(d['loc'])}: {d['msg']}" for d in details[:5])
        return _error(422, f"invalid request: {summary}", details=details)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(redis.RedisError)
    async def on_redis_error(request: Request, exc: redis.RedisError) -> Response:
        log.warning("%s %s: Redis failed: %s", request.method, request.url.path, exc)
        message = "the queue's Redis server is unreachable or failing; try again later"
        return _error(503, message, busy)

    @app.exception_handler(Exception)
    async def on_bug(request: Request, exc: Exception) -> Response:
        log.exception("%s %s failed", request.method, request.url.path)
        return _error(500, "internal error; the server log has the details")

    secret = b"" if token is None else token.encode()

    def check_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    ) -> None:
        given = b"" if credentials is None else credentials.credentials.encode()
        if not hmac.compare_digest(given, secret):
            log.warning("refused a write: missing or wrong bearer token")
            raise ApiError(
                401,
                "this route needs the header Authorization: Bearer <token>",
                headers={"WWW-Authenticate": "Bearer"},
            )

    write: list[Any] = [] if token is None else [Depends(check_token)]
    write_errors = (401,) if token is not None else ()

    def enqueue(
        task_type: str, payload: dict[str, Any], response: Response, **fields: Any
    ) -> Accepted:
        delay = fields.pop("delay_seconds", 0.0)
        try:
            task = registry.new_task(task_type, payload, **fields)
            encode(task, max_task_bytes)  # the size check, for queues that do not encode
            queue.put(task, delay=delay, timeout=put_timeout)
        except UnknownTaskType as exc:
            raise ApiError(422, str(exc), known_types=exc.known) from None
        except PayloadTooLarge as exc:
            raise ApiError(413, str(exc)) from None
        except InvalidTask as exc:
            raise ApiError(422, str(exc)) from None
        except QueueFull:
            log.warning("queue %s is full: refused a task of type %s", queue.name, task_type)
            raise ApiError(503, "the queue is full; try again later", headers=busy) from None
        except QueueClosed:
            raise ApiError(503, "the queue is closing; try again later", headers=busy) from None
        if events is not None:
            events.record(Event(task.created_at, ENQUEUED, task.id, task.type))
        status = Status.SCHEDULED if delay > 0 else Status.QUEUED
        log.debug("enqueued %s task %s (%s)", task.type, task.id, status)
        response.headers["Location"] = f"/tasks/{task.id}"
        return Accepted(task_id=task.id, type=task.type, status=status)

    @app.post(
        "/tasks",
        status_code=202,
        response_model=Accepted,
        dependencies=write,
        responses=_errors(400, *write_errors, 413, 415, 422, 503),
        summary="Enqueue a task",
    )
    def post_task(body: TaskRequest, response: Response) -> Accepted:
        """Check the task and queue it. 202 means accepted, not done: ask ``GET /tasks/{id}``."""
        return enqueue(
            body.type,
            body.payload,
            response,
            priority=body.priority,
            max_retries=body.max_retries,
            delay_seconds=body.delay_seconds,
        )

    @app.post(
        "/queue/{task_type}",
        status_code=202,
        response_model=Accepted,
        dependencies=write,
        responses=_errors(400, *write_errors, 413, 415, 422, 503),
        summary="Enqueue a task (the original's route)",
    )
    def post_queue(
        task_type: Annotated[str, Path(description="A registered task type.")],
        payload: dict[str, Any],
        response: Response,
    ) -> Accepted:
        """The body is the payload object; the type is in the path."""
        return enqueue(task_type, payload, response)

    @app.get(
        "/tasks/{task_id}",
        response_model=TaskStatus,
        responses=_errors(404, 422, 503),
        summary="What became of a task",
    )
    def get_task(task_id: str) -> TaskStatus:
        found = queue.info(task_id)
        if found is None:
            raise ApiError(
                404,
                f"no task {task_id[:200]!r} in queue {queue.name!r}: unknown, or finished long "
                "enough ago to be forgotten",
            )
        task = found.task
        return TaskStatus(
            task_id=found.id,
            type=None if task is None else task.type,
            status=Status(found.state),
            attempts=found.attempts,
            max_retries=None if task is None else task.max_retries,
            last_error=_error_model(found.last_error),
            result=found.result,
            updated_at=found.updated_at,
        )

    @app.get("/queue/length", response_model=QueueLength, responses=_errors(503))
    def get_length() -> QueueLength:
        """Tasks waiting (ready or scheduled), as the original's route answered."""
        return QueueLength(length=len(queue))

    @app.get("/stats", response_model=Stats, responses=_errors(503))
    def get_stats() -> Stats:
        """Tasks per state: pending, scheduled, in flight, dead, done; and totals."""
        counts = queue.stats()
        totals = {k.removeprefix("total_"): v for k, v in counts.items() if k.startswith("total_")}
        return Stats(
            queue=queue.name,
            pending=counts["pending"],
            scheduled=counts["scheduled"],
            in_flight=counts["in_flight"],
            dead=counts["dead"],
            done=counts["done"],
            totals=totals,
        )

    @app.get("/dlq", response_model=DeadLetters, responses=_errors(422, 503))
    def get_dead(limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> DeadLetters:
        """The dead-letter queue, oldest death first, with each task's last error."""
        items = [_dead_model(d) for d in queue.dead_letters(limit)]
        return DeadLetters(queue=queue.name, count=len(items), items=items)

    @app.post(
        "/dlq/{task_id}/requeue",
        response_model=Requeued,
        dependencies=write,
        responses=_errors(*write_errors, 404, 422, 503),
    )
    def requeue(task_id: str) -> Requeued:
        """Send a dead task back to the queue to run again, with its run count reset."""
        moved = queue.requeue_dead(task_id)
        if not moved:
            raise ApiError(404, f"task {task_id[:200]!r} is not in the dead-letter queue")
        log.info("requeued dead task %s", task_id)
        return Requeued(requeued=moved)

    @app.delete(
        "/dlq", response_model=Purged, dependencies=write, responses=_errors(*write_errors, 503)
    )
    def purge() -> Purged:
        """Empty the dead-letter queue; its tasks are forgotten."""
        purged = queue.purge_dead()
        log.info("purged %d dead tasks from queue %s", purged, queue.name)
        return Purged(purged=purged)

    @app.get("/healthz", response_model=Health, responses=_errors(503))
    def healthz() -> Health:
        """200 if the queue answers (for Redis: the server is reachable)."""
        len(queue)
        return Health(status="ok", queue=queue.name)

    return app


def _where(loc: Sequence[str | int]) -> str:
    """``["body", "payload", "to"]`` -> ``payload.to``: the field, without where it was sent."""
    return ".".join(str(p) for p in loc[1:]) or (str(loc[0]) if loc else "request")


def _error_model(error: ErrorInfo | None) -> ErrorInfoModel | None:
    if error is None:
        return None
    return ErrorInfoModel(type=error.type, message=error.message, traceback=error.traceback)


def _dead_model(dead: DeadLetter) -> DeadLetterModel:
    task = dead.task
    return DeadLetterModel(
        task_id=dead.id,
        type=None if task is None else task.type,
        payload=None if task is None else task.payload,
        attempts=dead.attempts,
        error=ErrorInfoModel(**dead.error.to_dict()),
        died_at=dead.died_at,
        raw=dead.raw,
    )
