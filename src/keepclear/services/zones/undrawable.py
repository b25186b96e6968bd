"""The stored zones this process found it cannot draw, for the log (once each) and the metrics.

A stored row that cannot be read as a zone at all (an unknown kind, broken geometry JSON, an altitude
stored as text: ``store.zones.UnreadableZoneError``) is one of them too, with why it cannot be read.

A zone stored before a rule was made (a radius of 1e300 m or 1e-300 m, written by an older version
or straight into the table) is read as stored; every reader that draws zones leaves such a zone out
(``zone_drawing_problem``, ``UndrawableZoneError``) so that the other zones and every notification
keep working, and tells this register. One per deployment (``Deployment.undrawable_zones``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping

from keepclear.domain.zones import Zone, zone_drawing_problem

log = logging.getLogger(__name__)

#: At most this many (zone, problem) pairs are remembered as logged; past it the memory starts again
#: (a zone table rewritten with new bad zones again and again is logged again, never held unbounded).
MAX_LOGGED = 10_000


class UndrawableZones:
    """Zone id -> why it cannot be drawn, of the zones stored now as the readers last saw them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._problems: dict[str, str] = {}
        self._logged: set[tuple[str, str]] = set()

    def note(self, zone_id: str, problem: str) -> None:
        """A reader could not draw ``zone_id``: counted; logged the first time with this problem."""
        with self._lock:
            self._problems[zone_id] = problem
            if (zone_id, problem) in self._logged:
                return
            if len(self._logged) >= MAX_LOGGED:
                self._logged.clear()
            self._logged.add((zone_id, problem))
        log.warning(
            "zone %s cannot be drawn (%s): left out of the strategic check, the zone watch and the zone"
            " listings; `keepclear zones check` lists it, correct it and import it again with --replace",
            zone_id,
            problem,
        )

    def drawn(self, zone_id: str) -> None:
        """A reader drew ``zone_id`` (stored again, corrected): no longer counted."""
        with self._lock:
            self._problems.pop(zone_id, None)

    def stored(self, zone_ids: Iterable[str]) -> None:
        """Every zone stored now (a reader read the whole table): the ones gone are no longer counted."""
        kept = set(zone_ids)
        with self._lock:
            self._problems = {i: p for i, p in self._problems.items() if i in kept}

    def drawable(
        self, zones: Iterable[Zone], *, whole_table: bool = False, unreadable: Mapping[str, str] | None = None
    ) -> list[Zone]:
        """``zones`` less those ``zone_drawing_problem`` names (noted); ``whole_table``: they are
        every zone stored, so a zone no longer among them is no longer counted. ``unreadable``: the
        stored rows that could not be read as zones at all (``store.zones.read_zones``), noted too."""
        zones = list(zones)
        found = dict(unreadable or {})
        kept: list[Zone] = []
        for zone in zones:
            problem = zone_drawing_problem(zone)
            if problem is None:
                kept.append(zone)
            else:
                found[zone.id] = problem
        self.found(found, [zone.id for zone in zones] if whole_table else None)
        return kept

    def found(self, problems: Mapping[str, str], stored_ids: Iterable[str] | None = None) -> None:
        """A reader found ``problems`` (zone id -> why it cannot be drawn or read: each noted);
        ``stored_ids``: the zones it read, when it read the whole table (one no longer stored is no
        longer counted)."""
        for zone_id, problem in problems.items():
            self.note(zone_id, problem)
        if stored_ids is not None:
            self.stored([*stored_ids, *problems])

    def problem(self, zone_id: str) -> str | None:
        """Why ``zone_id`` cannot be drawn, as last noted (None: it could, or was not seen)."""
        with self._lock:
            return self._problems.get(zone_id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._problems)
