"""The record as a transparency log: Merkle proofs against a brute-force RFC 9162, signed tree heads,
proof files through the CLI, and proofs that fail when anything is changed."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from keepclear.cli.main import main
from keepclear.ledger import Ledger, LedgerConfig, sign_submission, verify_document
from keepclear.ledger.book import EntryDraft
from keepclear.ledger.canonical import canonical_bytes, sha256_hex
from keepclear.ledger.keys import public_key_b64
from keepclear.ledger.merkle import EMPTY_ROOT, MerkleTree, verify_consistency, verify_inclusion
from keepclear.ledger.model import Statement, entry_from_json, entry_hash
from keepclear.ledger.note import TreeHead, cosign, parse_note, parse_vkey, sign_head, vkey
from keepclear.ledger.proofs import verify_proof
from keepclear.services.record.signer import open_ledger
from keepclear.services.runtime.bus import ManualClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A deployment folder whose ledger holds a few entries."""
    data = tmp_path / "data"
    deployment = Deployment.open(Settings(data_dir=data), clock=ManualClock(1_764_720_000.0), create=True)
    ledger = open_ledger(deployment.db, deployment.clock, data)
    for i in range(6):
        ledger.append("message.posted", "coalition", {"message_id": f"m{i}"})
    deployment.close()
    return data


# -- brute force: RFC 9162 §2.1 written as its recursive definitions ----------------------------------
def _mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1 << ((n - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def _path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return [*_path(m, leaves[:k]), _mth(leaves[k:])]
    return [*_path(m - k, leaves[k:]), _mth(leaves[:k])]


def _subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [_mth(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete), _mth(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), _mth(leaves[:k])]


def _data(n: int) -> list[bytes]:
    return [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(n)]


def _tree(leaves: list[bytes]) -> MerkleTree:
    return MerkleTree(hashlib.sha256(b"\x00" + leaf).digest() for leaf in leaves)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 140).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n), st.integers(0, n - 1))))
def test_roots_and_inclusion_proofs_match_the_rfc_definitions(case: tuple[int, int, int]) -> None:
    n, size, index = case
    index %= size
    leaves = _data(n)
    tree = _tree(leaves)
    assert tree.root(size) == _mth(leaves[:size])
    proof = tree.inclusion_proof(index, size)
    assert proof == _path(index, leaves[:size])
    leaf = hashlib.sha256(b"\x00" + leaves[index]).digest()
    root = tree.root(size)
    assert verify_inclusion(index, size, leaf, proof, root)
    assert not verify_inclusion(index, size, hashlib.sha256(b"other").digest(), proof, root)
    if size > 1:
        assert not verify_inclusion((index + 1) % size, size, leaf, proof, root)
        assert not verify_inclusion(index, size, leaf, proof[:-1], root)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 140).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))))
def test_consistency_proofs_match_the_rfc_definitions(case: tuple[int, int]) -> None:
    old, new = case
    leaves = _data(new)
    tree = _tree(leaves)
    proof = tree.consistency_proof(old, new)
    assert proof == ([] if old == new else _subproof(old, leaves, True))
    old_root, new_root = _mth(leaves[:old]), _mth(leaves)
    assert verify_consistency(old, new, old_root, new_root, proof)
    forged = _mth([b"forged", *leaves[1:old]])
    assert not verify_consistency(old, new, forged, new_root, proof)
    if old < new:
        assert not verify_consistency(old, new, old_root, hashlib.sha256(b"x").digest(), proof)


def test_appending_truncating_and_the_empty_tree() -> None:
    leaves = _data(37)
    tree = _tree(leaves)
    assert MerkleTree().root() == EMPTY_ROOT == _mth([])
    tree.truncate(20)
    assert tree.size == 20 and tree.root() == _mth(leaves[:20])
    tree.extend(hashlib.sha256(b"\x00" + leaf).digest() for leaf in leaves[20:])
    assert tree.root() == _mth(leaves)
    with pytest.raises(ValueError, match="not between"):
        tree.root(38)


