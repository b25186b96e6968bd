"""What a key holds open ends when another process revokes it, bus or no bus.

A key revoked in this process (``DELETE /v1/keys/{id}``) or in another one that shares its bus
publishes ``apikey.revoked``, and that event ends the key's streams and hotline sockets here at once.
The operator's ``keepclear keys revoke`` beside a ``serve`` without a bus writes the store only: the
key's next request was refused, but a stream or socket opened before went on being served its party's
live picture and messages. ``RevocationWatch`` looks in the store, each tick, for the keys that hold
a stream or a socket open here, and hands the revocation of each one revoked to this process's
in-memory subscribers as another process's event would be (``EventBus.deliver_remote``): its stream
and sockets end, and the key is forgotten for a store outage.
"""

from __future__ import annotations

from collections.abc import Sequence

from keepclear.api.connection_limits import PerKeyLimit
from keepclear.services.registry.keys import KeyService
from keepclear.services.runtime.bus import EventBus


class RevocationWatch:
    """A tick task: one statement on the keys' primary key a tick, while any key of ``held`` (the
    per-key counts of the streams and sockets) holds something open; none otherwise."""

    def __init__(self, keys: KeyService, bus: EventBus, held: Sequence[PerKeyLimit]) -> None:
        self.keys = keys
        self.bus = bus
        self.held = held
        #: Revoked keys already told, while they still hold something open (never more than those).
        self._told: set[str] = set()

    def __call__(self, now_s: float) -> None:
        holding = {key_id for limit in self.held for key_id in limit.holders()}
        self._told &= holding
        unknown = holding - self._told
        if not unknown:
            return
        revocations = self.keys.revocations_among(unknown)
        if revocations:
            self._told.update(str(event.payload["key_id"]) for event in revocations)
            self.bus.deliver_remote(revocations)
