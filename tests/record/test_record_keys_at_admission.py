"""A custodial party's key is registered when it is admitted (``party.added``), not at its first entry:
key entries are public, so a key entry at a party's first entry told every other party when it first
acted and where its first (withheld) entry is. Also: switching from that key to strong mode, and the
parties of an older deployment, admitted when the signer starts. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keepclear.domain import Party
from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Event
from keepclear.errors import ValidationError
from keepclear.ledger import Ledger, SignatureRefused, sign_submission, verify_document
from keepclear.ledger.canonical import sha256_hex
from keepclear.ledger.keys import key_id_of, public_key_b64, sign_b64
from keepclear.ledger.model import entry_from_json, statement_from_json
from keepclear.services.record.signer import RecordSigner, open_ledger
from keepclear.services.record.staging import stage
from keepclear.services.runtime.bus import EventBus, ManualClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings
from keepclear.store import registry as registry_store

KEY_KINDS = (EventKind.LEDGER_GENESIS, EventKind.KEY_REGISTERED, EventKind.KEY_ROTATED)
START_S = 1509494400.0


def _signing(deployment: Deployment) -> Ledger:
    """The deployment's writes signed as they are made (as the CLI does); its ledger, to read."""
    deployment.sign_writes()
    return open_ledger(deployment.db, deployment.clock, deployment.settings.data_dir)


def _act(deployment: Deployment, party: str, audience: set[str], text: str) -> None:
    """``party`` posts a message to ``audience``: staged in its write, published, signed."""
    event = Event(
        EventKind.MESSAGE_POSTED, deployment.clock.now_s(), party, {"text": text}, frozenset(audience | {party})
    )
    with deployment.db.write() as conn:
        stage(conn, [event])
    deployment.bus.emit(event)


def _kinds(ledger: Ledger) -> list[tuple[str, str | None]]:
    """Each entry's kind and the party it is about (a key's owner, an admission's party)."""
    out = []
    for entry in ledger.entries():
        payload = entry.payload_value()
        about = payload.get("owner") or payload.get("party_id") if isinstance(payload, dict) else None
        out.append((str(entry.statement.kind), about or entry.statement.party_id))
    return out


def test_a_partys_key_is_registered_at_its_admission_before_it_acts(deployment: Deployment) -> None:
    ledger = _signing(deployment)
    for party in ("a", "b"):
        deployment.registry.add_party(Party(party, party.upper()))
    assert _kinds(ledger) == [
        ("ledger.genesis", "@deployment"),
        ("key.registered", "a"),
        ("party.added", "a"),
        ("key.registered", "b"),
        ("party.added", "b"),
    ]
    assert ledger.mode("a") == ledger.mode("b") == "custodial"  # neither has acted
    registered = [e for e in ledger.entries() if e.statement.kind == EventKind.KEY_REGISTERED]
    assert all(json.loads(e.payload or "")["custodial"] is True for e in registered)
    _act(deployment, "a", {"b"}, "first words")
    kinds = _kinds(ledger)
    assert kinds[-1] == ("message.posted", "a") and len(kinds) == 6  # no key entry at a's first entry
    assert verify_document(ledger.export_document(for_party="b")).ok


def _world(database_url: str, data_dir: Path, c_acts_early: bool) -> list[Any]:
    """a, b and c admitted; then a and c act, c before a or after. What a's export shows of the keys."""
    settings = Settings(data_dir=data_dir, database_url=database_url)
    clock = ManualClock(START_S)
    deployment = Deployment.open(settings, clock=clock, create=True)
    deployment.bus = EventBus()
    try:
        ledger = _signing(deployment)
        for party in ("a", "b", "c"):
            deployment.registry.add_party(Party(party, party.upper()))
            clock.advance(60)
        turns = [("a", {"b"}), ("c", {"b"})]
        for party, audience in reversed(turns) if c_acts_early else turns:
            _act(deployment, party, audience, "on air")
            clock.advance(60)
        export = ledger.export_document(for_party="a")
        report = verify_document(export)
        assert report.ok, report.problem
        assert report.redacted == 1  # c's message: a placeholder in a's export, earlier or later
        return [
            (index, e["statement"]["kind"], json.loads(e["payload"])["owner"], e["statement"]["time_us"])
            for index, e in enumerate(export["entries"])
            if "statement" in e and e["statement"]["kind"] in KEY_KINDS
        ]
    finally:
        deployment.close()


