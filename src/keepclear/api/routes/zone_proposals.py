"""/v1/zone-proposals: shapes a party's feed or liaison proposes (drawn on its TAK), which an admin
accepts as agreed zones or refuses. A proposer learns only its proposal's id; only admins list them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from keepclear.api.deps import authorized, runtime
from keepclear.domain.identity import Principal
from keepclear.domain.zones import ZoneKind
from keepclear.services.policy import Action
from keepclear.services.runtime.runtime import Runtime
from keepclear.services.zones.proposals import ZoneProposals

router = APIRouter(prefix="/v1", tags=["zones"])
RuntimeDep = Annotated[Runtime, Depends(runtime)]


class ProposalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="What the shape is in the proposer's system, e.g. the drawing's CoT uid.")
    name: str
    geometry: dict[str, Any] = Field(description="A GeoJSON Polygon (ring closed) or LineString, lon/lat degrees.")
    remarks: str = ""


class ProposalOut(BaseModel):
    id: str
    created: bool


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    zone_id: str
    kind: ZoneKind
    properties: dict[str, Any] = Field(default_factory=dict, description="More zone properties (lower_ft, ...).")


class RefuseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


def _proposals(rt: Runtime) -> ZoneProposals:
    dep = rt.deployment
    return ZoneProposals(dep.db, dep.clock, dep.zones)


@router.post("/zone-proposals", status_code=201)
async def propose_zone(
    body: ProposalIn, rt: RuntimeDep, principal: Annotated[Principal, Depends(authorized(Action.ZONES_PROPOSE))]
) -> ProposalOut:
    """Propose a shape as a zone (a pending proposal of the same source is replaced)."""
    assert principal.party_id is not None
    found, created = await run_in_threadpool(
        _proposals(rt).propose, principal.party_id, body.source, body.name, body.geometry, body.remarks
    )
    return ProposalOut(id=found, created=created)


@router.get("/zone-proposals")
async def list_zone_proposals(
    rt: RuntimeDep,
    _: Annotated[Principal, Depends(authorized(Action.ZONES_WRITE))],
    state: Annotated[str | None, Query(pattern="^(pending|accepted|refused)$")] = None,
) -> list[dict[str, Any]]:
    """Every proposal (or those in ``state``), oldest first."""
    return await run_in_threadpool(_proposals(rt).list, state)


@router.post("/zone-proposals/{proposal_id}/accept")
async def accept_zone_proposal(
    proposal_id: str,
    body: AcceptIn,
    rt: RuntimeDep,
    _: Annotated[Principal, Depends(authorized(Action.ZONES_WRITE))],
) -> dict[str, str]:
    """Import the proposal as an agreed zone (validated as any zone import), then mark it accepted."""
    zone_id = await run_in_threadpool(_proposals(rt).accept, proposal_id, body.zone_id, body.kind, body.properties)
    return {"zone_id": zone_id}


@router.post("/zone-proposals/{proposal_id}/refuse")
async def refuse_zone_proposal(
    proposal_id: str, body: RefuseIn, rt: RuntimeDep, _: Annotated[Principal, Depends(authorized(Action.ZONES_WRITE))]
) -> dict[str, str]:
    """Refuse the proposal, with a reason."""
    await run_in_threadpool(_proposals(rt).refuse, proposal_id, body.reason)
    return {"state": "refused"}
