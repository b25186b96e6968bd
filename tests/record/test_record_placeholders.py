"""A party's export shows an entry it may not read as a placeholder (seq, prev, hash): nothing of who did
what with whom, or when; the export still verifies offline, and tampering with placeholders is named."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from keepclear.cli.main import main
from keepclear.ledger import Ledger, LedgerConfig, verify_document
from keepclear.ledger.model import ENTRY_FIELDS, PLACEHOLDER_FIELDS, entry_from_json
from keepclear.services.record.signer import open_ledger
from keepclear.services.runtime.bus import ManualClock
from keepclear.services.runtime.deployment import Deployment

VECTORS = Path(__file__).resolve().parent / "vectors"
#: What b and c do that a may not read, and d reads only the notice of.
HIDDEN_KINDS = ("alert.raised", "alert.acknowledged", "activity.notified", "message.posted")


@pytest.fixture(params=["each", "batch"])
def world(request: pytest.FixtureRequest, deployment: Deployment, tmp_path: Path, clock: ManualClock) -> Ledger:
    """b and c have an alert and talk about it; b notifies an activity to c and d; a and b exchange a
    message; a party joins (public). Entries signed one by one, or vouched for by the signed heads."""
    config = LedgerConfig(checkpoint_every_entries=3, entry_signatures=request.param)
    ledger = open_ledger(deployment.db, deployment.clock, tmp_path / "data", config=config)
    for party in "abcd":  # keys first: a key entry is public, and its time would date the party's first entry
        ledger.custodial_key(party, create=True)
    clock.advance(5)
    ledger.append("party.added", None, {"party_id": "d"})
    clock.advance(7)
    ledger.append("alert.raised", None, {"alert_id": "al-bc", "level": "warning"}, audience=["b", "c"])
    clock.advance(11)
    ledger.append("alert.acknowledged", "c", {"alert_id": "al-bc"}, audience=["b", "c"])
    ledger.append("message.posted", "b", {"message_id": "m-bc", "text": "turning"}, audience=["b", "c"])
    clock.advance(13)
    ledger.append("activity.notified", "b", {"activity": {"id": "op-b"}}, audience=["b", "c", "d"])
    clock.advance(17)
    ledger.append("message.posted", "a", {"message_id": "m-ab", "text": "hello"}, audience=["a", "b"])
    return ledger


def _placeholders(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in doc["entries"] if "statement" not in e]


def _shown_kinds(doc: dict[str, Any]) -> list[str]:
    return [e["statement"]["kind"] for e in doc["entries"] if "statement" in e]


def _verify_cli(doc: dict[str, Any], path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    code = main(["ledger", "verify", str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_sees_nothing_of_what_b_c_and_d_did(world: Ledger) -> None:
    full = world.export_document()
    doc = world.export_document(for_party="a")
    assert doc["version"] == 3 and doc["for_party"] == "a"
    hidden = [e for e in full["entries"] if e["statement"]["kind"] in HIDDEN_KINDS and e["statement"]["party"] != "a"]
    assert len(hidden) == 4
    placeholders = _placeholders(doc)
    assert [p["seq"] for p in placeholders] == [e["seq"] for e in hidden]
    for placeholder in placeholders:
        assert set(placeholder) == PLACEHOLDER_FIELDS
        assert not {"a", "b", "c", "d", *HIDDEN_KINDS} & {v for v in placeholder.values() if isinstance(v, str)}
    # nothing of the hidden entries anywhere in a's export: kinds, nonces, payload hashes, signatures, times
    text = json.dumps(doc)
    for entry in hidden:
        s = entry["statement"]
        kind = None if s["kind"] in _shown_kinds(doc) else s["kind"]  # a's own message is message.posted too
        secrets = [kind, s["nonce"], s["payload_sha256"], entry["sig"], entry["payload"]]
        assert not [x for x in secrets if x is not None and x in text], s
        entries_text = json.dumps([doc["entries"], doc["keys"], doc["rotations"]])
        assert str(s["time_us"]) not in entries_text
    # what a may read is whole: the public entry, the key entries, its own message
    assert "party.added" in _shown_kinds(doc) and "message.posted" in _shown_kinds(doc)
    assert all(e["payload"] is not None for e in doc["entries"] if "statement" in e)


def test_each_party_sees_its_own_entries_whole(world: Ledger) -> None:
    shown = {p: _shown_kinds(world.export_document(for_party=p)) for p in "bcd"}
    assert {"alert.raised", "alert.acknowledged", "activity.notified"} <= set(shown["b"])
    assert shown["b"].count("message.posted") == 2  # with c, and a's to b
    assert {"alert.raised", "alert.acknowledged", "activity.notified", "message.posted"} <= set(shown["c"])
    assert "activity.notified" in shown["d"] and not {"alert.raised", "message.posted"} & set(shown["d"])
    for party in "bcd":
        report = verify_document(world.export_document(for_party=party))
        assert report.ok and report.version == 3, report.problem


def test_admin_export_shows_every_entry_whole(world: Ledger) -> None:
    doc = world.export_document()
    assert doc["version"] == 3 and doc["for_party"] is None
    assert all(set(e) == ENTRY_FIELDS and e["payload"] is not None for e in doc["entries"])
    report = verify_document(doc)
    assert report.ok and report.redacted == 0


def test_parties_exports_share_one_tree(world: Ledger) -> None:
    reports = [verify_document(world.export_document(for_party=p)) for p in (None, "a", "b", "c", "d")]
    assert all(r.ok for r in reports)
    assert len({(r.root_hash, r.head_hash, tuple(r.hashes)) for r in reports}) == 1


def test_a_export_verifies_offline(world: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _verify_cli(world.export_document(for_party="a"), tmp_path / "a.json", capsys)
    assert code == 0 and ": OK: " in out and "4 entries withheld (placeholders" in out


def test_a_changed_placeholder_hash_is_named(world: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = world.export_document(for_party="a")
    i = doc["entries"].index(_placeholders(doc)[0])
    doc["entries"][i]["hash"] = "0" * 64
    code, out, err = _verify_cli(doc, tmp_path / "a.json", capsys)
    assert code == 1 and out == ""
    assert (
        f"BAD: entry #{i + 1} (seq {i + 2}, withheld): previous-hash link broken: prev is not the hash of entry #{i}"
        in err
    )


def test_a_changed_last_placeholder_is_named_by_the_checkpoint(world: Ledger) -> None:
    world.append("alert.resolved", None, {"alert_id": "al-bc"}, audience=["b", "c"])
    doc = world.export_document(for_party="a")
    last = doc["entries"][-1]
    assert set(last) == PLACEHOLDER_FIELDS
    last["hash"] = "f" * 64
    report = verify_document(doc)
    assert report.at == f"/checkpoints/{len(doc['checkpoints']) - 1}"
    assert f"head hash differs from entry seq {last['seq']}" in (report.problem or "")


def test_a_removed_or_reordered_placeholder_is_named(world: Ledger) -> None:
    doc = world.export_document(for_party="a")
    first, second = (doc["entries"].index(p) for p in _placeholders(doc)[:2])
    removed = copy.deepcopy(doc)
    removed["entries"].pop(first)
    report = verify_document(removed)
    assert report.at == f"/entries/{first}"
    assert f"entry #{first} (seq {first + 2}" in (report.problem or "") and "expected seq" in (report.problem or "")
    swapped = copy.deepcopy(doc)
    entries = swapped["entries"]
    entries[first], entries[second] = entries[second], entries[first]
    assert verify_document(swapped).at == f"/entries/{first}"


def test_a_placeholder_removed_and_the_chain_relinked_fails_the_signed_head(world: Ledger) -> None:
    doc = world.export_document(for_party="a")
    i = doc["entries"].index(_placeholders(doc)[0])
    doc["entries"].pop(i)
    prev = ""
    for j, raw in enumerate(doc["entries"]):  # as a forger would: every seq and link made good again
        raw["seq"] = j + 1
        if j:
            raw["prev"] = prev
        prev = raw["hash"] if "hash" in raw else entry_from_json(raw, "x").hash()
    report = verify_document(doc)
    assert (report.at or "").startswith("/checkpoints/"), report.problem
    assert "differs" in (report.problem or "")


def test_a_placeholder_with_a_statement_field_is_refused(world: Ledger) -> None:
    doc = world.export_document(for_party="a")
    i = doc["entries"].index(_placeholders(doc)[0])
    doc["entries"][i]["kind"] = "alert.raised"
    report = verify_document(doc)
    assert report.at == f"/entries/{i}" and "unknown ['kind']" in (report.problem or "")


def test_the_statement_of_an_entry_a_may_not_read_is_refused(world: Ledger) -> None:
    full = world.export_document()
    doc = world.export_document(for_party="a")
    i = doc["entries"].index(_placeholders(doc)[0])
    doc["entries"][i] = full["entries"][i] | {"payload": None}
    report = verify_document(doc)
    assert report.at == f"/entries/{i}" and "outside a's audience" in (report.problem or "")


def test_a_version_1_export_still_verifies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("v1-clean-full.json", "v1-clean-party.json"):
        code = main(["ledger", "verify", str(VECTORS / name)])
        out, _ = capsys.readouterr()
        assert code == 0 and ": OK: " in out, out
    assert "payloads withheld (hash verified)" in out
    # a version 3 export extends the version 1 one a party kept: the same hash at every seq
    code = main(
        ["ledger", "verify", str(VECTORS / "clean-party.json"), "--since", str(VECTORS / "v1-clean-party.json")]
    )
    out, _ = capsys.readouterr()
    assert code == 0 and "extends" in out, out