def test_checkpoint_note_is_the_c2sp_format_and_cosignatures_verify() -> None:
    key = Ed25519PrivateKey.generate()
    text = sign_head(TreeHead("keepclear.ledger/0011223344556677", 5, b"\x07" * 32), key)
    lines = text.split("\n")
    assert lines[:4] == ["keepclear.ledger/0011223344556677", "5", base64.b64encode(b"\x07" * 32).decode(), ""]
    assert lines[4].startswith("\u2014 keepclear.ledger/0011223344556677 ") and text.endswith("\n")
    note = parse_note(text)
    name, public_key = parse_vkey(vkey(note.head.origin, key.public_key()))
    assert note.signed_by(name, public_key)
    assert not note.signed_by(name, Ed25519PrivateKey.generate().public_key())
    witness = Ed25519PrivateKey.generate()
    cosigned = cosign(text, "witness.b", witness, 1_764_720_000)
    assert parse_note(cosigned).cosigned_by("witness.b", witness.public_key()) == 1_764_720_000
    assert parse_note(cosigned).signed_by(name, public_key)
    edited = text.replace("\n5\n", "\n6\n")
    assert not parse_note(edited).signed_by(name, public_key)
    for bad in (text.replace("\n\n", "\n"), "x\n5\n\n" + lines[4] + "\n", text.replace("\n5\n", "\n05\n")):
        with pytest.raises(ValueError):
            parse_note(bad)


def test_inclusion_and_consistency_proofs_of_the_ledger(populated: Ledger, clock: ManualClock) -> None:
    old_head = populated.latest_head()
    for i in range(9):
        populated.append("message.posted", "coalition", {"message_id": f"p{i}"}, audience=["coalition"])
    new_head = populated.latest_head()
    assert new_head.seq == old_head.seq + 9 + 0 and new_head.note is not None
    report = verify_document(populated.export_document())
    assert report.ok and report.tree_heads == report.checkpoints
    for seq in (1, 5, new_head.seq):
        proof = populated.inclusion_proof(seq)
        assert verify_proof(proof).ok, verify_proof(proof).problem
    consistency = populated.consistency_proof(old_head.seq)
    assert verify_proof(consistency).ok
    pinned = populated.deployment_vkeys()
    assert verify_proof(consistency, pinned).ok
    assert not verify_proof(
        consistency, [vkey(parse_note(new_head.note).head.origin, Ed25519PrivateKey.generate().public_key())]
    ).ok


def _broken(document: dict[str, Any], edit: str) -> dict[str, Any]:
    doc = json.loads(json.dumps(document))
    if edit == "payload":
        doc["entry"]["payload"] = doc["entry"]["payload"].replace("{", "{ ", 1)
    elif edit == "statement":
        doc["entry"]["statement"]["time_us"] += 1
    elif edit == "path":
        doc["proof"][0] = base64.b64encode(hashlib.sha256(b"x").digest()).decode()
    elif edit == "size":
        doc["tree_size"] -= 1
    elif edit == "head":
        doc["checkpoint"] = doc["checkpoint"].replace("\n", "\n1", 1)
    return doc


@pytest.mark.parametrize("edit", ["payload", "statement", "path", "size", "head"])
def test_an_inclusion_proof_fails_when_anything_changes(populated: Ledger, edit: str) -> None:
    for i in range(5):
        populated.append("message.posted", "coalition", {"message_id": f"p{i}"})
    proof = populated.inclusion_proof(10)
    assert verify_proof(proof).ok
    report = verify_proof(_broken(proof, edit))
    assert not report.ok and report.at in ("/entry", "/proof", "/checkpoint", "/tree_size"), report.problem


def test_a_party_proves_only_entries_it_may_read(populated: Ledger) -> None:
    private = next(e for e in populated.entries() if e.statement.audience == ("coalition",))
    assert verify_proof(populated.inclusion_proof(private.seq, for_party="coalition")).ok
    with pytest.raises(Exception, match="no such entry"):
        populated.inclusion_proof(private.seq, for_party="russia")


