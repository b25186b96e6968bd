"""Strong mode's submissions: a party's own words reach the ledger only as statements it signed.

The API checks a strong-mode party's request against the submission it signed (``check_request``)
before acting, and appends it once the request succeeded (``append_submission``), which refuses an
unsigned, wrongly signed, stale or replayed one (``SignatureRefused``). A submitted ``key.rotated``
rotates the party's key to the one it names.
"""

from __future__ import annotations

import json
from typing import Any

from keepclear.ledger.client import Submission, parse_submission
from keepclear.ledger.core import SignatureRefused
from keepclear.ledger.custody import KeyCustody, require_new_key_message
from keepclear.ledger.keys import key_id_of, public_key_from_b64, signature_valid
from keepclear.ledger.model import Entry, payload_text, time_us_of
from keepclear.ledger.spec import GENESIS_KIND, KEY_REGISTERED, KEY_ROTATED, ROTATED_FIELDS
from keepclear.store import ledger as store
from keepclear.store.ledger import StoredKey


class Submissions(KeyCustody):
    """Verifying and appending a strong-mode party's signed submissions."""

    def verify_submission(self, submission: Submission) -> None:
        """Refuse (``SignatureRefused``) a submission that strong mode must not accept.

        Checks: the party is in strong mode, the key is its current key, the signature verifies over
        the statement, the payload matches its hash (done by ``parse_submission``), the time is within
        ``submission_skew_s`` of the deployment clock, and the nonce was never used.
        """
        statement = submission.statement
        party_id = statement.party_id
        with self._db.read() as conn:
            key = store.active_key(conn, party_id) if party_id is not None else None
            replayed = store.nonce_used(conn, statement.nonce)
        if key is None or key.custodial:
            raise SignatureRefused(f"party {party_id}: not in strong mode (no registered public key)")
        if submission.key_id != key.key_id:
            raise SignatureRefused(f"key {submission.key_id}: not the current key of {party_id} ({key.key_id})")
        if not signature_valid(public_key_from_b64(key.public_key), statement.to_bytes(), submission.signature):
            raise SignatureRefused(f"sig: does not verify with {party_id}'s key {key.key_id}")
        skew_us = abs(statement.time_us - time_us_of(self._clock.now_s()))
        if skew_us > time_us_of(self._config.submission_skew_s):
            raise SignatureRefused(
                f"statement.time_us: {skew_us / 1e6:.0f} s from the deployment clock"
                f" (more than {self._config.submission_skew_s:g} s)"
            )
        if replayed:
            raise SignatureRefused(f"statement.nonce: {statement.nonce} was already used (replay)")

    def check_request(self, party_id: str, kind: str, payload: Any, submission: Any) -> Submission | None:
        """What the API calls before acting on a party's request (``submission``: the wire JSON or None).

        A party in strong mode must send the submission it signed over exactly this request: same
        party, same ``kind``, and a payload whose canonical form equals the request's. Refused
        (``SignatureRefused``) when missing, malformed, mismatched or not verifying; returns the
        verified submission, to be appended with ``append_submission`` once the request succeeded.
        For a custodial party returns None (the deployment signs for it).
        """
        if self.mode(party_id) != "strong":
            return None
        if submission is None:
            raise SignatureRefused(f"party {party_id} is in strong mode: the request must carry its signed submission")
        try:
            parsed = parse_submission(submission)
            expected = payload_text(payload)
        except ValueError as exc:
            raise SignatureRefused(f"submission: {exc}") from None
        if parsed.statement.party_id != party_id or parsed.statement.kind != kind or parsed.payload != expected:
            raise SignatureRefused("submission: signed for another party, kind or payload than this request")
        self.verify_submission(parsed)
        return parsed

    def append_submission(self, submission: Submission) -> Entry:
        """Verify a party-signed submission and append it as signed (a ``key.rotated`` one rotates)."""
        self.verify_submission(submission)
        statement = submission.statement
        if statement.kind in (GENESIS_KIND, KEY_REGISTERED):
            raise SignatureRefused(f"kind: {statement.kind!r} cannot be submitted")
        with self._write() as conn:
            head = self._head(conn)
            if store.nonce_used(conn, statement.nonce):
                raise SignatureRefused(f"statement.nonce: {statement.nonce} was already used (replay)")
            current = store.active_key(conn, statement.party_id or "")
            if current is None or current.key_id != submission.key_id:
                raise SignatureRefused(f"key {submission.key_id}: no longer the current key")
            new_key = None
            if statement.kind == KEY_ROTATED:
                new_key = self._rotation_key(submission.payload, current, custodial=False)
                if message := require_new_key_message(conn, new_key.key_id, "payload.public_key"):
                    raise SignatureRefused(message)
            head, entry = self._place(
                conn, head, statement, submission.payload, submission.key_id, submission.signature
            )
            if new_key is not None:
                store.retire_key(conn, current.key_id, head.seq)
                store.insert_key(
                    conn, StoredKey(new_key.key_id, new_key.owner, new_key.public_key, False, head.seq, None)
                )
            self._maybe_checkpoint(conn, head)
            return entry

    @staticmethod
    def _rotation_key(text: str, current: StoredKey, *, custodial: bool) -> StoredKey:
        payload = json.loads(text)
        problems = []
        if not isinstance(payload, dict) or set(payload) != ROTATED_FIELDS:
            raise SignatureRefused(f"payload: a key.rotated payload has exactly the fields {sorted(ROTATED_FIELDS)}")
        if payload.get("custodial") is not custodial:
            problems.append(f"payload.custodial: must be {str(custodial).lower()}")
        if payload.get("reason") != "scheduled":
            problems.append('payload.reason: must be "scheduled" (signed with the old key)')
        if payload.get("owner") != current.owner:
            problems.append(f"payload.owner: must be {current.owner}")
        if payload.get("old_key") != current.key_id:
            problems.append(f"payload.old_key: must be {current.key_id}")
        try:
            new_id = key_id_of(public_key_from_b64(str(payload.get("public_key")), "payload.public_key"))
        except ValueError as exc:
            raise SignatureRefused(str(exc)) from None
        if payload.get("new_key") != new_id:
            problems.append(f"payload.new_key: must be {new_id}")
        if problems:
            raise SignatureRefused("; ".join(problems))
        return StoredKey(new_id, current.owner, payload["public_key"], custodial, 0, None)
