"""taskq_lib: task queues in Python, in memory and on Redis, done carefully.

The pieces, each in a module named after it:

* `Task` and the JSON codec (`task`), `Registry` of handlers (`registry`);
* queues behind one interface (`interface`): `MemoryQueue`, `PriorityQueue`, and the Redis
  ones (`redis_queue`, `simple_redis`);
* where a task is in its life (`status`): `Status`, `TaskInfo`, and `TrackedQueue`;
* `WorkerPool` (`worker`), `RetryPolicy` (`retry`), the dead-letter record (`deadletter`);
* `EventLog` (`events`): what workers did, recorded instead of printed.

The README's glossary gives the one word the code uses for each thing.
"""

from .clock import SYSTEM_CLOCK, Clock, ManualClock, SystemClock
from .deadletter import DeadLetter, ErrorInfo
from .errors import (
    DecodeError,
    InvalidTask,
    PayloadTooLarge,
    QueueClosed,
    QueueFull,
    TaskqError,
    UnknownTaskType,
)
from .events import Event, EventLog, LoggedEvents
from .interface import Delivery, TaskQueue
from .memory import MemoryQueue
from .priority import PriorityQueue
from .registry import Registry
from .retry import RetryPolicy
from .status import InspectableQueue, Status, TaskInfo, TrackedQueue
from .task import Task, decode, encode
from .worker import WorkerPool

__version__ = "0.1.0"

__all__ = [
    "SYSTEM_CLOCK",
    "Clock",
    "DeadLetter",
    "DecodeError",
    "Delivery",
    "ErrorInfo",
    "Event",
    "EventLog",
    "InspectableQueue",
    "InvalidTask",
    "LoggedEvents",
    "ManualClock",
    "MemoryQueue",
    "PayloadTooLarge",
    "PriorityQueue",
    "QueueClosed",
    "QueueFull",
    "Registry",
    "RetryPolicy",
    "Status",
    "SystemClock",
    "Task",
    "TaskInfo",
    "TaskQueue",
    "TaskqError",
    "TrackedQueue",
    "UnknownTaskType",
    "WorkerPool",
    "__version__",
    "decode",
    "encode",
]
