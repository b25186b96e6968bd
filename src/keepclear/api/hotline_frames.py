"""The hotline socket's frames: what they may hold (``LiveConfig``), the frames the server writes
(errors, events, acceptances, ``batch`` frames within a byte bound) and the checks of the frames a
client writes. The session that speaks them is ``api.hotline_ws``.

WebSocket protocol (JSON text frames):

client → server
  first frame ``{"type": "resume", "cursors": {"<thread_id>": <last seq seen>, ...}}`` (threads left
  out start from 0: everything). Then any of
  ``{"type": "post", "ref": <any>, "thread_id", "kind", "idempotency_key", "body" | "phrase", ...}``,
  ``{"type": "delivered", "thread_id", "through_seq"}``, ``{"type": "read", "thread_id", "through_seq"}``,
  ``{"type": "ping"}``. A binary frame is answered with an ``invalid`` error frame (the socket stays open).
server → client
  every missed message (``{"type": "message", "message": {...}}``) in order, then
  ``{"type": "resumed", "cursors": {...}}``, then live ``message`` frames (each exactly once, in
  order per thread), ``{"type": "accepted", "ref", "created", "thread_id", "seq", "time_s", "idempotency_key"}`` after a
  post committed,
  ``{"type": "error", "ref", "status", "problems", "codes"}`` (``codes``, one per problem, when the
  status is ``invalid``: the same machine codes as an HTTP 422; ``retry_after_s`` when waiting helps,
  as for a post past its party's rate, ``api.party_rate``: the socket stays open), ``{"type": "receipt", ...}``,
  ``{"type": "availability", ...}``, ``{"type": "escalated", ...}``, ``{"type": "pong"}``, and
  ``{"type": "overflow"}`` just before closing a client that fell too far behind (reconnect and resume),
  and an ``error`` frame (``refused``) before closing (1008) the socket of a key revoked meanwhile.
  Under load several frames travel as one ``{"type": "batch", "frames": [...]}``, in order.
"""

import json
from dataclasses import dataclass
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Event
from keepclear.domain.hotline import Message
from keepclear.domain.ids import MAX_ID_CHARS
from keepclear.domain.timefmt import format_utc
from keepclear.errors import (
    ConflictError,
    ForbiddenError,
    KeepclearError,
    NotFoundError,
    OverloadedError,
    ValidationError,
    code_of,
)
from keepclear.services.hotline.frame_texts import FrameText


@dataclass(frozen=True, slots=True)
class LiveConfig:
    """``hello_timeout_s``: time a client has to send its resume frame; ``max_batch``: most posts per
    commit and most frames per ``batch`` frame; ``max_pending_posts``: posts a client may have waiting for commit before the server stops reading
    it (TCP pushes back; keep it well above a burst, or the client's pings go unanswered too);
    ``max_pending_post_bytes``: the same bound on those posts' bytes (their frames' UTF-8 text; a
    frame may be megabytes, so a bound in count alone let one socket hold gigabytes);
    ``max_pending_receipts``: threads a client may have confirmed delivered and not yet recorded
    before the server stops reading it (the same back pressure);
    ``send_timeout_s``: longest one send may wait for the client to read before the client is cut;
    ``max_batch_frame_bytes``: most UTF-8 bytes of one ``batch`` frame sent, the frame size WebSocket
    client libraries accept by default (Python's websockets: 1 MiB), so that a client left with its
    defaults is never sent a frame it must refuse, and so cannot fall into refusing the same resume
    again and again; a single frame larger than it goes alone."""

    hello_timeout_s: float = 10.0
    max_batch: int = 1000
    max_batch_frame_bytes: int = 1 << 20
    max_pending_posts: int = 20_000
    max_pending_post_bytes: int = 64 << 20
    max_pending_receipts: int = 1000
    send_timeout_s: float = 30.0


#: Close code of a socket refused for now (RFC 6455 "try again later"): its key holds enough open.
TRY_AGAIN_LATER = 1013
#: What a first frame that is not a resume frame is told.
HELLO_PROBLEM = 'the first frame must be {"type": "resume", "cursors": {...}}'
#: What a binary frame is told (the protocol is JSON text frames); the socket stays open.
BINARY_PROBLEM = "frame: a binary frame is not understood; send JSON as a text frame"


def error_status(exc: KeepclearError) -> str:
    """A short name of what kind of refusal ``exc`` is (the HTTP layer maps the same classes)."""
    if isinstance(exc, ValidationError):
        return "invalid"
    if isinstance(exc, NotFoundError):
        return "not_found"
    if isinstance(exc, ConflictError):
        return "conflict"
    if isinstance(exc, ForbiddenError):
        return "forbidden"
    return "refused"


def problems_of(exc: KeepclearError) -> list[str]:
    """What ``exc`` says, one problem a line (a validation error may say several)."""
    return exc.problems if isinstance(exc, ValidationError) else [str(exc)]


def error_frame(refusal: KeepclearError | list[str], **extra: Any) -> dict[str, Any]:
    """``{"type": "error", "status", "problems", "codes", ...extra}``: a refusal as the socket says it.
    ``status`` names the kind of refusal (``invalid``, ``not_found``, ``conflict``, ``forbidden``,
    ``refused``); an
    ``invalid`` one carries a machine code per problem (``codes``, as an HTTP 422 does)."""
    if isinstance(refusal, list):
        status, problems = "invalid", refusal
    else:
        status, problems = error_status(refusal), problems_of(refusal)
    frame: dict[str, Any] = {"type": "error", **extra, "status": status, "problems": problems}
    if status == "invalid":
        frame["codes"] = [code_of(p) for p in problems]
    if isinstance(refusal, OverloadedError):
        frame["retry_after_s"] = refusal.retry_after_s
    return frame


