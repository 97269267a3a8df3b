"""The task and its codec: bad input is refused with a clear error, never dropped."""

from __future__ import annotations

import json

import pytest

from taskq_lib import DecodeError, InvalidTask, PayloadTooLarge, Task, decode, encode


def test_round_trip_keeps_every_field() -> None:
    task = Task(
        "email", {"to": "a@example.com", "n": [1, 2.5, None, True]}, priority=3, max_retries=2
    )
    back = decode(encode(task), attempts=4)
    assert (back.id, back.type, back.payload) == (task.id, task.type, task.payload)
    assert (back.priority, back.max_retries, back.attempts) == (3, 2, 4)
    assert back.created_at == task.created_at


def test_ids_are_unique() -> None:
    assert len({Task("t").id for _ in range(1000)}) == 1000


@pytest.mark.parametrize("bad", ["", "has space", "1starts-with-digit", "x" * 129, "é"])
def test_malformed_type_is_refused(bad: str) -> None:
    with pytest.raises(InvalidTask, match="task type"):
        Task(bad)


def test_type_must_be_a_string() -> None:
    with pytest.raises(InvalidTask, match="must be a string"):
        Task(42)  # type: ignore[arg-type]


def test_unserialisable_payload_names_the_key() -> None:
    with pytest.raises(InvalidTask, match=r"payload\['user'\]\['when'\] is a set"):
        Task("email", {"user": {"when": {1, 2}}})


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_nan_and_infinity_are_refused(value: float) -> None:
    with pytest.raises(InvalidTask, match="NaN or infinity"):
        Task("t", {"x": [value]})


def test_non_string_keys_are_refused() -> None:
    with pytest.raises(InvalidTask, match="non-string key"):
        Task("t", {"a": {1: "one"}})


def test_payload_must_be_an_object() -> None:
    with pytest.raises(InvalidTask, match="JSON object"):
        Task("t", [1, 2])  # type: ignore[arg-type]


def test_deep_nesting_is_refused_without_recursion() -> None:
    payload: dict[str, object] = {}
    inner = payload
    for _ in range(5000):
        inner["x"] = {}
        inner = inner["x"]  # type: ignore[assignment]
    with pytest.raises(InvalidTask, match=r"payload\['x'\].* is nested deeper than 64 levels"):
        Task("t", payload)  # an InvalidTask from the check, not a RecursionError


def test_size_limit() -> None:
    task = Task("t", {"blob": "x" * 2000})
    assert len(encode(task, max_bytes=4000)) < 4000
    with pytest.raises(PayloadTooLarge, match="over the limit of 1000 bytes"):
        encode(task, max_bytes=1000)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\x80garbage", "not JSON"),
        (b"[1,2]", "JSON object"),
        (b'{"v": 2, "id": "a", "type": "t", "payload": {}}', "unsupported wire version 2"),
        (b'{"id": "a", "type": "t", "payload": {}}', "unsupported wire version None"),
        (b'{"v": 1, "type": "t", "payload": {}}', "missing field"),
        (b'{"v": 1, "id": "a", "type": "bad type", "payload": {}}', "invalid task"),
        (b'{"v": 1, "id": "a", "type": "t", "payload": 5}', "invalid task"),
        (b"[" * 100000, "not JSON"),
    ],
)
def test_foreign_bodies_raise_decode_error(body: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode(body)


def test_wire_format_is_plain_json() -> None:
    body = json.loads(encode(Task("sms", {"to": "+880"}, id="abc")))
    assert body["v"] == 1 and body["id"] == "abc" and body["type"] == "sms"
    assert "attempts" not in body  # run counts are queue metadata, not part of the body


@pytest.mark.parametrize(
    ("payload", "where"),
    [({"x": "ok\ud800"}, r"payload\['x'\]"), ({"\udfff": 1}, "a key of payload")],
)
def test_lone_surrogates_are_refused_not_crashed_on(payload: dict[str, object], where: str) -> None:
    with pytest.raises(InvalidTask, match=f"{where} is not valid Unicode"):
        Task("t", payload)


def test_a_compact_body_leaves_defaults_out_and_reads_back_equal() -> None:
    plain = Task("sms", {"to": "+880"}, id="a", created_at=1.5)
    custom = Task("sms", {"to": "+880"}, id="b", priority=3, max_retries=0, created_at=1.5)
    short = json.loads(encode(plain, compact=True))
    assert "priority" not in short and "max_retries" not in short
    assert json.loads(encode(custom, compact=True))["max_retries"] == 0  # 0 is not the default
    for task in (plain, custom):
        assert decode(encode(task, compact=True)) == task
        assert decode(encode(task, compact=True)) == decode(encode(task))
