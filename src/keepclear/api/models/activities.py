"""Answers of /v1/activities: the views each party may have (``services.activities.views``).

The views leave out what a party may not see rather than sending it empty, so the routes answer
with ``response_model_exclude_unset``: a field appears exactly when the view has it. Each view is
closed (``extra="forbid"``), which also keeps the three apart when an answer may be any of them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from keepclear.api.models.geojson import Geometry, Number


class _View(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CircleOut(_View):
    lat: Number
    lon: Number
    radius_m: Number


class PolygonOut(_View):
    type: Literal["Polygon"]
    coordinates: list[list[list[float]]]


class VolumeOut(_View):
    """A 4D volume: a circle or a polygon, an altitude band, a window."""

    circle: CircleOut | None = None
    geometry: PolygonOut | None = None
    lower_ft: Number
    upper_ft: Number
    start: str
    end: str


class WaypointOut(_View):
    lat: Number
    lon: Number
    time: str


class RouteOut(_View):
    half_width_m: Number
    lower_ft: Number
    upper_ft: Number
    waypoints: list[WaypointOut]


class ConflictOut(_View):
    """A conflict as the notifier sees it: with what, where, when, why (the notice it fell short by,
    for a zone's short notice)."""

    activity_id: str
    version: int
    kind: str
    target_id: str
    target_party: str | None
    target_version: int | None
    geometry: Geometry
    start: str
    end: str
    lower_ft: Number
    upper_ft: Number
    reason: str
    required_notice_s: Number | None = None
    given_notice_s: Number | None = None


class OverlapOut(_View):
    """Another party's activity overlaps one of the caller's: the overlap only (never the other's id)."""

    your_activity_id: str
    your_activity_version: int
    geometry: Geometry
    start: str
    end: str
    lower_ft: Number
    upper_ft: Number
    found: str = Field(description="When the other party's notification found it (UTC).")


class AcknowledgementOut(_View):
    party: str
    state: str = Field(description="pending, acknowledged or objected")
    reason: str
    answered: str | None
    due: str | None
    escalation_level: int
    roster_exhausted: bool


class EscalationOut(_View):
    """An addressee's escalation as the notifier sees it: which position of the addressee's roster was
    called, never who (a roster is its party's alone)."""

    version: int
    party: str
    level: int
    roster_exhausted: bool
    time: str


class OwnEscalationOut(_View):
    """An escalation of the caller's own acknowledgement: the contact of its own roster that was called."""

    version: int
    level: int
    contact_name: str | None = Field(description="None once the roster was exhausted.")
    contact_role: str | None
    roster_exhausted: bool
    time: str


class NoticeOut(_View):
    required_s: Number | None
    given_s: Number | None
    late: bool


class NotifierView(_View):
    """The notifier's view: everything, and who has and has not acknowledged."""

    id: str
    party: str
    kind: str
    start: str
    end: str
    priority: str
    addressees: list[str]
    contact: str
    text: str
    units: list[str]
    share_units: bool
    volumes: list[VolumeOut] | None = None
    route: RouteOut | None = None
    addressed_to_all: bool
    version: int
    status: str
    notified: str | None
    acknowledgements: list[AcknowledgementOut]
    acknowledged: list[str]
    objected: list[str]
    not_acknowledged: list[str]
    conflicts: list[ConflictOut] = Field(
        description="What this version's check found against other parties' activities, zones and protected"
        " sites, as found: at most activity_view_max_conflicts (activity_page_max_conflicts on a page of"
        " GET /v1/activities); GET /v1/activities/{id}/conflicts pages through them all."
    )
    conflicts_total: int = Field(description="How many conflicts the check found in all (conflicts holds the first).")
    escalations: list[EscalationOut]
    notice: NoticeOut
    overlapped_by: list[OverlapOut] = Field(
        description="Other parties' activities (their current versions) that overlap this one: where, when,"
        " which band; never which activity. Most recently found first, at most activity_view_max_overlaps"
        " (activity_page_max_overlaps on a page of GET /v1/activities): GET /v1/activities/{id}/overlaps pages"
        " through them all."
    )
    overlapped_by_total: int = Field(
        description="How many overlaps there are in all (overlapped_by holds the most recently found of them)."
    )


class AddresseeView(_View):
    """An addressee's view: no other addressee, the units only when the notifier shares them."""

    id: str
    party: str
    kind: str
    start: str
    end: str
    priority: str
    contact: str
    text: str
    units: list[str] | None = None
    volumes: list[VolumeOut] | None = None
    route: RouteOut | None = None
    version: int
    status: str
    notified: str | None
    your_acknowledgement: AcknowledgementOut | None
    your_escalations: list[OwnEscalationOut] = Field(
        description="The escalations of this party's own acknowledgement: the contacts of its own roster called."
    )


#: An activity as one party may see it.
ActivityView = NotifierView | AddresseeView


class LateNoticeOut(_View):
    required_s: Number
    given_s: Number


class NotifyOut(_View):
    """A notified (or amended) activity as its notifier sees it, the conflicts found, a late notice."""

    activity: NotifierView
    conflicts: list[ConflictOut] = Field(
        description="What the check found, as found: at most activity_view_max_conflicts (the activity's"
        " conflicts); GET /v1/activities/{id}/conflicts pages through them all."
    )
    conflicts_total: int = Field(description="How many conflicts the check found in all.")
    late_notice: LateNoticeOut | None
    addressees: list[str]
