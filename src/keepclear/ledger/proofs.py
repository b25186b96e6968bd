"""Offline checks of inclusion and consistency proof files (docs/record.md, "Proofs").

Needs nothing but the file: the entry hash, the RFC 9162 proof verification (``merkle``) and the
signed tree heads (``note``). The deployment key is the file's ``log_keys`` unless the caller pins
one (``pinned``: vkeys it got out of band); the report names the key that signed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keepclear.ledger.canonical import b64decode, sha256_hex
from keepclear.ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from keepclear.ledger.model import entry_from_json
from keepclear.ledger.note import Note, parse_note, parse_vkey
from keepclear.ledger.spec import CONSISTENCY_FORMAT, INCLUSION_FORMAT, PROOF_VERSION
from keepclear.ledger.verdict import Bad

INCLUSION_FIELDS = frozenset({"format", "version", "seq", "tree_size", "entry", "proof", "checkpoint", "log_keys"})
CONSISTENCY_FIELDS = frozenset({"format", "version", "old", "new", "proof", "log_keys"})


@dataclass
class ProofReport:
    """The outcome of checking a proof file: ``problem`` None when it holds."""

    problem: str | None
    at: str | None = None
    what: str = ""
    signed_by: str | None = None

    @property
    def ok(self) -> bool:
        """True when the proof holds."""
        return self.problem is None

    def summary(self) -> str:
        """One line for people."""
        if self.problem is not None:
            return f"BAD: {self.problem}"
        return f"OK: {self.what}; signed tree head(s) signed by {self.signed_by} (compare with the published key)"


def is_proof(document: Any) -> bool:
    """True when ``document`` says it is a proof file."""
    return isinstance(document, dict) and document.get("format") in (INCLUSION_FORMAT, CONSISTENCY_FORMAT)


def verify_proof(document: dict[str, Any], pinned: list[str] | None = None) -> ProofReport:
    """Check an inclusion or consistency proof file (see the module docstring)."""
    report = ProofReport(problem=None)
    try:
        if document.get("format") == INCLUSION_FORMAT:
            _inclusion(document, pinned, report)
        else:
            _consistency(document, pinned, report)
    except Bad as bad:
        report.problem, report.at = str(bad), bad.at
    return report


def _fields(document: dict[str, Any], fields: frozenset[str]) -> None:
    if set(document) != fields:
        missing, extra = sorted(fields - set(document)), sorted(set(document) - fields)
        raise Bad(f"the file's fields differ from the spec (missing {missing}, unknown {extra})", "")
    if document["version"] != PROOF_VERSION or isinstance(document["version"], bool):
        raise Bad(f"unknown proof version {document['version']!r}", "/version")


def _hashes(value: Any) -> list[bytes]:
    if not isinstance(value, list):
        raise Bad("proof: not a list", "/proof")
    out = []
    for index, item in enumerate(value):
        try:
            raw = b64decode(item, f"proof[{index}]")
        except ValueError as exc:
            raise Bad(str(exc), f"/proof/{index}") from None
        if len(raw) != 32:
            raise Bad(f"proof[{index}]: not a 32-byte hash", f"/proof/{index}")
        out.append(raw)
    return out


def _signed_note(value: Any, keys: Any, pinned: list[str] | None, at: str) -> tuple[Note, str]:
    try:
        note = parse_note(value)
    except ValueError as exc:
        raise Bad(f"{at[1:]}: not a signed tree head ({exc})", at) from None
    trusted = pinned if pinned is not None else keys
    if not isinstance(trusted, list) or not all(isinstance(k, str) for k in trusted):
        raise Bad("log_keys: not a list of verifier keys", "/log_keys")
    for text in trusted:
        try:
            name, public_key = parse_vkey(text)
        except ValueError as exc:
            if pinned is not None:  # the caller's own key, not the file's
                raise Bad(f"the pinned key: {exc}", "") from None
            raise Bad(f"log_keys: {exc}", "/log_keys") from None
        if name == note.head.origin and note.signed_by(name, public_key):
            return note, text
    which = "the pinned key" if pinned is not None else "any of log_keys"
    raise Bad(f"{at[1:]}: not signed by {which} for origin {note.head.origin}", at)


def _int(document: dict[str, Any], name: str, minimum: int) -> int:
    value = document[name]
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise Bad(f"{name}: not an integer of at least {minimum}", f"/{name}")
    return value


def _inclusion(document: dict[str, Any], pinned: list[str] | None, report: ProofReport) -> None:
    _fields(document, INCLUSION_FIELDS)
    seq, size = _int(document, "seq", 1), _int(document, "tree_size", 1)
    try:
        entry = entry_from_json(document["entry"], "entry")
    except ValueError as exc:
        raise Bad(str(exc), "/entry") from None
    if entry.seq != seq or seq > size:
        raise Bad(f"entry: seq {entry.seq} is not the proven seq {seq} (at most tree_size {size})", "/entry")
    if entry.payload is None or sha256_hex(entry.payload.encode("utf-8")) != entry.statement.payload_sha256:
        raise Bad("entry: payload missing or not matching its signed hash", "/entry")
    proof = _hashes(document["proof"])
    note, key = _signed_note(document["checkpoint"], document["log_keys"], pinned, "/checkpoint")
    if note.head.size != size:
        raise Bad(f"checkpoint: tree size {note.head.size}, not {size}", "/checkpoint")
    leaf = leaf_hash(bytes.fromhex(entry.hash()))
    if not verify_inclusion(seq - 1, size, leaf, proof, note.head.root):
        raise Bad(f"proof: entry {seq} is not in the tree of size {size} the head signs", "/proof")
    report.what = f"entry {seq} ({entry.statement.kind}) is in the log {note.head.origin} of {size} entries"
    report.signed_by = key


def _consistency(document: dict[str, Any], pinned: list[str] | None, report: ProofReport) -> None:
    _fields(document, CONSISTENCY_FIELDS)
    proof = _hashes(document["proof"])
    old, old_key = _signed_note(document["old"], document["log_keys"], pinned, "/old")
    new, new_key = _signed_note(document["new"], document["log_keys"], pinned, "/new")
    if old.head.origin != new.head.origin:
        raise Bad(f"new: origin {new.head.origin}, not the old head's {old.head.origin}", "/new")
    o, n = old.head, new.head
    if not verify_consistency(o.size, n.size, o.root, n.root, proof):
        raise Bad(f"proof: the head of size {n.size} does not extend the head of size {o.size}", "/proof")
    report.what = f"the log {o.origin} of {n.size} entries extends its head of {o.size} entries"
    report.signed_by = old_key if old_key == new_key else f"{old_key} and {new_key}"
