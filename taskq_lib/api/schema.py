"""The OpenAPI schema, completed with the rules pydantic cannot write down by itself.

What the schema calls valid must be what the API accepts; a rule it does not state is a hidden
rule that a client (or a fuzzer) meets only as a 422. Two such rules are stated here:

* **task types**: a type is valid when the registry has a handler for it, and the registry is
  known only when the app is built. The schema lists the registered types as an ``enum``, for
  the body of ``POST /tasks`` and the path of ``POST /queue/{type}``. The schema is built on
  each request for it, so a handler registered after `create_app` is listed too.
* **payload values** (`taskq_lib.limits`): integers within ±(2**53 - 1). The payload is
  declared as an object of ``JsonValue``, a recursive schema that bounds every integer in it.
  The nesting limit (64 levels) has no JSON Schema keyword; the description states it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ..limits import MAX_INT
from ..registry import Registry

#: Any JSON value the payload rule accepts, as JSON Schema (integers bounded, recursively).
JSON_VALUE: dict[str, Any] = {
    "description": "A JSON value; every integer in it within ±(2**53 - 1).",
    "anyOf": [
        {"type": "null"},
        {"type": "boolean"},
        {"type": "string"},
        {"type": "integer", "minimum": -MAX_INT, "maximum": MAX_INT},
        {"type": "number", "not": {"type": "integer"}},
        {"type": "array", "items": {"$ref": "#/components/schemas/JsonValue"}},
        {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/JsonValue"}},
    ],
}
PAYLOAD_VALUES = {"$ref": "#/components/schemas/JsonValue"}


def declare_task_types(app: FastAPI, registry: Registry) -> None:
    """Make ``app.openapi()`` list ``registry``'s task types wherever a task type is asked for."""

    def openapi() -> dict[str, Any]:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        types = sorted(registry.types())
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["JsonValue"] = JSON_VALUE
        request = components.get("TaskRequest", {}).get("properties", {})
        if "type" in request:
            request["type"]["enum"] = types
        if "payload" in request:
            request["payload"]["additionalProperties"] = PAYLOAD_VALUES
        for path, item in schema.get("paths", {}).items():
            if not path.startswith("/queue/{"):
                continue
            for operation in item.values():
                for parameter in operation.get("parameters", []):
                    if parameter.get("in") == "path":
                        parameter["schema"]["enum"] = types
                body = operation.get("requestBody", {}).get("content", {}).get("application/json")
                if body is not None:
                    body["schema"]["additionalProperties"] = PAYLOAD_VALUES
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
