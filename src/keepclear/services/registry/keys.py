"""API keys: created with a secret shown once, stored as a hash, revocable at once.

A key reads ``kc_<key id>_<secret>``. The secret has 256 bits of entropy, so one SHA-256 of it
is enough (no slow hash needed for random secrets); comparison is constant-time.

Every request reads its key from the store. While the store cannot be reached (a restart, a
failover), a key that the store said was valid within ``outage_grace_s`` is still taken, as the
store last said (every valid key is read once a ``KEYS_REFRESH_S``, so each API process knows every
key, not only those it served): feeds keep feeding the probe and liaison cells keep reading the live
picture and their streams. Nothing can be revoked meanwhile (a revocation is a write), and a
revocation made in another process is heard on the bus and forgets the key here at once. An unknown
key is answered 503 then, never taken.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Collection

from sqlalchemy.engine import Connection

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Clock, Event, EventSink
from keepclear.domain.identity import KEY_LABEL_MAX_CHARS, ApiKeyInfo, Principal, Role
from keepclear.domain.limits import short_line_problem
from keepclear.errors import AuthenticationError, StoreUnavailableError, ValidationError
from keepclear.services.record.staging import stage
from keepclear.store import Database
from keepclear.store import keys as key_store
from keepclear.store import registry as registry_store


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


#: Keys remembered for a store outage (the most recently used; a deployment has tens to hundreds).
MAX_KNOWN_KEYS = 10_000
#: Seconds between reads of every valid key (for a store outage).
KEYS_REFRESH_S = 60.0


class KeyService:
    """Creates, lists, revokes and checks API keys.

    ``outage_grace_s``: how long after the store last confirmed a key it is still taken while the
    store cannot be reached (module docstring); 0 refuses every key then.
    """

    def __init__(
        self, db: Database, clock: Clock, events: EventSink | None = None, *, outage_grace_s: float = 900.0
    ) -> None:
        self._db = db
        self._clock = clock
        self._events = events
        self.outage_grace_s = outage_grace_s
        #: key id → (hash of its secret, its listing, when the store last confirmed it), newest last.
        self._known: OrderedDict[str, tuple[str, ApiKeyInfo, float]] = OrderedDict()
        self._known_lock = threading.Lock()
        #: Requests let in on a remembered key while the store could not be reached.
        self.taken_in_outage_total = 0
        self._refreshed_s = -float("inf")
        #: Keys seen revoked (never valid again): a refresh read before a revocation cannot bring one back.
        self._revoked: set[str] = set()

    def _event(self, kind: EventKind, info: ApiKeyInfo) -> Event:
        """``apikey.created``/``apikey.revoked`` of ``info`` (never the secret)."""
        return Event(
            kind=kind,
            time_s=self._clock.now_s(),
            party_id=None,
            payload={"key_id": info.key_id, "role": info.role.value, "party_id": info.party_id, "label": info.label},
            parties=frozenset() if info.party_id is None else frozenset([info.party_id]),
        )

    def _recorded(self, conn: Connection, kind: EventKind, info: ApiKeyInfo) -> Event:
        """``apikey.created``/``apikey.revoked``, staged with the change."""
        event = self._event(kind, info)
        stage(conn, [event])
        return event

    def revocations_among(self, key_ids: Collection[str]) -> list[Event]:
        """An ``apikey.revoked`` event (not staged: the revoking process recorded it) for each of
        ``key_ids`` the store lists revoked: how a revocation made where no bus carries its event here
        (``keepclear keys revoke`` beside ``serve``) reaches what its key holds open (one statement)."""
        with self._db.read() as conn:
            revoked = key_store.revoked_among(conn, key_ids)
        return [self._event(EventKind.APIKEY_REVOKED, info) for info in revoked]

    def _published(self, event: Event) -> None:
        if self._events is not None:
            self._events.emit(event)

    def create(self, role: Role, party_id: str | None, label: str = "") -> tuple[ApiKeyInfo, str]:
        """A new key; returns its listing and the full key text, which is never shown again."""
        if problem := short_line_problem(label, "label", KEY_LABEL_MAX_CHARS, required=False):
            raise ValidationError([problem])
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
        self._forget(key_id)
        if event is not None:
            self._published(event)

    def authenticate(self, key: str, person: str = "") -> Principal:
        """The principal behind ``key``, or ``AuthenticationError`` saying why not."""
        parts = key.split("_", 2)
        if len(parts) != 3 or parts[0] != "kc" or not parts[1] or not parts[2]:
            raise AuthenticationError("malformed API key (expected kc_<id>_<secret>)")
        key_id, digest = parts[1], _sha256(parts[2])
        try:
            with self._db.read() as conn:
                found = key_store.find_key(conn, key_id)
        except StoreUnavailableError:
            info = self._remembered(key_id, digest)
        else:
            if found is None or not hmac.compare_digest(found[1], digest):
                raise AuthenticationError("unknown API key")
            info = found[0]
            self._remember(key_id, found[1], info)
        if info.revoked_s is not None:
            raise AuthenticationError("API key revoked")
        return Principal(key_id=info.key_id, role=info.role, party_id=info.party_id, person=person[:200])

    def _remember(self, key_id: str, digest: str, info: ApiKeyInfo) -> None:
        if info.revoked_s is not None:
            self._forget(key_id)
            return
        with self._known_lock:
            if key_id in self._revoked:
                return
            self._known[key_id] = (digest, info, self._clock.now_s())
            self._known.move_to_end(key_id)
            while len(self._known) > MAX_KNOWN_KEYS:
                self._known.popitem(last=False)

    def _remembered(self, key_id: str, digest: str) -> ApiKeyInfo:
        """The listing the store last gave for ``key_id`` while it cannot be read, if that was
        within ``outage_grace_s`` and the secret matches; else the outage is the answer (503)."""
        with self._known_lock:
            known = self._known.get(key_id)
            fresh = known is not None and self._clock.now_s() - known[2] <= self.outage_grace_s
            if known is None or not fresh or not hmac.compare_digest(known[0], digest):
                raise StoreUnavailableError("the key cannot be checked")
            self.taken_in_outage_total += 1
            return known[1]

    def refresh(self, now_s: float) -> None:
        """Tick task: once a ``KEYS_REFRESH_S``, remember every valid key the store lists (so a feed that
        reconnects to another API process during an outage is still known there); a key the store no
        longer lists as valid (revoked) is forgotten."""
        if now_s - self._refreshed_s < KEYS_REFRESH_S:
            return
        with self._db.read() as conn:
            listed = key_store.valid_keys(conn, MAX_KNOWN_KEYS)
        self._refreshed_s = now_s
        valid = {info.key_id for info, _digest in listed}
        with self._known_lock:
            for key_id in [k for k in self._known if k not in valid]:
                del self._known[key_id]
        for info, digest in reversed(listed):  # the newest last: the last forgotten when full
            self._remember(info.key_id, digest, info)

    def on_event(self, event: Event) -> None:
        """Bus subscriber (other processes' events too): a key revoked anywhere is forgotten here."""
        if event.kind == EventKind.APIKEY_REVOKED:
            self._forget(str(event.payload.get("key_id")))

    def _forget(self, key_id: str) -> None:
        """``key_id`` was revoked: never taken in an outage again (a later refresh cannot bring it back)."""
        with self._known_lock:
            self._known.pop(key_id, None)
            self._revoked.add(key_id)

    def known_keys(self) -> int:
        """Keys remembered for a store outage (a metric)."""
        with self._known_lock:
            return len(self._known)
