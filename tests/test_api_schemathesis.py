"""An outside OpenAPI fuzzer (schemathesis) against the app: no 5xx, no answer off its schema.

schemathesis reads the app's own OpenAPI schema, generates requests from it (valid ones and,
with the negative mode, ones the schema forbids) and checks every answer: no server error, a
status code and a body the schema declares, the content type it declares. It runs in-process on
the ASGI app, with no port. This is the "external fuzzer" counterpart of the property test in
``test_api.py``, which drives the same routes with hand-made hostile bodies.
"""

from __future__ import annotations

import fakeredis
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import negative_data_rejection

from taskq_lib import Registry
from taskq_lib.api import create_app
from taskq_lib.redis_queue import RedisQueue

pytestmark = pytest.mark.slow

TOKEN = "fuzz-token"


def make_app():  # type: ignore[no-untyped-def]
    registry = Registry()
    registry.register("email", lambda task: None)
    registry.register("sms", lambda task: None)
    queue = RedisQueue("schemathesis", fakeredis.FakeRedis(server=fakeredis.FakeServer()))
    return create_app(queue, registry, token=TOKEN)


schema = schemathesis.openapi.from_asgi("/openapi.json", make_app())
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


@schema.parametrize()
@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_answer_is_declared_and_none_is_a_server_error(case: schemathesis.Case) -> None:
    # One check is left out, on purpose: "a request the schema forbids is refused". JSON Schema
    # calls 1e20 an integer, so the schema (integers within ±(2**53 - 1)) forbids it, while the
    # API takes it as the float it is, which every JSON reader holds exactly. The schema may be
    # stricter than the API; never the other way round, which is what the other checks catch.
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"}, excluded_checks=[negative_data_rejection]
    )


def test_the_schema_states_the_task_types_and_the_payload_rule() -> None:
    app = make_app()
    app.state.registry.register("fax", lambda task: None)  # registered after the app was built
    schema = app.openapi()
    request = schema["components"]["schemas"]["TaskRequest"]["properties"]
    assert request["type"]["enum"] == ["email", "fax", "sms"]
    path = schema["paths"]["/queue/{task_type}"]["post"]
    assert path["parameters"][0]["schema"]["enum"] == ["email", "fax", "sms"]
    integer = next(s for s in schema["components"]["schemas"]["JsonValue"]["anyOf"]
                   if s.get("type") == "integer")
    assert integer["maximum"] == 2**53 - 1


def test_a_whole_number_with_a_fraction_is_an_integer_and_a_string_is_not() -> None:
    from fastapi.testclient import TestClient

    client = TestClient(make_app(), headers={"Authorization": f"Bearer {TOKEN}"})
    task = {"type": "sms", "payload": {}}
    whole = {**task, "priority": 3.0, "max_retries": 2.0}
    assert client.post("/tasks", json=whole).status_code == 202
    assert client.post("/tasks", json={**task, "priority": 3.5}).status_code == 422
    assert client.post("/tasks", json={**task, "priority": "3"}).status_code == 422
