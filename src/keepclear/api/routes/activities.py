"""/v1/activities: notify, read, acknowledge, object, amend, activate, complete, cancel.

What a party writes that every addressee is shown, without end (each activity notified, each
amendment, each cancellation), takes tokens of its party's bucket (``api.party_rate``,
``activity_writes_per_party_per_s``), one an activity, before the store is read: past it the request
is refused whole (429 with ``Retry-After``), nothing of it stored. Notifying and amending take besides
one token of a second bucket for each geometry vertex written (``activity_vertices_per_party_per_s``:
polygon positions and route waypoints), once the body is parsed and before it is read: each vertex
costs reading, checking, views, signing and streaming, and large polygons written without bound made the
other parties' alerts late. A request that bucket refuses gives back its activity writes. Acknowledging, activating and
completing take none: each happens once a version or once an activity, so a party loops them only
by notifying or amending, which count. An objection may be made again with a new reason, each told
to the notifier in its thread: it takes a token of the party's hotline post rate instead.

Every answer is the view the caller's party may have (``activity_views.view_for``): the notifier
sees everything with who has and has not acknowledged; an addressee sees kind, time, volumes or
route, priority, contact and text (units only when shared); a party not addressed sees nothing but
the overlap of a conflict with its own activities.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from keepclear.api.deps import authorized, hotline_posts, runtime
from keepclear.api.input_gate import JudgedBodyRoute
from keepclear.api.models import WholeNumber
from keepclear.api.models.activities import ActivityView, ConflictOut, NotifyOut, OverlapOut
from keepclear.api.paging import PageRequest, page_request
from keepclear.api.party_rate import PartyRate
from keepclear.domain.activities import batch_size_problem
from keepclear.domain.identity import Principal
from keepclear.errors import NotFoundError, ValidationError
from keepclear.geo.activity_doc import activities_from_documents, activity_from_document, document_vertices
from keepclear.services.activities.results import ConflictsPage as FoundPage
from keepclear.services.activities.results import NotifyResult
from keepclear.services.activities.views import conflicts_view, notifier_conflict, overlap_view, view_for
from keepclear.services.policy import Action, sees_party_data_of, unknown
from keepclear.services.runtime.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["activities"], route_class=JudgedBodyRoute)
RuntimeDep = Annotated[Runtime, Depends(runtime)]
PostsDep = Annotated[PartyRate, Depends(hotline_posts)]
Reader = Annotated[Principal, Depends(authorized(Action.ACTIVITIES_READ))]
Notifier = Annotated[Principal, Depends(authorized(Action.ACTIVITIES_NOTIFY))]
Responder = Annotated[Principal, Depends(authorized(Action.ACTIVITIES_RESPOND))]
Page = Annotated[PageRequest, Depends(page_request("activities", (str,)))]
OverlapsPage = Annotated[PageRequest, Depends(page_request("activity-overlaps", (int,)))]
ConflictsPage = Annotated[PageRequest, Depends(page_request("activity-conflicts", (int,)))]
VIEW: TypeAdapter[ActivityView] = TypeAdapter(ActivityView)


def activity_writes(request: Request) -> PartyRate:
    """The activity writes' rate per party (``api.party_rate``), one for the app."""
    rate: PartyRate = request.app.state.activity_writes
    return rate


WritesDep = Annotated[PartyRate, Depends(activity_writes)]


def activity_vertices_rate(request: Request) -> PartyRate:
    """The activity geometry vertices' rate per party (``api.party_rate``), one for the app."""
    rate: PartyRate = request.app.state.activity_vertices
    return rate


VerticesDep = Annotated[PartyRate, Depends(activity_vertices_rate)]


def _take_vertices(
    vertices: PartyRate, writes: PartyRate, party_id: str, documents: list[dict[str, Any]], writes_taken: int
) -> None:
    """Takes one token of ``party_id``'s vertex bucket for each geometry vertex the ``documents`` give
    (``document_vertices``), all or none, before they are read: refused (429, or 422 when more than
    the whole burst, which could never pass), the ``writes_taken`` activity writes go back to their
    bucket, nothing read or stored. Reading the positions is most of what a large body costs after
    its parse, so a party past its vertices does not make the others wait for it."""
    count = sum(document_vertices(document) for document in documents)
    if count == 0:  # circles only
        return
    if count > vertices.burst:
        writes.give_back(party_id, writes_taken)
        raise ValidationError(
            [
                f"activities: {count} geometry vertices (polygon positions and route waypoints) in one request,"
                f" more than a party may write at once (activity_vertex_burst: {vertices.burst}); send them in"
                " smaller batches"
            ]
        )
    refusal = vertices.take(party_id, count)
    if refusal is not None:
        writes.give_back(party_id, writes_taken)
        raise refusal


