"""Strong mode (client-side signatures), key rotation, key files, concurrency, the bus recorder."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keepclear.domain.events import Event
from keepclear.errors import KeepclearError, ValidationError
from keepclear.ledger import Ledger, LedgerConfig, SignatureRefused, parse_submission, sign_submission, verify_document
from keepclear.ledger.keys import key_id_of, public_key_b64, public_key_from_b64
from keepclear.services.record.signer import RecordSigner, open_ledger
from keepclear.services.record.staging import stage
from keepclear.services.runtime.bus import EventBus, ManualClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.store import Database


def _strong(ledger: Ledger, party: str = "russia") -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    ledger.register_public_key(party, public_key_b64(key.public_key()))
    return key


def test_strong_mode_submission_is_appended_as_the_party_signed_it(ledger: Ledger, clock: ManualClock) -> None:
    key = _strong(ledger)
    submission = sign_submission(key, "russia", "activity.objected", {"activity_id": "a1"}, time_s=clock.now_s())
    wire = submission.to_json()
    entry = ledger.append_submission(parse_submission(wire))
    assert entry.signature == wire["sig"] and entry.key_id == key_id_of(key.public_key())
    assert ledger.mode("russia") == "strong"
    report = verify_document(ledger.export_document())
    assert report.ok, report.problem
    assert report.party_signed == report.entries  # genesis, registration, the submission


def test_strong_mode_refuses_unsigned_wrongly_signed_stale_and_replayed(ledger: Ledger, clock: ManualClock) -> None:
    key = _strong(ledger)
    now = clock.now_s()
    good = sign_submission(key, "russia", "message.posted", {"text": "hi"}, time_s=now)
    unsigned = good.to_json() | {"sig": ""}
    with pytest.raises(ValueError, match="sig: missing"):
        parse_submission(unsigned)
    wrong = sign_submission(Ed25519PrivateKey.generate(), "russia", "message.posted", {"text": "hi"}, time_s=now)
    with pytest.raises(SignatureRefused, match="not the current key of russia"):
        ledger.append_submission(wrong)
    forged = parse_submission(wrong.to_json() | {"key": good.key_id})
    with pytest.raises(SignatureRefused, match="does not verify"):
        ledger.append_submission(forged)
    stale = sign_submission(key, "russia", "message.posted", {"text": "hi"}, time_s=now - 3600)
    with pytest.raises(SignatureRefused, match="from the deployment clock"):
        ledger.append_submission(stale)
    ledger.append_submission(good)
    with pytest.raises(SignatureRefused, match="already used"):
        ledger.append_submission(good)
    with pytest.raises(SignatureRefused, match="not in strong mode"):
        ledger.append_submission(sign_submission(key, "coalition", "message.posted", {}, time_s=now))
    assert [e.statement.kind for e in ledger.entries()] == ["ledger.genesis", "key.registered", "message.posted"]


def test_tampered_payload_in_a_submission_is_refused_before_verification() -> None:
    key = Ed25519PrivateKey.generate()
    wire = sign_submission(key, "russia", "message.posted", {"text": "hi"}, time_s=0.0).to_json()
    with pytest.raises(ValueError, match=r"does not match statement\.payload_sha256"):
        parse_submission(wire | {"payload": '{"text":"bye"}'})


def test_strong_party_events_from_the_bus_are_signed_by_the_deployment(ledger: Ledger) -> None:
    _strong(ledger)
    ledger.append("hotline.unavailable", "russia", {"cell": "hmeimim"})
    report = verify_document(ledger.export_document())
    assert report.ok, report.problem
    assert report.deployment_signed == 1


def test_strong_party_rotates_by_submitting_with_its_old_key(ledger: Ledger, clock: ManualClock) -> None:
    old = _strong(ledger)
    new = Ed25519PrivateKey.generate()
    payload = {
        "owner": "russia",
        "old_key": key_id_of(old.public_key()),
        "new_key": key_id_of(new.public_key()),
        "public_key": public_key_b64(new.public_key()),
        "custodial": False,
        "reason": "scheduled",
    }
    ledger.append_submission(sign_submission(old, "russia", "key.rotated", payload, time_s=clock.now_s()))
    with pytest.raises(SignatureRefused, match="not the current key"):
        ledger.append_submission(sign_submission(old, "russia", "message.posted", {}, time_s=clock.now_s()))
    ledger.append_submission(sign_submission(new, "russia", "message.posted", {}, time_s=clock.now_s()))
    doc = ledger.export_document()
    assert verify_document(doc).ok, verify_document(doc).problem
    assert doc["rotations"][0]["new_key"] == key_id_of(new.public_key())


def test_compromised_strong_key_is_rotated_by_the_deployment(ledger: Ledger, clock: ManualClock) -> None:
    _strong(ledger)
    new = Ed25519PrivateKey.generate()
    with pytest.raises(ValidationError, match="strong mode"):
        ledger.rotate_key("russia", new_public_key=public_key_b64(new.public_key()))
    ledger.rotate_key("russia", compromised=True, new_public_key=public_key_b64(new.public_key()))
    ledger.append_submission(sign_submission(new, "russia", "message.posted", {}, time_s=clock.now_s()))
    doc = ledger.export_document()
    assert verify_document(doc).ok, verify_document(doc).problem
    assert doc["rotations"][0]["reason"] == "compromised"


def test_deployment_key_rotation_keeps_old_checkpoints_valid(populated: Ledger) -> None:
    populated.checkpoint()
    populated.rotate_key("@deployment")
    populated.append("alert.resolved", None, {"alert_id": "x1"})
    report = verify_document(populated.export_document())
    assert report.ok, report.problem
    assert len({k.key_id for k in report.keys if k.owner == "@deployment"}) == 2


def test_custodial_key_files_are_private(populated: Ledger, tmp_path: Path) -> None:
    folder = tmp_path / "data" / "ledger-keys"
    files = list(folder.iterdir())
    assert len(files) == 3  # deployment, coalition, russia's new key (the rotated one is discarded)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert all(b"ENCRYPTED" not in f.read_bytes() for f in files)


def test_passphrase_encrypts_keys_at_rest(deployment: Deployment, tmp_path: Path) -> None:
    ledger = open_ledger(deployment.db, deployment.clock, tmp_path / "enc", passphrase=b"correct horse")
    ledger.append("party.added", None, {})
    (pem,) = (tmp_path / "enc" / "ledger-keys").iterdir()
    assert b"ENCRYPTED PRIVATE KEY" in pem.read_bytes()
    wrong = open_ledger(deployment.db, deployment.clock, tmp_path / "enc", passphrase=b"wrong")
    with pytest.raises(KeepclearError, match="check the passphrase"):
        wrong.append("alert.raised", None, {})
    assert len(wrong.entries()) == 2  # genesis and party.added: the refused append left nothing


def test_non_json_payload_is_refused_and_nothing_stored(ledger: Ledger) -> None:
    with pytest.raises(ValidationError, match=r"payload: \$.x: nan is not a finite number"):
        ledger.append("alert.raised", None, {"x": float("nan")})
    with pytest.raises(ValidationError, match="reserved"):
        ledger.append("key.rotated", None, {})
    assert ledger.entries() == []


def test_concurrent_appenders_keep_one_linear_chain(deployment: Deployment, tmp_path: Path) -> None:
    """Two handles on the same database (as two processes would have), four threads each."""
    second = Database(deployment.settings.resolved_database_url())
    try:
        ledgers = [
            open_ledger(db, deployment.clock, tmp_path / "data", config=LedgerConfig(checkpoint_every_entries=7))
            for db in (deployment.db, second)
        ]
        ledgers[0].append("party.added", None, {})  # genesis first, so both handles share one deployment key
        errors: list[BaseException] = []

        def work(ledger: Ledger, worker: int) -> None:
            try:
                for i in range(10):
                    ledger.append("message.posted", None, {"worker": worker, "i": i})
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(ledgers[w % 2], w)) for w in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        entries = ledgers[1].entries()
        assert [e.seq for e in entries] == list(range(1, 83))
        report = verify_document(ledgers[0].export_document())
        assert report.ok, report.problem
    finally:
        second.dispose()


def test_recorder_appends_listed_kinds_and_never_tracks(
    deployment: Deployment, ledger: Ledger, clock: ManualClock
) -> None:
    """Writers stage their events in their transaction; the probe's alerts (state in memory) come from
    the bus; both reach the ledger in order on delivery, with the event's parties as the audience."""
    bus = EventBus()
    bus.subscribe_batches(RecordSigner(deployment.db, ledger).record)
    kinds = [
        "activity.notified",
        "activity.acknowledged",
        "activity.objected",
        "message.posted",
        "alert.level_changed",
        "hotline.escalated",
        "party.availability",
        "party.added",
        "incident.opened",
        "apikey.revoked",
    ]
    # kinds outside the list are not recorded, even in a recorded family (no prefix matching)
    unlisted = ["track.reported", "tracks.batch", "zone.entered", "hotline.availability_changed", "key.compromised"]
    for kind in [*kinds, *unlisted]:
        event = Event(kind, clock.now_s(), "coalition", {"k": kind}, frozenset({"coalition", "russia"}))
        with deployment.db.write() as conn:
            stage(conn, [event])
        bus.emit(event)
    assert bus.errors == []
    recorded = [e for e in ledger.entries() if e.statement.kind not in ("ledger.genesis", "key.registered")]
    assert [e.statement.kind for e in recorded] == kinds
    assert all(e.statement.audience == ("coalition", "russia") for e in recorded)
    assert verify_document(ledger.export_document()).ok


