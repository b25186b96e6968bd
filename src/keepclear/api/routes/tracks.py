"""/v1/tracks: batch ingest by feeds; latest own-party states for liaisons and observers."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from keepclear.api.deps import authorized, runtime
from keepclear.api.models import RefusedReport, TrackBatchIn, TrackBatchResult
from keepclear.domain import TrackReport
from keepclear.domain.identity import Principal
from keepclear.domain.timefmt import parse_utc
from keepclear.services.policy import Action
from keepclear.services.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["tracks"])
RuntimeDep = Annotated[Runtime, Depends(runtime)]


@router.post("/tracks", status_code=202)
async def ingest_tracks(
    body: TrackBatchIn, rt: RuntimeDep, principal: Annotated[Principal, Depends(authorized(Action.TRACKS_INGEST))]
) -> TrackBatchResult:
    """Queue a batch of position reports of the feed's own units.

    Each report is judged alone: refused ones are listed with their index and reasons, the others
    are kept. When the ingest queue is full the answer is 429 with Retry-After and nothing is kept.
    """
    assert principal.party_id is not None
    reports: list[TrackReport] = []
    bad_times: dict[int, str] = {}
    for index, item in enumerate(body.reports):
        try:
            time_s = parse_utc(item.time, "time")
        except ValueError as exc:
            bad_times[index] = str(exc)
            time_s = math.nan
        reports.append(
            TrackReport(
                item.unit_id,
                time_s,
                item.lat_deg,
                item.lon_deg,
                item.alt_m,
                item.vel_east_mps,
                item.vel_north_mps,
                item.vel_up_mps,
            )
        )
    result = await run_in_threadpool(rt.ingest.submit, reports, principal.party_id)
    refused = []
    for index, unit_id, problems in result.refused:
        if index in bad_times:
            problems = [bad_times[index], *[p for p in problems if not p.startswith("time_s")]]
        refused.append(RefusedReport(index=index, unit_id=unit_id, problems=problems))
    return TrackBatchResult(
        accepted=len(result.accepted_indices), accepted_indices=result.accepted_indices, refused=refused
    )
