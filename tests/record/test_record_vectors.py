"""keepclear's verify agrees with every shipped test vector (tests/record/vectors, docs/record.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from keepclear.ledger import ExportFileError, load_export, verify_document

VECTORS = Path(__file__).resolve().parent / "vectors"
EXPECTED: list[dict[str, Any]] = json.loads((VECTORS / "expected.json").read_text())["vectors"]


def _verdict(path: Path) -> tuple[str, str | None, str]:
    try:
        report = verify_document(load_export(path))
    except ExportFileError as exc:
        return "bad", "", str(exc)
    return ("ok" if report.ok else "bad"), report.at, report.problem or ""


@pytest.mark.parametrize("vector", EXPECTED, ids=[v["file"] for v in EXPECTED])
def test_verify_agrees_with_the_vector(vector: dict[str, Any]) -> None:
    verdict, at, problem = _verdict(VECTORS / vector["file"])
    assert (verdict, at) == (vector["verdict"], vector["at"]), problem


def test_every_tamper_class_and_every_clean_export_is_covered() -> None:
    files = {p.name for p in VECTORS.glob("*.json")} - {"expected.json"}
    assert files == {v["file"] for v in EXPECTED}
    assert sum(v["verdict"] == "ok" for v in EXPECTED) == 6 and len(EXPECTED) >= 37
