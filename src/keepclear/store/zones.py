"""Stored zones: geometry as GeoJSON text plus a bounding box for coarse spatial filtering."""

from __future__ import annotations

import json

import shapely
import sqlalchemy as sa
from shapely.geometry import mapping, shape
from sqlalchemy.engine import Connection, Row

from keepclear.domain.zones import AltitudeBand, Validity, Zone, ZoneKind, ZoneRules
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


def _zone(row: Row[tuple[object, ...]]) -> Zone:
    m = row._mapping
    permitted = m["permitted_parties"]
    return Zone(
        id=m["id"],
        name=m["name"],
        kind=ZoneKind(m["kind"]),
        geometry=shape(json.loads(m["geometry"])),
        altitude=AltitudeBand(m["lower_ft"], m["upper_ft"]),
        validity=Validity(m["valid_from_s"], m["valid_until_s"]),
        rules=ZoneRules(
            permitted_parties=None if permitted is None else frozenset(json.loads(permitted)),
            min_notice_h=m["min_notice_h"],
        ),
        buffer_m=m["buffer_m"],
        description=m["description"],
        names=tuple(sorted(json.loads(m["names"]).items())) if m["names"] else (),
    )


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


def list_zones(conn: Connection) -> list[Zone]:
    """Every stored zone, by id."""
    return [_zone(r) for r in conn.execute(sa.select(zones).order_by(zones.c.id))]


def get_zone(conn: Connection, zone_id: str) -> Zone:
    """The zone ``zone_id``, or ``NotFoundError``."""
    row = conn.execute(sa.select(zones).where(zones.c.id == zone_id)).first()
    if row is None:
        raise NotFoundError(f"zone {zone_id!r} does not exist")
    return _zone(row)


def delete_zone(conn: Connection, zone_id: str) -> None:
    """Remove ``zone_id``, or ``NotFoundError``."""
    if conn.execute(zones.delete().where(zones.c.id == zone_id)).rowcount == 0:
        raise NotFoundError(f"zone {zone_id!r} does not exist")
