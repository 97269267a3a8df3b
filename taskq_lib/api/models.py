"""The request and answer shapes of the HTTP API; FastAPI makes the OpenAPI schema from them."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from ..deadletter import DeadLetter, ErrorInfo
from ..limits import MAX_DEPTH
from ..status import Status, TaskInfo
from ..task import TYPE_PATTERN

#: Longest delay a client may ask for: 30 days.
MAX_DELAY_SECONDS = 30 * 24 * 3600.0
#: Priorities are integers that every JSON reader holds exactly (JavaScript's safe range).
MAX_PRIORITY = 2**53 - 1
#: Most retries a client may ask for.
MAX_RETRIES = 1000


def _whole_number(value: Any) -> Any:
    """``3.0`` as ``3``: JSON Schema calls a number with no fraction an integer, so must we."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: An integer field that takes ``3`` and ``3.0`` (both integers to JSON Schema), never ``"3"``.
WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
#: A retry count, bounded (the bounds before the validator, so the schema states them).
RetryCount = Annotated[int, Field(ge=0, le=MAX_RETRIES), BeforeValidator(_whole_number)]
#: What a task type looks like, declared in the schema (anchored: JSON Schema searches).
TYPE_REGEX = f"^{TYPE_PATTERN.pattern}$"


class TaskRequest(BaseModel):
    """A task to enqueue. Types are checked strictly: ``"5"`` is not a priority."""

    model_config = ConfigDict(strict=True, extra="forbid")

    type: str = Field(description="A registered task type.", examples=["email"], pattern=TYPE_REGEX)
    payload: dict[str, Any] = Field(
        description=f"The data the handler needs: a JSON object, nested at most {MAX_DEPTH} "
        "levels deep, its integers within ±(2**53 - 1), its strings valid Unicode.",
        examples=[{"to": "ana@example.com"}],
    )
    priority: WholeNumber = Field(
        0, ge=-MAX_PRIORITY, le=MAX_PRIORITY, description="Bigger runs sooner (priority queues)."
    )
    delay_seconds: float = Field(
        0.0, ge=0, le=MAX_DELAY_SECONDS, allow_inf_nan=False, description="Run after this delay."
    )
    max_retries: RetryCount | None = Field(
        None, description="Retries after a failure; null: the default."
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
    task_id: str | None = Field(
        None, description="For a 409 Idempotency-Key conflict: the task that holds the key."
    )
    state: str | None = Field(None, description="For a 409 on cancel: the task's status.")


class ErrorInfoModel(BaseModel):
    """Why an attempt failed."""

    type: str
    message: str
    traceback: str = ""


class TaskStatus(BaseModel):
    """What became of a task."""

    task_id: str
    type: str | None
    status: Status
    attempts: int = Field(description="Attempts so far: hand-outs to a worker.")
    max_retries: int | None
    last_error: ErrorInfoModel | None
    result: Any = Field(None, description="The handler's return value, once succeeded.")
    updated_at: float | None = Field(description="Unix time of the last status change.")
    problem: str | None = Field(
        None, description="Which stored part could not be read (it is then null), if any."
    )


class QueueLength(BaseModel):
    """Tasks waiting: pending or scheduled (not those in flight)."""

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


def error_model(error: ErrorInfo | None) -> ErrorInfoModel | None:
    """The answer shape of an error, or None."""
    if error is None:
        return None
    return ErrorInfoModel(**error.to_dict())


def task_status(found: TaskInfo) -> TaskStatus:
    """The answer shape of what a queue knows about a task."""
    task = found.task
    return TaskStatus(
        task_id=found.id,
        type=None if task is None else task.type,
        status=Status(found.state),
        attempts=found.attempts,
        max_retries=None if task is None else task.max_retries,
        last_error=error_model(found.last_error),
        result=found.result,
        updated_at=found.updated_at,
        problem=found.problem,
    )


def dead_letter(dead: DeadLetter) -> DeadLetterModel:
    """The answer shape of a dead-letter queue entry."""
    return DeadLetterModel(**dead.to_dict())
