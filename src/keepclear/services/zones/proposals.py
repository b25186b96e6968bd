"""Zone proposals: a party's feed proposes a shape (drawn on its TAK), an admin accepts it as an
agreed zone (through the ordinary import, so it is validated and recorded as any zone is) or refuses
it. Until accepted a proposal is nobody's geography: the probe never sees it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Clock, Event, EventSink
from keepclear.domain.ids import random_id
from keepclear.domain.limits import line_problem, one_line_text
from keepclear.domain.zones import MAX_ZONE_BUFFER_M, MIN_ZONE_BUFFER_M, ZoneKind
from keepclear.errors import ConflictError, ValidationError
from keepclear.geo.zone_geojson import coordinate_problems, shape_problems
from keepclear.ledger.canonical import canonical_bytes, sha256_hex
from keepclear.services.quota import Quota
from keepclear.services.record.staging import stage
from keepclear.services.zones.service import ZoneService
from keepclear.store import Database
from keepclear.store import registry as registry_store
from keepclear.store import zone_proposals as store

MAX_VERTICES = 2_000


def _vertex_count(geometry_type: str, coordinates: Any) -> int:
    """Positions of checked ``coordinates`` (a Point has one)."""
    if geometry_type == "Point":
        return 1
    if geometry_type == "LineString":
        return len(coordinates)
    return sum(len(ring) for ring in coordinates)


def _check_geometry(geometry: Any) -> tuple[list[str], dict[str, Any]]:
    """Problems of a proposed geometry, whole (every ring and position), and what of it is kept: its
    ``type``, ``coordinates`` and, for a circle, ``radius_m``, nothing else it was sent with.

    A closed polygon ring, a line, or a circle (a Point with the member ``radius_m``, metres), of
    finite lon/lat degrees: what the zone importer accepts, so the admin's list reads it back."""
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "LineString", "Point"):
        return ["geometry: a GeoJSON Polygon, LineString or Point (a circle, with radius_m) is expected"], {}
    geometry_type: str = geometry["type"]
    coordinates: Any = geometry.get("coordinates")
    kept: dict[str, Any] = {"type": geometry_type, "coordinates": coordinates}
    problems = coordinate_problems(geometry_type, coordinates, "geometry")
    if not problems and (count := _vertex_count(geometry_type, coordinates)) > MAX_VERTICES:
        problems.append(f"geometry: {count} positions, at most {MAX_VERTICES}")
    radius = geometry.get("radius_m")
    if geometry_type == "Point":
        if (
            not isinstance(radius, int | float)
            or isinstance(radius, bool)
            or not MIN_ZONE_BUFFER_M <= radius <= MAX_ZONE_BUFFER_M
        ):
            problems.append(
                f"geometry.radius_m: a circle's radius in metres, at least {MIN_ZONE_BUFFER_M:g}"
                f" and at most {MAX_ZONE_BUFFER_M:.0f}"
            )
        kept["radius_m"] = radius
    elif "radius_m" in geometry:
        problems.append(f"geometry.radius_m: only a circle (a Point) has a radius, not a {geometry_type}")
    return problems, kept


def proposal_problems(source: Any, name: Any, geometry: Any, remarks: Any) -> tuple[list[str], dict[str, Any]]:
    """Every reason a proposal cannot be kept (each naming its field), and its geometry as kept."""
    problems, kept = _check_geometry(geometry)
    if not isinstance(source, str) or not 0 < len(source) <= 200:
        problems.append("source: 1 to 200 characters")
    elif p := line_problem(source, "source"):
        problems.append(p)
    if not isinstance(name, str) or not 0 < len(name.strip()) <= 200:
        problems.append("name: 1 to 200 characters")
    elif p := line_problem(name, "name"):
        problems.append(p)
    if not isinstance(remarks, str) or len(remarks) > 4000:
        problems.append("remarks: at most 4000 characters")
    return problems, kept


def _as_listed(proposal: dict[str, Any]) -> dict[str, Any]:
    """``proposal`` as stored, or, when it breaks a rule (stored before the rule), its problems
    without the geometry and with its text fields on one line."""
    problems, _ = proposal_problems(proposal["source"], proposal["name"], proposal["geometry"], proposal["remarks"])
    if not problems:
        return {**proposal, "problems": []}
    one_line = {k: one_line_text(str(proposal[k])) for k in ("source", "name")}
    return {**proposal, **one_line, "geometry": None, "problems": problems}


