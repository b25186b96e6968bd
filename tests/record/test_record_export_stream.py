"""The export is streamed: its entries are read a chunk at a time as the text is taken, so an API
process serving the export of a record of millions of entries holds one chunk, not the record
(before, every entry was read and held, as rows, dicts and the answer, for each export asked for).
The text is the export document: every piece joined parses to it, and it verifies."""

from __future__ import annotations

import json
import math

import pytest

from keepclear.ledger import Ledger
from keepclear.ledger import export as export_module
from keepclear.ledger.verify import parse_export, verify_document
from keepclear.store import ledger as ledger_store


@pytest.mark.parametrize("for_party", [None, "coalition", "russia", "un"])
def test_the_export_text_is_read_a_chunk_at_a_time_and_is_the_document(
    populated: Ledger, monkeypatch: pytest.MonkeyPatch, for_party: str | None
) -> None:
    monkeypatch.setattr(export_module, "EXPORT_CHUNK_ENTRIES", 3)
    document = populated.export_document(for_party=for_party)
    covered = document["checkpoints"][-1]["seq"]
    reads: list[int] = []
    read = ledger_store.list_entries

    def counted(*args: object, **kwargs: object) -> object:
        rows = read(*args, **kwargs)  # type: ignore[arg-type]
        reads.append(len(rows))
        return rows

    monkeypatch.setattr(ledger_store, "list_entries", counted)
    pieces = list(populated.export_text(for_party=for_party))
    assert reads == [min(3, covered - start) for start in range(0, covered, 3)]  # never more than a chunk
    assert len(pieces) == math.ceil(covered / 3) + 2
    text = "".join(pieces)
    streamed = parse_export(text.encode("utf-8"), "export")
    assert {k: v for k, v in streamed.items() if k != "exported_us"} == {
        k: v for k, v in document.items() if k != "exported_us"
    }
    assert list(document) == [
        "format",
        "version",
        "exported_us",
        "for_party",
        "keys",
        "rotations",
        "entries",
        "checkpoints",
    ]
    report = verify_document(json.loads(text))
    assert report.ok, report
    assert len(streamed["entries"]) == covered and len(streamed["rotations"]) == 1
