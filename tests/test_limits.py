"""The one rule for payloads and results (taskq_lib/limits.py): what it refuses, and that
whatever it accepts survives every part of the library and the Lua side unchanged."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import redis

from taskq_lib import InvalidTask, PayloadTooLarge, Task, decode, encode
from taskq_lib.limits import (
    MAX_DEPTH,
    MAX_INT,
    check_delay,
    check_payload,
    check_timestamp,
    check_value,
    encode_value,
)
from taskq_lib.redis_queue import RedisQueue

MakeQueue = Callable[..., RedisQueue]


def nested(depth: int, inner: Any) -> Any:
    """``inner`` inside objects and arrays, so that the whole value is ``depth`` levels deep
    (when ``inner`` is a container; a scalar adds no level)."""
    value = inner
    for level in range(depth - 1):
        value = {"k": value} if level % 2 else [value]
    return value


#: The edges of the rule, all at once, as deep as allowed.
EDGES: dict[str, Any] = {
    "max": MAX_INT,
    "min": -MAX_INT,
    "huge": 1.7976931348623157e308,
    "tiny": 5e-324,
    "negative zero": -0.0,
    "text": 'নাম 📬 \u0000 \u202e \\ "quoted"',
    "": None,
}
EDGE_PAYLOAD = {"deep": nested(MAX_DEPTH - 1, dict(EDGES)), **EDGES}


def test_the_edges_pass_the_rule() -> None:
    check_payload(EDGE_PAYLOAD)
    check_value(nested(MAX_DEPTH, {}))


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (nested(MAX_DEPTH + 1, {}), "nested deeper than 64 levels"),
        ({"n": MAX_INT + 1}, r"payload\['n'\] is an integer of 54 bits"),
        ({"n": -MAX_INT - 1}, r"payload\['n'\] is an integer of 54 bits"),
        ({"n": 10**5000}, "integer of 16610 bits"),  # too long even to print
        ({"x": [1, float("-inf")]}, r"payload\['x'\]\[1\] is -inf"),
        ({"b": b"bytes"}, r"payload\['b'\] is a bytes"),
        ({1: "one"}, "non-string key 1"),
    ],
)
def test_what_breaks_the_rule_is_named(value: Any, says: str) -> None:
    with pytest.raises(InvalidTask, match=says):
        check_value(value)


def test_a_value_that_contains_itself_is_refused_not_walked_forever() -> None:
    looped: dict[str, Any] = {}
    looped["again"] = looped
    with pytest.raises(InvalidTask, match="contains itself"):
        check_value(looped)


def test_the_field_is_named_in_every_message() -> None:
    with pytest.raises(InvalidTask, match=r"^result\['x'\]"):
        check_value({"x": float("nan")}, "result")
    with pytest.raises(PayloadTooLarge, match=r"^result too large: it is 12 bytes encoded"):
        check_payload({"a": "1234"}, max_bytes=11, field="result")
    assert encode_value({"a": "1234"}, max_bytes=12) == '{"a":"1234"}'


@pytest.mark.parametrize(
    "bad", [float("inf"), float("nan"), -0.5, "5", None, True, 10**400, 31 * 24 * 3600]
)
def test_delays_are_finite_numbers_of_seconds(bad: Any) -> None:
    with pytest.raises(InvalidTask, match="delay"):
        check_delay(bad)


@pytest.mark.parametrize("bad", [float("nan"), -1.0, 1e300, "2024-01-01", None])
def test_created_at_is_a_plausible_unix_time(bad: Any) -> None:
    with pytest.raises(InvalidTask, match="created_at"):
        check_timestamp(bad)


def test_what_passes_survives_the_codec_unchanged() -> None:
    task = Task("t", EDGE_PAYLOAD, priority=-MAX_INT, max_retries=MAX_INT)
    body = encode(task)
    back = decode(body)
    assert back.payload == EDGE_PAYLOAD and back.priority == -MAX_INT
    assert encode(back) == body  # decoded and encoded again: the same bytes
    assert json.loads(body)["payload"] == EDGE_PAYLOAD  # and any JSON reader agrees


def test_what_passes_survives_redis_as_payload_and_as_result(make_redis_queue: MakeQueue) -> None:
    queue = make_redis_queue()
    task = Task("t", EDGE_PAYLOAD)
    queue.put(task)
    delivery = queue.get(timeout=5)
    assert delivery is not None and delivery.task.payload == EDGE_PAYLOAD
    queue.ack(delivery, EDGE_PAYLOAD)
    queue.flush()
    info = queue.info(task.id)
    assert info is not None and info.state == "succeeded" and info.result == EDGE_PAYLOAD


def test_lua_reads_a_body_at_the_limits_exactly(redis_client: redis.Redis) -> None:
    """Lua scripts (cjson) could decode any stored body: nesting and numbers are in range.
    The rule's integer bound is where Lua's doubles stop being exact."""
    body = encode(Task("t", EDGE_PAYLOAD))
    read = "local t = cjson.decode(ARGV[1]) return string.format('%.0f', t.payload[ARGV[2]])"
    assert redis_client.eval(read, 0, body, "max") == str(MAX_INT).encode()
    assert redis_client.eval(read, 0, body, "min") == str(-MAX_INT).encode()
    past = json.dumps({"payload": {"n": MAX_INT + 2}})
    assert redis_client.eval(read, 0, past, "n") != str(MAX_INT + 2).encode()
