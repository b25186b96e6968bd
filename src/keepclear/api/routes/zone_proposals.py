"""/v1/zone-proposals: shapes a party's feed or liaison proposes (drawn on its TAK), which an admin
accepts as agreed zones or refuses. The admin lists every party's, a party's keys list and read their
own (pending, accepted as which zone, refused and why), a page at a time (docs/api.md, "Lists come in
pages"); another party's proposal answers to them as an unknown one."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from keepclear.api.deps import authorized, runtime
from keepclear.api.input_gate import JudgedBodyRoute
from keepclear.api.models.geojson import Geometry
from keepclear.api.paging import PageRequest, page_request
from keepclear.domain.identity import Principal
from keepclear.domain.zones import ZoneKind
from keepclear.errors import NotFoundError
from keepclear.services.policy import Action, proposal_visible, proposals_scope, unknown
from keepclear.services.runtime.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["zones"], route_class=JudgedBodyRoute)
RuntimeDep = Annotated[Runtime, Depends(runtime)]


class ProposalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="What the shape is in the proposer's system, e.g. the drawing's CoT uid.")
    name: str
    geometry: dict[str, Any] = Field(
        description="A GeoJSON Polygon (ring closed) or LineString, lon/lat degrees; or a circle: a Point with the "
        "member radius_m (metres)."
    )
    remarks: str = ""


class ProposalOut(BaseModel):
    id: str
    created: bool


class ZoneProposalOut(BaseModel):
    """A proposal as the admin and its proposing party see it (all of it: the party's own data);
    times in seconds since the epoch."""

    id: str
    party_id: str
    source: str
    name: str
    geometry: Geometry | None = Field(description="The shape; null when it breaks a rule (see problems).")
    radius_m: float | None = Field(None, description="A circle's radius (metres), its geometry the centre Point.")
    remarks: str
    proposed_s: float
    state: Literal["pending", "accepted", "refused"]
    decided_s: float | None
    reason: str | None
    zone_id: str | None = Field(description="The zone it became, once accepted.")
    problems: list[str] = Field(
        default_factory=list,
        description="Why a proposal stored by an older version breaks today's rules (its geometry is then"
        " left out and its text shown on one line); refuse it. Empty for every other.",
    )


class AcceptedOut(BaseModel):
    zone_id: str


class RefusedOut(BaseModel):
    state: Literal["refused"]


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    zone_id: str
    kind: ZoneKind
    properties: dict[str, Any] = Field(default_factory=dict, description="More zone properties (lower_ft, ...).")


class RefuseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


@router.post("/zone-proposals", status_code=201)
def propose_zone(
    body: ProposalIn, rt: RuntimeDep, principal: Annotated[Principal, Depends(authorized(Action.ZONES_PROPOSE))]
) -> ProposalOut:
    """Propose a shape as a zone (a pending proposal of the same source is replaced)."""
    assert principal.party_id is not None
    found, created = rt.deployment.zone_proposals.propose(
        principal.party_id, body.source, body.name, body.geometry, body.remarks
    )
    return ProposalOut(id=found, created=created)


def _out(proposal: dict[str, Any]) -> ZoneProposalOut:
    return ZoneProposalOut.model_validate({**proposal, "radius_m": (proposal["geometry"] or {}).get("radius_m")})


@router.get("/zone-proposals")
def list_zone_proposals(
    request: Request,
    response: Response,
    rt: RuntimeDep,
    principal: Annotated[Principal, Depends(authorized(Action.ZONE_PROPOSALS_READ))],
    page: Annotated[PageRequest, Depends(page_request("zone-proposals", (float, str)))],
    state: Annotated[str | None, Query(pattern="^(pending|accepted|refused)$")] = None,
) -> list[ZoneProposalOut]:
    """The proposals (or those in ``state``): every party's for the admin, the caller's party's own
    for its keys; oldest first, a page of ``limit``, the next one linked by ``Link: <...>; rel="next"``
    (docs/api.md, "Lists come in pages")."""
    after = None if page.after is None else (page.after[0], page.after[1])  # (proposed_s, id): checked by page_request
    found, more = rt.deployment.zone_proposals.page(state, after, page.limit, proposals_scope(principal))
    last = (found[-1]["proposed_s"], found[-1]["id"]) if more and found else None
    page.link(request, response, last, keep=None if state is None else {"state": state})
    return [_out(p) for p in found]


@router.get("/zone-proposals/{proposal_id}")
def get_zone_proposal(
    proposal_id: str,
    rt: RuntimeDep,
    principal: Annotated[Principal, Depends(authorized(Action.ZONE_PROPOSALS_READ))],
) -> ZoneProposalOut:
    """One proposal: its state, the zone it became or why it was refused. Another party's answers
    exactly as one that does not exist (404)."""
    try:
        proposal = rt.deployment.zone_proposals.get(proposal_id)
    except NotFoundError:
        proposal = None
    if proposal is None or not proposal_visible(principal, proposal["party_id"]):
        raise NotFoundError(unknown("zone proposal", proposal_id))
    return _out(proposal)


@router.post("/zone-proposals/{proposal_id}/accept")
def accept_zone_proposal(
    proposal_id: str,
    body: AcceptIn,
    rt: RuntimeDep,
    _: Annotated[Principal, Depends(authorized(Action.ZONES_WRITE))],
) -> AcceptedOut:
    """Import the proposal as an agreed zone (validated as any zone import), then mark it accepted."""
    zone_id = rt.deployment.zone_proposals.accept(proposal_id, body.zone_id, body.kind, body.properties)
    return AcceptedOut(zone_id=zone_id)


@router.post("/zone-proposals/{proposal_id}/refuse")
def refuse_zone_proposal(
    proposal_id: str, body: RefuseIn, rt: RuntimeDep, _: Annotated[Principal, Depends(authorized(Action.ZONES_WRITE))]
) -> RefusedOut:
    """Refuse the proposal, with a reason."""
    rt.deployment.zone_proposals.refuse(proposal_id, body.reason)
    return RefusedOut(state="refused")
