"""/v1/zones: the shared geography, readable by every party, written by the deployment."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from keepclear.api.deps import authorized, runtime
from keepclear.api.input_gate import JudgedBodyRoute
from keepclear.api.models import FeatureCollection, ZonesImported
from keepclear.api.models.geojson import ZoneCollection, ZoneFeature
from keepclear.domain.identity import Principal
from keepclear.services.policy import Action
from keepclear.services.runtime.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["zones"], route_class=JudgedBodyRoute)
RuntimeDep = Annotated[Runtime, Depends(runtime)]
Reader = Annotated[Principal, Depends(authorized(Action.ZONES_READ))]


# A zone's properties name ``radius_m`` or ``buffer_m`` only when it has one: answered as they are.
@router.get("/zones", response_model_exclude_unset=True)
def list_zones(rt: RuntimeDep, _: Reader) -> ZoneCollection:
    """Every zone as a GeoJSON FeatureCollection."""
    return ZoneCollection.model_validate(rt.deployment.zones.export_document())


@router.get("/zones/{zone_id}", response_model_exclude_unset=True)
def get_zone(zone_id: str, rt: RuntimeDep, _: Reader) -> ZoneFeature:
    """One zone as a GeoJSON Feature."""
    return ZoneFeature.model_validate(rt.deployment.zones.feature(zone_id))


@router.post("/zones", status_code=201)
def import_zones(
    body: FeatureCollection,
    rt: RuntimeDep,
    principal: Annotated[Principal, Depends(authorized(Action.ZONES_WRITE))],
    replace: Annotated[bool, Query(description="Overwrite stored zones with the same id.")] = False,
) -> ZonesImported:
    """Import a FeatureCollection: every feature, or none (errors name the feature index)."""
    zones = rt.deployment.zones.import_document(body.model_dump(), replace=replace)
    return ZonesImported(imported=[z.id for z in zones])
