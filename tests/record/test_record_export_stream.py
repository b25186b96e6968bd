"""The export is streamed: its entries are read a chunk at a time as the text is taken, so an API
process serving the export of a record of millions of entries holds one chunk, not the record
(before, every entry was read and held, as rows, dicts and the answer, for each export asked for).
The text is the export document: every piece joined parses to it, and it verifies. The checkpoints
too are read a chunk at a time (one every ``ledger_checkpoint_every_entries``: a record of ten
million entries has a hundred thousand, 50 MB of text, which each export held for as long as its
reader took)."""

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
    checkpoints = len(document["checkpoints"])
    assert len(pieces) == math.ceil(covered / 3) + math.ceil(checkpoints / 3) + 3
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


def test_the_export_reads_its_checkpoints_a_chunk_at_a_time(populated: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(10):  # a checkpoint after each entry: more than a chunk of them
        populated.append("message.posted", "coalition", {"message_id": f"c{i}", "text": "x"}, audience=["coalition"])
        populated.checkpoint()
    monkeypatch.setattr(export_module, "EXPORT_CHUNK_ENTRIES", 3)
    document = populated.export_document()
    assert len(document["checkpoints"]) > 3 * 3
    largest: list[int] = []
    for name in dir(ledger_store):
        read = getattr(ledger_store, name)
        if "checkpoint" in name and callable(read) and not name.startswith(("insert", "set")):

            def counted(*args: object, read: object = read, **kwargs: object) -> object:
                found = read(*args, **kwargs)  # type: ignore[operator]
                largest.append(len(found) if isinstance(found, list) else 1)
                return found

            monkeypatch.setattr(ledger_store, name, counted)
    text = "".join(populated.export_text())
    assert largest and max(largest) <= 3, largest  # never more than a chunk of checkpoints at once
    assert json.loads(text)["checkpoints"] == document["checkpoints"]
    assert verify_document(json.loads(text)).ok
