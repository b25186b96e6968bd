"""The verifier's checkpoints: each one's deployment signature and its signed tree head.

Once the entries are replayed, their hashes are the leaves of the transparency log (docs/record.md,
"The transparency log"): each checkpoint must sign the hash at its seq with a deployment key valid
there, and its note must be the C2SP signed tree head of the first seq leaves. The last checkpoint
must cover the last entry and carry a note, so a truncated or extended export shows.
"""

from __future__ import annotations

from typing import Any

from keepclear.ledger.keys import signature_valid
from keepclear.ledger.merkle import MerkleTree, leaf_hash
from keepclear.ledger.model import DEPLOYMENT, Checkpoint, checkpoint_from_json
from keepclear.ledger.note import parse_note
from keepclear.ledger.verdict import Bad, KeyRecord, VerifyReport


def checkpoints(
    values: list[Any], hashes: list[str], keys: dict[str, KeyRecord], report: VerifyReport, origin: str
) -> None:
    """Check the export's ``checkpoints`` against the entry ``hashes`` and the chain's ``keys``."""
    tree = MerkleTree(leaf_hash(bytes.fromhex(h)) for h in hashes)
    last_seq = 0
    last_note: str | None = None
    agreed_seq = 0  # the largest size a signed tree head so far agrees with
    for index, raw in enumerate(values):
        where, at = f"checkpoint #{index}", f"/checkpoints/{index}"
        try:
            checkpoint: Checkpoint = checkpoint_from_json(raw, where)
        except ValueError as exc:
            raise Bad(str(exc), at) from None
        where = f"{where} (seq {checkpoint.seq})"
        if checkpoint.seq <= last_seq:
            raise Bad(f"{where}: out of order (seq must increase)", at)
        if checkpoint.seq > len(hashes):
            raise Bad(f"{where}: signs seq {checkpoint.seq} but the file ends at seq {len(hashes)} (truncated)", at)
        last_seq = checkpoint.seq
        if checkpoint.head_hash != hashes[checkpoint.seq - 1]:
            raise Bad(f"{where}: head hash differs from entry seq {checkpoint.seq} (the chain was rewritten)", at)
        key = keys.get(checkpoint.key_id)
        if key is None or key.owner != DEPLOYMENT:
            raise Bad(f"{where}: not signed with a deployment key", at)
        if not key.valid_for_checkpoint(checkpoint.seq):
            raise Bad(f"{where}: deployment key {key.key_id} was not valid at seq {checkpoint.seq}", at)
        if not signature_valid(key.public_key, checkpoint.signed_bytes(), checkpoint.signature):
            raise Bad(f"{where}: signature does not verify with deployment key {key.key_id}", at)
        last_note = checkpoint.note
        if checkpoint.note is not None:
            problem = _head_problem(checkpoint.note, origin, checkpoint.seq, tree.root(checkpoint.seq), key)
            if problem is not None:
                span = f"; the first entry that differs is after seq {agreed_seq}" if "root hash" in problem else ""
                raise Bad(f"{where}: signed tree head {problem}{span}", at)
            agreed_seq = checkpoint.seq
            report.tree_heads += 1
            report.root_hash = tree.root(checkpoint.seq).hex()
        report.checkpoints += 1
    if last_seq != len(hashes):
        raise Bad(
            f"entries after seq {last_seq} are not covered by a deployment checkpoint"
            f" (the file ends at seq {len(hashes)}; entries were added or the export is incomplete)",
            "/checkpoints",
        )
    if last_note is None:
        raise Bad("the last checkpoint has no signed tree head (note)", f"/checkpoints/{len(values) - 1}")
    report.origin = origin


def _head_problem(text: str, origin: str, size: int, root: bytes, key: KeyRecord) -> str | None:
    """Why a checkpoint note is not the head of ``size`` leaves with ``root`` signed by ``key``, or None."""
    try:
        note = parse_note(text)
    except ValueError as exc:
        return f"is malformed: {exc}"
    if note.head.origin != origin:
        return f"names origin {note.head.origin!r}, not {origin!r}"
    if note.head.size != size:
        return f"has tree size {note.head.size}, not {size}"
    if note.head.root != root:
        return "root hash differs from the tree of the entries (the log was rewritten)"
    if not note.signed_by(origin, key.public_key):
        return f"has no valid signature by deployment key {key.key_id}"
    return None