def event_frame(event: Event) -> dict[str, Any]:
    """The frame of a hotline event a party's socket is told of (a receipt, an availability, an escalation)."""
    kind = {
        EventKind.MESSAGE_RECEIPT: "receipt",
        EventKind.PARTY_AVAILABILITY: "availability",
        EventKind.HOTLINE_ESCALATED: "escalated",
    }
    return {"type": kind.get(event.kind, event.kind), "time": format_utc(event.time_s), **event.payload}


def accepted_frame(ref: Any, message: Message, created: bool) -> dict[str, Any]:
    """The answer to a post that committed (``created``: False for a retry of one stored already)."""
    return {
        "type": "accepted",
        "ref": ref,
        "created": created,
        "thread_id": message.thread_id,
        "seq": message.seq,
        "time_s": message.time_s,
        "idempotency_key": message.idempotency_key,
    }


def shown(value: object, most: int = 64) -> str:
    """``value`` as an answer may quote it: its repr, cut to ``most`` characters (a client's frame
    may be megabytes; the answer to it must not be).

    >>> shown("x" * 100, 10)
    "'xxxxxx..."
    """
    text = repr(value)
    return text if len(text) <= most else text[: most - 3] + "..."


def resume_cursors(hello: Any) -> dict[str, int] | None:
    """The cursors of a first frame, or None when it is not ``{"type": "resume", "cursors": {...}}``
    with each thread id mapped to an integer >= 0.

    >>> resume_cursors({"type": "resume", "cursors": {"t1": 4}}), resume_cursors({"type": "resume", "cursors": {"t1": -1}})
    ({'t1': 4}, None)
    """
    cursors = hello.get("cursors", {}) if isinstance(hello, dict) and hello.get("type") == "resume" else None
    if not isinstance(cursors, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0 for k, v in cursors.items()
    ):
        return None
    return cursors


def receipt_refusal(kind: str, frame: dict[str, Any]) -> dict[str, Any] | None:
    """The error frame answering a ``delivered`` or ``read`` frame that cannot be taken, or None."""
    thread_id, through = frame.get("thread_id"), frame.get("through_seq")
    if not isinstance(thread_id, str) or not isinstance(through, int) or isinstance(through, bool):
        return error_frame([f"{kind}: needs thread_id and through_seq"])
    if through < 0:  # as ``read`` is told; a ``delivered`` one was coalesced to 0 without a word
        return error_frame([f"through_seq: {shown(through)} is not a sequence number"])
    if len(thread_id) > MAX_ID_CHARS:  # no thread has such an id; not held, nor quoted whole
        return error_frame(NotFoundError(f"thread_id: unknown thread {shown(thread_id)}"))
    return None


_BATCH_HEAD, _BATCH_SEPARATOR, _BATCH_TAIL = '{"type": "batch", "frames": [', ", ", "]}"


def batch_texts(frames: list[FrameText], most_bytes: int) -> list[str]:
    """The texts that send ``frames`` (rendered, ``frame_text``) in order: a frame alone as itself,
    frames that fit together in ``most_bytes`` (UTF-8) as one ``{"type": "batch", "frames": [...]}``,
    a frame over it alone.

    >>> from keepclear.services.hotline.frame_texts import frame_text
    >>> batch_texts([frame_text({"n": 1}), frame_text({"n": 2}), frame_text({"n": 3})], 50)
    ['{"type": "batch", "frames": [{"n": 1}, {"n": 2}]}', '{"n": 3}']
    """
    texts: list[str] = []
    group: list[str] = []
    size = len(_BATCH_HEAD) + len(_BATCH_TAIL)
    for text, length in frames:
        if group and size + len(_BATCH_SEPARATOR) + length > most_bytes:
            texts.append(_batched(group))
            group, size = [], len(_BATCH_HEAD) + len(_BATCH_TAIL)
        size += length + (len(_BATCH_SEPARATOR) if group else 0)
        group.append(text)
    if group:
        texts.append(_batched(group))
    return texts


def _batched(texts: list[str]) -> str:
    return texts[0] if len(texts) == 1 else _BATCH_HEAD + _BATCH_SEPARATOR.join(texts) + _BATCH_TAIL


async def refuse(websocket: WebSocket, problem: str) -> None:
    """Accepts ``websocket`` only to say why it is refused (an error frame with ``status``
    ``refused``, then a close with ``problem`` as the reason): a refusal before the handshake reaches
    a browser as a bare 403 with no words."""
    frame = error_frame(OverloadedError(problem, retry_after_s=5))
    await _tell_and_close(websocket, frame, TRY_AGAIN_LATER, problem[:120], accept=True)


async def close_with_error(websocket: WebSocket, problem: str) -> None:
    """Tell the client ``problem`` (an ``invalid`` error frame) and close its socket (1008)."""
    await _tell_and_close(websocket, error_frame([problem]), 1008)


async def _tell_and_close(
    websocket: WebSocket, frame: dict[str, Any], code: int, reason: str | None = None, *, accept: bool = False
) -> None:
    """Send ``frame`` and close with ``code`` (accepting first when ``accept``); a client gone meanwhile is let be."""
    try:
        if accept:
            await websocket.accept()
        await websocket.send_text(json.dumps(frame))
        await websocket.close(code=code, reason=reason)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
