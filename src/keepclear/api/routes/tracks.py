"""/v1/tracks: batch ingest by feeds."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import numpy as np
import pydantic
from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool

from keepclear.api.deps import authorized, header_value, runtime
from keepclear.api.feed_sources import clean_source
from keepclear.api.input_gate import JudgedBodyRoute
from keepclear.api.models import RefusedReport, TrackBatchIn, TrackBatchResult
from keepclear.domain.identity import Principal
from keepclear.domain.json_input import members_counted, parse_json
from keepclear.errors import field_of
from keepclear.services.policy import Action
from keepclear.services.runtime.runtime import Runtime
from keepclear.services.tactical.tracks import ReportColumns

router = APIRouter(prefix="/v1", tags=["tracks"], route_class=JudgedBodyRoute)
RuntimeDep = Annotated[Runtime, Depends(runtime)]


def _times(texts: list[str]) -> tuple[list[float], dict[int, str]]:
    """Epoch seconds of ISO 8601 times; those that do not parse become NaN and are reported by index.

    A feed's batch usually repeats a few instants (one per sweep), so each distinct text is parsed once.
    """
    parsed = {text: _time(text) for text in set(texts)}
    seconds = {text: moment for text, (moment, _) in parsed.items()}
    times = list(map(seconds.__getitem__, texts))
    if all(problem is None for _, problem in parsed.values()):
        return times, {}
    return times, {i: problem for i, text in enumerate(texts) if (problem := parsed[text][1]) is not None}


def _time(text: str) -> tuple[float, str | None]:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return float("nan"), f"time: {text!r} is not an ISO 8601 time (e.g. 2017-11-01T12:00:00Z)"
    if moment.tzinfo is None:
        return float("nan"), f"time: {text!r} has no time zone; add Z for UTC"
    return moment.timestamp(), None


def _members_read(body: TrackBatchIn) -> int:
    """How many object members the model read from the batch's text (``members_counted`` of a text
    holding no key twice and none the model leaves out)."""
    count = len(body.model_fields_set)
    if body.reports is not None:
        count += sum(len(report.model_fields_set) for report in body.reports)
    if body.columns is not None:
        count += len(body.columns.model_fields_set)
    return count


def _columns(body: TrackBatchIn) -> tuple[ReportColumns, dict[int, str]]:
    """The batch as columns (time, lat, lon, alt, ve, vn, vu), whichever shape it came in."""
    if body.columns is not None:
        c = body.columns
        times, bad_times = _times(c.time)
        zeros = [0.0] * len(times)
        fields = (c.lat_deg, c.lon_deg, c.alt_m, c.vel_east_mps, c.vel_north_mps, c.vel_up_mps)
        values = np.array([times, *(zeros if f is None else f for f in fields)], dtype=np.float64).T
        return ReportColumns(list(c.unit_id), np.ascontiguousarray(values)), bad_times
    reports = body.reports or []
    times, bad_times = _times([r.time for r in reports])
    rows = [(r.lat_deg, r.lon_deg, r.alt_m, r.vel_east_mps, r.vel_north_mps, r.vel_up_mps) for r in reports]
    values = np.empty((len(reports), 7), dtype=np.float64)
    values[:, 0] = times
    values[:, 1:] = np.array(rows, dtype=np.float64).reshape(-1, 6)
    return ReportColumns([r.unit_id for r in reports], values), bad_times


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
    are kept. When the ingest queue is full, its backlog would take the pump longer than
    ``ingest_backlog_s`` to move, or the probe's tick is running late, the answer is 429 with
    Retry-After and nothing is kept.
    """
    assert principal.party_id is not None
    rt.ingest.check_open(principal.party_id)  # 429 before parsing when nothing could be taken now (the probe first)
    # Parsed straight from bytes by pydantic-core: several times faster than FastAPI's json-then-validate.
    raw = await request.body()
    try:
        body = TrackBatchIn.model_validate_json(raw)
    except pydantic.ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None
    if members_counted(raw) != _members_read(body):
        # A key given twice (pydantic keeps the last value without a word), or one the model leaves out:
        # the strict reader names the first, and lets the second through.
        parse_json(raw, request.app.state.settings.input_limits())
    columns, bad_times = _columns(body)
    await rt.priority.wait_clear_async()  # judging waits while the probe computes, as reading the body did
    result = await run_in_threadpool(rt.ingest.submit, columns, principal.party_id)
    if result.accepted_indices:
        source = clean_source(header_value(request, b"x-keepclear-source"), principal.key_id)
        every = len(result.accepted_indices) == len(columns)
        accepted_units = columns.unit_ids if every else [columns.unit_ids[i] for i in result.accepted_indices]
        request.app.state.feed_sources.record(
            principal.party_id, principal.key_id, source, accepted_units, rt.deployment.clock.now_s()
        )
    refused = []
    for index, unit_id, problems in result.refused:
        if index in bad_times:
            problems = [bad_times[index], *[p for p in problems if field_of(p) != "time_s"]]
        refused.append(RefusedReport(index=index, unit_id=unit_id, problems=problems))
    return TrackBatchResult(
        accepted=len(result.accepted_indices), accepted_indices=result.accepted_indices, refused=refused
    )
