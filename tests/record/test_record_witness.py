"""Witnessing: parties cosign heads that extend what they saw; a rewritten log raises a hotline alert."""

from __future__ import annotations

from pathlib import Path

import pytest

from keepclear.cli.main import main
from keepclear.domain import Party
from keepclear.domain.parties import Contact
from keepclear.ledger import Ledger, SignatureRefused, verify_document
from keepclear.ledger.note import cosign, parse_note
from keepclear.ledger.witnessing import witness_name
from keepclear.services.hotline.service import HotlineService
from keepclear.services.record.signer import open_ledger
from keepclear.services.record.witness import INCONSISTENT_KIND, witness
from keepclear.services.runtime.bus import ManualClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings
from keepclear.store import ledger as store


@pytest.fixture
def parties(deployment: Deployment) -> list[str]:
    for party_id in ("a", "b"):
        deployment.registry.add_party(Party(party_id, party_id.upper()), [Contact(f"{party_id} duty officer")])
    return ["a", "b"]


def _run(ledger: Ledger, deployment: Deployment, party: str, last_seen: str | None, parties: list[str]):
    hotline = HotlineService(deployment.db, deployment.clock, deployment.bus)
    key = ledger.custodial_key(party)
    return witness(ledger, hotline, deployment.clock, party, key, last_seen, parties)


def test_each_party_cosigns_a_consistent_head_and_then_it_is_agreed(
    ledger: Ledger, deployment: Deployment, parties: list[str], clock: ManualClock
) -> None:
    ledger.append("message.posted", "a", {"text": "hello"})
    ledger.append("message.posted", "b", {"text": "hello back"})
    first = _run(ledger, deployment, "a", None, parties)
    assert first.cosigned is not None and first.problem is None
    _, lines = ledger.cosignatures(first.tree_size)
    assert list(lines) == ["a"]
    second = _run(ledger, deployment, "b", None, parties)
    assert second.tree_size == first.tree_size
    head, lines = ledger.cosignatures(first.tree_size)
    assert head.seq == first.tree_size and sorted(lines) == parties  # agreed: every party cosigned it
    clock.advance(10)
    ledger.append("message.posted", "a", {"text": "more"})
    later = _run(ledger, deployment, "a", first.cosigned, parties)
    assert later.problem is None and later.tree_size > first.tree_size
    assert parse_note(later.cosigned).cosigned_by(witness_name("a"), ledger.custodial_key("a").public_key())
    assert verify_document(ledger.export_document()).ok


def test_a_cosignature_of_another_head_or_by_another_key_is_refused(
    ledger: Ledger, deployment: Deployment, parties: list[str]
) -> None:
    ledger.append("message.posted", "a", {"text": "x"})
    ledger.append("message.posted", "b", {"text": "y"})
    note = ledger.latest_head().note
    assert note is not None
    with pytest.raises(SignatureRefused, match="no valid cosignature"):
        ledger.add_cosignature("a", cosign(note, witness_name("a"), ledger.custodial_key("b"), 1))
    forged = note.replace(note.split("\n")[2], "A" * 43 + "=")
    with pytest.raises(Exception, match="not the head this log signed"):
        ledger.add_cosignature("a", cosign(forged, witness_name("a"), ledger.custodial_key("a"), 1))


def test_a_rewritten_log_raises_an_alert_on_the_hotline_with_both_heads(
    ledger: Ledger, deployment: Deployment, parties: list[str]
) -> None:
    ledger.append("message.posted", "b", {"text": "b"})  # keys of b then a: seq 2 and 4
    for i in range(6):
        ledger.append("message.posted", "a", {"text": f"m{i}"})
    seen = _run(ledger, deployment, "b", None, parties).cosigned
    assert seen is not None
    size = parse_note(seen).head.size
    # The operator rewrites history from seq 6 on, with every key it holds, and re-checkpoints.
    with deployment.db.write() as conn:
        hashes = store.leaf_hashes(conn, 1)
        conn.execute(store.ledger_entries.delete().where(store.ledger_entries.c.seq >= 6))
        conn.execute(store.ledger_checkpoints.delete().where(store.ledger_checkpoints.c.seq >= 6))
        conn.execute(store.ledger_cosignatures.delete())
        conn.execute(store.ledger_head.update().values(seq=5, hash=hashes[4], checkpoint_seq=5))
        conn.execute(store.ledger_keys.delete().where(store.ledger_keys.c.from_seq >= 6))
    for i in range(size + 3):
        ledger.append("message.posted", "a", {"text": f"rewritten {i}"})
    outcome = _run(ledger, deployment, "b", seen, parties)
    assert outcome.cosigned is None and outcome.problem is not None
    hotline = HotlineService(deployment.db, deployment.clock, deployment.bus)
    (thread,) = hotline.threads_of("a")
    (alert,) = [m for m in hotline.messages("a", thread.id) if "RECORD INCONSISTENT" in m.body]
    assert parse_note(seen).text in alert.body and f"\n{outcome.tree_size}\n" in alert.body
    assert "does not extend the head of size" in alert.body
    recorded = [e for e in ledger.entries() if e.statement.kind == INCONSISTENT_KIND]
    assert recorded and recorded[0].payload_value()["old_head"] == seen


def test_witness_and_cosignatures_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    deployment = Deployment.open(Settings(data_dir=data), clock=ManualClock(1_764_720_000.0), create=True)
    for party_id in ("a", "b"):
        deployment.registry.add_party(Party(party_id, party_id.upper()), [Contact("duty officer")])
    book = open_ledger(deployment.db, deployment.clock, data)
    book.append("message.posted", "a", {"text": "x"})
    book.append("message.posted", "b", {"text": "y"})
    deployment.close()
    base = ["--data-dir", str(data)]
    assert main([*base, "ledger", "witness", "--party", "a"]) == 0
    assert (data / "witness" / "a.head").exists()
    assert main([*base, "ledger", "witness", "--party", "a"]) == 0  # again: consistent with its own last head
    assert main([*base, "ledger", "witness", "--party", "b"]) == 0
    capsys.readouterr()
    assert main([*base, "ledger", "cosignatures"]) == 0
    out = capsys.readouterr()
    assert "agreed by every party" in out.err and out.out.count("keepclear.witness/") == 2
