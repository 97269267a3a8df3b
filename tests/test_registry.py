"""The registry: types map to handlers, and unknown types fail at once."""

from __future__ import annotations

import pytest

from taskq_lib import (
    InvalidTask,
    MemoryQueue,
    PayloadTooLarge,
    QueueFull,
    Registry,
    RetryPolicy,
    Task,
    UnknownTaskType,
)
from taskq_lib.events import EventLog


def test_register_and_decorator() -> None:
    registry = Registry()
    registry.register("email", lambda task: "sent")

    @registry.task("sms", retry=RetryPolicy(max_retries=1))
    def sms(task: Task) -> str:
        return "texted"

    assert registry.types() == ["email", "sms"]
    assert registry.handler("sms")(Task("sms")) == "texted"
    assert registry.policy("sms") is not None and registry.policy("email") is None


def test_unknown_type_is_refused_at_enqueue_naming_known_types() -> None:
    registry = Registry()
    registry.register("email", lambda task: None)
    registry.register("sms", lambda task: None)
    queue = MemoryQueue()
    with pytest.raises(UnknownTaskType, match="'fax'; known types: 'email', 'sms'"):
        registry.enqueue(queue, "fax", {})
    assert len(queue) == 0


def test_malformed_type_and_handler_are_refused() -> None:
    registry = Registry()
    with pytest.raises(InvalidTask):
        registry.register("bad type", lambda task: None)
    with pytest.raises(TypeError):
        registry.register("ok", "not callable")  # type: ignore[arg-type]


def test_enqueue_records_an_event_and_returns_the_task() -> None:
    registry = Registry()
    registry.register("email", lambda task: None)
    queue, events = MemoryQueue(), EventLog()
    task = registry.enqueue(queue, "email", {"to": "x"}, events=events, priority=2)
    assert task.priority == 2 and len(queue) == 1
    [event] = events.events()
    assert event.kind == "enqueued" and event.task_id == task.id


def test_enqueue_honours_the_timeout_and_the_size_limit_and_records_refusals() -> None:
    registry = Registry()
    registry.register("email", lambda task: None)
    queue, events = MemoryQueue(maxsize=1, put_timeout=60), EventLog()
    registry.enqueue(queue, "email", {}, events=events)
    with pytest.raises(QueueFull):  # the queue's own 60 s would fail the test's timeout
        registry.enqueue(queue, "email", {}, events=events, timeout=0.01)
    with pytest.raises(PayloadTooLarge):
        registry.enqueue(MemoryQueue(), "email", {"big": "x" * 500}, max_bytes=200)
    assert [e.kind for e in events.events()] == ["enqueued", "enqueued", "refused"]
