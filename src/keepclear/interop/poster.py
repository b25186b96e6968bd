"""Posting mapped positions to a running keepclear's ``/v1/tracks`` with a feed key, in batches.

The buffer is bounded (oldest reports dropped first, counted: a newer position of the same unit
replaces what was lost) and a batch goes out when it is full or ``flush_s`` has passed. The
service judges every report as it judges any HTTP feed's: the key's party, its units, its refusals.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque

import httpx

from keepclear.domain.timefmt import format_utc
from keepclear.interop.observation import Observation, Stats

log = logging.getLogger("keepclear.interop")


class Poster:
    """A thread posting ``(unit_id, Observation)`` reports to ``{url}/v1/tracks`` as columns."""

    def __init__(
        self,
        url: str,
        feed_key: str,
        stats: Stats,
        *,
        max_pending: int = 50_000,
        batch_max: int = 5_000,
        flush_s: float = 0.2,
        timeout_s: float = 10.0,
        source: str = "keepclear interop",
    ) -> None:
        self.stats = stats
        self.batch_max = batch_max
        self.flush_s = flush_s
        self._pending: deque[tuple[str, Observation]] = deque()
        self._max_pending = max_pending
        self._cond = threading.Condition()
        self._stop = False
        self._client = httpx.Client(
            base_url=url.rstrip("/"),
            # The source names this adapter in the console's Units panel (GET /v1/feeds).
            headers={
                "Authorization": f"Bearer {feed_key}",
                "Content-Type": "application/json",
                "X-Keepclear-Source": source[:200],
            },
            timeout=timeout_s,
        )
        self._thread = threading.Thread(target=self._run, name="interop-poster", daemon=True)
        self._refusals_logged = 0

    def start(self) -> None:
        self._thread.start()

    def offer(self, reports: list[tuple[str, Observation]]) -> None:
        """Queue reports; when the buffer is full the oldest go (counted as dropped)."""
        if not reports:
            return
        with self._cond:
            self._pending.extend(reports)
            over = len(self._pending) - self._max_pending
            for _ in range(max(over, 0)):
                self._pending.popleft()
            if len(self._pending) >= self.batch_max:
                self._cond.notify()
        self.stats.add("queued", len(reports))
        if over > 0:
            self.stats.add("dropped", over)

    def pending(self) -> int:
        with self._cond:
            return len(self._pending)

    def stop(self, drain_s: float = 5.0) -> None:
        """Post what is buffered (for at most ``drain_s``), then stop."""
        deadline = time.monotonic() + drain_s
        while self.pending() and time.monotonic() < deadline and self._thread.is_alive():
            time.sleep(0.02)
        with self._cond:
            self._stop = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout=drain_s + 5)
        self._client.close()

    def _take(self) -> list[tuple[str, Observation]]:
        with self._cond:
            if len(self._pending) < self.batch_max and not self._stop:
                self._cond.wait(self.flush_s)
            count = min(len(self._pending), self.batch_max)
            return [self._pending.popleft() for _ in range(count)]

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch:
                self._post(batch)
            elif self._stop:
                return

    def _post(self, batch: list[tuple[str, Observation]]) -> None:
        body = json.dumps({"columns": columns(batch)}, separators=(",", ":"))
        self.stats.add("posted", len(batch))
        try:
            response = self._client.post("/v1/tracks", content=body)
        except httpx.HTTPError as exc:
            self.stats.add("post_errors")
            log.warning("interop: posting %d reports failed: %s", len(batch), exc)
            time.sleep(1.0)
            return
        if response.status_code == 429:
            self.stats.add("post_errors")
            wait_s = float(response.headers.get("Retry-After", "1") or 1)
            log.warning("interop: keepclear is busy (429); %d reports not kept, waiting %.0f s", len(batch), wait_s)
            time.sleep(min(wait_s, 10.0))
            return
        if response.status_code != 202:
            self.stats.add("post_errors")
            log.error("interop: keepclear answered %d to /v1/tracks: %s", response.status_code, response.text[:300])
            return
        result = response.json()
        self.stats.add("accepted", int(result["accepted"]))
        refused = result["refused"]
        if refused:
            self.stats.add("refused", len(refused))
            if self._refusals_logged < 20:
                self._refusals_logged += 1
                first = refused[0]
                log.warning(
                    "interop: keepclear refused %d of %d reports, e.g. %s: %s",
                    len(refused),
                    len(batch),
                    first["unit_id"],
                    "; ".join(first["problems"]),
                )


def columns(batch: list[tuple[str, Observation]]) -> dict[str, list[object]]:
    """The batch in /v1/tracks' columns shape."""
    times: dict[float, str] = {}
    out: dict[str, list[object]] = {
        key: []
        for key in ("unit_id", "time", "lat_deg", "lon_deg", "alt_m", "vel_east_mps", "vel_north_mps", "vel_up_mps")
    }
    for unit_id, o in batch:
        text = times.get(o.time_s)
        if text is None:
            text = times[o.time_s] = format_utc(o.time_s)
        out["unit_id"].append(unit_id)
        out["time"].append(text)
        out["lat_deg"].append(o.lat_deg)
        out["lon_deg"].append(o.lon_deg)
        out["alt_m"].append(o.alt_m)
        out["vel_east_mps"].append(o.vel_east_mps)
        out["vel_north_mps"].append(o.vel_north_mps)
        out["vel_up_mps"].append(o.vel_up_mps)
    return out