class ZoneProposals:
    """Propose, list, accept and refuse; each of them a record entry in the same transaction
    (``proposal.submitted``, ``proposal.accepted``, ``proposal.refused``), the proposer its audience."""

    def __init__(
        self, db: Database, clock: Clock, zones: ZoneService, events: EventSink, *, max_pending_per_party: int
    ) -> None:
        self._db = db
        self._clock = clock
        self._zones = zones
        self._events = events
        #: Proposals one party may have waiting for an admin's decision (a redrawn one replaces
        #: itself): setting ``max_pending_zone_proposals_per_party``; its refusals are
        #: ``zone_proposals_refused_limit_total``.
        self.pending_quota = Quota(max_pending_per_party)

    def propose(self, party_id: str, source: str, name: str, geometry: Any, remarks: str = "") -> tuple[str, bool]:
        """Store a pending proposal of ``party_id`` (one per ``source``: a redrawn shape replaces it)."""
        problems, geometry = proposal_problems(source, name, geometry, remarks)
        if not problems and geometry["type"] != "Point":  # a shape the admin could not accept: told now
            problems = shape_problems(geometry, "geometry")[1]
        if problems:
            raise ValidationError(problems)
        now_s = self._clock.now_s()
        values = {
            "id": random_id("zp"),
            "party_id": party_id,
            "source": source,
            "name": name.strip(),
            "geometry": json.dumps(geometry),
            "remarks": remarks,
            "proposed_s": now_s,
        }
        with self._db.write() as conn:
            registry_store.lock_party(conn, party_id)  # counted one writer at a time, in any process
            most = self.pending_quota.most
            if not self.pending_quota.allows(store.pending_count(conn, party_id, but_source=source)):
                raise self.pending_quota.refused(
                    f"party {party_id} has {most} proposals pending, the most it may have"
                    f" (max_pending_zone_proposals_per_party: {most}); redraw one of them (same source), or"
                    " see which are pending (GET /v1/zone-proposals?state=pending) and wait for an admin to decide"
                )
            found, created = store.upsert_pending(conn, values)
            event = None
            if created or store.get_proposal(conn, found)["state"] == "pending":
                payload = {
                    "proposal_id": found,
                    "source": source,
                    "name": values["name"],
                    "geometry_sha256": sha256_hex(canonical_bytes(geometry)),
                    "remarks_sha256": sha256_hex(remarks.encode()),
                    "replaces": not created,
                }
                event = Event(EventKind.PROPOSAL_SUBMITTED, now_s, party_id, payload, frozenset({party_id}))
                stage(conn, [event])
        if event is not None:
            self._events.emit(event)
        return found, created

    def pending(self) -> int:
        """Proposals of every party waiting for a decision (a metric)."""
        with self._db.read() as conn:
            return store.pending_count(conn)

    def list(self, state: str | None = None) -> list[dict[str, Any]]:
        """Every proposal (or those in ``state``), oldest first, each judged again as ``propose``
        judges one: a row an older version stored unchecked (a hole of text, a line break in its
        name) is listed with its ``problems``, without its geometry and with its text on one line,
        so it neither breaks the list nor forges a line of it; the admin refuses it."""
        with self._db.read() as conn:
            stored = store.list_proposals(conn, state)
        return [_as_listed(p) for p in stored]

    def page(
        self, state: str | None, after: tuple[float, str] | None, limit: int, party_id: str | None = None
    ) -> tuple[Sequence[dict[str, Any]], bool]:
        """Up to ``limit`` proposals (or those in ``state``; of ``party_id`` only, when given: one
        range of an index whatever the other parties proposed) after ``after`` (proposed time, id),
        judged as ``list`` judges them, and whether a next page may hold more."""
        with self._db.read() as conn:
            stored = store.proposals_page(conn, state, after, limit + 1, party_id)
        return [_as_listed(p) for p in stored[:limit]], len(stored) > limit

    def get(self, proposal_id: str) -> dict[str, Any]:
        """One proposal, judged as ``list`` judges it (``NotFoundError`` when there is none): who
        may see it is the caller's to decide (``policy.proposal_visible``)."""
        with self._db.read() as conn:
            return _as_listed(store.get_proposal(conn, proposal_id))

    @staticmethod
    def _pending(conn: Connection, proposal_id: str) -> dict[str, Any]:
        proposal = store.get_proposal(conn, proposal_id)
        if proposal["state"] != "pending":
            raise ConflictError(f"zone proposal {proposal_id} is already {proposal['state']}")
        return proposal

    def accept(self, proposal_id: str, zone_id: str, kind: ZoneKind, properties: dict[str, Any] | None = None) -> str:
        """Import the proposal as zone ``zone_id`` of ``kind`` (more GeoJSON properties in
        ``properties``: altitudes, validity, permitted parties...) and mark it accepted, in one
        transaction: the zone is validated and recorded as any import is."""
        with self._db.read() as conn:
            proposal = store.get_proposal(conn, proposal_id)
        geometry = dict(proposal["geometry"])
        circle = {"radius_m": geometry.pop("radius_m")} if "radius_m" in geometry else {}  # a zone's property
        feature = {
            "type": "Feature",
            "id": zone_id,
            "geometry": geometry,
            "properties": {
                "name": proposal["name"],
                "kind": kind.value,
                "description": f"proposed by party {proposal['party_id']} ({proposal['source']})",
                **circle,
                **(properties or {}),
            },
        }
        zones = self._zones.validate({"type": "FeatureCollection", "features": [feature]})
        with self._db.write() as conn:
            proposal = self._pending(conn, proposal_id)
            imported = self._zones.store_in(conn, zones, replace=False, party_id=None)
            decided = self._decide(conn, proposal, "accepted", "", zone_id)
        self._events.emit(imported)
        self._events.emit(decided)
        return zone_id

    def refuse(self, proposal_id: str, reason: str) -> None:
        """Refuse the proposal, with the reason (recorded for its proposer)."""
        with self._db.write() as conn:
            decided = self._decide(conn, self._pending(conn, proposal_id), "refused", reason, None)
        self._events.emit(decided)

    def _decide(
        self, conn: Connection, proposal: dict[str, Any], state: str, reason: str, zone_id: str | None
    ) -> Event:
        """Inside the write: mark ``proposal`` decided and stage its entry; the event to emit after commit."""
        now_s = self._clock.now_s()
        store.decide(conn, proposal["id"], state, now_s, reason, zone_id)
        if state == "accepted":
            kind, payload = EventKind.PROPOSAL_ACCEPTED, {"proposal_id": proposal["id"], "zone_id": zone_id}
        else:
            kind, payload = EventKind.PROPOSAL_REFUSED, {"proposal_id": proposal["id"], "reason": reason}
        decided = Event(kind, now_s, None, payload, frozenset({proposal["party_id"]}))
        stage(conn, [decided])
        return decided
