"""Bounds on what one API key, or one party, may hold of this process at once.

A stream (``/v1/stream``) or a hotline socket holds a queue and a task for as long as it is open: one
key opening thousands of them would hold that much of the server. Each kind has its own count per
key; past ``limit`` a new one is refused (SSE: 429, the socket: a close with a reason) and counted.

A request, once its body is in, holds one of the server's worker threads while it is carried out:
one party sending hundreds at once would leave the others' notifications, answers and messages
waiting for a thread. ``RequestsInFlight`` bounds them per party (all its keys together), each
counted from the moment its caller is known, a body's upload included.

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

    def refusal(self) -> str:
        """What a refused client is told: the bound, and what to do."""
        return f"this key holds {self.limit} open {self.kind} connections, the most one key may (max_streams_per_key): close one first"

    def gauges(self) -> Mapping[str, Callable[[], float]]:
        """``<kind>_clients_refused_total`` and ``<kind>_clients_per_key_max`` (the most any key holds)."""
        return {
            f"{self.kind}_clients_refused_total": lambda: self.refused_total,
            f"{self.kind}_clients_per_key_max": lambda: max(list(self._open.values()), default=0),
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
            "requests_in_flight_per_party_max": lambda: max(list(self._open.values()), default=0),
        }
