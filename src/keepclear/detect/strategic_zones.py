"""Judging the new activity against a zone: no access, too little notice, or a protected site
(``PreparedZone``: a zone with its covered area drawn once), each a ``Conflict`` over where and
when the activity's pieces enter the zone's area, band and validity.

Pure: no clock, no database. Times are epoch seconds; geometry is lon/lat degrees.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import shapely
import shapely.errors
from shapely.geometry.base import BaseGeometry

from keepclear.detect.activity_geometry import Piece, zone_area
from keepclear.detect.strategic_probes import bounds_of, boxes_overlap, merged, overlap
from keepclear.detect.strategic_values import HOUR_S, Conflict, ConflictKind, StrategicConfig
from keepclear.domain.activities import ActivityKind
from keepclear.domain.zones import (
    Access,
    UndrawableZoneError,
    Zone,
    ZoneKind,
    drawn_area_problem,
    zone_drawing_problem,
)


@dataclass(frozen=True, slots=True)
class PreparedZone:
    """A zone with its covered area drawn (lines and points grown by their buffer)."""

    zone: Zone
    area: BaseGeometry
    bounds: tuple[float, float, float, float]

    @classmethod
    def of(cls, zone: Zone) -> PreparedZone:
        """Draw ``zone``'s area once; ``UndrawableZoneError`` when it cannot be drawn (its buffer
        past any area, a coordinate not a number: ``zone_drawing_problem``), which the check leaves out."""
        problem = zone_drawing_problem(zone)
        if problem is not None:
            raise UndrawableZoneError(zone.id, problem)
        try:
            area = zone_area(zone)
            bounds = bounds_of(area)
        except (ValueError, ArithmeticError, RuntimeWarning, shapely.errors.GEOSException) as exc:
            raise UndrawableZoneError(zone.id, f"drawing failed: {exc}") from exc
        problem = drawn_area_problem(bounds, area.is_empty)
        if problem is not None:
            raise UndrawableZoneError(zone.id, problem)
        shapely.prepare(area)
        return cls(zone, area, bounds)


def judge_zone(
    pieces: Sequence[Piece],
    prepared: PreparedZone,
    party_id: str,
    kind: ActivityKind,
    notified_s: float,
    config: StrategicConfig,
) -> list[Conflict]:
    """The conflicts between the new activity's ``pieces`` and one zone (none, one or two)."""
    zone = prepared.zone
    access = zone.rules.access_for(party_id)
    protected = zone.kind is ZoneKind.PROTECTED_SITE and kind not in config.protected_site_exempt_kinds
    if access is Access.PERMITTED and not protected:
        return []
    lo = -math.inf if zone.validity.valid_from_s is None else zone.validity.valid_from_s
    hi = math.inf if zone.validity.valid_until_s is None else zone.validity.valid_until_s
    required_s = zone.rules.min_notice_h * HOUR_S
    if access is Access.WITH_NOTICE and not protected:
        earliest_s = min((max(p.start_s, lo) for p in pieces), default=math.inf)
        if earliest_s - notified_s >= required_s:
            return []  # enough notice even for the earliest entry possible
    band = zone.altitude
    hits = [
        piece
        for piece in pieces
        if piece.start_s < hi
        and lo < piece.end_s
        and piece.lower_ft <= band.upper_ft
        and band.lower_ft <= piece.upper_ft
        and boxes_overlap(prepared.bounds, piece.bounds)
        and prepared.area.intersects(piece.geometry)
    ]
    if not hits:
        return []
    start_s = min(max(p.start_s, lo) for p in hits)
    given_s = start_s - notified_s
    reasons: list[tuple[ConflictKind, str]] = []
    if access is Access.FORBIDDEN:
        reasons.append(
            (
                ConflictKind.ZONE_NOT_PERMITTED,
                f"{zone.kind.value} {zone.id} ({zone.name}) does not permit {party_id} to operate inside",
            )
        )
    elif access is Access.WITH_NOTICE and given_s < required_s:
        reasons.append(
            (
                ConflictKind.ZONE_SHORT_NOTICE,
                f"{zone.kind.value} {zone.id} ({zone.name}) needs {zone.rules.min_notice_h:g} h notice;"
                f" {given_s / HOUR_S:.1f} h given",
            )
        )
    if protected:
        reasons.append((ConflictKind.PROTECTED_SITE, f"protected site {zone.id} ({zone.name})"))
    if not reasons:
        return []
    geometry, start_s, end_s, lower_ft, upper_ft = merged(
        [
            (
                overlap(prepared.area, piece.geometry),
                max(piece.start_s, lo),
                min(piece.end_s, hi),
                max(piece.lower_ft, band.lower_ft),
                min(piece.upper_ft, band.upper_ft),
            )
            for piece in hits
        ]
    )
    return [
        Conflict(
            conflict_kind,
            zone.id,
            None,
            None,
            geometry,
            start_s,
            end_s,
            lower_ft,
            upper_ft,
            reason,
            *((required_s, given_s) if conflict_kind is ConflictKind.ZONE_SHORT_NOTICE else ()),
        )
        for conflict_kind, reason in reasons
    ]
