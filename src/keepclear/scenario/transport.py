"""How simulated reports reach a deployment: in process (a callable), or over HTTP like a real feed.

A transport takes one party's batch at a time, because a feed is authorised for its own party's
units only. ``HttpTransport`` posts ``{"reports": [...]}`` to ``/v1/tracks`` with the party's feed key
as a bearer token; times go on the wire as ISO 8601 UTC.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from keepclear.domain import TrackReport
from keepclear.domain.timefmt import format_utc
from keepclear.errors import KeepclearError


class TransportError(KeepclearError):
    """A batch could not be delivered; the message says where and why."""


class TrackTransport(Protocol):
    """Delivers one party's batch of track reports."""

    def send(self, party_id: str, reports: Sequence[TrackReport]) -> None:
        """Deliver ``reports`` (all of units ``party_id`` answers for); raise ``TransportError`` on failure."""


class SinkTransport:
    """In process: hands each batch to ``sink(party_id, reports)`` — the embedded ingest path."""

    def __init__(self, sink: Callable[[str, Sequence[TrackReport]], object]) -> None:
        self._sink = sink

    def send(self, party_id: str, reports: Sequence[TrackReport]) -> None:
        """Call the sink with the batch."""
        self._sink(party_id, reports)


def report_json(report: TrackReport) -> dict[str, Any]:
    """One report as the ``/v1/tracks`` body carries it."""
    return {
        "unit_id": report.unit_id,
        "time": format_utc(report.time_s),
        "lat_deg": report.lat_deg,
        "lon_deg": report.lon_deg,
        "alt_m": report.alt_m,
        "vel_east_mps": report.vel_east_mps,
        "vel_north_mps": report.vel_north_mps,
        "vel_up_mps": report.vel_up_mps,
    }


class HttpTransport:
    """Posts batches to ``{base_url}/v1/tracks`` with ``Authorization: Bearer <feed key of the party>``.

    ``batch_size`` splits large batches; ``timeout_s`` bounds each request.
    """

    def __init__(
        self, base_url: str, feed_keys: Mapping[str, str], timeout_s: float = 10.0, batch_size: int = 500
    ) -> None:
        self.url = base_url.rstrip("/") + "/v1/tracks"
        self._feed_keys = dict(feed_keys)
        self.timeout_s = timeout_s
        self.batch_size = batch_size

    def send(self, party_id: str, reports: Sequence[TrackReport]) -> None:
        """POST the batch (in chunks of ``batch_size``); any non-2xx answer is a ``TransportError``."""
        key = self._feed_keys.get(party_id)
        if key is None:
            raise TransportError(f"no feed key for party {party_id!r}; give one per party that has units")
        for first in range(0, len(reports), self.batch_size):
            chunk = reports[first : first + self.batch_size]
            body = json.dumps({"reports": [report_json(r) for r in chunk]}).encode()
            request = urllib.request.Request(
                self.url,
                data=body,
                method="POST",
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    response.read()
            except urllib.error.HTTPError as exc:
                detail = exc.read(300).decode(errors="replace")
                raise TransportError(f"POST {self.url} for {party_id}: HTTP {exc.code}: {detail}") from None
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise TransportError(f"POST {self.url} for {party_id}: {reason}") from None