def _document(body: ActivityDocument) -> dict[str, Any]:
    """The activity document as sent: every field of an ``ActivityDocument`` is an extra one, kept as
    parsed (``model_dump`` would copy every position of every polygon)."""
    return dict(body.model_extra or {})


_TIME = {"type": "string", "format": "date-time", "description": "ISO 8601 with a zone, e.g. 2017-11-03T10:00:00Z"}
_ALTITUDES = {"lower_ft": {"type": "number"}, "upper_ft": {"type": "number", "description": "above lower_ft"}}
_POSITION = {
    "lat": {"type": "number", "minimum": -90, "maximum": 90},
    "lon": {"type": "number", "minimum": -180, "maximum": 180},
}
_VOLUME: dict[str, Any] = {
    "type": "object",
    "description": "A 4D volume: a GeoJSON Polygon (lon, lat) or a circle, an altitude band, an optional window.",
    "properties": {
        "geometry": {
            "type": "object",
            "properties": {
                "type": {"const": "Polygon"},
                "coordinates": {
                    "type": "array",
                    "items": {
                        "type": "array",
                        "minItems": 4,
                        "items": {"type": "array", "minItems": 2, "maxItems": 3, "items": {"type": "number"}},
                    },
                },
            },
            "required": ["type", "coordinates"],
        },
        "circle": {
            "type": "object",
            "properties": {**_POSITION, "radius_m": {"type": "number", "exclusiveMinimum": 0, "maximum": 500000}},
            "required": ["lat", "lon", "radius_m"],
            "additionalProperties": False,
        },
        **_ALTITUDES,
        "start": _TIME,
        "end": _TIME,
    },
    "required": ["lower_ft", "upper_ft"],
    "additionalProperties": False,
}
_ROUTE: dict[str, Any] = {
    "type": "object",
    "description": "A timed route: a corridor half_width_m each side, an altitude band.",
    "properties": {
        "half_width_m": {"type": "number", "exclusiveMinimum": 0},
        **_ALTITUDES,
        "waypoints": {
            "type": "array",
            "minItems": 2,
            "items": {
                "type": "object",
                "properties": {**_POSITION, "time": _TIME},
                "required": ["lat", "lon", "time"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["half_width_m", "lower_ft", "upper_ft", "waypoints"],
    "additionalProperties": False,
}
_IDENT = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]{0,63}$"}
_ACTIVITY_SCHEMA: dict[str, Any] = {
    "properties": {
        "id": {**_IDENT, "description": "Optional: made up as <party>-<random> when missing."},
        "kind": {
            "enum": [
                "air-operation",
                "ground-movement",
                "naval-movement",
                "surveillance-flight",
                "humanitarian-movement",
                "humanitarian-site",
                "other",
            ]
        },
        "start": _TIME,
        "end": _TIME,
        "priority": {"enum": ["routine", "priority", "immediate"], "default": "routine"},
        "addressees": {
            "description": '"all" (every other party) or a list of party ids',
            "anyOf": [{"const": "all"}, {"type": "array", "items": _IDENT}],
        },
        "units": {"type": "array", "items": _IDENT, "description": "Unit ids of the notifier's forces."},
        "share_units": {"type": "boolean", "default": False},
        "party": {**_IDENT, "description": "Optional: the notifying party (the caller's)."},
        "contact": {"type": "string", "minLength": 1},
        "text": {"type": "string", "maxLength": 4000},
        "volumes": {"type": "array", "minItems": 1, "items": _VOLUME},
        "route": _ROUTE,
    },
    "required": ["kind", "start", "end", "contact"],
    "oneOf": [{"required": ["volumes"]}, {"required": ["route"]}],
    "additionalProperties": False,
}


class ActivityDocument(BaseModel):
    """An activity as in docs/activities.md: volumes or a route (not both). The schema shown in the
    OpenAPI document is the file format; the body is judged field by field by the activity reader,
    whose problems name each field (dates in the past, self-intersecting polygons, unknown units...)."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_ACTIVITY_SCHEMA)


class ActivityBatchIn(BaseModel):
    """Several activities notified at once, all or none (an air tasking order, a day's convoys)."""

    model_config = ConfigDict(extra="forbid")
    activities: list[ActivityDocument] = Field(
        description="The activities, each as POST /v1/activities takes one; at most max_activities_per_batch."
    )


class BatchOut(BaseModel):
    """What each activity of a batch answered, in the batch's order (each as POST /v1/activities)."""

    model_config = ConfigDict(extra="forbid")
    activities: list[NotifyOut]


class VersionIn(BaseModel):
    version: WholeNumber = Field(ge=1, description="The version this change applies to (a stale one is refused).")


class ReasonIn(VersionIn):
    reason: str = Field("", max_length=2000)


class ObjectionIn(VersionIn):
    reason: str = Field(min_length=1, max_length=2000)


class AmendIn(VersionIn):
    activity: ActivityDocument


def _notify_out(result: NotifyResult, party_id: str) -> NotifyOut:
    late = result.check.late_notice
    found = result.state.conflicts  # the first the check found, as on the view, and how many
    return NotifyOut.model_validate(
        {
            "activity": view_for(result.state, party_id, {result.activity.id: result.overlaps}),  # as stored
            "conflicts": conflicts_view(found),
            "conflicts_total": found.total,
            "late_notice": None if late is None else {"required_s": late.required_s, "given_s": late.given_s},
            "addressees": sorted(result.addressees),
        }
    )


def _party(principal: Principal) -> str:
    return principal.party_id or ""


def _view(rt: Runtime, activity_id: str, party_id: str) -> ActivityView:
    """The caller's view of the activity after a change, or ``NotFoundError`` when it may see none."""
    state = rt.activities.get(activity_id, party_id)
    own = sees_party_data_of(party_id, state.activity.party_id)
    view = view_for(state, party_id, rt.activities.overlaps_of(party_id, [activity_id]) if own else None)
    if view is None:
        raise NotFoundError(unknown("activity", activity_id))
    return VIEW.validate_python(view)


@router.get("/activities", response_model_exclude_unset=True)
def list_activities(
    request: Request, response: Response, rt: RuntimeDep, principal: Reader, page: Page
) -> list[ActivityView]:
    """The activities the caller's party may see, by id, each as its view: a page of ``limit``, the
    next one linked by ``Link: <...>; rel="next"`` (docs/api.md, "Lists come in pages")."""
    party_id = principal.party_id or ""
    after = None if page.after is None else str(page.after[0])
    found = rt.activities.page(party_id, after, page.limit)
    views = []
    for state in found.states:
        view = view_for(state, party_id, found.overlaps)
        if view is not None:
            views.append(VIEW.validate_python({"id": state.activity.id, **view}))
    shown = [state.activity.id for state in found.states]
    page.link(request, response, (shown[-1],) if found.more and shown else None)
    return views


@router.post("/activities", status_code=201, response_model_exclude_unset=True)
def notify_activity(
    body: ActivityDocument, rt: RuntimeDep, principal: Notifier, writes: WritesDep, vertices: VerticesDep
) -> NotifyOut:
    """Notify a planned activity: it is checked against every other party's activities, the zones and
    the protected sites; conflicts and a late notice are answered here and delivered to both sides.
    Takes one of the party's activity writes and one of its vertex tokens for each geometry vertex
    (429 past them, nothing stored)."""
    party_id = _party(principal)
    writes.require(party_id)
    document = _document(body)
    _take_vertices(vertices, writes, party_id, [document], 1)
    activity = activity_from_document(document, party_id=party_id)
    return _notify_out(rt.activities.notify(activity), party_id)


@router.post("/activities/batch", status_code=201, response_model_exclude_unset=True)
def notify_activities(
    body: ActivityBatchIn, rt: RuntimeDep, principal: Notifier, writes: WritesDep, vertices: VerticesDep
) -> BatchOut:
    """Notify several planned activities at once, all or none: each is checked and delivered as one
    notified alone would be, in one transaction. A refusal names each problem by its activity's
    index (``activities[3].volumes[0].circle.radius_m: …``) and stores nothing. Takes one of the
    party's activity writes for each activity and one vertex token for each geometry vertex of them
    all, all or none (429 when fewer are left, nothing stored; 422 past the whole vertex burst)."""
    config = rt.config.activities
    if too := batch_size_problem(len(body.activities), config.max_batch):
        raise ValidationError([too])
    party_id = _party(principal)
    writes.require(party_id, len(body.activities))  # at most max_batch <= activity_write_burst
    documents = [_document(document) for document in body.activities]
    _take_vertices(vertices, writes, party_id, documents, len(documents))
    activities = activities_from_documents(documents, party_id=party_id, max_problems_listed=config.max_problems_listed)
    return BatchOut(activities=[_notify_out(result, party_id) for result in rt.activities.notify_many(activities)])


@router.get("/activities/{activity_id}", response_model_exclude_unset=True)
def get_activity(activity_id: str, rt: RuntimeDep, principal: Reader) -> ActivityView:
    """One activity as the caller's party may see it."""
    return _view(rt, activity_id, _party(principal))


@router.get("/activities/{activity_id}/overlaps", response_model_exclude_unset=True)
def list_overlaps(
    activity_id: str, request: Request, response: Response, rt: RuntimeDep, principal: Reader, page: OverlapsPage
) -> list[OverlapOut]:
    """Every conflict other parties' activities recorded against one of the caller's own, most recently
    found first, a page of ``limit`` (``overlapped_by`` holds the first few); the next page linked by
    ``Link: <...>; rel="next"`` (docs/api.md, "Lists come in pages"). Another party's activity
    answers as an unknown one (404)."""
    after = None if page.after is None else int(page.after[0])
    found = rt.activities.overlaps_page(_party(principal), activity_id, after, page.limit)
    _link_next(request, response, page, found)
    return [OverlapOut.model_validate(overlap_view(stored)) for _, stored in found.conflicts]


@router.get("/activities/{activity_id}/conflicts", response_model_exclude_unset=True)
def list_conflicts(
    activity_id: str, request: Request, response: Response, rt: RuntimeDep, principal: Reader, page: ConflictsPage
) -> list[ConflictOut]:
    """Every conflict the check of one of the caller's own activities (its current version) found, as
    found, a page of ``limit`` (``conflicts`` holds the first few); the next page linked by
    ``Link: <...>; rel="next"`` (docs/api.md, "Lists come in pages"). Another party's activity
    answers as an unknown one (404)."""
    after = None if page.after is None else int(page.after[0])
    found = rt.activities.conflicts_page(_party(principal), activity_id, after, page.limit)
    _link_next(request, response, page, found)
    return [
        ConflictOut.model_validate(notifier_conflict(stored.activity_id, stored.version, stored.conflict))
        for _, stored in found.conflicts
    ]


def _link_next(request: Request, response: Response, page: PageRequest, found: FoundPage) -> None:
    """The next page's link of a list of an activity's conflicts, when it may hold more."""
    page.link(request, response, (found.conflicts[-1][0],) if found.more and found.conflicts else None)


@router.post("/activities/{activity_id}/acknowledge", response_model_exclude_unset=True)
def acknowledge_activity(activity_id: str, body: VersionIn, rt: RuntimeDep, principal: Responder) -> ActivityView:
    """Acknowledge receipt (not approval) of the named version, as an addressee."""
    rt.activities.acknowledge(activity_id, body.version, _party(principal))
    return _view(rt, activity_id, _party(principal))


@router.post("/activities/{activity_id}/object", response_model_exclude_unset=True)
def object_to_activity(
    activity_id: str, body: ObjectionIn, rt: RuntimeDep, posts: PostsDep, principal: Responder
) -> ActivityView:
    """Object to the named version with a reason, as an addressee. An objection with a new reason is
    told to the notifier again (its stream, the record, a message in its thread), so each takes a
    token of the party's hotline post rate (``hotline_messages_per_party_per_s``, bursts of
    ``hotline_message_burst``): past it 429 with ``Retry-After``, nothing changed."""
    posts.require(_party(principal))
    rt.activities.object(activity_id, body.version, _party(principal), body.reason)
    return _view(rt, activity_id, _party(principal))


@router.post("/activities/{activity_id}/amend", response_model_exclude_unset=True)
def amend_activity(
    activity_id: str, body: AmendIn, rt: RuntimeDep, principal: Notifier, writes: WritesDep, vertices: VerticesDep
) -> NotifyOut:
    """Amend: a new version (every earlier one kept), checked and delivered again. Takes one of the
    party's activity writes and one of its vertex tokens for each geometry vertex of the new version
    (429 past them, nothing stored)."""
    party_id = _party(principal)
    writes.require(party_id)
    document = _document(body.activity)
    _take_vertices(vertices, writes, party_id, [document], 1)
    activity = activity_from_document(document, party_id=party_id, activity_id=activity_id)
    return _notify_out(rt.activities.amend(activity, body.version), party_id)


@router.post("/activities/{activity_id}/activate", response_model_exclude_unset=True)
def activate_activity(activity_id: str, body: ReasonIn, rt: RuntimeDep, principal: Notifier) -> ActivityView:
    """Mark the activity under way (the notifier)."""
    rt.activities.activate(activity_id, body.version, _party(principal))
    return _view(rt, activity_id, _party(principal))


@router.post("/activities/{activity_id}/complete", response_model_exclude_unset=True)
def complete_activity(activity_id: str, body: ReasonIn, rt: RuntimeDep, principal: Notifier) -> ActivityView:
    """Mark the activity completed (the notifier)."""
    rt.activities.complete(activity_id, body.version, _party(principal))
    return _view(rt, activity_id, _party(principal))


@router.post("/activities/{activity_id}/cancel", response_model_exclude_unset=True)
def cancel_activity(
    activity_id: str, body: ReasonIn, rt: RuntimeDep, principal: Notifier, writes: WritesDep
) -> ActivityView:
    """Cancel the activity with a reason (the notifier); addressees are told. Takes one of the party's
    activity writes (429 past them, nothing stored)."""
    party_id = _party(principal)
    writes.require(party_id)
    rt.activities.cancel(activity_id, body.version, party_id, body.reason)
    return _view(rt, activity_id, party_id)
