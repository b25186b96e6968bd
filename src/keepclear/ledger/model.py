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

A **placeholder** stands in a party's export for an entry the party may not read: its ``seq``, its
``prev`` and its entry hash, nothing that says who, what, when or to whom. The hash is the leaf of the
transparency log and the next entry's ``prev``, so the party still checks the chain's continuity and
that the signed tree heads cover exactly these leaves; it cannot be inverted or confirmed by guessing,
because the hashed statement carries a random nonce (and a signed entry a signature nobody else can make).

A **checkpoint** is the deployment's signature over ``canonical({"type": "checkpoint", "v": 1,
"seq", "head", "time_us", "key"})``: it pins the chain head so truncation and rewriting are visible.
"""

from __future__ import annotations

import itertools
import json
import json.encoder
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from keepclear.ledger.canonical import b64decode, canonical_bytes, canonical_text, sha256_hex

GENESIS_PREV = "0" * 64
STATEMENT_VERSION = 1
#: Owner name of the deployment's own keys (a party id never contains ``@``, see ``domain.ids``).
DEPLOYMENT = "@deployment"


#: A JSON string literal exactly as the canonical form writes it (``ensure_ascii=False`` escaping).
_json_str: Callable[[str], str] = json.encoder.c_encode_basestring or json.encoder.py_encode_basestring  # type: ignore[attr-defined]
json_string = _json_str

#: Syntax of the fields a verifier checks (docs/record.md, "Field syntax").
HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
KEY_ID_RE = re.compile(r"^ed25519:[0-9a-f]{16}$")
PARTY_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
KIND_RE = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$")
NONCE_RE = re.compile(r"^[A-Za-z0-9]{16,64}$")
KIND_MAX_CHARS = 64
#: Integers in signed headers are non-negative and below 2**63 (they fit a signed 64-bit column).
INT_LIMIT = 2**63
STATEMENT_FIELDS = frozenset({"type", "v", "party", "kind", "time_us", "payload_sha256", "nonce", "audience"})
ENTRY_FIELDS = frozenset({"seq", "prev", "statement", "payload", "key", "sig"})
PLACEHOLDER_FIELDS = frozenset({"seq", "prev", "hash"})
CHECKPOINT_FIELDS = frozenset({"seq", "head", "time_us", "key", "sig", "note"})


def kind_problem(kind: object) -> str | None:
    """Why ``kind`` is not a valid entry kind (dotted lower-case words, at most 64 characters), or None."""
    if not isinstance(kind, str) or not KIND_RE.match(kind):
        return "not dotted lower-case words (e.g. message.posted)"
    if len(kind) > KIND_MAX_CHARS:
        return f"longer than {KIND_MAX_CHARS} characters"
    return None


def _int(value: Any, where: str, minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value < INT_LIMIT:
        raise ValueError(f"{where}: not an integer from {minimum} to 2**63 - 1")
    return value


def _text(value: Any, pattern: re.Pattern[str], where: str, what: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise ValueError(f"{where}: not {what}")
    return value


def _closed(value: Any, fields: frozenset[str], where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: not an object")
    if set(value) != fields:
        missing, extra = sorted(fields - set(value)), sorted(set(value) - fields)
        raise ValueError(f"{where}: fields differ from the spec (missing {missing}, unknown {extra})")
    return value


def signature_field(value: Any, where: str) -> str:
    """Check an Ed25519 signature field: canonical base64 of 64 bytes."""
    if not isinstance(value, str):
        raise ValueError(f"{where}: not a string")
    if len(b64decode(value, where)) != 64:
        raise ValueError(f"{where}: an Ed25519 signature is 64 bytes")
    return value


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
        """The bytes a signature covers: ``canonical_bytes(self.to_json())``, written directly (hot path;
        ``test_record_canonical`` checks the two agree)."""
        return self.text().encode("utf-8")

    def text(self) -> str:
        """The canonical text of the statement (see ``to_bytes``)."""
        audience = "null" if self.audience is None else "[" + ",".join(map(_json_str, self.audience)) + "]"
        party = "null" if self.party_id is None else _json_str(self.party_id)
        return (
            f'{{"audience":{audience},"kind":{_json_str(self.kind)},"nonce":{_json_str(self.nonce)},'
            f'"party":{party},"payload_sha256":{_json_str(self.payload_sha256)},"time_us":{int(self.time_us)},'
            f'"type":"statement","v":{STATEMENT_VERSION}}}'
        )

    @property
    def signer_owner(self) -> str:
        """Owner of the key expected to sign: the acting party, or the deployment for system events."""
        return self.party_id if self.party_id is not None else DEPLOYMENT


def statement_from_json(value: Any, where: str) -> Statement:
    """Parse a statement object; ``ValueError`` naming the field when it is malformed (docs/record.md)."""
    value = _closed(value, STATEMENT_FIELDS, where)
    if value["type"] != "statement" or value["v"] != STATEMENT_VERSION or isinstance(value["v"], bool):
        raise ValueError(f"{where}: not a version {STATEMENT_VERSION} statement")
    party = value["party"]
    if party is not None:
        _text(party, PARTY_RE, f"{where}.party", "a party id or null")
    problem = kind_problem(value["kind"])
    if problem is not None:
        raise ValueError(f"{where}.kind: {problem}")
    time_us = _int(value["time_us"], f"{where}.time_us")
    _text(value["payload_sha256"], HEX64_RE, f"{where}.payload_sha256", "64 lower-case hex digits")
    _text(value["nonce"], NONCE_RE, f"{where}.nonce", "16 to 64 ASCII letters and digits")
    audience = value["audience"]
    if audience is not None:
        if not isinstance(audience, list) or not all(isinstance(a, str) and PARTY_RE.match(a) for a in audience):
            raise ValueError(f"{where}.audience: not a list of party ids or null")
        if any(a >= b for a, b in itertools.pairwise(audience)):
            raise ValueError(f"{where}.audience: not sorted without duplicates")
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
    #: None (with ``signature``) for an entry the deployment vouches for by a signed tree head alone.
    key_id: str | None
    signature: str | None

    def hash(self) -> str:
        """The entry hash the next entry's ``prev_hash`` must equal."""
        return entry_hash(self.seq, self.prev_hash, self.statement.text(), self.key_id, self.signature)

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


