"""/v1/tracks (latest states), /v1/alerts, /v1/crossings: the tactical picture as need-to-know allows."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from keepclear.api.deps import authorized, runtime
from keepclear.api.input_gate import JudgedBodyRoute
from keepclear.api.models import TrackStateOut
from keepclear.domain.identity import Principal
from keepclear.domain.timefmt import format_utc, parse_utc
from keepclear.errors import ValidationError
from keepclear.services.policy import Action, sees_party_data
from keepclear.services.runtime.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["tactical"], route_class=JudgedBodyRoute)
RuntimeDep = Annotated[Runtime, Depends(runtime)]
DOMAINS = ("air", "land", "sea")


class Position(BaseModel):
    lat_deg: float
    lon_deg: float
    alt_m: float


class ClosestApproach(BaseModel):
    t_in_s: float
    t_out_s: float
    tcpa_s: float
    dcpa_m: float
    vsep_cpa_m: float
    los: bool
    points: dict[str, Position]


class AlertOut(BaseModel):
    """An alert as one of its two parties sees it: both units' positions and the predicted approach."""

    alert_id: str
    level: str
    status: str
    unit_a: str
    unit_b: str
    party_a: str
    party_b: str
    raised: str
    updated: str
    acknowledged_by: list[str]
    positions: dict[str, Position]
    cpa: ClosestApproach | None
    time_to_los_s: float | None


class CrossingCount(BaseModel):
    party_id: str
    utc_day: str
    zone_id: str
    direction: str
    count: int


def alert_out(payload: dict[str, Any]) -> AlertOut:
    """The API shape of an alert payload kept by the tactical service."""
    cpa = payload.get("cpa")
    return AlertOut(
        alert_id=payload["alert_id"],
        level=payload["level"],
        status=payload.get("status", "raised"),
        unit_a=payload["unit_a"],
        unit_b=payload["unit_b"],
        party_a=payload["party_a"],
        party_b=payload["party_b"],
        raised=format_utc(payload["raised_s"]),
        updated=format_utc(payload.get("time_s", payload["raised_s"])),
        acknowledged_by=list(payload.get("acknowledged_by", [])),
        positions=payload.get("positions", {}),
        cpa=cpa,
        time_to_los_s=None if not cpa else (0.0 if cpa["los"] else cpa["t_in_s"]),
    )


@router.get("/tracks")
def latest_tracks(
    rt: RuntimeDep, principal: Annotated[Principal, Depends(authorized(Action.TRACKS_READ))]
) -> list[TrackStateOut]:
    """Latest state of the caller's own units, and of another party's unit only while an alert
    involves it with one of the caller's units. The live stream pushes the same after each probe
    tick (``event: tracks.picture``)."""
    assert principal.party_id is not None
    return visible_tracks(rt, principal.party_id)


def visible_tracks(rt: Runtime, party_id: str) -> list[TrackStateOut]:
    """The unit states ``party_id`` may see now (``policy.unit_state_visible`` decides)."""
    return [
        TrackStateOut(
            unit_id=s.unit_id,
            party_id=s.party_id,
            domain=DOMAINS[s.domain_code],
            time=format_utc(s.time_s),
            lat_deg=s.lat_deg,
            lon_deg=s.lon_deg,
            alt_m=s.alt_m,
            vel_east_mps=s.vel_east_mps,
            vel_north_mps=s.vel_north_mps,
            vel_up_mps=s.vel_up_mps,
        )
        for s in rt.tactical.visible_states(party_id)
    ]


class HistoryPoint(BaseModel):
    unit_id: str
    time: str
    lat_deg: float
    lon_deg: float
    alt_m: float
    vel_east_mps: float
    vel_north_mps: float


@router.get("/tracks/history")
def track_history(
    rt: RuntimeDep,
    principal: Annotated[Principal, Depends(authorized(Action.TRACKS_READ))],
    since: Annotated[str, Query(max_length=40, description="ISO 8601 time with zone: the oldest report wanted.")],
    until: Annotated[str | None, Query(max_length=40, description="ISO 8601 time with zone (default: now).")] = None,
) -> list[HistoryPoint]:
    """Past positions of the caller's own units (thinned, for looking back over the last hours)."""
    try:
        since_s = parse_utc(since, "since")
        until_s = rt.deployment.clock.now_s() if until is None else parse_utc(until, "until")
    except ValueError as exc:
        raise ValidationError([str(exc)]) from None
    own = rt.history.units_of(principal.party_id or "")
    return [
        HistoryPoint(
            unit_id=r.unit_id,
            time=format_utc(r.time_s),
            lat_deg=r.lat_deg,
            lon_deg=r.lon_deg,
            alt_m=r.alt_m,
            vel_east_mps=r.vel_east_mps,
            vel_north_mps=r.vel_north_mps,
        )
        for r in rt.history.between(own, since_s, until_s)
    ]


@router.get("/alerts")
def list_alerts(
    rt: RuntimeDep,
    principal: Annotated[Principal, Depends(authorized(Action.ALERTS_READ))],
    include_resolved: Annotated[bool, Query(description="Also list recently resolved alerts.")] = False,
) -> list[AlertOut]:
    """Alerts that involve the caller's units (active ones, and recent resolved ones on request)."""
    assert principal.party_id is not None
    return [alert_out(p) for p in rt.tactical.alerts_for(principal.party_id, include_resolved=include_resolved)]


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge_alert(
    alert_id: str, rt: RuntimeDep, principal: Annotated[Principal, Depends(authorized(Action.ALERTS_ACKNOWLEDGE))]
) -> AlertOut:
    """Acknowledge an active alert involving the caller's units; the other party sees it at once."""
    assert principal.party_id is not None
    return alert_out(rt.tactical.acknowledge(alert_id, principal.party_id))


@router.get("/crossings")
def line_crossings(
    rt: RuntimeDep, principal: Annotated[Principal, Depends(authorized(Action.TRACKS_READ))]
) -> list[CrossingCount]:
    """Deconfliction-line crossings by the caller's units, per UTC day, line and direction."""
    return [CrossingCount(**c) for c in rt.tactical.crossings() if sees_party_data(principal, c["party_id"])]
