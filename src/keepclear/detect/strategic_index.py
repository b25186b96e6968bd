"""The index of live activities and zones that a new activity is checked against.

Activities and zones sit in grids keyed by (lon cell, lat cell, time bucket; ``strategic_grid``): a
check reads the candidates sharing a cell and bucket with the new activity's grown pieces and judges
each with ``strategic``'s exact functions, so its result equals ``brute_force_check``'s.

Pure: no clock, no database. Times are epoch seconds; geometry is lon/lat degrees.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from keepclear.detect.strategic import (
    HOUR_S,
    PAIRS_LOOPED,
    CheckCounts,
    CheckResult,
    Conflict,
    IndexedActivity,
    Judged,
    PreparedZone,
    ProbeSet,
    StrategicConfig,
    check_result,
    judge_activities,
    judge_zone,
    probes_for,
)
from keepclear.detect.strategic_grid import Grid
from keepclear.domain.zones import ZoneKind


class StrategicIndex:
    """Live activities and zones, indexed for the check of a new activity.

    ``cell_deg`` (activities) and ``zone_cell_deg`` (zones, mostly long-lived, so kept in finer
    cells) are grid cells in degrees of lon and lat, ``bucket_s`` the time bucket; an item
    spanning more than ``max_buckets`` buckets (or an open validity) is kept in one long bucket per
    cell, which every query reads; one that would take more than ``max_keys`` (cell, bucket) keys
    is kept under one wide key, which every query reads too. ``pairs_looped``: see ``judge_activity``
    (``math.inf`` judges every pair of pieces as the check did before ``meeting_pairs``, for benches).
    """

    def __init__(
        self,
        cell_deg: float = 0.25,
        zone_cell_deg: float = 0.1,
        bucket_s: float = 6 * HOUR_S,
        max_buckets: int = 64,
        max_keys: int = 4096,
        pairs_looped: float = PAIRS_LOOPED,
    ) -> None:
        self._pairs_looped = pairs_looped
        self._activities: dict[str, IndexedActivity] = {}
        #: Live activities per party (what ``live_of`` answers; a party's bound is judged on it).
        self._per_party: dict[str, int] = {}
        self._zones: dict[str, PreparedZone] = {}
        self._activity_grid = Grid(cell_deg, bucket_s, max_buckets, max_keys)
        self._zone_grid = Grid(zone_cell_deg, bucket_s, max_buckets, max_keys)

    def __len__(self) -> int:
        return len(self._activities)

    def put_activity(self, activity: IndexedActivity) -> None:
        """Add or replace (same id) a live activity."""
        self.remove_activity(activity.activity_id)
        self._activities[activity.activity_id] = activity
        self._per_party[activity.party_id] = self._per_party.get(activity.party_id, 0) + 1
        self._activity_grid.add(activity.activity_id, ((p.bounds, p.start_s, p.end_s) for p in activity.pieces))

    def live_of(self, party_id: str) -> int:
        """How many live activities of ``party_id`` the index holds."""
        return self._per_party.get(party_id, 0)

    def most_live_of_one_party(self) -> int:
        """The most live activities any one party has in the index (0 when empty)."""
        return max(list(self._per_party.values()), default=0)

    def activity(self, activity_id: str) -> IndexedActivity | None:
        """The indexed activity ``activity_id``, or None."""
        return self._activities.get(activity_id)

    def remove_activity(self, activity_id: str) -> None:
        """Forget an activity (no longer live); unknown ids are ignored."""
        removed = self._activities.pop(activity_id, None)
        if removed is not None:
            self._activity_grid.remove(activity_id)
            left = self._per_party[removed.party_id] - 1
            if left:
                self._per_party[removed.party_id] = left
            else:
                del self._per_party[removed.party_id]

    def put_zone(self, prepared: PreparedZone) -> None:
        """Add or replace (same id) a zone."""
        self.remove_zone(prepared.zone.id)
        self._zones[prepared.zone.id] = prepared
        rules = prepared.zone.rules
        if (
            rules.permitted_parties is None
            and rules.min_notice_h <= 0
            and prepared.zone.kind is not ZoneKind.PROTECTED_SITE
        ):
            return  # open to every party without notice: it can never conflict, so no query reads it
        validity = prepared.zone.validity
        start_s = -math.inf if validity.valid_from_s is None else validity.valid_from_s
        end_s = math.inf if validity.valid_until_s is None else validity.valid_until_s
        self._zone_grid.add(prepared.zone.id, [(prepared.bounds, start_s, end_s)])

    def remove_zone(self, zone_id: str) -> None:
        """Forget a zone; unknown ids are ignored."""
        if self._zones.pop(zone_id, None) is not None:
            self._zone_grid.remove(zone_id)

    def activities(self) -> list[IndexedActivity]:
        """Every live activity held."""
        return list(self._activities.values())

    def zones(self) -> list[PreparedZone]:
        """Every zone held."""
        return list(self._zones.values())

    def nearby(self, subject: IndexedActivity, probes: ProbeSet) -> list[IndexedActivity]:
        """Other parties' activities sharing a grid cell and time bucket with one of ``probes`` (the
        grown pieces of ``subject``): the candidates ``judge_activities`` judges. Cheap (no
        geometry); the list holds the activities as they are now, and stays valid once the index
        moves on (an indexed activity is never changed, only replaced)."""
        activity_ids: set[str] = set()
        for probe in probes:
            activity_ids |= self._activity_grid.query(probe.bounds, probe.start_s, probe.end_s)
        return [
            other
            for other in (self._activities[i] for i in sorted(activity_ids))
            if other.party_id != subject.party_id and other.activity_id != subject.activity_id
        ]

    def judge_nearby(
        self,
        subject: IndexedActivity,
        probes: ProbeSet,
        config: StrategicConfig,
        known: Mapping[str, Judged] | None = None,
        counts: CheckCounts | None = None,
    ) -> dict[str, Judged]:
        """``judge_activities`` over ``nearby``, with this index's ``pairs_looped``."""
        return judge_activities(probes, self.nearby(subject, probes), config, known, counts, self._pairs_looped)

    @property
    def pairs_looped(self) -> float:
        """See ``judge_activity``: how many pairs this index tests in a loop rather than joins."""
        return self._pairs_looped

    def zone_conflicts(self, subject: IndexedActivity, notified_s: float, config: StrategicConfig) -> list[Conflict]:
        """Conflicts of ``subject`` notified at ``notified_s`` with the zones and protected sites."""
        zone_ids: set[str] = set()
        for piece in subject.pieces:
            zone_ids |= self._zone_grid.query(piece.bounds, piece.start_s, piece.end_s)
        conflicts: list[Conflict] = []
        for zone_id in zone_ids:
            conflicts += judge_zone(
                subject.pieces, self._zones[zone_id], subject.party_id, subject.kind, notified_s, config
            )
        return conflicts

    def check(
        self, subject: IndexedActivity, notified_s: float, config: StrategicConfig, counts: CheckCounts | None = None
    ) -> CheckResult:
        """Conflicts of ``subject`` notified at ``notified_s``; equal to ``brute_force_check``'s.
        ``counts``, when given, counts the pairs judged; more than ``config.max_exact_pairs`` judged
        exactly raise ``CheckTooCostly``."""
        probes = probes_for(subject.pieces, config)
        judged = self.judge_nearby(subject, probes, config, counts=counts)
        return check_result(subject, judged, self.zone_conflicts(subject, notified_s, config), notified_s, config)