def test_check_request_binds_the_signature_to_the_request(ledger: Ledger, clock: ManualClock) -> None:
    key = _strong(ledger)
    body = {"activity_id": "a1", "reason": "hospital at 35.3N 40.1E"}
    assert ledger.check_request("coalition", "request.activity.object", body, None) is None  # custodial
    with pytest.raises(SignatureRefused, match="must carry its signed submission"):
        ledger.check_request("russia", "request.activity.object", body, None)
    signed = sign_submission(key, "russia", "request.activity.object", body, time_s=clock.now_s()).to_json()
    with pytest.raises(SignatureRefused, match="another party, kind or payload"):
        ledger.check_request("russia", "request.activity.object", {**body, "reason": "none"}, signed)
    with pytest.raises(SignatureRefused, match="another party, kind or payload"):
        ledger.check_request("russia", "request.activity.acknowledge", body, signed)
    with pytest.raises(SignatureRefused, match="submission: statement: not an object"):
        ledger.check_request("russia", "request.activity.object", body, {"sig": "x"})
    accepted = ledger.check_request("russia", "request.activity.object", body, signed)
    assert accepted is not None
    ledger.append_submission(accepted)
    with pytest.raises(SignatureRefused, match="replay"):
        ledger.check_request("russia", "request.activity.object", body, signed)


