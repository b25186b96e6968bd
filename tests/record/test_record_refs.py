"""The ids a record entry's payload names, indexed beside the entries (``ledger_refs``) as written,
whichever way the entry came (a payload object, or the outbox's text), on both stores."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from keepclear.ledger import Ledger, canonical_text
from keepclear.ledger.book import EntryDraft
from keepclear.ledger.refs import MAX_REF_CHARS, REF_KEYS, payload_refs, text_refs
from keepclear.services.runtime.deployment import Deployment

PAYLOADS: list[Any] = [
    {"alert_id": "al1", "level": "caution"},
    {"alert_id": "x", "incident_id": "x", "message_id": "x"},  # one id named thrice: one row
    {"message_id": "t#1", "incident_id": "inc-1", "alert_id": 5},
    {"thread_id": "th-1", "data": {"alert_id": "al1"}},  # below the top level: not named
    {"alert_id": "a" * MAX_REF_CHARS, "message_id": "a" * (MAX_REF_CHARS + 1)},
    {"alert_id": "al\x001", "incident_id": ""},
    {"alert_id": "Приём"},
    ["al1"],
    "al1",
    None,
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_text_names_what_the_object_names(payload: Any) -> None:
    assert text_refs(canonical_text(payload)) == payload_refs(payload)


def test_every_key_is_named_and_an_escaped_key_too() -> None:
    for key in REF_KEYS:
        assert payload_refs({key: "v"}) == ("v",)
        assert text_refs(canonical_text({key: "v"})) == ("v",)
    assert text_refs('{"\\u0061lert_id":"al1"}') == ("al1",)
    assert text_refs("not json: alert_id") == ()


def test_entries_are_indexed_by_what_they_name_from_the_object_and_from_the_text(
    ledger: Ledger, deployment: Deployment
) -> None:
    drafts = [EntryDraft("message.posted", "russia", p, None, ["coalition", "russia"]) for p in PAYLOADS]
    drafts += [
        EntryDraft("message.posted", "russia", None, None, None, text=canonical_text(p))
        for p in PAYLOADS
        if not isinstance(p, str) and p is not None
    ]
    entries = ledger.append_many(drafts)
    single = ledger.append("message.posted", "coalition", {"message_id": "t#2", "alert_id": "t#2"})
    with deployment.db.read() as conn:
        rows = conn.execute(sa.text("SELECT ref, seq FROM ledger_refs ORDER BY seq, ref")).all()
    expected = [(ref, e.seq) for e in entries for ref in payload_refs(e.payload_value())]
    assert [tuple(r) for r in rows] == [*expected, ("t#2", single.seq)]
    assert {ref for ref, _ in expected} == {"al1", "x", "t#1", "inc-1", "a" * MAX_REF_CHARS, "", "Приём"}
