"""Bounds on what one API key, or one party, may hold of this process at once.

A stream (``/v1/stream``) or a hotline socket holds a queue and a task for as long as it is open: one
key opening thousands of them would hold that much of the server. Each kind has its own count per
key; past ``limit`` a new one is refused (SSE: 429, the socket: a close with a reason) and counted.

A request, once its body is in, holds one of the server's worker threads while it is carried out:
one party sending hundreds at once would leave the others' notifications, answers and messages
waiting for a thread. ``RequestsInFlight`` bounds them per party (all its keys together), each
counted from the moment its caller is known, a body's upload included. A body is held whole from
its reading until its answer: ``BodyBytesPerKey`` bounds the bytes one key holds so at once.

The counts are per process: a deployment of several API processes behind a balancer allows up to
``limit`` in each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping


class PerKeyLimit:
    """At most ``limit`` open connections of one kind (``kind``: its metric prefix) per API key."""

    def __init__(self, kind: str, limit: int) -> None:
        self.kind = kind
        self.limit = limit
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()
        #: Connections refused because their key held ``limit`` already.
        self.refused_total = 0

    def claim(self, key_id: str) -> bool:
        """Counts one more connection of ``key_id``; False (and counted as refused) when it holds
        ``limit`` already. Every True must be followed by one ``release``."""
        with self._lock:
            held = self._open.get(key_id, 0)
            if held >= self.limit:
                self.refused_total += 1
                return False
            self._open[key_id] = held + 1
            return True

    def release(self, key_id: str) -> None:
        """One connection of ``key_id`` claimed before has closed."""
        with self._lock:
            held = self._open.get(key_id, 0) - 1
            if held > 0:
                self._open[key_id] = held
            else:
                self._open.pop(key_id, None)

    def holders(self) -> list[str]:
        """The keys (holders) with a connection open now."""
        with self._lock:
            return list(self._open)

    def most_held(self) -> int:
        """The most connections (requests, for ``RequestsInFlight``) any one holder has open now (0: none)."""
        return _most(self._open)

    def refusal(self) -> str:
        """What a refused client is told: the bound, and what to do."""
        return f"this key holds {self.limit} open {self.kind} connections, the most one key may (max_streams_per_key): close one first"

    def gauges(self) -> Mapping[str, Callable[[], float]]:
        """``<kind>_clients_refused_total`` and ``<kind>_clients_per_key_max`` (the most any key holds)."""
        return {
            f"{self.kind}_clients_refused_total": lambda: self.refused_total,
            f"{self.kind}_clients_per_key_max": self.most_held,
        }


class RequestsInFlight(PerKeyLimit):
    """At most ``limit`` requests in flight at once per party (its keys together; the admin keys count
    as one holder), from the moment the caller is known until the answer is sent."""

    def __init__(self, limit: int) -> None:
        super().__init__("requests", limit)

    def refusal(self) -> str:
        return (
            f"this party has {self.limit} requests in flight, the most one party may"
            " (max_requests_in_flight_per_party): wait for an answer, then send the next"
        )

    def gauges(self) -> Mapping[str, Callable[[], float]]:
        """``requests_refused_in_flight_total`` and ``requests_in_flight_per_party_max`` (the most any
        party has in flight now)."""
        return {
            "requests_refused_in_flight_total": lambda: self.refused_total,
            "requests_in_flight_per_party_max": self.most_held,
        }


class BodyBytesPerKey:
    """Request body bytes each API key holds in this process at once (``max_body_bytes_in_flight_per_key``).

    A body is read whole before it is judged and held until its request is answered, so without a
    bound one key sending many large bodies at once (each under its route's limit) would hold as many
    times that much. A request claims its declared ``Content-Length`` (a body sent without one: its
    route's limit) before a byte is read and gives it back once answered; one that would take its key
    past ``limit_bytes`` is refused (429), unless the key holds nothing: one body of any allowed size
    always goes through. Per key, so one party's uploads never refuse another's.
    """

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()
        #: Requests refused because their key held too many bytes already.
        self.refused_total = 0

    def claim(self, key_id: str, size_bytes: int) -> bool:
        """Counts ``size_bytes`` more for ``key_id``; False (counted as refused) when that would take it
        past ``limit_bytes`` while it holds some already. Every True is followed by one ``release``."""
        with self._lock:
            held = self._held.get(key_id, 0)
            if held and held + size_bytes > self.limit_bytes:
                self.refused_total += 1
                return False
            self._held[key_id] = held + size_bytes
            return True

    def release(self, key_id: str, size_bytes: int) -> None:
        """A request of ``key_id`` claiming ``size_bytes`` was answered."""
        with self._lock:
            held = self._held.get(key_id, 0) - size_bytes
            if held > 0:
                self._held[key_id] = held
            else:
                self._held.pop(key_id, None)

    def most_held(self) -> int:
        """The most body bytes any one key holds now (0: none)."""
        return _most(self._held)

    def refusal(self) -> str:
        """What a refused client is told: the bound, and what to do."""
        return (
            f"this key's requests being read or served would hold more than {self.limit_bytes} bytes of bodies with"
            " this one, the most one key may (max_body_bytes_in_flight_per_key): send it once an earlier one is answered"
        )

    def gauges(self) -> Mapping[str, Callable[[], float]]:
        """Bytes held by all keys and by the one holding most, and the requests refused."""
        return {
            "body_bytes_in_flight": lambda: sum(list(self._held.values())),
            "body_bytes_in_flight_per_key_max": self.most_held,
            "bodies_refused_in_flight_total": lambda: self.refused_total,
        }


def _most(held: Mapping[str, int]) -> int:
    """The largest of ``held``'s counts (0 when empty), read from a copy of them: a gauge reads it
    without the lock while requests claim and release."""
    return max(list(held.values()), default=0)