def test_a_rotation_to_a_key_registered_before_is_refused(ledger: Ledger, clock: ManualClock) -> None:
    """A strong-mode party rotating to its own current key, or to a key another owner holds (read
    off any export), was an IntegrityError (a 500 where it surfaces); now refused naming the key,
    nothing appended."""
    old = _strong(ledger)
    ledger.append("message.posted", "coalition", {})
    other = next(k for k in ledger.export_document()["keys"] if k["owner"] == "coalition")
    entries = len(ledger.export_document()["entries"])
    for public_key in (public_key_b64(old.public_key()), other["public_key"]):
        new_id = key_id_of(public_key_from_b64(public_key))
        payload = {
            "owner": "russia",
            "old_key": key_id_of(old.public_key()),
            "new_key": new_id,
            "public_key": public_key,
            "custodial": False,
            "reason": "scheduled",
        }
        with pytest.raises(SignatureRefused, match=f"payload.public_key: key {new_id} is already registered"):
            ledger.append_submission(sign_submission(old, "russia", "key.rotated", payload, time_s=clock.now_s()))
        with pytest.raises(ValidationError, match=f"new_public_key: key {new_id} is already registered"):
            ledger.rotate_key("russia", compromised=True, new_public_key=public_key)
    assert len(ledger.export_document()["entries"]) == entries
    assert verify_document(ledger.export_document()).ok
