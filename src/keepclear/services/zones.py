"""Use cases on the shared geography: import, export and list zones."""

from __future__ import annotations

import json
from typing import Any

from keepclear.domain.events import Clock, Event, EventSink
from keepclear.domain.zones import Zone
from keepclear.errors import ConflictError, ValidationError
from keepclear.geo.zone_geojson import zones_from_geojson, zones_to_geojson
from keepclear.store import Database
from keepclear.store import zones as zone_store


def parse_geojson_text(text: str, source: str) -> Any:
    """JSON text to a document, refusing NaN/Infinity literals and naming the line of a syntax error."""

    def refuse_constant(name: str) -> float:
        raise ValueError(f"{name} is not allowed in GeoJSON")

    try:
        return json.loads(text, parse_constant=refuse_constant)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            [f"{source}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"]
        ) from None
    except ValueError as exc:
        raise ValidationError([f"{source}: {exc}"]) from None


class ZoneService:
    """Shared geography of one deployment."""

    def __init__(self, db: Database, clock: Clock, events: EventSink) -> None:
        self._db = db
        self._clock = clock
        self._events = events

    def import_document(self, document: object, *, replace: bool = False, party_id: str | None = None) -> list[Zone]:
        """Validate every feature, then store all of them in one transaction, or none.

        A zone id that is already stored is refused unless ``replace`` is set.
        """
        new_zones = zones_from_geojson(document)
        with self._db.write() as conn:
            clashes = zone_store.existing_zone_ids(conn, [z.id for z in new_zones])
            if clashes and not replace:
                raise ConflictError(
                    f"zones already stored: {', '.join(sorted(clashes))} (import with --replace, or replace=true, to overwrite them)"
                )
            zone_store.upsert_zones(conn, new_zones)
        self._events.emit(
            Event(
                kind="zones.imported",
                time_s=self._clock.now_s(),
                party_id=party_id,
                payload={"zone_ids": [z.id for z in new_zones], "replaced": sorted(clashes)},
            )
        )
        return new_zones

    def list(self) -> list[Zone]:
        """Every zone, by id."""
        with self._db.read() as conn:
            return zone_store.list_zones(conn)

    def export_document(self) -> dict[str, Any]:
        """Every zone as a GeoJSON FeatureCollection."""
        return zones_to_geojson(self.list())
