"""The rate at which one party may post hotline messages: a token bucket per party.

Each message a party posts is a row in the store, an entry in the signed record and a delivery to
every other member's console; the parties are adversaries, so no party may post without end. A
party's bucket holds at most ``burst`` tokens and refills at ``per_s`` a second
(``hotline_message_burst``, ``hotline_messages_per_party_per_s``); each post an external client
sends (``POST /v1/hotline/threads/{id}/messages`` or a socket's ``post`` frame: one ``PostRate``
shared by both, all keys of a party together) takes one, and with none left it is refused with the
whole seconds until one is back, nothing of it stored. keepclear's own messages (alerts, channel
status, escalations, replays) are posted by the services and never pass here.

A post the store answers with the message it already holds (a retry of an accepted post, same
idempotency key: nothing new stored, recorded or delivered) gives its token back. The bucket is
checked before the store is read, so while a party's bucket is empty a retry is refused too; once
``Retry-After`` has passed it is answered with the stored message.

Memory: one bucket (two floats) per party that posted, and parties are only what an admin adds to
the registry. The buckets are per API process: N processes behind one address allow up to N times
the rate, a small constant factor of a bound that exists to stop posting without end, not to meter
it exactly (see docs/hotline.md).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping

from keepclear.errors import OverloadedError


class PostRate:
    """At most ``burst`` posts at once and ``per_s`` a second sustained per party (this process);
    ``monotonic`` is the clock (seconds; tests pass their own)."""

    def __init__(self, per_s: float, burst: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        if not per_s > 0 or burst < 1:
            raise ValueError(f"PostRate: per_s must be > 0 and burst >= 1 (got {per_s}, {burst})")
        self.per_s = per_s
        self.burst = burst
        self._monotonic = monotonic
        self._buckets: dict[str, tuple[float, float]] = {}  # party → (tokens, when they were counted)
        self._lock = threading.Lock()
        #: Posts refused because their party's bucket was empty (``hotline_posts_refused_rate_total``).
        self.refused_total = 0

    def take(self, party_id: str) -> OverloadedError | None:
        """Takes a token of ``party_id``'s bucket: None, post it; or the refusal to answer (counted),
        its ``retry_after_s`` the whole seconds (at least 1) until the bucket holds a token again."""
        with self._lock:
            now_s = self._monotonic()
            tokens = self._refilled(party_id, now_s)
            if tokens >= 1.0:
                self._buckets[party_id] = (tokens - 1.0, now_s)
                return None
            self.refused_total += 1
        wait_s = max(1, math.ceil((1.0 - tokens) / self.per_s))
        return OverloadedError(
            f"this party posts hotline messages faster than it may (hotline_messages_per_party_per_s:"
            f" {self.per_s:g} a second, bursts of hotline_message_burst: {self.burst}); nothing was"
            f" stored: post it again in {wait_s} s",
            retry_after_s=wait_s,
        )

    def give_back(self, party_id: str, count: int = 1) -> None:
        """``count`` posts that took a token stored nothing new (retries answered with the stored
        message): their tokens return, the bucket never past ``burst``."""
        if count <= 0:
            return
        with self._lock:
            now_s = self._monotonic()
            self._buckets[party_id] = (min(float(self.burst), self._refilled(party_id, now_s) + count), now_s)

    def _refilled(self, party_id: str, now_s: float) -> float:
        """The tokens ``party_id`` holds at ``now_s`` (a party never seen: a full bucket). Under the lock."""
        tokens, then_s = self._buckets.get(party_id, (float(self.burst), now_s))
        return min(float(self.burst), tokens + max(0.0, now_s - then_s) * self.per_s)

    def gauges(self) -> Mapping[str, Callable[[], float]]:
        """``hotline_posts_refused_rate_total``."""
        return {"hotline_posts_refused_rate_total": lambda: self.refused_total}