def entry_hash(seq: int, prev: str, statement_text: str, key_id: str | None, signature: str | None) -> str:
    """SHA-256 of the canonical ``{"type": "entry", "seq", "prev", "statement": <text>, "key", "sig"}``."""
    key = "null" if key_id is None else _json_str(key_id)
    sig = "null" if signature is None else _json_str(signature)
    text = (
        f'{{"key":{key},"prev":{_json_str(prev)},"seq":{int(seq)},"sig":{sig},'
        f'"statement":{_json_str(statement_text)},"type":"entry"}}'
    )
    return sha256_hex(text.encode("utf-8"))


def entry_from_json(value: Any, where: str) -> Entry:
    """Parse an exported entry; ``ValueError`` naming the field when it is malformed (docs/record.md)."""
    value = _closed(value, ENTRY_FIELDS, where)
    seq = _int(value["seq"], f"{where}.seq", 1)
    _text(value["prev"], HEX64_RE, f"{where}.prev", "64 lower-case hex digits")
    if value["key"] is not None or value["sig"] is not None:  # both null: vouched for by a tree head
        _text(value["key"], KEY_ID_RE, f"{where}.key", "a key id (ed25519: and 16 lower-case hex digits)")
        signature_field(value["sig"], f"{where}.sig")
    payload = value["payload"]
    if payload is not None and not isinstance(payload, str):
        raise ValueError(f"{where}.payload: not a string or null")
    statement = statement_from_json(value["statement"], f"{where}.statement")
    return Entry(seq, value["prev"], statement, payload, value["key"], value["sig"])


@dataclass(frozen=True, slots=True)
class Placeholder:
    """An entry its reader may not see (see the module docstring): where it is and its hash, nothing more."""

    seq: int
    prev_hash: str
    entry_hash: str

    def hash(self) -> str:
        """The entry hash (given, not computed: the reader does not have what it covers)."""
        return self.entry_hash

    def to_json(self) -> dict[str, Any]:
        """The placeholder as it appears in a party's export file."""
        return {"seq": self.seq, "prev": self.prev_hash, "hash": self.entry_hash}


def placeholder_of(entry: Entry, entry_hash: str | None = None) -> Placeholder:
    """The placeholder of ``entry`` (``entry_hash``: its hash when the caller has it, e.g. stored)."""
    return Placeholder(entry.seq, entry.prev_hash, entry.hash() if entry_hash is None else entry_hash)


def placeholder_from_json(value: Any, where: str) -> Placeholder:
    """Parse a placeholder; ``ValueError`` naming the field when it is malformed (docs/record.md)."""
    value = _closed(value, PLACEHOLDER_FIELDS, where)
    seq = _int(value["seq"], f"{where}.seq", 1)
    _text(value["prev"], HEX64_RE, f"{where}.prev", "64 lower-case hex digits")
    _text(value["hash"], HEX64_RE, f"{where}.hash", "64 lower-case hex digits")
    return Placeholder(seq, value["prev"], value["hash"])


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
    #: The signed tree head of size ``seq`` (C2SP checkpoint note); None only in a checkpoint stored
    #: before the ledger was a transparency log.
    note: str | None = None

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
            "note": self.note,
        }


def checkpoint_bytes(seq: int, head_hash: str, time_us: int, key_id: str) -> bytes:
    """The bytes of a checkpoint signature."""
    return canonical_bytes(
        {"type": "checkpoint", "v": STATEMENT_VERSION, "seq": seq, "head": head_hash, "time_us": time_us, "key": key_id}
    )


def checkpoint_from_json(value: Any, where: str) -> Checkpoint:
    """Parse an exported checkpoint; ``ValueError`` naming the field when it is malformed (docs/record.md)."""
    value = _closed(value, CHECKPOINT_FIELDS, where)
    seq = _int(value["seq"], f"{where}.seq", 1)
    time_us = _int(value["time_us"], f"{where}.time_us")
    _text(value["head"], HEX64_RE, f"{where}.head", "64 lower-case hex digits")
    _text(value["key"], KEY_ID_RE, f"{where}.key", "a key id (ed25519: and 16 lower-case hex digits)")
    signature_field(value["sig"], f"{where}.sig")
    note = value["note"]
    if note is not None and not isinstance(note, str):
        raise ValueError(f"{where}.note: not a string or null")
    return Checkpoint(seq, value["head"], time_us, value["key"], value["sig"], note)