def test_key_entries_do_not_move_with_a_partys_first_action(
    database_url: str, other_database_url: str, tmp_path: Path
) -> None:
    """Two worlds differing only in when c first acts: a's export shows the same key entries, at the
    same places, with the same times (lazily, c's key entry sat just before its first action)."""
    early = _world(database_url, tmp_path / "early", c_acts_early=True)
    late = _world(other_database_url, tmp_path / "late", c_acts_early=False)
    assert early == late
    assert [(seq, kind, owner) for seq, kind, owner, _ in early] == [
        (0, "ledger.genesis", "@deployment"),
        (1, "key.registered", "a"),
        (3, "key.registered", "b"),
        (5, "key.registered", "c"),
    ]


def test_a_custodial_party_switches_to_strong_mode_by_a_rotation(deployment: Deployment, clock: ManualClock) -> None:
    """register_public_key after admission: ``key.rotated`` from the custodial key to the party's own,
    signed by the custodial key (then discarded); the party then signs its submissions; every export
    verifies."""
    ledger = _signing(deployment)
    for party in ("a", "b"):
        deployment.registry.add_party(Party(party, party.upper()))
    _act(deployment, "a", {"b"}, "custodial words")
    custodial = ledger.custodial_key("a")
    old_id = key_id_of(custodial.public_key())
    own = Ed25519PrivateKey.generate()
    new_id = ledger.register_public_key("a", public_key_b64(own.public_key()))
    assert new_id == key_id_of(own.public_key()) and ledger.mode("a") == "strong"
    rotation = ledger.entries()[-1]
    assert rotation.statement.kind == EventKind.KEY_ROTATED and rotation.statement.party_id == "a"
    assert rotation.key_id == old_id  # signed by the custodial key, as a scheduled rotation must be
    assert json.loads(rotation.payload or "") == {
        "owner": "a",
        "old_key": old_id,
        "new_key": new_id,
        "public_key": public_key_b64(own.public_key()),
        "custodial": False,
        "reason": "scheduled",
    }
    with pytest.raises(ValidationError, match="no custodial key"):
        ledger.custodial_key("a")  # the deployment no longer holds a key for a
    assert not (deployment.settings.data_dir / "ledger-keys" / (old_id.replace(":", "_") + ".pem")).exists()
    body = {"activity_id": "x1", "reason": "own words"}
    with pytest.raises(SignatureRefused, match="must carry its signed submission"):
        ledger.check_request("a", "request.activity.object", body, None)
    signed = sign_submission(own, "a", "request.activity.object", body, time_s=clock.now_s(), audience=["a", "b"])
    accepted = ledger.check_request("a", "request.activity.object", body, signed.to_json())
    assert accepted is not None
    entry = ledger.append_submission(accepted)
    assert entry.key_id == new_id
    _act(deployment, "a", {"b"}, "observed by the deployment")  # no longer signed with a's key
    with pytest.raises(ValidationError, match=r"already in strong mode.*rotate it instead"):
        ledger.register_public_key("a", public_key_b64(Ed25519PrivateKey.generate().public_key()))
    with pytest.raises(ValidationError, match="strong mode"):
        ledger.rotate_key("a")
    with pytest.raises(ValidationError, match="always custodial"):
        ledger.register_public_key("@deployment", public_key_b64(Ed25519PrivateKey.generate().public_key()))
    for reader in (None, "a", "b"):
        doc = ledger.export_document(for_party=reader)
        report = verify_document(json.loads(json.dumps(doc)))
        assert report.ok, (reader, report.problem)
    doc = ledger.export_document()
    signers = [(e["statement"]["kind"], e["key"]) for e in doc["entries"] if e["statement"]["party"] == "a"]
    assert signers[-3:] == [
        ("key.rotated", old_id),
        ("request.activity.object", new_id),  # a's own signature
        ("message.posted", None),  # what the deployment observed: vouched for by its signed heads
    ]
    keys = [(k["owner"], k["custodial"], k["until_seq"] is None) for k in doc["keys"] if k["owner"] == "a"]
    assert keys == [("a", True, False), ("a", False, True)]
    assert [r["reason"] for r in doc["rotations"]] == ["scheduled"]


