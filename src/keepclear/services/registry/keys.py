"""API keys: created with a secret shown once, stored as a hash, revocable at once.

A key reads ``kc_<key id>_<secret>``. The secret has 256 bits of entropy, so one SHA-256 of it
is enough (no slow hash needed for random secrets); comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy.engine import Connection

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Clock, Event, EventSink
from keepclear.domain.identity import ApiKeyInfo, Principal, Role
from keepclear.errors import AuthenticationError, ValidationError
from keepclear.services.record.signer import stage
from keepclear.store import Database
from keepclear.store import keys as key_store
from keepclear.store import registry as registry_store


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyService:
    """Creates, lists, revokes and checks API keys."""

    def __init__(self, db: Database, clock: Clock, events: EventSink | None = None) -> None:
        self._db = db
        self._clock = clock
        self._events = events

    def _recorded(self, conn: Connection, kind: EventKind, info: ApiKeyInfo) -> Event:
        """``apikey.created``/``apikey.revoked`` (never the secret), staged with the change."""
        event = Event(
            kind=kind,
            time_s=self._clock.now_s(),
            party_id=None,
            payload={"key_id": info.key_id, "role": info.role.value, "party_id": info.party_id, "label": info.label},
            parties=frozenset() if info.party_id is None else frozenset([info.party_id]),
        )
        stage(conn, [event])
        return event

    def _published(self, event: Event) -> None:
        if self._events is not None:
            self._events.emit(event)

    def create(self, role: Role, party_id: str | None, label: str = "") -> tuple[ApiKeyInfo, str]:
        """A new key; returns its listing and the full key text, which is never shown again."""
        if role is Role.ADMIN and party_id is not None:
            raise ValidationError(["party: an admin key belongs to the deployment, not to a party"])
        if role is not Role.ADMIN and party_id is None:
            raise ValidationError([f"party: a {role.value} key needs the party it acts for"])
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        info = ApiKeyInfo(key_id, role, party_id, label, self._clock.now_s(), None)
        with self._db.write() as conn:
            if party_id is not None:
                registry_store.get_party(conn, party_id)
            key_store.insert_key(conn, info, _sha256(secret))
            event = self._recorded(conn, EventKind.APIKEY_CREATED, info)
        self._published(event)
        return info, f"kc_{key_id}_{secret}"

    def list(self) -> list[ApiKeyInfo]:
        """Every key, secrets never included."""
        with self._db.read() as conn:
            return key_store.list_keys(conn)

    def revoke(self, key_id: str) -> None:
        """Revoke ``key_id``; the next request with it is refused."""
        with self._db.write() as conn:
            before = key_store.find_key(conn, key_id)
            key_store.revoke_key(conn, key_id, self._clock.now_s())
            fresh = before is not None and before[0].revoked_s is None  # revoking twice changes nothing
            event = self._recorded(conn, EventKind.APIKEY_REVOKED, before[0]) if before is not None and fresh else None
        if event is not None:
            self._published(event)

    def authenticate(self, key: str, person: str = "") -> Principal:
        """The principal behind ``key``, or ``AuthenticationError`` saying why not."""
        parts = key.split("_", 2)
        if len(parts) != 3 or parts[0] != "kc" or not parts[1] or not parts[2]:
            raise AuthenticationError("malformed API key (expected kc_<id>_<secret>)")
        with self._db.read() as conn:
            found = key_store.find_key(conn, parts[1])
        if found is None or not hmac.compare_digest(found[1], _sha256(parts[2])):
            raise AuthenticationError("unknown API key")
        info = found[0]
        if info.revoked_s is not None:
            raise AuthenticationError("API key revoked")
        return Principal(key_id=info.key_id, role=info.role, party_id=info.party_id, person=person[:200])
