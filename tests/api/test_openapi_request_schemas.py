"""Issue 15 item 9: every request body the API takes is described by a real schema in the served
OpenAPI document (named fields, closed where the reader refuses unknown fields), not a free object."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keepclear.api.app import create_app
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _openapi(settings: Settings) -> dict[str, Any]:
    """The served OpenAPI document, the deployment closed after (no connection left to the collector)."""
    deployment = Deployment.open(settings, create=True)
    try:
        return create_app(settings, deployment=deployment).openapi()
    finally:
        deployment.close()


def test_item9_every_request_body_has_a_real_schema(tmp_path: Path, database_url: str) -> None:
    document = _openapi(Settings(data_dir=tmp_path, database_url=database_url))
    free = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody")
            if body is None:
                continue
            schema = _resolve(document, body["content"]["application/json"]["schema"])
            if not schema.get("properties"):
                free.append(f"{method.upper()} {path}")
    assert free == []


def test_item9_the_activity_document_is_the_file_format(tmp_path: Path, database_url: str) -> None:
    document = _openapi(Settings(data_dir=tmp_path, database_url=database_url))
    activity = document["components"]["schemas"]["ActivityDocument"]
    assert activity["additionalProperties"] is False  # the reader refuses unknown fields
    assert {"kind", "start", "end", "contact"} <= set(activity["required"])
    assert {"volumes", "route", "addressees", "units", "share_units", "priority", "text"} <= set(activity["properties"])
    circle = activity["properties"]["volumes"]["items"]["properties"]["circle"]
    assert circle["properties"]["radius_m"]["maximum"] == 500000
