"""Tamper tests: every way of changing an exported ledger is detected, and the first bad entry named."""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keepclear.ledger import Ledger, verify_document
from keepclear.ledger.canonical import sha256_hex
from keepclear.ledger.keys import key_id_of, sign_b64
from keepclear.ledger.model import entry_from_json, statement_from_json


def _index_of(doc: dict[str, Any], kind: str, nth: int = 0) -> int:
    return [i for i, e in enumerate(doc["entries"]) if e["statement"]["kind"] == kind][nth]


def _rechain(doc: dict[str, Any], start: int = 0) -> None:
    """Fix seq numbers and previous-hash links from ``start`` on, as a forger would."""
    entries = doc["entries"]
    for i in range(start, len(entries)):
        entries[i]["seq"] = i + 1
        entries[i]["prev"] = "0" * 64 if i == 0 else entry_from_json(entries[i - 1], "x").hash()


def _problem(doc: dict[str, Any]) -> str:
    report = verify_document(json.loads(json.dumps(doc)))
    assert not report.ok, "tampering went unnoticed"
    assert report.problem is not None
    return report.problem


def test_clean_export_verifies_with_counts(export: dict[str, Any]) -> None:
    report = verify_document(json.loads(json.dumps(export)))
    assert report.ok, report.problem
    assert report.entries == len(export["entries"]) == 11  # genesis, 2 key registrations, 1 rotation, 7 events
    assert report.checkpoints == len(export["checkpoints"]) >= 2
    assert report.head_hash == export["checkpoints"][-1]["head"]
    assert report.summary().startswith("OK: 11 entries")


def test_edited_payload_is_named(export: dict[str, Any]) -> None:
    i = _index_of(export, "activity.acknowledged")
    export["entries"][i]["payload"] = export["entries"][i]["payload"].replace("a1", "a2")
    assert (
        _problem(export)
        == f"entry #{i} (seq {i + 1}, activity.acknowledged): payload does not match its signed hash (payload edited)"
    )


def test_edited_payload_with_rehashed_statement_fails_the_signature(export: dict[str, Any]) -> None:
    i = _index_of(export, "message.posted")
    entry = export["entries"][i]
    entry["payload"] = entry["payload"].replace("Приём", "Nothing received")
    entry["statement"]["payload_sha256"] = sha256_hex(entry["payload"].encode())
    assert "signature does not verify" in _problem(export)
    assert _problem(export).startswith(f"entry #{i} ")


def test_dropped_entry_is_detected(export: dict[str, Any]) -> None:
    del export["entries"][5]
    assert _problem(export).startswith("entry #5 (seq 7") and "expected seq 6" in _problem(export)


def test_dropped_entry_with_renumbered_chain_breaks_the_checkpoint(export: dict[str, Any]) -> None:
    del export["entries"][5]
    _rechain(export, 5)
    problem = _problem(export)
    assert problem.startswith("checkpoint #") and ("chain was rewritten" in problem or "truncated" in problem)


def test_reordered_entries_are_detected(export: dict[str, Any]) -> None:
    entries = export["entries"]
    n = len(entries)
    entries[n - 2], entries[n - 1] = entries[n - 1], entries[n - 2]
    assert _problem(export).startswith(f"entry #{n - 2} ") and f"expected seq {n - 1}" in _problem(export)
    _rechain(export, n - 2)  # renumbered and re-linked: only the deployment's checkpoint can tell
    assert "chain was rewritten" in _problem(export)


def test_reordering_around_a_rotation_is_detected_by_the_key_history(export: dict[str, Any]) -> None:
    i = _index_of(export, "key.rotated")
    entries = export["entries"]
    entries[i - 1], entries[i] = entries[i], entries[i - 1]
    _rechain(export, i - 1)
    assert "which was not valid at this seq (no longer valid" in _problem(export)


def test_truncated_tail_is_detected(export: dict[str, Any]) -> None:
    del export["entries"][-2:]
    assert "(truncated)" in _problem(export)


