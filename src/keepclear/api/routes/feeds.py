"""/v1/feeds: where each of the caller's party's units is reported from (the feed's source) and the
time of its last message; for the console's Units panel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from keepclear.api.deps import authorized
from keepclear.api.feed_sources import FeedSources
from keepclear.api.input_gate import JudgedBodyRoute
from keepclear.domain.identity import Principal
from keepclear.domain.timefmt import format_utc
from keepclear.services.policy import Action

router = APIRouter(prefix="/v1", tags=["tracks"], route_class=JudgedBodyRoute)


class FeedSourceOut(BaseModel):
    unit_id: str
    source: str
    key_id: str
    last_message: str


@router.get("/feeds")
def list_feed_sources(
    request: Request, principal: Annotated[Principal, Depends(authorized(Action.TRACKS_READ))]
) -> list[FeedSourceOut]:
    """Each unit of the caller's party that a feed reported since the service started: the source the
    feed named (``X-Keepclear-Source``, else its key) and when its last batch carrying the unit arrived."""
    assert principal.party_id is not None
    sources: FeedSources = request.app.state.feed_sources
    return [
        FeedSourceOut(unit_id=s.unit_id, source=s.source, key_id=s.key_id, last_message=format_utc(s.last_message_s))
        for s in sources.of_party(principal.party_id)
    ]
