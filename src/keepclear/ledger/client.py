"""Strong mode: a party signs its submissions itself; the deployment only verifies them.

A submission is a JSON object ``{"statement": {...}, "payload": "<canonical JSON text>",
"key": "<key id>", "sig": "<base64 Ed25519 signature of the canonical statement>"}``. The client
builds it with ``sign_submission``; the API parses it with ``parse_submission`` and
``Ledger.verify_submission`` checks the key, signature, payload hash, time and nonce before anything
is stored. This module needs only ``cryptography``: a party can copy the rules into its own tools.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from keepclear.ledger.canonical import canonical_bytes, sha256_hex
from keepclear.ledger.keys import Ed25519PrivateKey, key_id_of, sign_b64
from keepclear.ledger.model import Statement, payload_text, statement_from_json, time_us_of


@dataclass(frozen=True, slots=True)
class Submission:
    """A statement signed by its party, with the payload it commits to."""

    statement: Statement
    payload: str
    key_id: str
    signature: str

    def to_json(self) -> dict[str, Any]:
        """The wire form."""
        return {
            "statement": self.statement.to_json(),
            "payload": self.payload,
            "key": self.key_id,
            "sig": self.signature,
        }


def sign_submission(
    private_key: Ed25519PrivateKey,
    party_id: str,
    kind: str,
    payload: Any,
    *,
    time_s: float,
    audience: list[str] | None = None,
    nonce: str | None = None,
) -> Submission:
    """Sign ``payload`` of ``kind`` as ``party_id`` at ``time_s`` (client side; the key never leaves)."""
    text = payload_text(payload)
    statement = Statement(
        party_id=party_id,
        kind=kind,
        time_us=time_us_of(time_s),
        payload_sha256=sha256_hex(text.encode("utf-8")),
        nonce=nonce or uuid.uuid4().hex,
        audience=None if audience is None else tuple(sorted(set(audience))),
    )
    return Submission(statement, text, key_id_of(private_key.public_key()), sign_b64(private_key, statement.to_bytes()))


def parse_submission(value: Any) -> Submission:
    """Read the wire form; ``ValueError`` naming the field when it is malformed or inconsistent."""
    if not isinstance(value, dict):
        raise ValueError("submission: not an object")
    statement = statement_from_json(value.get("statement"), "statement")
    if statement.party_id is None:
        raise ValueError("statement.party: a submission names its party")
    for name in ("payload", "key", "sig"):
        if not isinstance(value.get(name), str) or not value[name]:
            raise ValueError(f"{name}: missing or not a string")
    payload = value["payload"]
    if sha256_hex(payload.encode("utf-8")) != statement.payload_sha256:
        raise ValueError("payload: does not match statement.payload_sha256")
    try:
        canonical = canonical_bytes(json.loads(payload)).decode("utf-8")
    except ValueError:
        raise ValueError("payload: not JSON") from None
    if canonical != payload:
        raise ValueError("payload: not in canonical form (sorted keys, no spaces; see keepclear.ledger.canonical)")
    return Submission(statement, payload, value["key"], value["sig"])
