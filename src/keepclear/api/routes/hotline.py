"""/v1/hotline: threads, messages, receipts, availability, phrases and the live WebSocket.

Reading needs a liaison or observer key of a party; writing (posting, marking read, creating
threads, availability) and the live socket a liaison key. The socket's protocol is described in
``api.hotline_frames``; a browser cannot set headers on a WebSocket, so the socket also takes the key as
``?key=`` (``api.deps.socket_authenticated``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, WebSocket
from starlette.requests import HTTPConnection

from keepclear.api.connection_limits import PerKeyLimit
from keepclear.api.deps import authorized, socket_authorized
from keepclear.api.hotline_codec import AvailabilityIn, MessageIn, ReadIn, ThreadIn, draft_from_json
from keepclear.api.hotline_frames import LiveConfig, refuse
from keepclear.api.hotline_ws import LiveSession
from keepclear.api.input_gate import JudgedBodyRoute
from keepclear.api.models.hotline import (
    AckStatusOut,
    AvailabilityOut,
    MessageOut,
    PhraseOut,
    PostedOut,
    ReadOut,
    ReceiptOut,
    ReceiptsOut,
    ThreadHead,
    ThreadOut,
    UnreadOut,
)
from keepclear.api.paging import PageRequest, page_request
from keepclear.api.party_rate import PartyRate
from keepclear.domain.hotline import PartyAvailability, Thread
from keepclear.domain.identity import Principal
from keepclear.domain.limits import INT64_MAX
from keepclear.domain.phrases import Phrase
from keepclear.domain.timefmt import format_utc
from keepclear.errors import ForbiddenError
from keepclear.services.hotline.hub import HotlineHub
from keepclear.services.hotline.service import HotlineService
from keepclear.services.policy import Action, require


@dataclass(frozen=True)
class Hotline:
    """What the hotline's routes work with: the service, the hub of live sockets, the sockets' bound
    per key (``max_streams_per_key``), the posts' rate per party (``api.party_rate``: the route's and
    the sockets' posts and the availability declarations together), config and the bytes a party's
    socket frames take (``frame_bytes``: the request bodies' bucket). ``create_app`` sets one as
    ``app.state.hotline``."""

    service: HotlineService
    hub: HotlineHub
    sockets: PerKeyLimit
    posts: PartyRate
    live: LiveConfig = field(default_factory=LiveConfig)
    #: The bytes a party sends (``body_bytes_per_party_per_s``): a socket's frames take them as bodies do.
    frame_bytes: PartyRate | None = None


def hotline(connection: HTTPConnection) -> Hotline:
    """The hotline of this app (set by ``create_app``, never a global)."""
    return connection.app.state.hotline  # type: ignore[no-any-return]


router = APIRouter(prefix="/v1/hotline", tags=["hotline"], route_class=JudgedBodyRoute)
HotlineDep = Annotated[Hotline, Depends(hotline)]
Reader = Annotated[Principal, Depends(authorized(Action.THREADS_READ))]
Poster = Annotated[Principal, Depends(authorized(Action.MESSAGES_POST))]
SocketReader = Annotated[Principal, Depends(socket_authorized(Action.THREADS_READ))]
Declarer = Annotated[Principal, Depends(authorized(Action.AVAILABILITY_SET))]


def _party(principal: Principal) -> str:
    return principal.party_id or ""


def _thread(thread: Thread) -> ThreadOut:
    return ThreadOut(
        id=thread.id,
        title=thread.title,
        parties=list(thread.parties),
        standing=thread.standing,
        created=format_utc(thread.created_s),
    )


def _availability(party_id: str, value: PartyAvailability) -> AvailabilityOut:
    return AvailabilityOut(party_id=party_id, availability=value.availability, since=format_utc(value.since_s))


def _write_refusal(principal: Principal) -> ForbiddenError | None:
    """Why ``principal`` may not write on the socket (the refusal HTTP gives its post), or None."""
    try:
        require(principal, Action.MESSAGES_POST)
    except ForbiddenError as exc:
        return exc
    return None


@router.websocket("/ws")
async def live(websocket: WebSocket, hl: HotlineDep, principal: SocketReader) -> None:
    """The live socket: resume from cursors, then messages, receipts and availability as they happen,
    until the caller's key is revoked. A key that reads threads but may not post (an observer) has it
    read-only: its ``post``, ``read`` and ``delivered`` frames are answered with an ``error`` frame,
    status ``forbidden``, as HTTP answers its post and read receipt (403). One key may hold ``max_streams_per_key`` sockets open (per API
    process): one more is accepted and closed at once with the reason (code 1013, try again later)."""
    if not hl.sockets.claim(principal.key_id):
        await refuse(websocket, hl.sockets.refusal())
        return
    try:
        session = LiveSession(
            hl.service,
            hl.hub,
            websocket,
            _party(principal),
            principal.person,
            hl.live,
            principal.key_id,
            hl.posts,
            write_refusal=_write_refusal(principal),
            frame_bytes=hl.frame_bytes,
        )
        await session.run()
    finally:
        hl.sockets.release(principal.key_id)


@router.get("/threads")
def list_threads(
    request: Request,
    response: Response,
    hl: HotlineDep,
    principal: Reader,
    page: Annotated[PageRequest, Depends(page_request("threads", (float, str)))],
) -> list[ThreadHead]:
    """The caller's threads, oldest first, each with ``last_seq`` and ``unread`` (others' messages
    not marked read): a page of ``limit``, the next one linked by ``Link: <...>; rel="next"``
    (docs/api.md, "Lists come in pages")."""
    after = None if page.after is None else (page.after[0], page.after[1])  # (created_s, id): checked by page_request
    heads, more = hl.service.thread_heads_page(_party(principal), after, page.limit)
    last = heads[-1][0] if more and heads else None
    page.link(request, response, None if last is None else (last.created_s, last.id))
    return [ThreadHead(**_thread(t).model_dump(), last_seq=seq, unread=unread) for t, seq, unread in heads]


@router.get("/threads/{thread_id}")
def get_thread(thread_id: str, hl: HotlineDep, principal: Reader) -> ThreadHead:
    """One of the caller's threads as the list gives it, with ``last_seq`` and ``unread``: a client
    that reads the list a page at a time reads here a thread its pages do not hold yet (a message
    posted in it came on the stream). Not a member, or no such thread: 404 alike."""
    thread, seq, unread = hl.service.thread_head(_party(principal), thread_id)
    return ThreadHead(**_thread(thread).model_dump(), last_seq=seq, unread=unread)


@router.get("/unread")
def unread(hl: HotlineDep, principal: Reader) -> UnreadOut:
    """What the caller's party has not read in all its threads: how many threads hold messages of
    others (keepclear's included) after its read cursor, and how many such messages. A client that
    loads the thread list a page at a time shows this, not a sum over its pages; only the party's
    threads with something unread are read, however many others made it a member of."""
    threads, messages = hl.service.unread_total(_party(principal))
    return UnreadOut(threads=threads, messages=messages)


@router.post("/threads", status_code=201)
def create_thread(body: ThreadIn, hl: HotlineDep, principal: Poster) -> ThreadOut:
    """A new thread with the named parties (the caller's party is added)."""
    return _thread(hl.service.create_thread(_party(principal), body.parties, body.title))


@router.get("/threads/{thread_id}/messages")
def list_messages(
    thread_id: str,
    hl: HotlineDep,
    principal: Reader,
    after_seq: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[MessageOut]:
    """Messages of a thread after ``after_seq``, in order, as the caller's language shows them."""
    party_id = _party(principal)
    language = hl.service.language_of(party_id)
    return [
        MessageOut.model_validate(hl.service.view(m, language, party_id))
        for m in hl.service.messages(party_id, thread_id, after_seq, limit)
    ]


@router.post("/threads/{thread_id}/messages", status_code=201)
def post_message(
    thread_id: str,
    body: MessageIn,
    hl: HotlineDep,
    principal: Poster,
    idempotency_key: Annotated[
        str | None, Header(description="The message's idempotency key (or the body's idempotency_key).")
    ] = None,
) -> PostedOut:
    """Post a message (a retry with the same key and content answers the stored one, ``created`` false).
    A party posting faster than ``hotline_messages_per_party_per_s`` (bursts of ``hotline_message_burst``)
    is answered 429 with ``Retry-After``, nothing stored (``api.party_rate``)."""
    fields = body.model_dump(mode="json", exclude_none=True)
    if "idempotency_key" not in fields and idempotency_key is not None:
        fields["idempotency_key"] = idempotency_key
    draft = draft_from_json(fields, thread_id)
    party_id = _party(principal)
    hl.posts.require(party_id)
    message, created = hl.service.post(party_id, principal.person, draft)
    if not created:  # a retry of a stored post: nothing new, so its token returns
        hl.posts.give_back(party_id)
    view = hl.service.view(message, hl.service.language_of(party_id), party_id)
    return PostedOut(created=created, message=MessageOut.model_validate(view))


@router.post("/threads/{thread_id}/read")
def mark_read(thread_id: str, body: ReadIn, hl: HotlineDep, principal: Poster) -> ReadOut:
    """Mark the thread read through ``through_seq`` for the caller's party."""
    return ReadOut(read=hl.service.mark_read(_party(principal), principal.person, thread_id, body.through_seq))


@router.get("/threads/{thread_id}/messages/{seq}/receipts")
def receipts(
    thread_id: str, seq: Annotated[int, Path(ge=0, le=INT64_MAX)], hl: HotlineDep, principal: Reader
) -> ReceiptsOut:
    """Who got and who read message ``seq``, and where each acknowledgement asked of it stands."""
    party_id = _party(principal)
    return ReceiptsOut(
        receipts=[
            ReceiptOut(party_id=r.party_id, kind=r.kind, time=format_utc(r.time_s), person=r.person)
            for r in hl.service.receipts(party_id, thread_id, seq)
        ],
        acknowledgements=[AckStatusOut(**a) for a in hl.service.ack_status(party_id, thread_id, seq)],
    )


@router.put("/availability")
def set_availability(body: AvailabilityIn, hl: HotlineDep, principal: Declarer) -> AvailabilityOut:
    """Declare the caller's party available, degraded or suspended (a change is posted into each of its
    standing threads). A declaration takes a token of the party's hotline posts (``hotline_messages_per_party_per_s``,
    bursts of ``hotline_message_burst``, the bucket of its posts): past it, 429 with ``Retry-After``,
    judged before the store is read, nothing stored (``api.party_rate``). A repeat of the stored
    declaration (same availability and reason) stores nothing and gives its token back."""
    party_id = _party(principal)
    hl.posts.require(party_id)
    value, stored = hl.service.set_availability(party_id, principal.person, body.availability, body.reason)
    if not stored:  # a repeat: nothing new, so its token returns
        hl.posts.give_back(party_id)
    return _availability(value.party_id, value)


@router.get("/availability/{party_id}")
def get_availability(party_id: str, hl: HotlineDep, principal: Reader) -> AvailabilityOut:
    """What ``party_id`` last declared."""
    return _availability(party_id, hl.service.availability(party_id))


@router.get("/phrases")
def phrases(hl: HotlineDep, principal: Reader, language: str | None = None) -> list[PhraseOut]:
    """The standard phrases, worded in ``language`` (default: the caller's party's)."""
    lang = language or hl.service.language_of(_party(principal))
    return [_phrase(code, hl.service.phrases.get(code), lang) for code in hl.service.phrases.codes()]


def _phrase(code: str, phrase: Phrase, language: str) -> PhraseOut:
    return PhraseOut(
        code=code,
        meaning=phrase.meaning,
        expected_response=phrase.expected_response,
        parameters=list(phrase.parameters),
        text=phrase.text.get(language) or phrase.text["en"],
    )
