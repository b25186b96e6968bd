"""What the operator of the deployment, holding every key it has, still cannot do quietly."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keepclear.cli.main import main
from keepclear.ledger import Ledger, extension_problem, sign_submission, verify_document
from keepclear.ledger.keys import key_id_of, public_key_b64
from keepclear.ledger.model import payload_text
from keepclear.services.runtime.bus import ManualClock
from keepclear.store import ledger as store


def _strong(ledger: Ledger, clock: ManualClock) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    ledger.register_public_key("russia", public_key_b64(key.public_key()))
    ledger.append_submission(
        sign_submission(key, "russia", "activity.objected", {"activity_id": "a1"}, time_s=clock.now_s())
    )
    return key


def test_operator_cannot_rotate_a_strong_key_as_scheduled(ledger: Ledger, clock: ManualClock) -> None:
    old = _strong(ledger, clock)
    forged = Ed25519PrivateKey.generate()
    payload = {
        "owner": "russia",
        "old_key": key_id_of(old.public_key()),
        "new_key": key_id_of(forged.public_key()),
        "public_key": public_key_b64(forged.public_key()),
        "custodial": False,
        "reason": "scheduled",
    }
    text = payload_text(payload)
    with ledger._db.write() as conn:  # the operator bypasses the API and writes with the deployment key
        head = ledger._head(conn)
        statement = ledger._statement("key.rotated", None, text, clock.now_s(), None)
        ledger._sign_and_place(conn, head, statement, text, ledger._deployment_key(conn))
    problem = verify_document(ledger.export_document()).problem
    assert problem is not None and "a rotation is signed by the old key" in problem


def test_operator_statements_for_a_strong_party_are_labelled_as_the_deployments(
    ledger: Ledger, clock: ManualClock
) -> None:
    _strong(ledger, clock)
    ledger.append("activity.acknowledged", "russia", {"activity_id": "a1"})  # not the party's own words
    report = verify_document(ledger.export_document())
    assert report.ok and report.deployment_signed == 1


def test_rebuilt_history_is_caught_by_an_earlier_export(populated: Ledger) -> None:
    earlier = copy.deepcopy(populated.export_document())
    populated.append("message.posted", "coalition", {"message_id": "m4"})
    later = populated.export_document()
    assert extension_problem(verify_document(earlier), verify_document(later)) is None
    # the operator rewrites entry 3 with the keys it holds and re-chains, re-checkpoints everything
    with populated._db.write() as conn:
        conn.execute(store.ledger_entries.delete().where(store.ledger_entries.c.seq >= 3))
        conn.execute(store.ledger_checkpoints.delete().where(store.ledger_checkpoints.c.seq >= 3))
        conn.execute(
            store.ledger_head.update().values(seq=2, hash=verify_document(earlier).hashes[1], checkpoint_seq=2)
        )
        conn.execute(store.ledger_keys.delete().where(store.ledger_keys.c.from_seq >= 3))
    for i in range(12):
        populated.append("message.posted", "coalition", {"message_id": f"x{i}"})
    rebuilt = populated.export_document()
    assert verify_document(rebuilt).ok  # on its own it is a valid chain...
    problem = extension_problem(verify_document(earlier), verify_document(rebuilt))
    assert problem == "entry seq 3 differs from the earlier export: the history was rewritten"


def test_verify_since_on_the_command_line(
    populated: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(populated.export_document()))
    populated.append("message.posted", "coalition", {"message_id": "m5"})
    new.write_text(json.dumps(populated.export_document()))
    assert main(["ledger", "verify", str(new), "--since", str(old)]) == 0
    assert "extends" in capsys.readouterr().out
    assert main(["ledger", "verify", str(old), "--since", str(new)]) == 1
    assert "fewer than the earlier" in capsys.readouterr().err
