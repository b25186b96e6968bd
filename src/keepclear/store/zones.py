"""Stored zones: geometry as GeoJSON text plus a bounding box for coarse spatial filtering."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import shapely
import sqlalchemy as sa
from shapely.geometry import mapping, shape
from sqlalchemy.engine import Connection, Row

from keepclear.domain.zones import AltitudeBand, UndrawableZoneError, Validity, Zone, ZoneKind, ZoneRules
from keepclear.errors import NotFoundError
from keepclear.store.schema import in_list_chunks, zones


def _values(zone: Zone) -> dict[str, object]:
    min_lon, min_lat, max_lon, max_lat = shapely.bounds(zone.geometry).tolist()
    permitted = zone.rules.permitted_parties
    return {
        "id": zone.id,
        "name": zone.name,
        "kind": zone.kind.value,
        "geometry": json.dumps(mapping(zone.geometry)),
        "buffer_m": zone.buffer_m,
        "lower_ft": zone.altitude.lower_ft,
        "upper_ft": zone.altitude.upper_ft,
        "valid_from_s": zone.validity.valid_from_s,
        "valid_until_s": zone.validity.valid_until_s,
        "permitted_parties": None if permitted is None else json.dumps(sorted(permitted)),
        "min_notice_h": zone.rules.min_notice_h,
        "description": zone.description,
        "min_lon_deg": min_lon,
        "min_lat_deg": min_lat,
        "max_lon_deg": max_lon,
        "max_lat_deg": max_lat,
        "names": json.dumps(dict(zone.names), ensure_ascii=False) if zone.names else None,
    }


class UnreadableZoneError(UndrawableZoneError):
    """A stored zone row cannot be read as a zone at all (an unknown kind, broken geometry JSON, an
    altitude stored as text, a NULL where a value belongs: written straight into the table or by an
    older version). Its readers leave it out as they leave out a zone that cannot be drawn."""


@dataclass(frozen=True, slots=True)
class StoredZones:
    """The zone table as read: the zones that could be read, by id, and why each other row could not."""

    zones: list[Zone]
    unreadable: dict[str, str] = field(default_factory=dict)


def _number(m: Mapping[str, object], column: str) -> float:
    """The number in ``column``; ``ValueError`` naming it when it holds anything else (NULL too)."""
    value = m[column]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{column} is {_shown(value)}, not a number")
    if math.isnan(value):
        raise ValueError(f"{column} is NaN, not a number")
    return float(value)


def _number_or_null(m: Mapping[str, object], column: str) -> float | None:
    """The number in ``column``, or None for NULL (``_number`` otherwise)."""
    return None if m[column] is None else _number(m, column)


def _text(m: Mapping[str, object], column: str) -> str:
    value = m[column]
    if not isinstance(value, str):
        raise ValueError(f"{column} is {_shown(value)}, not text")
    return value


def _json(m: Mapping[str, object], column: str, kind: type) -> object:
    try:
        value = json.loads(_text(m, column))
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{column} is not JSON ({str(exc)[:80]})") from None
    if not isinstance(value, kind):
        raise ValueError(f"{column} is JSON {type(value).__name__}, not {kind.__name__}")
    return value


def _shown(value: object) -> str:
    return "NULL" if value is None else f"{type(value).__name__} {str(value)[:40]!r}"


def _read(m: Mapping[str, object]) -> Zone:
    kind = _text(m, "kind")
    if kind not in {k.value for k in ZoneKind}:
        raise ValueError(f"kind {kind[:40]!r} is not a zone kind")
    document = _json(m, "geometry", dict)
    try:
        geometry = shape(document)
    except Exception as exc:  # shapely answers a malformed GeoJSON geometry with many error types
        raise ValueError(f"geometry is not a GeoJSON geometry ({type(exc).__name__}: {str(exc)[:80]})") from None
    permitted = None if m["permitted_parties"] is None else _json(m, "permitted_parties", list)
    if permitted is not None and not all(isinstance(p, str) for p in permitted):  # type: ignore[attr-defined]
        raise ValueError("permitted_parties holds something other than party ids")
    names = _json(m, "names", dict) if m["names"] else {}
    if not all(isinstance(v, str) for v in names.values()):  # type: ignore[attr-defined]
        raise ValueError("names holds something other than names")
    return Zone(
        id=_text(m, "id"),
        name=_text(m, "name"),
        kind=ZoneKind(kind),
        geometry=geometry,
        altitude=AltitudeBand(_number(m, "lower_ft"), _number(m, "upper_ft")),
        validity=Validity(_number_or_null(m, "valid_from_s"), _number_or_null(m, "valid_until_s")),
        rules=ZoneRules(
            permitted_parties=None if permitted is None else frozenset(permitted),  # type: ignore[call-overload]
            min_notice_h=_number(m, "min_notice_h"),
        ),
        buffer_m=_number(m, "buffer_m"),
        description=_text(m, "description"),
        names=tuple(sorted(names.items())),  # type: ignore[attr-defined]
    )


def _zone(row: Row[tuple[object, ...]]) -> Zone:
    """The zone of a stored row, or ``UnreadableZoneError`` naming the column and what it holds."""
    m = row._mapping
    try:
        return _read(m)  # type: ignore[arg-type]
    except ValueError as exc:
        raise UnreadableZoneError(str(m["id"]), f"stored row cannot be read: {exc}") from None


def existing_zone_ids(conn: Connection, ids: list[str]) -> set[str]:
    """Which of ``ids`` are already stored."""
    found: set[str] = set()
    for chunk in in_list_chunks(ids):
        found.update(r.id for r in conn.execute(sa.select(zones.c.id).where(zones.c.id.in_(chunk))))
    return found


def upsert_zones(conn: Connection, new_zones: list[Zone]) -> None:
    """Store ``new_zones``, replacing any stored zone with the same id (inside the caller's transaction)."""
    if not new_zones:
        return
    conn.execute(zones.delete().where(zones.c.id.in_([z.id for z in new_zones])))
    conn.execute(zones.insert(), [_values(z) for z in new_zones])


def read_zones(conn: Connection) -> StoredZones:
    """Every stored zone, by id, and each row that cannot be read (left out) with why."""
    read = StoredZones([])
    for row in conn.execute(sa.select(zones).order_by(zones.c.id)):
        try:
            read.zones.append(_zone(row))
        except UnreadableZoneError as exc:
            read.unreadable[exc.zone_id] = exc.problem
    return read


def list_zones(conn: Connection) -> list[Zone]:
    """Every stored zone that can be read, by id (``read_zones`` names the rows left out)."""
    return read_zones(conn).zones


def get_zone(conn: Connection, zone_id: str) -> Zone:
    """The zone ``zone_id``, or ``NotFoundError``; ``UnreadableZoneError`` when its row cannot be read."""
    row = conn.execute(sa.select(zones).where(zones.c.id == zone_id)).first()
    if row is None:
        raise NotFoundError(f"zone {zone_id!r} does not exist")
    return _zone(row)


def delete_zone(conn: Connection, zone_id: str) -> None:
    """Remove ``zone_id``, or ``NotFoundError``."""
    if conn.execute(zones.delete().where(zones.c.id == zone_id)).rowcount == 0:
        raise NotFoundError(f"zone {zone_id!r} does not exist")