def test_truncated_tail_with_its_checkpoints_removed_is_detected(export: dict[str, Any]) -> None:
    kept = len(export["entries"]) - 2
    del export["entries"][kept:]
    export["checkpoints"] = [c for c in export["checkpoints"] if c["seq"] <= kept]
    assert "not covered by a deployment checkpoint" in _problem(export)


def test_replayed_statement_is_detected(export: dict[str, Any]) -> None:
    old = json.loads(json.dumps(export["entries"][_index_of(export, "activity.notified")]))
    export["entries"].append(old)
    _rechain(export, len(export["entries"]) - 1)
    assert "statement replayed (same nonce as seq" in _problem(export)


def test_old_signature_on_a_new_statement_is_detected(export: dict[str, Any]) -> None:
    a = _index_of(export, "message.posted", 0)
    b = _index_of(export, "message.posted", 1)
    export["entries"][b]["sig"] = export["entries"][a]["sig"]
    assert _problem(export).startswith(f"entry #{b} ")


def test_forged_with_an_unknown_key_is_detected(export: dict[str, Any]) -> None:
    i = _index_of(export, "alert.raised")
    forger = Ed25519PrivateKey.generate()
    entry = export["entries"][i]
    entry["sig"] = sign_b64(forger, statement_from_json(entry["statement"], "s").to_bytes())
    assert "signature does not verify" in _problem(export)
    entry["key"] = key_id_of(forger.public_key())
    assert "signed with unknown key" in _problem(export)


def test_forged_with_another_partys_real_key_is_detected(populated: Ledger, export: dict[str, Any]) -> None:
    coalition_key = next(k for k in export["keys"] if k["owner"] == "coalition")["key_id"]
    coalition = populated._private_key(coalition_key)
    i = _index_of(export, "message.posted", 1)  # russia's
    entry = export["entries"][i]
    entry["key"] = coalition_key
    entry["sig"] = sign_b64(coalition, statement_from_json(entry["statement"], "s").to_bytes())
    assert "of coalition, not of russia" in _problem(export)


def test_retired_key_cannot_sign_after_its_rotation(populated: Ledger, export: dict[str, Any]) -> None:
    rotation = export["rotations"][0]
    old = populated._keys  # the old custodial key is discarded on rotation: forge with a fresh copy instead
    assert not old.has(rotation["old_key"])
    i = _index_of(export, "message.posted", 1)
    export["entries"][i]["key"] = rotation["old_key"]
    assert "no longer valid" in _problem(export)


def test_rewritten_chain_without_the_deployment_key_fails_at_the_checkpoint(export: dict[str, Any]) -> None:
    i = _index_of(export, "party.added")
    entry = export["entries"][i]
    statement = entry["statement"]
    entry["payload"] = '{"party_id":"someone-else"}'
    statement["payload_sha256"] = sha256_hex(entry["payload"].encode())
    # the forger cannot re-sign with the deployment key; even a perfect re-link leaves the signature bad
    _rechain(export, i)
    assert _problem(export).startswith(f"entry #{i} ")


def test_listed_keys_must_match_the_chain(export: dict[str, Any]) -> None:
    export["keys"][1]["public_key"] = export["keys"][2]["public_key"]
    assert _problem(export).startswith("keys #") and "differs from the key the chain registers" in _problem(export)


def test_export_for_a_party_withholds_payloads_but_still_verifies(populated: Ledger) -> None:
    doc = populated.export_document(for_party="russia")
    report = verify_document(doc)
    assert report.ok, report.problem
    assert report.redacted == 1
    withheld = [e for e in doc["entries"] if "statement" not in e]
    assert [set(e) for e in withheld] == [{"seq", "prev", "hash"}]  # a placeholder: no kind, party, time
    assert all(e["payload"] is not None for e in doc["entries"] if "statement" in e)
    assert "private" not in json.dumps(doc)
