"""Entries, statements and checkpoints of the ledger, and the bytes each signature and hash covers.

A **statement** is what a signer vouches for: acting party, kind, time, the SHA-256 of the canonical
payload, a unique nonce and the audience (parties who may read the payload; ``None`` = everyone).
It carries no sequence number, so a party in strong mode can sign it client-side without knowing
the chain head; the nonce makes each statement unique, so replaying an old signed statement at
another place in the chain is detected. Because the statement signs the payload's *hash*, a party
that may not read a payload still verifies the whole chain from an export with that payload left out.

An **entry** places a signed statement in the chain: ``seq`` (1, 2, ...), ``prev_hash`` (hash of
entry ``seq - 1``; 64 zeros for the first), the payload text, the signer key id and the signature.
Its hash is ``SHA-256(canonical({"type": "entry", "seq", "prev", "statement", "key", "sig"}))`` where
``statement`` is the statement's canonical text, so the hash covers the signature too.

A **checkpoint** is the deployment's signature over ``canonical({"type": "checkpoint", "v": 1,
"seq", "head", "time_us", "key"})``: it pins the chain head so truncation and rewriting are visible.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from keepclear.ledger.canonical import canonical_bytes, canonical_text, sha256_hex

GENESIS_PREV = "0" * 64
STATEMENT_VERSION = 1
#: Owner name of the deployment's own keys (a party id never contains ``@``, see ``domain.ids``).
DEPLOYMENT = "@deployment"


def time_us_of(time_s: float) -> int:
    """Seconds since the epoch as integer microseconds (the signed form of a time)."""
    return round(time_s * 1_000_000)


@dataclass(frozen=True, slots=True)
class Statement:
    """What a signer vouches for (see the module docstring)."""

    party_id: str | None
    kind: str
    time_us: int
    payload_sha256: str
    nonce: str
    audience: tuple[str, ...] | None

    def to_json(self) -> dict[str, Any]:
        """The statement as a JSON object (the signed fields and nothing else)."""
        return {
            "type": "statement",
            "v": STATEMENT_VERSION,
            "party": self.party_id,
            "kind": self.kind,
            "time_us": self.time_us,
            "payload_sha256": self.payload_sha256,
            "nonce": self.nonce,
            "audience": None if self.audience is None else list(self.audience),
        }

    def to_bytes(self) -> bytes:
        """The bytes a signature covers."""
        return canonical_bytes(self.to_json())

    @property
    def signer_owner(self) -> str:
        """Owner of the key expected to sign: the acting party, or the deployment for system events."""
        return self.party_id if self.party_id is not None else DEPLOYMENT


def statement_from_json(value: Any, where: str) -> Statement:
    """Parse a statement object; ``ValueError`` naming the field when it is malformed."""
    if not isinstance(value, dict):
        raise ValueError(f"{where}: not an object")
    if value.get("type") != "statement" or value.get("v") != STATEMENT_VERSION:
        raise ValueError(f"{where}: not a version {STATEMENT_VERSION} statement")
    party = value.get("party")
    if party is not None and not isinstance(party, str):
        raise ValueError(f"{where}.party: not a string or null")
    for name in ("kind", "payload_sha256", "nonce"):
        if not isinstance(value.get(name), str) or not value[name]:
            raise ValueError(f"{where}.{name}: missing or not a string")
    if len(value["kind"]) > 64:
        raise ValueError(f"{where}.kind: longer than 64 characters")
    if not 16 <= len(value["nonce"]) <= 64 or not value["nonce"].isascii() or not value["nonce"].isalnum():
        raise ValueError(f"{where}.nonce: 16 to 64 ASCII letters and digits")
    time_us = value.get("time_us")
    if not isinstance(time_us, int) or isinstance(time_us, bool):
        raise ValueError(f"{where}.time_us: not an integer")
    audience = value.get("audience")
    if audience is not None and (not isinstance(audience, list) or not all(isinstance(a, str) for a in audience)):
        raise ValueError(f"{where}.audience: not a list of party ids or null")
    extra = set(value) - {"type", "v", "party", "kind", "time_us", "payload_sha256", "nonce", "audience"}
    if extra:
        raise ValueError(f"{where}: unknown fields {sorted(extra)}")
    return Statement(party, value["kind"], time_us, value["payload_sha256"], value["nonce"], _tuple(audience))


def _tuple(audience: list[str] | None) -> tuple[str, ...] | None:
    return None if audience is None else tuple(audience)


@dataclass(frozen=True, slots=True)
class Entry:
    """One link of the chain (see the module docstring). ``payload`` is None when redacted."""

    seq: int
    prev_hash: str
    statement: Statement
    payload: str | None
    key_id: str
    signature: str

    def hash(self) -> str:
        """The entry hash the next entry's ``prev_hash`` must equal."""
        return sha256_hex(
            canonical_bytes(
                {
                    "type": "entry",
                    "seq": self.seq,
                    "prev": self.prev_hash,
                    "statement": self.statement.to_bytes().decode("utf-8"),
                    "key": self.key_id,
                    "sig": self.signature,
                }
            )
        )

    def payload_value(self) -> Any:
        """The decoded payload (None when redacted)."""
        return None if self.payload is None else json.loads(self.payload)

    def to_json(self) -> dict[str, Any]:
        """The entry as it appears in an export file."""
        return {
            "seq": self.seq,
            "prev": self.prev_hash,
            "statement": self.statement.to_json(),
            "payload": self.payload,
            "key": self.key_id,
            "sig": self.signature,
        }


