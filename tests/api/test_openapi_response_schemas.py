"""Issue 18: every JSON answer the API gives is described by a real schema in the served OpenAPI
document (named fields a client generator can type), not an opaque object."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apisupport import served_openapi

#: Free-form values, each by design (schema name, field): what a sender or an event put there is
#: answered as it was given.
FREE_FORM = {
    ("MessageOut", "data"),  # a hotline message's structured data, the sender's own (docs/hotline.md)
    ("TimelineItemOut", "payload"),  # the recorded event's payload, whatever its kind
}


def _opaque(schema: dict[str, Any]) -> bool:
    """An empty schema, or an object with neither named properties nor a typed value schema."""
    if not schema:
        return True
    if schema.get("type") == "object" and not schema.get("properties"):
        values = schema.get("additionalProperties", True)
        return values is True or values == {}
    return False


def _untyped(document: dict[str, Any], schema: dict[str, Any], where: str, seen: set[str]) -> list[str]:
    """Every place under ``schema`` whose value is opaque, named by schema and field."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name in seen:
            return []
        seen.add(name)
        return _untyped(document, document["components"]["schemas"][name], name, seen)
    if _opaque(schema):
        return [where]
    found = []
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for option in schema.get(key, []):
            found += _untyped(document, option, where, seen)
    if isinstance(schema.get("items"), dict):
        found += _untyped(document, schema["items"], f"{where}[]", seen)
    if isinstance(schema.get("additionalProperties"), dict):
        found += _untyped(document, schema["additionalProperties"], f"{where}{{}}", seen)
    for name, value in schema.get("properties", {}).items():
        if (where, name) not in FREE_FORM:
            found += _untyped(document, value, f"{where}.{name}", seen)
    return found


def test_every_json_answer_has_a_typed_schema(tmp_path: Path, database_url: str) -> None:
    document = served_openapi(tmp_path, database_url)
    untyped = []
    answers = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                json_body = response.get("content", {}).get("application/json")
                if not status.startswith("2") or json_body is None:
                    continue
                answers += 1
                schema = json_body.get("schema")
                if schema is None:
                    untyped.append(f"{method.upper()} {path} {status}: no schema")
                    continue
                untyped += [f"{method.upper()} {path} {status}: {w}" for w in _untyped(document, schema, "", set())]
    assert answers >= 40
    assert untyped == []


def test_the_check_finds_an_opaque_answer() -> None:
    document: dict[str, Any] = {
        "components": {
            "schemas": {
                "Typed": {"type": "object", "properties": {"free": {"type": "object", "additionalProperties": True}}}
            }
        }
    }
    assert _untyped(document, {"$ref": "#/components/schemas/Typed"}, "", set()) == ["Typed.free"]
    assert _untyped(document, {"type": "array", "items": {}}, "", set()) == ["[]"]
    assert _untyped(document, {"type": "object", "additionalProperties": {"type": "number"}}, "", set()) == []
