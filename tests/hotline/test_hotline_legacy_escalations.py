"""Escalation messages stored before escalations stopped naming the contact called: their phrase and
``data`` carry it. Read now, the name is shown to the overdue party alone (the record keeps what was
signed then: it is append-only)."""

from __future__ import annotations

from keepclear.domain.hotline import Message, MessageKind, PhraseUse
from keepclear.services.hotline.messages import without_contact

CONTACT = "Maj Secretov (Chief of Staff 4th Army)"
STORED = Message(
    "t-1",
    5,
    MessageKind.ESCALATION,
    None,
    "keepclear",
    0.0,
    "esc.t-1.4.b.1",
    phrase=PhraseUse("ESCALATE", {"party": "b", "ref": "#4", "contact": CONTACT}),
    reply_to_seq=4,
    data={"party_id": "b", "step": 1, "contact": CONTACT},
)


def test_a_stored_escalation_message_shows_the_contact_to_the_overdue_party_alone() -> None:
    for reader in ("a", "c", None):
        shown = without_contact(STORED, reader)
        assert "Secretov" not in repr(shown) and "Chief of Staff" not in repr(shown), shown
        assert shown.phrase == PhraseUse("ESCALATE", {"party": "b", "ref": "#4", "step": "1", "contacts": "?"})
        assert shown.data == {"party_id": "b", "step": 1}
    own = without_contact(STORED, "b")
    assert own.data["contact"] == CONTACT and own.phrase is not None and own.phrase.params["contact"] == CONTACT


def test_a_message_naming_no_contact_is_shown_as_stored() -> None:
    text = Message("t-1", 1, MessageKind.TEXT, "a", "duty", 0.0, "key-00001", body="contact me")
    assert without_contact(text, "c") is text
