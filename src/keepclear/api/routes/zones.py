"""/v1/zones: the shared geography, readable by every party, written by the deployment."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from keepclear.api.deps import authorized, runtime
from keepclear.api.models import FeatureCollection, ZonesImported
from keepclear.domain.identity import Principal
from keepclear.geo.zone_geojson import zone_to_feature
from keepclear.services.policy import Action
from keepclear.services.runtime.runtime import Runtime
from keepclear.store import zones as zone_store

router = APIRouter(prefix="/v1", tags=["zones"])
RuntimeDep = Annotated[Runtime, Depends(runtime)]


@router.get("/zones")
async def list_zones(rt: RuntimeDep, _: Annotated[Principal, Depends(authorized(Action.ZONES_READ))]) -> dict[str, Any]:
    """Every zone as a GeoJSON FeatureCollection."""
    return await run_in_threadpool(rt.deployment.zones.export_document)


@router.get("/zones/{zone_id}")
async def get_zone(
    zone_id: str, rt: RuntimeDep, _: Annotated[Principal, Depends(authorized(Action.ZONES_READ))]
) -> dict[str, Any]:
    """One zone as a GeoJSON Feature."""

    def load() -> dict[str, Any]:
        with rt.deployment.db.read() as conn:
            return zone_to_feature(zone_store.get_zone(conn, zone_id))

    return await run_in_threadpool(load)


@router.post("/zones", status_code=201)
async def import_zones(
    body: FeatureCollection,
    rt: RuntimeDep,
    principal: Annotated[Principal, Depends(authorized(Action.ZONES_WRITE))],
    replace: Annotated[bool, Query(description="Overwrite stored zones with the same id.")] = False,
) -> ZonesImported:
    """Import a FeatureCollection: every feature, or none (errors name the feature index)."""
    zones = await run_in_threadpool(rt.deployment.zones.import_document, body.model_dump(), replace=replace)
    return ZonesImported(imported=[z.id for z in zones])
