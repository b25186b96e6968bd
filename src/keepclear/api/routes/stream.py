"""/v1/stream: server-sent events of everything the caller's party may see, live."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from keepclear.api.connection_limits import PerKeyLimit
from keepclear.api.deps import authorized
from keepclear.api.input_gate import JudgedBodyRoute
from keepclear.api.routes.tactical import visible_tracks
from keepclear.api.stream_response import EventStreamResponse
from keepclear.api.streams import StreamHub
from keepclear.domain.identity import Principal
from keepclear.domain.timefmt import format_utc
from keepclear.errors import ForbiddenError, OverloadedError
from keepclear.services.policy import Action, may
from keepclear.services.runtime.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["stream"], route_class=JudgedBodyRoute)


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"}},
)
async def stream(
    request: Request,
    principal: Annotated[Principal, Depends(authorized(Action.STREAM_READ))],
    last_event_id: Annotated[str | None, Header()] = None,
    once: Annotated[bool, Query(description="Send what is pending after Last-Event-ID, then close (polling).")] = False,
) -> StreamingResponse:
    """Events concerning the caller's party (alerts, activities, messages...), each as need-to-know allows,
    and after each probe tick ``event: tracks.picture`` (without an id; only the newest is sent to a
    client that is behind), shaped as an event without ``id``: ``payload.states`` lists what
    ``GET /v1/tracks`` would.

    Each event's id (``id:``, and ``"id"`` in its body) is a hash of what the party is shown of it,
    never a count of the deployment's events. Reconnect with ``Last-Event-ID`` (the last id received,
    or ``0`` for everything kept) to receive what was missed; an ``event: reload`` says the id is no
    longer (or never was) kept for the caller's party and the client should reload its state. A
    client that does not read its stream is disconnected once its backlog is full or a send waits too
    long; it reconnects and catches up. One key may hold ``max_streams_per_key`` streams open (per
    API process): one more is refused with 429.
    """
    hub: StreamHub = request.app.state.hub
    limit: PerKeyLimit = request.app.state.stream_limit
    rt: Runtime = request.app.state.runtime
    party_id = principal.party_id
    if party_id is None:  # stream.read lets in only a party's readers: never here
        raise ForbiddenError("the stream is read with a key of a party")

    def picture() -> dict[str, object] | None:
        """The units the caller's party may see now, as ``GET /v1/tracks`` lists them."""
        states = visible_tracks(rt, party_id)
        return {
            "kind": "tracks.picture",
            "time": format_utc(rt.deployment.clock.now_s()),
            "party_id": None,
            "payload": {"states": [s.model_dump() for s in states]},
        }

    if not limit.claim(principal.key_id):
        raise OverloadedError(limit.refusal(), retry_after_s=5)
    # A client that does not read is cut after a bounded backlog (``stream_client_backlog_events``)
    # or a send that waited ``stream_send_timeout_s``; it reconnects with Last-Event-ID. The stream of
    # a key revoked meanwhile ends at once (its reconnection is refused). The response gives back
    # the key's claim when it ends, however it ends.
    return EventStreamResponse(
        hub.stream(
            party_id,
            last_event_id,
            once=once,
            picture=picture if may(principal, Action.TRACKS_READ) else None,
            key_id=principal.key_id,
        ),
        hub,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        on_end=lambda: limit.release(principal.key_id),
    )