def _forge_rotation(ledger: Ledger, doc: dict[str, Any], index: int, signer: Ed25519PrivateKey, **edit: Any) -> str:
    """Edit the payload of the rotation at ``index``, re-sign it with its (old) key, re-link the rest:
    what an operator holding that key could do. Returns verify's problem."""
    entry = doc["entries"][index]
    payload = json.loads(entry["payload"]) | edit
    entry["payload"] = json.dumps(payload, separators=(",", ":"), sort_keys=True)
    entry["statement"]["payload_sha256"] = sha256_hex(entry["payload"].encode())
    entry["sig"] = sign_b64(signer, statement_from_json(entry["statement"], "s").to_bytes())
    for i in range(index + 1, len(doc["entries"])):
        doc["entries"][i]["prev"] = entry_from_json(doc["entries"][i - 1], "x").hash()
    report = verify_document(doc)
    assert not report.ok and report.at == f"/entries/{index}", report.problem
    return report.problem or ""


def test_a_rotation_never_makes_a_key_custodial(ledger: Ledger, clock: ManualClock) -> None:
    """The verifier's one mode change is a party's custodial key to its own: a strong-mode key that
    became custodial, or a deployment key that stopped being custodial, is a bad file."""
    own = Ed25519PrivateKey.generate()
    ledger.register_public_key("russia", public_key_b64(own.public_key()))
    new = Ed25519PrivateKey.generate()
    payload = {
        "owner": "russia",
        "old_key": key_id_of(own.public_key()),
        "new_key": key_id_of(new.public_key()),
        "public_key": public_key_b64(new.public_key()),
        "custodial": False,
        "reason": "scheduled",
    }
    ledger.append_submission(sign_submission(own, "russia", "key.rotated", payload, time_s=clock.now_s()))
    deployment_key = ledger._private_key(ledger.export_document()["keys"][0]["key_id"])
    ledger.rotate_key("@deployment")
    doc = ledger.export_document()
    assert verify_document(doc).ok
    rotations = [i for i, e in enumerate(doc["entries"]) if e["statement"]["kind"] == "key.rotated"]
    problem = _forge_rotation(ledger, json.loads(json.dumps(doc)), rotations[0], own, custodial=True)
    assert "custodial differs from the old key's" in problem
    problem = _forge_rotation(ledger, json.loads(json.dumps(doc)), rotations[1], deployment_key, custodial=False)
    assert "custodial differs from the old key's" in problem


def test_parties_of_an_older_deployment_are_admitted_when_the_signer_starts(
    deployment: Deployment, clock: ManualClock
) -> None:
    """Parties that joined before admission keys and never acted have none: the signer registers them
    all at its start, in id order, before anything else it signs (and nothing a second time)."""
    ledger = _signing(deployment)
    deployment.registry.add_party(Party("a", "A"))
    with deployment.db.write() as conn:  # as an older version left them: parties, no keys
        for party in ("c", "b"):
            registry_store.insert_party(conn, Party(party, party.upper()), clock.now_s())
    assert ledger.mode("b") is None and ledger.mode("c") is None
    signer = RecordSigner(deployment.db, ledger, poll_s=0.05)
    signer.start()
    signer.stop()  # after one round: the parties admitted, then the outbox drained
    assert _kinds(ledger)[3:] == [("key.registered", "b"), ("key.registered", "c")]
    assert ledger.mode("b") == ledger.mode("c") == "custodial"
    assert signer.admit_parties() == []
    assert verify_document(ledger.export_document(for_party="b")).ok
