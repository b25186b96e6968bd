"""The map figures of incident reports, drawn once for each frozen evidence and language.

Drawing an incident's map (``incident.track_map_png``, matplotlib) takes up to 0.8 s of CPU for the
largest evidence, and every involved party may ask for the report again and again. Frozen evidence
never changes, and the figure shows it alone, the same to every reader of the incident (its
parties and the operator: need to know), in the reader's language: so the figure of an incident,
its evidence's SHA-256 and a language is kept, the most recently used first, within ``max_bytes``.
Evidence not frozen yet has no figure to draw (the report says so), so nothing of it is kept.

A party whose reports miss the cache (it is involved in more incidents than are kept, and asks for
each in turn) draws one figure at a time: its requests take turns (``PartyTurns``), so it holds at
most one core of the API process whatever it sends, and a request that waited finds what the one
before it drew. Per process, as the cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from keepclear.domain.incidents import Incident
from keepclear.services.party_turns import PartyTurns

#: The figures kept at most, in bytes of PNG (a figure of a busy encounter: 50 to 150 KB).
FIGURE_CACHE_BYTES = 8 * 1024 * 1024

#: The turn of a reader without a party (the operator).
_OPERATOR = ""


class ReportFigures:
    """Map figures of frozen evidence by (incident, evidence SHA-256, language), least recently used
    out first beyond ``max_bytes`` (see the module docstring)."""

    def __init__(self, max_bytes: int = FIGURE_CACHE_BYTES) -> None:
        self._max_bytes = max_bytes
        self._kept: OrderedDict[tuple[str, str, str], bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._turns = PartyTurns()
        #: Bytes of PNG kept (``incident_report_figure_bytes``).
        self.bytes_held = 0
        #: Figures drawn since the start (``incident_report_figures_drawn_total``).
        self.drawn_total = 0

    @property
    def kept(self) -> int:
        """Figures kept now (``incident_report_figures_kept``)."""
        return len(self._kept)

    @property
    def waiting(self) -> int:
        """Requests waiting for their party's figure before theirs (``incident_report_figures_waiting_turn``)."""
        return self._turns.waiting

    def png(
        self, incident: Incident, language: str, reader: str | None, draw: Callable[[], bytes | None]
    ) -> bytes | None:
        """The figure of ``incident`` in ``language``: the one kept, else ``draw()`` in ``reader``'s
        party's turn (kept once the evidence is frozen)."""
        digest = incident.evidence_sha256
        if digest is None:  # no evidence yet: nothing to draw, and nothing to keep
            return draw()
        key = (incident.id, digest, language)
        if (found := self._found(key)) is not None:
            return found
        with self._turns.turn([reader or _OPERATOR]):
            if (found := self._found(key)) is not None:  # drawn by the request before it
                return found
            png = draw()
            if png is None:  # no tracks in the window, or no matplotlib: nothing was drawn
                return None
            with self._lock:
                self.drawn_total += 1
                if len(png) <= self._max_bytes and key not in self._kept:
                    self._kept[key] = png
                    self.bytes_held += len(png)
                    while self.bytes_held > self._max_bytes:
                        _, dropped = self._kept.popitem(last=False)
                        self.bytes_held -= len(dropped)
            return png

    def _found(self, key: tuple[str, str, str]) -> bytes | None:
        with self._lock:
            png = self._kept.get(key)
            if png is not None:
                self._kept.move_to_end(key)
            return png
