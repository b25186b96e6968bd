"""Appending many entries in one transaction: the same chain, keys and checkpoints as one by one."""

from __future__ import annotations

import json

import pytest

from keepclear.errors import ValidationError
from keepclear.ledger import Ledger
from keepclear.ledger.book import EntryDraft
from keepclear.ledger.verify import verify_document
from keepclear.services.runtime.bus import ManualClock


def _drafts(n: int) -> list[EntryDraft]:
    parties = [None, "coalition", "russia"]
    return [
        EntryDraft("alert.raised", parties[i % 3], {"alert_id": f"a{i}", "i": i}, 100.0 + i, ["coalition", "russia"])
        for i in range(n)
    ]


def test_a_batch_verifies_and_keeps_order_keys_and_checkpoints(ledger: Ledger, clock: ManualClock) -> None:
    ledger.append("party.added", None, {"party_id": "coalition"})
    entries = ledger.append_many(_drafts(11))
    assert [e.statement.kind for e in entries] == ["alert.raised"] * 11
    assert [json.loads(e.payload)["i"] for e in entries] == list(range(11))
    assert [e.seq for e in entries] == list(range(entries[0].seq, entries[0].seq + 11))
    assert [e.statement.party_id for e in entries[:3]] == [None, "coalition", "russia"]
    document = ledger.export_document()
    report = verify_document(json.loads(json.dumps(document)))
    assert report.ok, report.problem
    # genesis, party.added, two custodial key registrations made for the batch, 11 entries
    assert report.entries == 15
    # checkpoint_every_entries=4 holds inside the batch too: no stretch of 4 entries goes unsigned
    checkpointed = [c["seq"] for c in document["checkpoints"]]
    assert checkpointed, "a batch of 11 crosses the checkpoint interval"
    gaps = [b - a for a, b in zip([0, *checkpointed], checkpointed, strict=False)]
    assert max(gaps) <= 4
    # the parties' entries are signed with their own (custodial) keys, none vouched for by the deployment
    assert report.deployment_signed == 0
    assert len({e.key_id for e in entries}) == 3


def test_a_batch_continues_the_chain_of_single_appends(ledger: Ledger) -> None:
    first = ledger.append("party.added", None, {"party_id": "coalition"})
    batch = ledger.append_many([EntryDraft("alert.raised", None, {"i": i}) for i in range(3)])
    after = ledger.append("party.added", None, {"party_id": "russia"})
    assert batch[0].prev_hash == first.hash()
    assert after.prev_hash == batch[-1].hash()
    assert verify_document(json.loads(json.dumps(ledger.export_document()))).ok


def test_a_refused_draft_refuses_the_whole_batch_and_writes_nothing(ledger: Ledger) -> None:
    ledger.append("party.added", None, {"party_id": "coalition"})
    before = ledger.export_document()["entries"]
    drafts = [*_drafts(2), EntryDraft("alert.raised", None, {"x": float("nan")}), *_drafts(1)]
    with pytest.raises(ValidationError, match="payload"):
        ledger.append_many(drafts)
    with pytest.raises(ValidationError, match="reserved"):
        ledger.append_many([*_drafts(1), EntryDraft("key.registered", None, {})])
    assert ledger.export_document()["entries"] == before
    assert ledger.append_many([]) == []