def entry_from_json(value: Any, where: str) -> Entry:
    """Parse an exported entry; ``ValueError`` naming the field when it is malformed."""
    if not isinstance(value, dict):
        raise ValueError(f"{where}: not an object")
    seq = value.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise ValueError(f"{where}.seq: not an integer")
    for name in ("prev", "key", "sig"):
        if not isinstance(value.get(name), str):
            raise ValueError(f"{where}.{name}: missing or not a string")
    payload = value.get("payload")
    if payload is not None and not isinstance(payload, str):
        raise ValueError(f"{where}.payload: not a string or null")
    statement = statement_from_json(value.get("statement"), f"{where}.statement")
    return Entry(seq, value["prev"], statement, payload, value["key"], value["sig"])


def payload_text(payload: Any) -> str:
    """Canonical text of a payload (what is stored, hashed and exported)."""
    return canonical_text(payload)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The deployment's signature over the chain head at ``seq``."""

    seq: int
    head_hash: str
    time_us: int
    key_id: str
    signature: str

    def signed_bytes(self) -> bytes:
        """The bytes the deployment signs."""
        return checkpoint_bytes(self.seq, self.head_hash, self.time_us, self.key_id)

    def to_json(self) -> dict[str, Any]:
        """The checkpoint as it appears in an export file."""
        return {
            "seq": self.seq,
            "head": self.head_hash,
            "time_us": self.time_us,
            "key": self.key_id,
            "sig": self.signature,
        }


def checkpoint_bytes(seq: int, head_hash: str, time_us: int, key_id: str) -> bytes:
    """The bytes of a checkpoint signature."""
    return canonical_bytes(
        {"type": "checkpoint", "v": STATEMENT_VERSION, "seq": seq, "head": head_hash, "time_us": time_us, "key": key_id}
    )


def checkpoint_from_json(value: Any, where: str) -> Checkpoint:
    """Parse an exported checkpoint; ``ValueError`` naming the field when it is malformed."""
    if not isinstance(value, dict):
        raise ValueError(f"{where}: not an object")
    for name in ("seq", "time_us"):
        if not isinstance(value.get(name), int) or isinstance(value.get(name), bool):
            raise ValueError(f"{where}.{name}: not an integer")
    for name in ("head", "key", "sig"):
        if not isinstance(value.get(name), str):
            raise ValueError(f"{where}.{name}: missing or not a string")
    return Checkpoint(value["seq"], value["head"], value["time_us"], value["key"], value["sig"])
