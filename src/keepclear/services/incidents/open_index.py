"""The open incidents while one batch of bus events is handled, indexed by id, linked alert and
unit: which incidents an event belongs to, and which one a trigger would only repeat (merged into
it rather than opening another). One read of the store a batch (``concerned``), then lookups only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy.engine import Connection

from keepclear.domain.events import Event
from keepclear.domain.incidents import Incident, Trigger
from keepclear.store import incidents as store

__all__ = ["OpenIncidents", "concerned"]


def concerned(
    conn: Connection, relevant: Sequence[tuple[Event, Trigger | None]], merge_window_s: float
) -> OpenIncidents:
    """The open incidents the events may link to or merge with (by alert, id, or time within
    ``merge_window_s``), indexed."""
    alert_ids = [
        value
        for event, trigger in relevant
        for value in (event.payload.get("alert_id"), trigger.alert_id if trigger else None)
        if isinstance(value, str)
    ]
    incident_ids = [v for event, _ in relevant if isinstance(v := event.payload.get("incident_id"), str)]
    triggers = [t for _, t in relevant if t is not None]
    windows = [(t.time_s - merge_window_s, t.time_s + merge_window_s) for t in triggers]
    # Only an incident with a trigger's first unit can take it in (``OpenIncidents.same``).
    units = None if any(not t.unit_ids for t in triggers) else {t.unit_ids[0] for t in triggers}
    return OpenIncidents(
        store.open_incidents_concerned(
            conn, alert_ids=alert_ids, incident_ids=incident_ids, time_windows=windows, window_units=units
        )
    )


class OpenIncidents:
    """The open incidents while one batch of events is handled, indexed by id, linked alert and unit,
    so each event costs a few lookups rather than a pass over every open incident."""

    def __init__(self, incidents: Sequence[Incident]) -> None:
        self._by_id: dict[str, Incident] = {}
        self._by_alert: dict[str, list[str]] = {}
        self._by_unit: dict[str, list[str]] = {}
        for incident in incidents:
            self.add(incident)

    def add(self, incident: Incident) -> None:
        """Index a (new) open incident."""
        self._by_id[incident.id] = incident
        for alert_id in incident.alert_ids:
            self._by_alert.setdefault(alert_id, []).append(incident.id)
        for unit_id in incident.unit_ids:
            self._by_unit.setdefault(unit_id, []).append(incident.id)

    def get(self, incident_id: str) -> Incident:
        """The incident as it stands now in this batch."""
        return self._by_id[incident_id]

    def link_alert(self, incident: Incident, alert_id: str) -> None:
        """Note that ``alert_id`` now belongs to ``incident`` too."""
        self._by_id[incident.id] = replace(incident, alert_ids=tuple(sorted({*incident.alert_ids, alert_id})))
        self._by_alert.setdefault(alert_id, []).append(incident.id)

    def _in_order(self, ids: list[str]) -> list[Incident]:
        found = [self._by_id[i] for i in dict.fromkeys(ids)]
        return sorted(found, key=lambda incident: incident.time_s)

    def related(self, event: Event) -> list[Incident]:
        """Open incidents ``event`` belongs to: named by ``incident_id``, or linked to its ``alert_id``."""
        payload = event.payload
        ids = []
        incident_id, alert_id = payload.get("incident_id"), payload.get("alert_id")
        if isinstance(incident_id, str) and incident_id in self._by_id:
            ids.append(incident_id)
        if isinstance(alert_id, str):
            ids += self._by_alert.get(alert_id, [])
        return self._in_order(ids)

    def same(self, trigger: Trigger, merge_window_s: float) -> list[Incident]:
        """Open incidents ``trigger`` would only repeat: the same alert, or an incident keepclear opened
        of the same kind, zone and (a superset of the) units within ``merge_window_s``."""
        ids = list(self._by_alert.get(trigger.alert_id, [])) if trigger.alert_id is not None else []
        nearby = self._by_unit.get(trigger.unit_ids[0], []) if trigger.unit_ids else list(self._by_id)
        units = set(trigger.unit_ids)
        for incident_id in nearby:
            incident = self._by_id[incident_id]
            if (
                incident.reported_by is None
                and incident.kind == trigger.kind
                and incident.zone_id == trigger.zone_id
                and units <= set(incident.unit_ids)
                and abs(incident.time_s - trigger.time_s) <= merge_window_s
            ):
                ids.append(incident_id)
        return self._in_order(ids)
