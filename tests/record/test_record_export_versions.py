"""Export version 3: keepclear writes it, and only it may hold a party's switch from its custodial key to
its own. A version 1 or 2 export holding the switch is refused naming the version it needs (a verifier of
version 2 would call it a forgery); one without the switch still verifies; version 4 is unknown.
On SQLite and PostgreSQL (docs/record.md, "Export file", "Version 2")."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keepclear.cli.main import main
from keepclear.ledger import ExportFileError, Ledger, parse_export, sign_submission, verify_document
from keepclear.ledger.keys import public_key_b64
from keepclear.ledger.verify import extension_problem
from keepclear.services.runtime.bus import ManualClock

VECTORS = Path(__file__).resolve().parent / "vectors"


def _switch(ledger: Ledger, clock: ManualClock) -> int:
    """coalition (custodial) switches to its own key and signs a message with it; the switch's index."""
    own = Ed25519PrivateKey.generate()
    ledger.register_public_key("coalition", public_key_b64(own.public_key()))
    clock.advance(5)
    body = {"message_id": "m4", "text": "in strong mode"}
    audience = ["coalition", "russia"]
    ledger.append_submission(
        sign_submission(own, "coalition", "message.posted", body, time_s=clock.now_s(), audience=audience)
    )
    entries = ledger.export_document()["entries"]
    return [i for i, e in enumerate(entries) if e["statement"]["kind"] == "key.rotated"][-1]


def _relabelled(doc: dict[str, Any], version: int) -> dict[str, Any]:
    """``doc`` with another version number (signed nowhere: a full export, or one without placeholders,
    is the older version's file but for the number)."""
    return copy.deepcopy(doc) | {"version": version}


def test_an_export_written_now_is_version_3(populated: Ledger, clock: ManualClock) -> None:
    _switch(populated, clock)
    for reader in (None, "russia", "coalition"):
        doc = populated.export_document(for_party=reader)
        assert doc["version"] == 3, reader
        report = verify_document(json.loads(json.dumps(doc)))
        assert report.ok and report.version == 3, (reader, report.problem)


@pytest.mark.parametrize("version", [1, 2])
def test_a_switch_to_the_partys_own_key_in_an_older_version_is_refused_naming_version_3(
    populated: Ledger, clock: ManualClock, version: int
) -> None:
    switch = _switch(populated, clock)
    # key entries are public: russia's export holds the switch too (a party's export of version 1 carried
    # statements instead of placeholders: its full export alone is this file but for the number)
    for reader in (None,) if version == 1 else (None, "russia"):
        doc = _relabelled(populated.export_document(for_party=reader), version)
        report = verify_document(doc)
        assert not report.ok and report.at == f"/entries/{switch}", (reader, report.problem)
        assert report.problem == (
            f"entry #{switch} (seq {switch + 1}, key.rotated): custodial differs from the old key's: in a version"
            f" {version} export a rotation keeps the mode (a party's switch from its custodial key to its own"
            " needs export version 3)"
        )


def test_the_cli_names_the_version_a_switch_needs(
    populated: Ledger, clock: ManualClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _switch(populated, clock)
    path = tmp_path / "v2.json"
    path.write_text(json.dumps(_relabelled(populated.export_document(), 2)), encoding="utf-8")
    assert main(["ledger", "verify", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert "in a version 2 export a rotation keeps the mode" in err and "needs export version 3" in err


def test_a_version_2_export_without_a_switch_still_verifies_and_is_extended_by_version_3(
    populated: Ledger, clock: ManualClock
) -> None:
    """The export an older keepclear wrote before the switch (russia's scheduled rotation keeps the mode):
    it verifies as version 2, and the version 3 export written after the switch extends it."""
    earlier = {reader: _relabelled(populated.export_document(for_party=reader), 2) for reader in (None, "russia")}
    _switch(populated, clock)
    for reader, doc in earlier.items():
        old = verify_document(doc)
        assert old.ok and old.version == 2, (reader, old.problem)
        assert any(e.get("statement", {}).get("kind") == "key.rotated" for e in doc["entries"])
        later = verify_document(populated.export_document(for_party=reader))
        assert later.ok and later.version == 3 and later.entries > old.entries
        assert extension_problem(old, later) is None


def test_a_key_made_custodial_is_refused_for_that_in_every_version() -> None:
    """A strong-mode key rotated to a custodial one is bad in version 3 too: the message says so, not that
    version 3 would accept it."""
    doc = json.loads((VECTORS / "rotation-to-custodial.json").read_text(encoding="utf-8"))
    for version in (2, 3):
        report = verify_document(_relabelled(doc, version))
        assert not report.ok and "only a party's custodial key may rotate" in (report.problem or ""), version
        assert "needs export version 3" not in (report.problem or "")


def test_the_shipped_version_2_vectors_still_verify_and_the_switch_vector_is_refused() -> None:
    for name in ("v2-clean-full.json", "v2-clean-party.json"):
        report = verify_document(parse_export((VECTORS / name).read_bytes(), name))
        assert report.ok and report.version == 2, (name, report.problem)
    report = verify_document(parse_export((VECTORS / "v2-rotation-to-own-key.json").read_bytes(), "v2"))
    assert not report.ok and "needs export version 3" in (report.problem or "")
    clean = json.loads((VECTORS / "clean-full.json").read_text(encoding="utf-8"))
    assert clean["version"] == 3 and verify_document(_relabelled(clean, 2)).problem == report.problem


def test_version_4_is_unknown(populated: Ledger) -> None:
    doc = _relabelled(populated.export_document(), 4)
    with pytest.raises(
        ExportFileError, match=r"^v4\.json: unknown export version 4; this keepclear reads versions 1, 2, 3$"
    ):
        parse_export(json.dumps(doc).encode(), "v4.json")
    report = verify_document(doc)
    assert not report.ok and report.at == "" and report.problem == "unknown export version 4"
