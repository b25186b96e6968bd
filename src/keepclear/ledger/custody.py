"""Who holds a party's key: admission, custodial and own-key (strong) modes, key rotation.

Every party gets a custodial key at its admission (``admit``, or the entry that admits it). A party
switches to its own key (strong mode) by a rotation from its custodial key (``register_public_key``);
a party with no key yet gets its own registered as its first.

Key rotation is an entry: ``key.rotated`` signed by the old key; when the old key of a party is
compromised the deployment signs it instead (``reason: "compromised"``). The deployment's own key
rotates only with a signature of its old key. A rotation keeps the mode, but for a custodial key's
rotation to the party's own key (strong mode); a strong-mode key never becomes custodial.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from keepclear.errors import ValidationError
from keepclear.ledger.core import LedgerCore
from keepclear.ledger.keys import Ed25519PrivateKey, key_id_of, public_key_b64, public_key_from_b64
from keepclear.ledger.model import DEPLOYMENT, PARTY_RE, payload_text
from keepclear.ledger.spec import KEY_ROTATED
from keepclear.store import ledger as store
from keepclear.store.ledger import Head, StoredKey


class KeyCustody(LedgerCore):
    """Registering, admitting, switching and rotating keys; the mode of a party."""

    def register_public_key(self, party_id: str, public_key: str) -> str:
        """Put ``party_id`` in strong mode with its own public key (raw, base64); returns the key id.

        A party in custodial mode (every party since keys are registered at admission) switches by a
        rotation: ``key.rotated`` from its custodial key to ``public_key``, ``custodial: false``,
        ``reason: "scheduled"``, signed with the custodial key, which is then discarded. A party with
        no key yet (never admitted here) gets ``public_key`` registered as its first key. Refused when
        the party is in strong mode already: it rotates by submitting ``key.rotated`` signed with its key.
        """
        try:
            new_id = key_id_of(public_key_from_b64(public_key))
        except ValueError as exc:
            raise ValidationError([str(exc)]) from None
        if party_id == DEPLOYMENT:
            raise ValidationError([f"party: {DEPLOYMENT} is the deployment, whose key is always custodial"])
        if not PARTY_RE.match(party_id):
            raise ValidationError([f"party: {party_id[:64]!r} is not a party id"])
        with self._write() as conn:
            head = self._head(conn)
            existing = store.active_key(conn, party_id)
            if existing is not None and not existing.custodial:
                raise ValidationError(
                    [f"party {party_id}: already in strong mode with key {existing.key_id}; rotate it instead"]
                )
            _require_new_key(conn, new_id, "public_key")
            if existing is None:
                head, key = self._register(conn, head, party_id, public_key, custodial=False)
                self._maybe_checkpoint(conn, head)
                return key.key_id
            head = self._rotate(conn, head, existing, new_id, public_key, custodial=False, compromised=False)
            self._maybe_checkpoint(conn, head)
        self._private.pop(existing.key_id, None)
        self._keys.discard(existing.key_id)
        return new_id

    def admit(self, party_ids: Iterable[str]) -> list[str]:
        """Register a custodial key, in this order and in one transaction, for each of ``party_ids``
        that has no key yet; returns the parties registered.

        For parties of a deployment older than admission keys, which joined before their admission
        registered one: the record's signer calls it at the service's start with every party, so their
        key entries date the upgrade, not their first action. Writes nothing when every party has a key.
        """
        parties = list(dict.fromkeys(party_ids))
        for party_id in parties:
            if not PARTY_RE.match(party_id):
                raise ValidationError([f"party: {party_id[:64]!r} is not a party id"])
        with self._db.read() as conn:
            missing = [p for p in parties if store.active_key(conn, p) is None]
        if not missing:
            return []
        admitted = []
        with self._write() as conn:
            head = self._head(conn)
            for party_id in missing:
                if store.active_key(conn, party_id) is None:  # another process may have been first
                    head, _ = self._register_custodial(conn, head, party_id)
                    admitted.append(party_id)
            self._maybe_checkpoint(conn, head)
        return admitted

    def mode(self, party_id: str) -> str | None:
        """``custodial``, ``strong``, or None when the party has no key yet."""
        with self._db.read() as conn:
            key = store.active_key(conn, party_id)
        return None if key is None else ("custodial" if key.custodial else "strong")

    def rotate_key(self, owner: str, *, compromised: bool = False, new_public_key: str | None = None) -> str:
        """Rotate the key of ``owner`` (a party id, or ``@deployment``); returns the new key id.

        Custodial keys: a new key is generated and held here. A strong-mode party rotates by submitting
        a ``key.rotated`` statement signed with its old key; only when that key is ``compromised`` may
        the deployment record the rotation to ``new_public_key`` (which the party gave out of band).
        """
        with self._write() as conn:
            head = self._head(conn)
            current = store.active_key(conn, owner)
            if current is None:
                raise ValidationError([f"owner: {owner} has no key to rotate"])
            if compromised and owner == DEPLOYMENT:
                raise ValidationError(["compromised: the deployment key rotates only with its old key"])
            if not current.custodial and not compromised:
                raise ValidationError(
                    [f"owner: {owner} is in strong mode; it submits its rotation signed with its old key"]
                )
            if new_public_key is None:
                if not current.custodial:
                    raise ValidationError(["new_public_key: required for a strong-mode party"])
                private_key = self._keys.generate()
                self._private[key_id_of(private_key.public_key())] = private_key
                new_public_key = public_key_b64(private_key.public_key())
            try:
                new_id = key_id_of(public_key_from_b64(new_public_key, "new_public_key"))
            except ValueError as exc:
                raise ValidationError([str(exc)]) from None
            _require_new_key(conn, new_id, "new_public_key")
            head = self._rotate(
                conn, head, current, new_id, new_public_key, custodial=current.custodial, compromised=compromised
            )
            self._maybe_checkpoint(conn, head, force=owner == DEPLOYMENT)
        if current.custodial:
            self._private.pop(current.key_id, None)
            self._keys.discard(current.key_id)
        return new_id

    def _rotate(
        self,
        conn: Any,
        head: Head,
        current: StoredKey,
        new_id: str,
        new_public_key: str,
        *,
        custodial: bool,
        compromised: bool,
    ) -> Head:
        """Append ``current``'s ``key.rotated`` to ``new_public_key`` and make that key the owner's.

        Signed by the old key (``scheduled``; statement party = the owner, none for the deployment) or
        by the deployment key (``compromised``), as docs/record.md's rotation rules require.
        ``custodial``: the new key's mode (the old key's, or false for a custodial party's own key).
        """
        owner = current.owner
        payload = {
            "owner": owner,
            "old_key": current.key_id,
            "new_key": new_id,
            "public_key": new_public_key,
            "custodial": custodial,
            "reason": "compromised" if compromised else "scheduled",
        }
        text = payload_text(payload)
        party_id = None if compromised or owner == DEPLOYMENT else owner
        signer = self._deployment_key(conn) if compromised else self._private_key(current.key_id)
        statement = self._statement(KEY_ROTATED, party_id, text, self._clock.now_s(), None)
        head, _ = self._sign_and_place(conn, head, statement, text, signer)
        store.retire_key(conn, current.key_id, head.seq)
        store.insert_key(conn, StoredKey(new_id, owner, new_public_key, custodial, head.seq, None))
        return head

    def custodial_key(self, party_id: str, *, create: bool = False) -> Ed25519PrivateKey:
        """The private key this deployment holds for a custodial party (``ValidationError`` otherwise).

        With ``create``, a party without a key yet (never admitted here: see ``admit``) gets its
        custodial key now, as its first entry would.
        """
        with self._db.read() as conn:
            key = store.active_key(conn, party_id)
        if key is None and create:
            with self._write() as conn:
                head, private_key = self._signer(conn, self._head(conn), party_id)
                self._maybe_checkpoint(conn, head)
            return private_key
        if key is None or not key.custodial:
            raise ValidationError([f"party {party_id}: no custodial key here (strong mode: give its own key)"])
        return self._private_key(key.key_id)


def require_new_key_message(conn: Any, key_id: str, field: str) -> str | None:
    """Why ``key_id`` cannot be registered now: it was registered before (to this owner or another:
    a key belongs to one owner, once), or None."""
    owner = store.key_owner(conn, key_id)
    if owner is None:
        return None
    return f"{field}: key {key_id} is already registered (to {owner}); a new key must be new"


def _require_new_key(conn: Any, key_id: str, field: str) -> None:
    if message := require_new_key_message(conn, key_id, field):
        raise ValidationError([message])
