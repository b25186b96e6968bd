"""Use cases on the shared geography: import, export and list zones."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Clock, Event, EventSink
from keepclear.domain.json_input import parse_json
from keepclear.domain.limits import DEFAULT_LIMITS, InputLimits
from keepclear.domain.zones import Zone, zone_drawing_problem
from keepclear.errors import ConflictError, NotFoundError, ValidationError
from keepclear.geo.zone_geojson import zone_to_feature, zones_from_geojson, zones_to_geojson
from keepclear.ledger.canonical import canonical_bytes, sha256_hex
from keepclear.services.record.staging import stage
from keepclear.services.zones.undrawable import UndrawableZones
from keepclear.store import Database
from keepclear.store import registry as registry_store
from keepclear.store import zones as zone_store


def parse_geojson_text(text: bytes | str, source: str, limits: InputLimits = DEFAULT_LIMITS) -> Any:
    """JSON text to a document, read as every input is (``domain.json_input``): NaN/Infinity, depth,
    NUL and lone surrogates refused, a syntax error named by line and column."""
    return parse_json(text, limits, source)


class ZoneService:
    """Shared geography of one deployment."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        events: EventSink,
        limits: InputLimits = DEFAULT_LIMITS,
        undrawable: UndrawableZones | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._events = events
        self._limits = limits
        #: Stored zones that cannot be drawn: left out of the listings the console and TAK draw from.
        self.undrawable = UndrawableZones() if undrawable is None else undrawable

    def import_document(self, document: object, *, replace: bool = False, party_id: str | None = None) -> list[Zone]:
        """Validate every feature, then store all of them in one transaction, or none.

        A zone id that is already stored is refused unless ``replace`` is set; a permitted party that
        is not registered is refused with the feature and its place in the list, as every other problem.
        """
        new_zones = self.validate(document)
        with self._db.write() as conn:
            event = self.store_in(conn, new_zones, replace=replace, party_id=party_id)
        self._events.emit(event)
        return new_zones

    def store_in(self, conn: Connection, new_zones: list[Zone], *, replace: bool, party_id: str | None) -> Event:
        """Inside the caller's write transaction: store validated zones and stage their record entry.
        Returns the ``zones.imported`` event for the caller to emit once the transaction commits."""
        clashes = zone_store.existing_zone_ids(conn, [z.id for z in new_zones])
        if clashes and not replace:
            raise ConflictError(
                f"zones already stored: {', '.join(sorted(clashes))} (import with --replace, or replace=true, to overwrite them)"
            )
        zone_store.upsert_zones(conn, new_zones)
        event = Event(
            kind=EventKind.ZONES_IMPORTED,
            time_s=self._clock.now_s(),
            party_id=party_id,
            payload={
                "zone_ids": [z.id for z in new_zones],
                "replaced": sorted(clashes),
                # what was imported, by hash: the canonical GeoJSON of exactly these zones
                "zones_sha256": sha256_hex(canonical_bytes(zones_to_geojson(new_zones))),
            },
        )
        stage(conn, [event])
        return event

    def validate(self, document: object) -> list[Zone]:
        """The zones of a GeoJSON document, validated as an import validates them (against the parties
        registered now: parties are never removed, so one known here is known when they are stored);
        nothing is stored."""
        with self._db.read() as conn:
            parties = frozenset(party.id for party in registry_store.list_parties(conn))
        return zones_from_geojson(document, self._limits, parties)

    def check(self) -> tuple[int, dict[str, list[str]]]:
        """How many zones are stored, and each an import would refuse today, by id, with what the
        import would say (its feature index left out): zones stored before a rule was made (the
        altitude bounds, the registered parties, a tighter limit) stay stored and probed as they
        are, and this tells the operator which to correct and import again; a row that cannot be
        read as a zone at all is listed with why. Nothing is changed."""
        with self._db.read() as conn:
            parties = frozenset(party.id for party in registry_store.list_parties(conn))
            read = zone_store.read_zones(conn)
        stored = read.zones
        refused: dict[str, list[str]] = {zone_id: [problem] for zone_id, problem in read.unreadable.items()}
        for zone in stored:
            try:
                zones_from_geojson(zones_to_geojson([zone]), self._limits, parties)
            except ValidationError as exc:
                refused[zone.id] = [str(problem).removeprefix("feature 0 ") for problem in exc.problems]
        return len(stored) + len(read.unreadable), dict(sorted(refused.items()))

    def drawable(self) -> list[Zone]:
        """Every zone that can be drawn, by id: a stored zone that cannot (``zone_drawing_problem``)
        is left out, logged once and counted (``zones_undrawable``)."""
        with self._db.read() as conn:
            stored = zone_store.read_zones(conn)
        return self.undrawable.drawable(stored.zones, whole_table=True, unreadable=stored.unreadable)

    def list(self) -> list[Zone]:
        """Every zone, by id, as stored (those that cannot be drawn too: ``drawable``; a row that
        cannot be read as a zone at all is left out: ``drawable`` notes it)."""
        with self._db.read() as conn:
            return zone_store.list_zones(conn)

    def get(self, zone_id: str) -> Zone:
        """The zone ``zone_id`` (``NotFoundError`` when there is none)."""
        with self._db.read() as conn:
            return zone_store.get_zone(conn, zone_id)

    def feature(self, zone_id: str) -> dict[str, Any]:
        """The zone ``zone_id`` as a GeoJSON Feature; ``NotFoundError`` naming why when it is stored
        but cannot be drawn (the listings leave it out too)."""
        try:
            zone = self.get(zone_id)
        except zone_store.UnreadableZoneError as exc:
            raise self._refused(zone_id, "read", exc.problem) from None
        if (problem := zone_drawing_problem(zone)) is not None:
            raise self._refused(zone_id, "drawn", problem)
        return zone_to_feature(zone)

    def _refused(self, zone_id: str, how: str, problem: str) -> NotFoundError:
        """Zone ``zone_id`` cannot be ``how`` (read, drawn) for ``problem``: noted (logged once,
        counted), and the 404 that says so."""
        self.undrawable.note(zone_id, problem)
        return NotFoundError(
            f"zone {zone_id} is stored but cannot be {how} ({problem}):"
            " `keepclear zones check` lists it; correct it and import it again with replace"
        )

    def export_document(self) -> dict[str, Any]:
        """Every zone that can be drawn as a GeoJSON FeatureCollection (``drawable``)."""
        return zones_to_geojson(self.drawable())
