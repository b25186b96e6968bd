"""A party's hostile witness input (``POST /v1/record/cosignatures``, ``/v1/record/inconsistency``):
a signed head stating a tree size past 64 bits, a cosignature dated past what a store keeps, a
cosignature line that does not verify set before one that does. Each is refused with a problem
naming it, or kept as the line that verifies, the same on SQLite and PostgreSQL (a tree size past
64 bits was a 500 on both, a far-future cosignature a 500 on both); and no other party's later read
of the record (export, checkpoint, proofs, cosignatures, ``keepclear ledger verify``) is harmed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
from apisupport import Service, recorded
from test_input_hardening import assert_problem

from keepclear.ledger.canonical import b64decode, b64encode
from keepclear.ledger.keys import Ed25519PrivateKey, public_key_from_b64, raw_public_key
from keepclear.ledger.note import COSIGNATURE, cosign, cosigned_message, key_hash, parse_note
from keepclear.ledger.witnessing import witness_name

NOW_S = 1_764_720_000


def _strong_head(service: Service) -> tuple[Ed25519PrivateKey, str]:
    """Party a in strong mode with its own key, and a signed head after that."""
    ledger = service.runtime.ledger
    key = Ed25519PrivateKey.generate()
    ledger.register_public_key("a", b64encode(raw_public_key(key.public_key())))
    ledger.append("message.posted", "b", {"text": "after"})
    note = ledger.latest_head().note
    assert note is not None
    return key, note


def _sized(note: str, size: int) -> str:
    lines = note.split("\n")
    lines[1] = str(size)
    return "\n".join(lines)


def _cosigned_anyway(note: str, key: Ed25519PrivateKey, timestamp: int) -> str:
    """``note`` with a valid ``cosignature/v1`` line of party a, made without parsing ``note``."""
    name = witness_name("a")
    text = note.partition("\n\n")[0] + "\n"
    signature = key.sign(cosigned_message(text, timestamp))
    hash4 = key_hash(name, key.public_key(), COSIGNATURE)
    return f"{note}\u2014 {name} {b64encode(hash4 + timestamp.to_bytes(8, 'big') + signature)}\n"


def _reads_unharmed(service: Service, tmp_path: Path) -> None:
    """Every party's reads of the record still answer, and its export verifies offline."""
    for who in ("a-liaison", "b-liaison", "admin"):
        with service.client(who) as client:
            for path in ("/v1/record/checkpoint", "/v1/record/cosignatures", "/v1/record/proof/inclusion?seq=1"):
                assert client.get(path).status_code == 200, (who, path)
            export = tmp_path / f"{who}.json"
            export.write_bytes(client.get("/v1/record/export").content)
        verified = subprocess.run(
            [sys.executable, "-m", "keepclear.cli.main", "ledger", "verify", str(export)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert verified.returncode == 0 and ": OK: " in verified.stdout, verified.stderr


def _cosign(client: httpx.Client, note: str) -> httpx.Response:
    return client.post("/v1/record/cosignatures", json={"note": note})


def test_a_tree_size_past_64_bits_is_refused_naming_it(store_service: Service, tmp_path: Path) -> None:
    key, note = _strong_head(store_service)
    with store_service.client("a-liaison") as a:
        for size in (2**63, 9_999_999_999_999_999_999):
            hostile = _cosigned_anyway(_sized(note, size), key, NOW_S)
            assert_problem(_cosign(a, hostile), 422, "note: tree size", str(size), "past the largest")
            alarm = a.post(
                "/v1/record/inconsistency",
                json={"seen_before": note, "served": _sized(note, size), "problem": "does not extend"},
            )
            assert_problem(alarm, 422, "served: tree size", str(size))
        assert a.get("/v1/record/cosignatures").json()["cosigned_by"] == []
        assert _cosign(a, cosign(note, witness_name("a"), key, NOW_S)).status_code == 201
    _reads_unharmed(store_service, tmp_path)


def test_a_cosignature_dated_past_what_is_kept_is_refused(store_service: Service, tmp_path: Path) -> None:
    key, note = _strong_head(store_service)
    with store_service.client("a-liaison") as a:
        for timestamp in (2**64 - 1, 2**63, 10**13):
            response = _cosign(a, cosign(note, witness_name("a"), key, timestamp))
            assert_problem(response, 422, f"note: cosignature time {timestamp}")
        assert a.get("/v1/record/cosignatures").json()["cosigned_by"] == []
        assert _cosign(a, cosign(note, witness_name("a"), key, NOW_S)).status_code == 201
        assert a.get("/v1/record/cosignatures").json()["cosigned_by"] == ["a"]
    _reads_unharmed(store_service, tmp_path)


def test_the_line_kept_is_the_one_that_verifies(store_service: Service, tmp_path: Path) -> None:
    """A note carrying, before the party's valid cosignature, a line of the same name and key hash
    that does not verify: the valid one was checked, the bogus one kept and served to every party as
    the party's cosignature."""
    key, note = _strong_head(store_service)
    valid = cosign(note, witness_name("a"), key, NOW_S)
    line = valid[len(note) :]
    name, encoded = line[2:-1].split(" ")
    raw = b64decode(encoded, "line")
    bogus = f"\u2014 {name} {b64encode(raw[:12] + bytes(64))}\n"
    with store_service.client("a-liaison") as a:
        assert _cosign(a, note + bogus + line).status_code == 201
    with store_service.client("b-liaison") as b:
        served = b.get("/v1/record/cosignatures").json()
    assert served["cosigned_by"] == ["a"]
    assert bogus not in served["note"]
    witness_key = public_key_from_b64(b64encode(raw_public_key(key.public_key())))
    assert parse_note(served["note"]).cosigned_by(witness_name("a"), witness_key) == NOW_S
    _reads_unharmed(store_service, tmp_path)


def test_an_alarm_problem_that_is_not_one_line_is_refused_naming_it(store_service: Service) -> None:
    """An alarm's ``problem`` is posted in every other party's standing thread and recorded: a line
    break forged lines of the message b reads (a fake cosignature, a fake all-clear), ESC a terminal
    escape; each was raised. Now 422 naming ``problem``, nothing recorded or posted."""
    ledger = store_service.runtime.ledger
    old = ledger.latest_head().note
    ledger.append("message.posted", "b", {"text": "after"})
    new = ledger.latest_head().note
    assert old is not None and new is not None
    thread_id = store_service.runtime.hotline.ensure_pair_thread("a", "b").id
    hostile = [
        "does not extend\n\u2014 keepclear.witness/b AAAA\nb: all is well",
        "\x1b[2J\x1b[Hthe log is fine",
        "shrank\r\nok",
        "tab\there",
        "next line\x85",
        "nul\x00",
        "   ",
    ]
    with store_service.client("a-liaison") as a, store_service.client("b-liaison") as b:
        for problem in hostile:
            response = a.post("/v1/record/inconsistency", json={"seen_before": old, "served": new, "problem": problem})
            assert_problem(response, 422, "problem: ")
        assert recorded(store_service, "alert.record_inconsistent", "problem") == set()
        assert [m for m in b.get(f"/v1/hotline/threads/{thread_id}/messages").json() if m["kind"] == "alert"] == []
        fine = a.post("/v1/record/inconsistency", json={"seen_before": old, "served": new, "problem": "the log shrank"})
        assert fine.status_code == 201 and fine.json()["created"] is True, fine.text
        assert recorded(store_service, "alert.record_inconsistent", "problem") == {"the log shrank"}
        alerts = [m for m in b.get(f"/v1/hotline/threads/{thread_id}/messages").json() if m["kind"] == "alert"]
        assert len(alerts) == 1 and "the log shrank" in alerts[0]["body"]
