"""/v1/tracks: batch ingest by feeds."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import numpy as np
import pydantic
from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool

from keepclear.api.deps import authorized, runtime
from keepclear.api.models import RefusedReport, TrackBatchIn, TrackBatchResult
from keepclear.domain.identity import Principal
from keepclear.services.policy import Action
from keepclear.services.runtime import Runtime
from keepclear.services.tracks import ReportColumns

router = APIRouter(prefix="/v1", tags=["tracks"])
RuntimeDep = Annotated[Runtime, Depends(runtime)]


def _columns(body: TrackBatchIn) -> tuple[ReportColumns, dict[int, str]]:
    """The batch as columns; times that do not parse become NaN and are reported by index."""
    n = len(body.reports)
    values = np.empty((n, 7), dtype=np.float64)
    bad_times: dict[int, str] = {}
    ids: list[str] = []
    for i, r in enumerate(body.reports):
        ids.append(r.unit_id)
        try:
            moment = datetime.fromisoformat(r.time)
            time_s = moment.timestamp() if moment.tzinfo is not None else float("nan")
            if moment.tzinfo is None:
                bad_times[i] = f"time: {r.time!r} has no time zone; add Z for UTC"
        except ValueError:
            time_s = float("nan")
            bad_times[i] = f"time: {r.time!r} is not an ISO 8601 time (e.g. 2017-11-01T12:00:00Z)"
        values[i] = (time_s, r.lat_deg, r.lon_deg, r.alt_m, r.vel_east_mps, r.vel_north_mps, r.vel_up_mps)
    return ReportColumns(ids, values), bad_times


@router.post(
    "/tracks",
    status_code=202,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TrackBatchIn"}}},
        }
    },
)
async def ingest_tracks(
    request: Request, rt: RuntimeDep, principal: Annotated[Principal, Depends(authorized(Action.TRACKS_INGEST))]
) -> TrackBatchResult:
    """Queue a batch of position reports of the feed's own units.

    Each report is judged alone: refused ones are listed with their index and reasons, the others
    are kept. When the ingest queue is full the answer is 429 with Retry-After and nothing is kept.
    """
    assert principal.party_id is not None
    # Parsed straight from bytes by pydantic-core: several times faster than FastAPI's json-then-validate.
    try:
        body = TrackBatchIn.model_validate_json(await request.body())
    except pydantic.ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None
    columns, bad_times = _columns(body)
    result = await run_in_threadpool(rt.ingest.submit, columns, principal.party_id)
    refused = []
    for index, unit_id, problems in result.refused:
        if index in bad_times:
            problems = [bad_times[index], *[p for p in problems if not p.startswith("time_s")]]
        refused.append(RefusedReport(index=index, unit_id=unit_id, problems=problems))
    return TrackBatchResult(
        accepted=len(result.accepted_indices), accepted_indices=result.accepted_indices, refused=refused
    )
