"""Shapes drawn on a party's TAK (``u-d-*``) proposed as zones: posted to ``/v1/zone-proposals`` with
the party's feed key, for an admin to accept or refuse. A redrawn shape (same uid) replaces its
pending proposal. Only where the mapping file says ``propose_zones: true``."""

from __future__ import annotations

import threading

import httpx

from keepclear.interop.cot import Drawing
from keepclear.interop.observation import Stats, log


class Proposer:
    """Posts each drawing on a thread of its own (the gateway's loop never waits for keepclear)."""

    def __init__(self, url: str, feed_key: str, stats: Stats, *, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.key = feed_key
        self.stats = stats
        self.timeout_s = timeout_s
        self._threads: list[threading.Thread] = []

    def on_drawing(self, drawing: Drawing) -> None:
        worker = threading.Thread(target=self._post, args=(drawing,), name="interop-proposal", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [worker]
        worker.start()

    def _post(self, drawing: Drawing) -> None:
        body = {"source": drawing.uid, "name": drawing.name[:200], "geometry": drawing.geometry,
                "remarks": drawing.remarks[:4000]}  # fmt: skip
        try:
            response = httpx.post(
                f"{self.url}/v1/zone-proposals",
                json=body,
                headers={"Authorization": f"Bearer {self.key}"},
                timeout=self.timeout_s,
            )
        except httpx.HTTPError as exc:
            self.stats.bad_input("proposals_refused", f"drawing {drawing.uid} could not reach keepclear: {exc}")
            return
        if response.status_code == 201:
            self.stats.add("proposals")
            log.info("interop: drawing %s proposed as a zone (%s)", drawing.uid, response.json().get("id"))
        else:
            self.stats.bad_input(
                "proposals_refused",
                f"drawing {drawing.uid} refused by keepclear ({response.status_code}): {response.text[:200]}",
            )

    def join(self, timeout_s: float = 10.0) -> None:
        for worker in list(self._threads):
            worker.join(timeout_s)
