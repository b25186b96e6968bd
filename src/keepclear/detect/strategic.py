"""The strategic check: a new activity against other parties' activities, zones and protected sites.

``StrategicIndex`` (``strategic_index``) keeps live activities and zones in a grid keyed by (lon
cell, lat cell, time bucket; ``strategic_grid``); a check gathers the candidates sharing a cell and
bucket with the new activity, then judges each exactly (time, altitude, then shapely geometry).
Between two activities of many pieces (long routes, many volumes) only the pieces that meet in
time, altitude and box are put to shapely, found by a join (``box_pairs``) rather than a loop over
every pair. ``brute_force_check`` judges every stored activity with the same function and is the
oracle the index is tested and benchmarked against.

The parts, one concept each: what the check takes and gives (``strategic_values``), the new
activity grown into probes and where shapes meet (``strategic_probes``), judging other activities
(``strategic_activities``) and zones (``strategic_zones``). This module puts their verdicts
together into a ``CheckResult``; every name of the parts callers use is importable from here.

Pure: no clock, no database. Times are epoch seconds; geometry is lon/lat degrees.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from keepclear.detect.strategic_activities import PAIRS_LOOPED, Judged, judge_activities, judge_activity
from keepclear.detect.strategic_probes import Probe, ProbeSet, overlap, probes_for
from keepclear.detect.strategic_values import (
    HOUR_S,
    CheckCounts,
    CheckResult,
    CheckTooCostly,
    Conflict,
    ConflictKind,
    IndexedActivity,
    LateNotice,
    StrategicConfig,
)
from keepclear.detect.strategic_zones import PreparedZone, judge_zone
from keepclear.domain.activities import ActivityKind

__all__ = [
    "HOUR_S",
    "PAIRS_LOOPED",
    "CheckCounts",
    "CheckResult",
    "CheckTooCostly",
    "Conflict",
    "ConflictKind",
    "IndexedActivity",
    "Judged",
    "LateNotice",
    "PreparedZone",
    "Probe",
    "ProbeSet",
    "StrategicConfig",
    "brute_force_check",
    "check_result",
    "judge_activities",
    "judge_activity",
    "judge_zone",
    "late_notice",
    "overlap",
    "probes_for",
]


def late_notice(kind: ActivityKind, start_s: float, notified_s: float, config: StrategicConfig) -> LateNotice | None:
    """The lead-time flag: None when ``start_s - notified_s`` meets the minimum for ``kind``."""
    required_s = config.min_notice_s(kind)
    given_s = start_s - notified_s
    return LateNotice(required_s, given_s) if given_s < required_s else None


def _result(
    subject: IndexedActivity, conflicts: Iterable[Conflict], notified_s: float, config: StrategicConfig
) -> CheckResult:
    """The conflicts sorted by kind and target, with the lead-time flag of ``subject``'s first piece."""
    start_s = min(p.start_s for p in subject.pieces)
    ordered = tuple(sorted(conflicts, key=lambda c: (c.kind.value, c.target_id)))
    return CheckResult(ordered, late_notice(subject.kind, start_s, notified_s, config))


def brute_force_check(
    subject: IndexedActivity,
    activities: Iterable[IndexedActivity],
    zones: Iterable[PreparedZone],
    notified_s: float,
    config: StrategicConfig,
) -> CheckResult:
    """The check by judging every stored activity and zone: the oracle for ``StrategicIndex.check``."""
    probes = probes_for(subject.pieces, config)
    conflicts: list[Conflict] = []
    for other in activities:
        if other.party_id == subject.party_id or other.activity_id == subject.activity_id:
            continue
        if (found := judge_activity(probes, other, config)) is not None:
            conflicts.append(found)
    for prepared in zones:
        conflicts += judge_zone(subject.pieces, prepared, subject.party_id, subject.kind, notified_s, config)
    return _result(subject, conflicts, notified_s, config)


def check_result(
    subject: IndexedActivity,
    judged: Mapping[str, Judged],
    zone_conflicts: Iterable[Conflict],
    notified_s: float,
    config: StrategicConfig,
) -> CheckResult:
    """The check's result from the verdicts on other activities and the zones' conflicts."""
    found = [j.conflict for j in judged.values() if j.conflict is not None]
    return _result(subject, [*found, *zone_conflicts], notified_s, config)
