"""What the dead-letter queue keeps about a task that will not run again."""

from __future__ import annotations

import traceback
from dataclasses import asdict, dataclass
from typing import Any

from .task import Task

#: How many traceback lines an error keeps: enough to find the bug, small enough to store.
TRACEBACK_LINES = 12


@dataclass(frozen=True)
class ErrorInfo:
    """Why a run failed: the exception's type, message and a short traceback."""

    type: str
    message: str
    traceback: str = ""

    @classmethod
    def from_exception(cls, exc: BaseException) -> ErrorInfo:
        """Describe ``exc``; never raises, even for an exception whose ``str()`` raises."""
        try:
            message = str(exc)
        except BaseException as inner:  # a hostile __str__ may raise anything
            message = f"<str() of this {type(exc).__name__} raised {type(inner).__name__}>"
        try:
            lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
            short = "".join(lines[-TRACEBACK_LINES:])
        except BaseException:
            short = ""
        return cls(type=type(exc).__name__, message=message[:2000], traceback=short[-8000:])

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> ErrorInfo:
        if not isinstance(data, dict):
            return cls(type="Unknown", message=str(data))
        return cls(
            type=str(data.get("type", "Unknown")),
            message=str(data.get("message", "")),
            traceback=str(data.get("traceback", "")),
        )

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"


@dataclass(frozen=True)
class DeadLetter:
    """A task in the dead-letter queue, with the last error, its attempts and time of death.

    ``task`` is None when the stored body could not be decoded; ``raw`` then holds the body
    as found (shortened), and ``error`` says why it could not be read.
    """

    id: str
    task: Task | None
    error: ErrorInfo
    attempts: int
    died_at: float
    raw: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape the API and the command line show."""
        task = self.task
        return {
            "task_id": self.id,
            "type": None if task is None else task.type,
            "payload": None if task is None else task.payload,
            "attempts": self.attempts,
            "error": self.error.to_dict(),
            "died_at": self.died_at,
            "raw": self.raw,
        }