def test_prove_consistency_head_and_verify_on_the_command_line(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--data-dir", str(data_dir)]
    assert main([*base, "ledger", "checkpoint"]) == 0
    capsys.readouterr()
    assert main([*base, "ledger", "head"]) == 0
    out = capsys.readouterr()
    head = parse_note(out.out)
    published = out.err.split("vkey ", 1)[1].split()[0]
    assert parse_vkey(published)[0] == head.head.origin
    proof_file, consistency_file = tmp_path / "inclusion.json", tmp_path / "consistency.json"
    assert main([*base, "ledger", "prove", "1", "-o", str(proof_file)]) == 0
    assert main([*base, "ledger", "consistency", str(head.head.size), "-o", str(consistency_file)]) == 0
    capsys.readouterr()
    assert main(["ledger", "verify", str(proof_file), "--vkey", published]) == 0
    assert "is in the log" in capsys.readouterr().out
    assert main(["ledger", "verify", str(consistency_file)]) == 0
    stranger = vkey(head.head.origin, Ed25519PrivateKey.generate().public_key())
    assert main(["ledger", "verify", str(proof_file), "--vkey", stranger]) == 1
    assert "not signed by the pinned key" in capsys.readouterr().err
    assert main([*base, "ledger", "consistency", "999999"]) == 1


@pytest.fixture
def batch_ledger(deployment: Deployment, tmp_path: Path) -> Ledger:
    """A ledger with the default batch signing."""
    return open_ledger(
        deployment.db, deployment.clock, tmp_path / "batch", config=LedgerConfig(checkpoint_every_entries=50)
    )


def test_batch_signed_entries_are_vouched_for_by_the_signed_heads(batch_ledger: Ledger) -> None:
    drafts = [EntryDraft("alert.raised", None, {"alert_id": f"al{i}"}, None, ["a", "b"]) for i in range(120)]
    entries = batch_ledger.append_many(drafts)
    assert all(e.key_id is None and e.signature is None for e in entries)
    document = batch_ledger.export_document()
    report = verify_document(document)
    assert report.ok, report.problem
    assert report.head_vouched == 120 and report.checkpoints >= 3  # every 50 entries, and the export's
    # Edit an unsigned entry and re-link the chain: only the deployment's signed heads can tell.
    doc = json.loads(json.dumps(document))
    target = doc["entries"][60]
    target["payload"] = target["payload"].replace("al5", "al9")
    target["statement"]["payload_sha256"] = hashlib.sha256(target["payload"].encode()).hexdigest()
    prev = "0" * 64
    for raw in doc["entries"]:
        raw["prev"] = prev
        prev = entry_from_json(raw, "x").hash()
    broken = verify_document(doc)
    first = next(i for i, c in enumerate(doc["checkpoints"]) if c["seq"] >= 61)
    assert broken.at == f"/checkpoints/{first}" and "the chain was rewritten" in (broken.problem or "")


def test_key_entries_and_submissions_stay_signed_in_batch_mode(batch_ledger: Ledger, clock: ManualClock) -> None:
    strong = Ed25519PrivateKey.generate()
    batch_ledger.register_public_key("b", public_key_b64(strong.public_key()))
    batch_ledger.append("message.posted", "a", {"text": "custodial"})
    entry = batch_ledger.append_submission(
        sign_submission(strong, "b", "activity.objected", {"activity_id": "x"}, time_s=clock.now_s())
    )
    assert entry.signature is not None
    kinds = {e.statement.kind: e.signature is not None for e in batch_ledger.entries()}
    assert kinds == {
        "ledger.genesis": True,
        "key.registered": True,
        "message.posted": False,
        "activity.objected": True,
    }
    assert verify_document(batch_ledger.export_document()).ok


@settings(max_examples=80, deadline=None)
@given(
    st.one_of(st.none(), st.text(max_size=12)),
    st.text(min_size=1, max_size=20),
    st.integers(0, 2**62),
    st.one_of(st.none(), st.lists(st.text(max_size=8), max_size=4)),
)
def test_the_direct_statement_and_entry_texts_are_the_canonical_ones(
    party: str | None, kind: str, time_us: int, audience: list[str] | None
) -> None:
    statement = Statement(party, kind, time_us, "ab" * 32, "n" * 16, None if audience is None else tuple(audience))
    assert statement.to_bytes() == canonical_bytes(statement.to_json())
    expected = {"type": "entry", "seq": 3, "prev": "0" * 64, "statement": statement.text(), "key": None, "sig": kind}
    assert entry_hash(3, "0" * 64, statement.text(), None, kind) == sha256_hex(canonical_bytes(expected))


def test_checkpoints_stored_before_the_transparency_log_get_a_head_at_the_next_export(populated: Ledger) -> None:
    from keepclear.store import ledger as store

    with populated._db.write() as conn:  # what migration 0010 leaves: checkpoints without a tree head
        conn.execute(store.ledger_checkpoints.update().values(note=None))
    populated._tlog.forget()
    document = populated.export_document()
    report = verify_document(document)
    assert report.ok, report.problem
    assert document["checkpoints"][-1]["note"] is not None and report.tree_heads == 1
    assert all(c["note"] is None for c in document["checkpoints"][:-1])
    document["checkpoints"][-1]["note"] = None
    assert verify_document(document).at == f"/checkpoints/{len(document['checkpoints']) - 1}"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=8))
def test_extending_in_chunks_builds_the_tree_appending_one_by_one_builds(chunks: list[int]) -> None:
    leaves = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(sum(chunks))]
    one_by_one, chunked = MerkleTree(), MerkleTree()
    for leaf in leaves:
        one_by_one.append(leaf)
    start = 0
    for size in chunks:
        chunked.extend(leaves[start : start + size])
        start += size
    assert chunked.size == one_by_one.size == len(leaves)
    for size in range(len(leaves) + 1):
        assert chunked.root(size) == one_by_one.root(size)
    if leaves:
        last = len(leaves) - 1
        assert chunked.inclusion_proof(last // 2, last + 1) == one_by_one.inclusion_proof(last // 2, last + 1)
