"""Where each unit's reports come from: the feed key and the source it names (``X-Keepclear-Source``,
e.g. ``interop a-tak: cot:tcp:8087``) of the last batch that carried the unit, and when. In memory
(it describes the live feeds, not history), one entry per unit, read by the unit's own party only."""

from __future__ import annotations

import threading
from dataclasses import dataclass

MAX_SOURCE_CHARS = 200


@dataclass(frozen=True, slots=True)
class FeedSource:
    unit_id: str
    party_id: str
    key_id: str
    source: str
    last_message_s: float


def clean_source(raw: str | None, key_id: str) -> str:
    """The source a batch names, printable and bounded; the feed key's id when it names none."""
    text = "".join(ch for ch in (raw or "") if ch.isprintable()).strip()[:MAX_SOURCE_CHARS]
    return text or f"HTTP (key {key_id})"


class FeedSources:
    """unit id -> the feed that last reported it (bounded by the registry's units).

    A batch's units share one entry (party, key, source, time): recording a batch of thousands is
    one dictionary update, not an object a unit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_unit: dict[str, tuple[str, str, str, float]] = {}

    def record(self, party_id: str, key_id: str, source: str, unit_ids: list[str], now_s: float) -> None:
        entry = (party_id, key_id, source, now_s)
        with self._lock:
            self._by_unit.update(dict.fromkeys(unit_ids, entry))

    def __len__(self) -> int:
        """Units with an entry (``feed_sources_units``; at most the registry's units)."""
        return len(self._by_unit)

    def of_party(self, party_id: str) -> list[FeedSource]:
        with self._lock:
            found = [(unit_id, entry) for unit_id, entry in self._by_unit.items() if entry[0] == party_id]
        return sorted((FeedSource(unit_id, *entry) for unit_id, entry in found), key=lambda s: s.unit_id)
