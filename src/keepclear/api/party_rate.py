"""The rate at which one party may do a thing that stores without end: a token bucket per party.

The parties are adversaries, so no party may write without end what every other party is shown:
each hotline message (``HOTLINE_POSTS``), each incident report (``INCIDENT_REPORTS``) and each
activity notified, amended or cancelled (``ACTIVITY_WRITES``) is a row in the store, an entry in the
signed record and an event on the other parties' live streams and consoles. A party's bucket holds
at most ``burst`` tokens and refills at ``per_s`` a second (the settings ``Words`` names); each such
request an external client sends takes one for each thing it writes (a batch of activities one for
each activity, all or none), and with too few left it is refused with the whole seconds until they
are back, nothing of it stored. keepclear's own writes (alerts, channel status, escalations,
replays, incidents opened from alerts, a scenario's activities) are made by the services and never
pass here.

The hotline: one bucket for ``POST /v1/hotline/threads/{id}/messages``, a socket's ``post`` frame
and ``PUT /v1/hotline/availability`` (a change of availability posts a channel-status message to
every other party), all keys of a party together; a post the store answers with the message it
already holds (a retry of an accepted post, same idempotency key: nothing new stored, recorded or
delivered), and a repeat of the stored declaration, give their token back. The bucket is checked
before the store is read, so while a party's bucket is empty a retry is refused too; once
``Retry-After`` has passed it is answered with the stored message. A party that has used up its
burst is refused a declaration too, ``suspended`` included (docs/hotline.md, "Availability").
Incident reports: ``POST /v1/incidents`` (a retry with the same ``Idempotency-Key`` is answered by
``api.request_keys`` before the route, and takes nothing) and ``POST /v1/record/inconsistency`` (an
alarm is a party's report to every party; the same alarm raised again appends and posts nothing
and gives its token back). Activity writes: ``POST /v1/activities``, ``/v1/activities/batch`` (one
for each activity), ``/v1/activities/{id}/amend`` and ``/cancel`` (``api.routes.activities``),
checked before the store is read; their retries under the same ``Idempotency-Key`` are answered
before the route too, and take nothing.
Activity geometry: notify, batch and amend take besides one token for each geometry vertex of what
they write (``ACTIVITY_VERTICES``: polygon positions and route waypoints,
``geo.activity_doc.document_vertices``), a second bucket taken once the body is parsed and before
its documents are read, after the first; a request it refuses gives back what it took of the first.

Request bodies: every body a party's keys send but track batches (``REQUEST_BODY_BYTES``, one token a
byte: ``api.input_gate`` takes them before the body is read), since reading and parsing cost in
proportion to the bytes whatever the route then decides.

Memory: one bucket (two floats) per party that wrote, for each use, and parties are only what an
admin adds to the registry. The buckets are per API process: N processes behind one address allow
up to N times the rate, a small constant factor of a bound that exists to stop writing without end,
not to meter it exactly (see docs/hotline.md, docs/buffers.md).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from keepclear.errors import OverloadedError


@dataclass(frozen=True)
class Words:
    """What a bucket bounds, in its refusal and its metric: the party ``does`` things faster than
    ``per_s_setting`` (bursts of ``burst_setting``) allow; "``again``" in the wait; ``metric`` counts refusals."""

    does: str
    again: str
    per_s_setting: str
    burst_setting: str
    metric: str
    #: What one token is when a request takes many of one thing ("geometry vertices"): the refusal
    #: names how many the request held; empty where a token is the thing written.
    counted: str = ""


HOTLINE_POSTS = Words(
    "posts hotline messages",
    "post it again",
    "hotline_messages_per_party_per_s",
    "hotline_message_burst",
    "hotline_posts_refused_rate_total",
)
INCIDENT_REPORTS = Words(
    "reports incidents",
    "report it again",
    "incident_reports_per_party_per_s",
    "incident_report_burst",
    "incident_reports_refused_rate_total",
)
ACTIVITY_WRITES = Words(
    "writes activities",
    "send it again",
    "activity_writes_per_party_per_s",
    "activity_write_burst",
    "activity_writes_refused_rate_total",
)
ACTIVITY_VERTICES = Words(
    "writes activity geometry",
    "send it again",
    "activity_vertices_per_party_per_s",
    "activity_vertex_burst",
    "activity_writes_refused_vertices_total",
    "geometry vertices",
)
REQUEST_BODY_BYTES = Words(
    "sends request bodies",
    "send it again",
    "body_bytes_per_party_per_s",
    "body_byte_burst",
    "request_bodies_refused_rate_total",
    "bytes",
)


class PartyRate:
    """At most ``burst`` at once and ``per_s`` a second sustained per party (this process), refused in
    ``words``; ``monotonic`` is the clock (seconds; tests pass their own)."""

    def __init__(self, per_s: float, burst: int, words: Words, monotonic: Callable[[], float] = time.monotonic) -> None:
        if not per_s > 0 or burst < 1:
            raise ValueError(f"PartyRate: per_s must be > 0 and burst >= 1 (got {per_s}, {burst})")
        self.per_s = per_s
        self.burst = burst
        self.words = words
        self._monotonic = monotonic
        self._buckets: dict[str, tuple[float, float]] = {}  # party → (tokens, when they were counted)
        self._lock = threading.Lock()
        #: Requests refused because their party's bucket was empty (``words.metric``).
        self.refused_total = 0

    def take(self, party_id: str, count: int = 1) -> OverloadedError | None:
        """Takes ``count`` tokens of ``party_id``'s bucket, all or none (a request that writes ``count``
        things): None, go on; or the refusal to answer (counted), its ``retry_after_s`` the whole seconds
        (at least 1) until the bucket holds ``count`` again. ``count`` is at most ``burst``: more could
        never pass, so a caller's bound on what one request writes is checked against the burst where
        both are set (``Settings``: ``activity_write_burst`` >= ``max_activities_per_batch``)."""
        if not 1 <= count <= self.burst:
            raise ValueError(f"PartyRate.take: count must be 1 to burst ({self.burst}), got {count}")
        with self._lock:
            now_s = self._monotonic()
            tokens = self._refilled(party_id, now_s)
            if tokens >= count:
                self._buckets[party_id] = (tokens - count, now_s)
                return None
            self.refused_total += 1
        wait_s = max(1, math.ceil((count - tokens) / self.per_s))
        w = self.words
        if w.counted:
            nothing = f"nothing of it was stored ({count} {w.counted})"
        else:
            nothing = "nothing was stored" if count == 1 else f"nothing of the {count} was stored"
        return OverloadedError(
            f"this party {w.does} faster than it may ({w.per_s_setting}: {self.per_s:g} a second, bursts of"
            f" {w.burst_setting}: {self.burst}); {nothing}: {w.again} in {wait_s} s",
            retry_after_s=wait_s,
        )

    def take_capped(self, party_id: str, count: int) -> tuple[int, OverloadedError | None]:
        """``take`` of ``count`` tokens where more than the burst takes the whole burst (a body's bytes:
        one of any allowed size passes a full bucket): (the tokens asked, the refusal or None)."""
        capped = min(count, self.burst)
        return capped, self.take(party_id, capped)

    def require(self, party_id: str, count: int = 1) -> None:
        """``take`` for a route: raises the refusal (a 429 with ``Retry-After``) instead of returning it."""
        refusal = self.take(party_id, count)
        if refusal is not None:
            raise refusal

    def give_back(self, party_id: str, count: int = 1) -> None:
        """``count`` requests that took a token stored nothing new (retries answered with what is
        stored): their tokens return, the bucket never past ``burst``."""
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
        """``words.metric``: the refusals."""
        return {self.words.metric: lambda: self.refused_total}
