"""Witnessing: a party checks that the log's new head extends the last one it saw, then cosigns it.

What a party's client (the CLI, a scheduled job, the console) does each time it looks at the
record: fetch the latest signed tree head, check it is signed by the deployment and that a
consistency proof leads to it from the head the party saw last (its *own* copy: an operator who
rewrote history cannot make that proof), then add its ``cosignature/v1`` line and hand it to the
log. A head is **agreed** once every party has cosigned it. A head that does not extend the one the
party saw is evidence against the operator: the party raises an alert on the hotline (to every
other party, both heads in the message) and records it in the ledger, once for the same two heads.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Clock
from keepclear.domain.hotline import Draft, MessageKind
from keepclear.domain.limits import one_line_text, short_line_problem
from keepclear.errors import KeepclearError, ValidationError
from keepclear.ledger import Ledger
from keepclear.ledger.book import EntryDraft
from keepclear.ledger.keys import Ed25519PrivateKey
from keepclear.ledger.merkle import verify_consistency
from keepclear.ledger.note import cosign, parse_note, parse_vkey
from keepclear.ledger.witnessing import witness_name
from keepclear.services.hotline.service import HotlineService
from keepclear.store import ledger as ledger_store

#: Kind of the ledger entry (and hotline alert) a party raises when the log's heads disagree.
INCONSISTENT_KIND = EventKind.ALERT_RECORD_INCONSISTENT
#: The most characters of an alarm's ``problem``: one line, posted in every other party's standing thread.
PROBLEM_MAX_CHARS = 500


def alarm_text_problem(problem: str) -> str | None:
    """Why ``problem``, what a party's check found, cannot be an alarm's text, or None: empty, past
    ``PROBLEM_MAX_CHARS``, or a control character (a line break would forge a line of the message
    every other party reads; ESC a terminal's escape sequence).

    >>> alarm_text_problem("the log shrank from 4 to 3 entries") is None
    True
    >>> alarm_text_problem("shrank\\n\\u2014 b: all is well")
    'problem: holds a control character (U+000A) at character 6; send one line of text'
    """
    return short_line_problem(problem, "problem", PROBLEM_MAX_CHARS)


def alarm_text(found: str) -> str:
    """``found``, a witness's own finding (it quotes heads a hostile operator served), as an alarm's
    text that ``alarm_text_problem`` accepts: control characters written as escapes, clipped.

    >>> alarm_text("x" * 600)[-3:]
    'xx…'
    """
    text = one_line_text(found).strip() or "-"
    return text if len(text) <= PROBLEM_MAX_CHARS else text[: PROBLEM_MAX_CHARS - 1] + "\u2026"


@dataclass(frozen=True, slots=True)
class WitnessOutcome:
    """``cosigned`` is the head with the party's cosignature (its new "last seen"), or None with
    ``problem`` saying why the head was refused (then an alert was raised)."""

    tree_size: int
    cosigned: str | None
    problem: str | None


def head_problem(ledger: Ledger, last_seen: str | None, new_note: str) -> str | None:
    """Why ``new_note`` (the log's latest head) must not be cosigned by a party that saw ``last_seen``."""
    new = parse_note(new_note)
    keys = [parse_vkey(k) for k in ledger.deployment_vkeys()]
    if not any(name == new.head.origin and new.signed_by(name, key) for name, key in keys):
        return "the new head is not signed by a deployment key"
    if last_seen is None:
        return None
    old = parse_note(last_seen)
    if old.head.origin != new.head.origin:
        return f"the new head is of log {new.head.origin}, not {old.head.origin}"
    if old.head.size > new.head.size:
        return f"the log shrank from {old.head.size} to {new.head.size} entries"
    try:
        hashes = ledger.consistency_hashes(old.head.size, new.head.size)
    except KeepclearError as exc:
        return f"no consistency proof from size {old.head.size}: {exc}"
    if not verify_consistency(old.head.size, new.head.size, old.head.root, new.head.root, hashes):
        return f"the head of size {new.head.size} does not extend the head of size {old.head.size} seen before"
    return None


def witness(
    ledger: Ledger,
    hotline: HotlineService,
    clock: Clock,
    party_id: str,
    private_key: Ed25519PrivateKey,
    last_seen: str | None,
    others: list[str],
) -> WitnessOutcome:
    """Check the latest head against ``last_seen`` and cosign it, or raise the alarm (module docstring)."""
    head = ledger.latest_head()
    assert head.note is not None
    problem = head_problem(ledger, last_seen, head.note)
    if problem is None:
        cosigned = cosign(head.note, witness_name(party_id), private_key, int(clock.now_s()))
        ledger.add_cosignature(party_id, cosigned)
        return WitnessOutcome(head.seq, cosigned, None)
    text = alarm_text(problem)
    raise_alarm(ledger, hotline, party_id, text, last_seen, head.note, others)
    return WitnessOutcome(head.seq, None, text)


def alarm_id(party_id: str, last_seen: str | None, served: str) -> str:
    """The id of the alarm ``party_id`` raises for the head ``served`` after ``last_seen``: the same
    party and the same two heads, the same alarm (its ``alert_id`` in the ledger; its hotline messages'
    keys are this id and the thread's). 52 characters, whatever the heads."""
    digest = hashlib.sha256(json.dumps([party_id, last_seen, served]).encode("utf-8")).hexdigest()
    return f"record-inconsistent.{digest[:32]}"


def raise_alarm(
    ledger: Ledger,
    hotline: HotlineService,
    party_id: str,
    problem: str,
    last_seen: str | None,
    served: str,
    others: list[str],
) -> tuple[str, bool]:
    """``party_id`` found the head ``served`` inconsistent with ``last_seen``: record it in the ledger
    and alert every other party on the hotline, both heads in the message, in one transaction.

    The alarm's id (``alarm_id``), and True when raised now; False when ``party_id`` raised this very
    alarm before (the same two heads, whatever the ``problem``): the ledger holds it, and nothing is
    appended or posted. ``ValidationError`` naming ``problem`` when it is not one line of text
    (``alarm_text_problem``), before anything is read or stored.
    The check runs with the ledger's head locked, so the same alarm sent twice at once, to one API
    process or two, is raised once.
    """
    if found := alarm_text_problem(problem):
        raise ValidationError([found])
    size = parse_note(served).head.size
    alert_id = alarm_id(party_id, last_seen, served)
    summary = (
        f"RECORD INCONSISTENT, seen by {party_id}: {problem}. Head seen before:\n{last_seen or '-'}\n"
        f"Head served now:\n{served}"
    )
    # The standing threads first, each in its own transaction (they are there but for a party added
    # moments ago; making one is idempotent).
    threads = [hotline.ensure_pair_thread(party_id, other) for other in others if other != party_id]
    drafts = [
        Draft(
            thread_id=thread.id,
            kind=MessageKind.ALERT,
            idempotency_key=f"{alert_id}.{thread.id}",
            body=summary[:4000],
            data={"event": INCONSISTENT_KIND, "ref": alert_id, "by": party_id, "size": size},
        )
        for thread in threads
    ]
    payload = {"alert_id": alert_id, "problem": problem, "old_head": last_seen, "new_head": served}
    with ledger.writing() as conn:
        ledger_store.lock_head(conn)  # one alarm at a time, in this process and across processes
        raised = ledger_store.list_entries(conn, refs=[alert_id], kinds=[INCONSISTENT_KIND])
        if any(row.party_id == party_id for row in raised):
            return alert_id, False
        ledger.append_many_in(conn, [EntryDraft(INCONSISTENT_KIND, party_id, payload)])
        announce = hotline.post_system_within(conn, drafts)
    announce()
    return alert_id, True


def cosign_custodial(ledger: Ledger, clock: Clock, party_id: str, tree_size: int) -> int:
    """Cosign the signed head of ``tree_size`` for a custodial party, with the key this deployment holds
    for it, once its client checked the head (the console's witness: the check is the client's own,
    against the head it saw last). A party without a key yet gets its custodial key first.
    ``ValidationError`` for a party in strong mode (it signs itself)."""
    head, _ = ledger.cosignatures(tree_size)
    assert head.note is not None
    private_key = ledger.custodial_key(party_id, create=True)
    cosigned = cosign(head.note, witness_name(party_id), private_key, int(clock.now_s()))
    return ledger.add_cosignature(party_id, cosigned)
