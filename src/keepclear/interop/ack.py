"""Acknowledging an alert from TAK: a GeoChat message ``ACK <alert id>`` from a TAK user the mapping
file allows (``acknowledge:``) is posted to ``/v1/alerts/{id}/acknowledge`` with the party's liaison
key, the TAK user's callsign as the person, so it is recorded as the liaison's acknowledgement.
Anyone else's ACK is refused and counted; other chat is ignored.
"""

from __future__ import annotations

import re
import threading

import httpx

from keepclear.interop.cot import Chat
from keepclear.interop.observation import Stats, log

_ACK_RE = re.compile(r"^\s*ACK\s+(?:keepclear\.alert\.)?([A-Za-z0-9_.:-]{1,200})\s*$", re.IGNORECASE)


def alert_of(text: str) -> str | None:
    """The alert id an ``ACK <id>`` message names (``keepclear.alert.<id>`` too), None for other text."""
    found = _ACK_RE.match(text)
    return found.group(1) if found else None


class Acknowledger:
    """Turns allowed TAK users' ``ACK <alert>`` chat into acknowledgements, each on a thread of its own
    (the gateway's loop never waits for keepclear)."""

    def __init__(
        self, url: str, liaison_key: str, allowed_uids: frozenset[str], stats: Stats, *, timeout_s: float = 10.0
    ) -> None:
        self.url = url.rstrip("/")
        self.key = liaison_key
        self.allowed_uids = allowed_uids
        self.stats = stats
        self.timeout_s = timeout_s
        self._threads: list[threading.Thread] = []

    def on_chat(self, chat: Chat) -> None:
        alert_id = alert_of(chat.text)
        if alert_id is None:
            return
        if chat.sender_uid not in self.allowed_uids:
            self.stats.bad_input(
                "acks_refused",
                f"ACK of {alert_id} from TAK user {chat.sender_uid!r} refused: not allowed by the mapping",
            )
            return
        worker = threading.Thread(target=self._post, args=(alert_id, chat), name="interop-ack", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [worker]
        worker.start()

    def _post(self, alert_id: str, chat: Chat) -> None:
        person = f"{chat.callsign} (TAK {chat.sender_uid})"[:200]
        try:
            response = httpx.post(
                f"{self.url}/v1/alerts/{alert_id}/acknowledge",
                headers={"Authorization": f"Bearer {self.key}", "X-Keepclear-Person": person},
                timeout=self.timeout_s,
            )
        except httpx.HTTPError as exc:
            self.stats.bad_input("acks_refused", f"ACK of {alert_id} could not reach keepclear: {exc}")
            return
        if response.status_code == 200:
            self.stats.add("acks")
            log.info("interop: alert %s acknowledged from TAK by %s", alert_id, person)
        else:
            self.stats.bad_input(
                "acks_refused",
                f"ACK of {alert_id} refused by keepclear ({response.status_code}): {response.text[:200]}",
            )

    def join(self, timeout_s: float = 10.0) -> None:
        """Wait for acknowledgements in flight (tests, shutdown)."""
        for worker in list(self._threads):
            worker.join(timeout_s)
