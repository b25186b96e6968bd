"""The hotline's live WebSocket: one ``LiveSession`` per connected client (routed in ``api.routes.hotline``).

WebSocket protocol (JSON text frames):

client → server
  first frame ``{"type": "resume", "cursors": {"<thread_id>": <last seq seen>, ...}}`` (threads left
  out start from 0: everything). Then any of
  ``{"type": "post", "ref": <any>, "thread_id", "kind", "idempotency_key", "body" | "phrase", ...}``,
  ``{"type": "delivered", "thread_id", "through_seq"}``, ``{"type": "read", "thread_id", "through_seq"}``,
  ``{"type": "ping"}``.
server → client
  every missed message (``{"type": "message", "message": {...}}``) in order, then
  ``{"type": "resumed", "cursors": {...}}``, then live ``message`` frames (each exactly once, in
  order per thread), ``{"type": "accepted", "ref", "created", "thread_id", "seq", "time_s", "idempotency_key"}`` after a
  post committed,
  ``{"type": "error", "ref", "status", "problems", "codes"}`` (``codes``, one per problem, when the
  status is ``invalid``: the same machine codes as an HTTP 422; ``retry_after_s`` when waiting helps,
  as for a post past its party's rate, ``api.post_rate``: the socket stays open), ``{"type": "receipt", ...}``,
  ``{"type": "availability", ...}``, ``{"type": "escalated", ...}``, ``{"type": "pong"}``, and
  ``{"type": "overflow"}`` just before closing a client that fell too far behind (reconnect and resume),
  and an ``error`` frame (``refused``) before closing (1008) the socket of a key revoked meanwhile.
  Under load several frames travel as one ``{"type": "batch", "frames": [...]}``, in order.
"""

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from anyio import to_thread
from fastapi import WebSocket, WebSocketDisconnect

from keepclear.api.hotline_codec import draft_from_json
from keepclear.api.post_rate import PostRate
from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Event
from keepclear.domain.hotline import Draft, Message, Thread
from keepclear.domain.ids import MAX_ID_CHARS
from keepclear.domain.json_input import parse_json
from keepclear.domain.timefmt import format_utc
from keepclear.errors import (
    AuthenticationError,
    ConflictError,
    KeepclearError,
    NotFoundError,
    OverloadedError,
    ValidationError,
    code_of,
)
from keepclear.services.hotline.hub import HotlineHub, Subscription
from keepclear.services.hotline.service import HotlineService

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LiveConfig:
    """``hello_timeout_s``: time a client has to send its resume frame; ``max_batch``: most posts per
    commit and most frames per ``batch`` frame; ``max_pending_posts``: posts a client may have waiting for commit before the server stops reading
    it (TCP pushes back; keep it well above a burst, or the client's pings go unanswered too);
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
    max_pending_receipts: int = 1000
    send_timeout_s: float = 30.0


def error_status(exc: KeepclearError) -> str:
    """A short name of what kind of refusal ``exc`` is (the HTTP layer maps the same classes)."""
    if isinstance(exc, ValidationError):
        return "invalid"
    if isinstance(exc, NotFoundError):
        return "not_found"
    if isinstance(exc, ConflictError):
        return "conflict"
    return "refused"


def _problems(exc: KeepclearError) -> list[str]:
    return exc.problems if isinstance(exc, ValidationError) else [str(exc)]


def error_frame(refusal: KeepclearError | list[str], **extra: Any) -> dict[str, Any]:
    """``{"type": "error", "status", "problems", "codes", ...extra}``: a refusal as the socket says it.
    ``status`` names the kind of refusal (``invalid``, ``not_found``, ``conflict``, ``refused``); an
    ``invalid`` one carries a machine code per problem (``codes``, as an HTTP 422 does)."""
    if isinstance(refusal, list):
        status, problems = "invalid", refusal
    else:
        status, problems = error_status(refusal), _problems(refusal)
    frame: dict[str, Any] = {"type": "error", **extra, "status": status, "problems": problems}
    if status == "invalid":
        frame["codes"] = [code_of(p) for p in problems]
    if isinstance(refusal, OverloadedError):
        frame["retry_after_s"] = refusal.retry_after_s
    return frame


def _event_frame(event: Event) -> dict[str, Any]:
    kind = {
        EventKind.MESSAGE_RECEIPT: "receipt",
        EventKind.PARTY_AVAILABILITY: "availability",
        EventKind.HOTLINE_ESCALATED: "escalated",
    }
    return {"type": kind.get(event.kind, event.kind), "time": format_utc(event.time_s), **event.payload}


def _shown(value: object, most: int = 64) -> str:
    """``value`` as an answer may quote it: its repr, cut to ``most`` characters (a client's frame
    may be megabytes; the answer to it must not be)."""
    text = repr(value)
    return text if len(text) <= most else text[: most - 3] + "..."


#: Close code of a socket refused for now (RFC 6455 "try again later"): its key holds enough open.
TRY_AGAIN_LATER = 1013


_BATCH_HEAD, _BATCH_SEPARATOR, _BATCH_TAIL = '{"type": "batch", "frames": [', ", ", "]}"


def batch_texts(frames: list[dict[str, Any]], most_bytes: int) -> list[str]:
    """The texts that send ``frames`` in order: a frame alone as itself, frames that fit together in
    ``most_bytes`` (UTF-8) as one ``{"type": "batch", "frames": [...]}``, a frame over it alone.

    >>> batch_texts([{"n": 1}, {"n": 2}, {"n": 3}], 50)
    ['{"type": "batch", "frames": [{"n": 1}, {"n": 2}]}', '{"n": 3}']
    """
    texts: list[str] = []
    group: list[str] = []
    size = len(_BATCH_HEAD) + len(_BATCH_TAIL)
    for frame in frames:
        text = json.dumps(frame, ensure_ascii=False)
        length = len(text) if text.isascii() else len(text.encode())  # isascii: no copy, no scan
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
    try:
        await websocket.accept()
        await websocket.send_text(json.dumps(error_frame(OverloadedError(problem, retry_after_s=5))))
        await websocket.close(code=TRY_AGAIN_LATER, reason=problem[:120])
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass


class LiveSession:
    """One WebSocket client: resume, then live delivery, posts (group-committed, each taking a token
    of its party's ``post_rate``; None: not bounded, a session tests drive alone) and receipts."""

    def __init__(
        self,
        service: HotlineService,
        hub: HotlineHub,
        websocket: WebSocket,
        party_id: str,
        person: str,
        config: LiveConfig,
        key_id: str | None = None,
        post_rate: PostRate | None = None,
    ) -> None:
        self.service = service
        self.hub = hub
        self.ws = websocket
        self.party_id = party_id
        self.person = person
        self.config = config
        self.key_id = key_id
        self.post_rate = post_rate
        self.language = "en"
        self.last_sent: dict[str, int] = {}
        # Bounded: a client posting faster than commits go stops being read (TCP pushes back).
        self.posts: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=config.max_pending_posts)
        # Bounded: past ``max_pending_receipts`` threads the reader waits for ``_receipts`` (TCP pushes back).
        self.delivered: dict[str, int] = {}
        self.delivered_signal = asyncio.Event()
        self._delivered_taken = asyncio.Event()
        self.subscription: Subscription | None = None
        #: True while a send waits for the client (a client that overflows meanwhile is cut at once).
        self.sending = False

    async def run(self) -> None:
        await self.ws.accept()
        try:
            text = await asyncio.wait_for(self.ws.receive_text(), self.config.hello_timeout_s)
            hello = parse_json(text, self.service.config.limits, "frame")
        except (TimeoutError, ValueError, KeyError, ValidationError, WebSocketDisconnect):
            await self._close_with_error('the first frame must be {"type": "resume", "cursors": {...}}')
            return
        cursors = hello.get("cursors", {}) if isinstance(hello, dict) and hello.get("type") == "resume" else None
        if not isinstance(cursors, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0 for k, v in cursors.items()
        ):
            await self._close_with_error(
                "cursors: must map thread ids to the last sequence number seen (integers >= 0)"
            )
            return
        loop = asyncio.get_running_loop()
        self.subscription = self.hub.connect(self.party_id, self.person, loop, self.key_id)
        self.subscription.posts_waiting = self.posts.qsize
        try:
            try:
                self.language = await to_thread.run_sync(self.service.language_of, self.party_id)
                heads = await to_thread.run_sync(self.service.resume_points, self.party_id, cursors)
            except KeepclearError as exc:
                await self._close_with_error("; ".join(_problems(exc)))
                return
            self.last_sent = {thread.id: cursors.get(thread.id, 0) for thread, _ in heads}
            await self._send_missed(heads)
            await self._send([{"type": "resumed", "cursors": self.last_sent}])
            pump = asyncio.create_task(self._pump())
            tasks = [
                asyncio.create_task(self._reader()),
                pump,
                asyncio.create_task(self._poster()),
                asyncio.create_task(self._receipts()),
            ]
            self.subscription.on_overflow = lambda: self._cut_if_stuck(pump)
            # The session ends when the client leaves, is cut or any part fails; the rest is cancelled.
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            for task in done:
                failure = None if task.cancelled() else task.exception()
                if failure is not None and not isinstance(failure, WebSocketDisconnect | OSError | TimeoutError):
                    raise failure
        except (WebSocketDisconnect, OSError, TimeoutError):  # gone, or not reading: its cursor resumes it
            pass
        finally:
            self.hub.disconnect(self.subscription)

    async def _send_missed(self, heads: list[tuple[Thread, int]]) -> None:
        """Every message after the client's cursors up to ``heads``, thread by thread in order, read
        and sent ``max_batch`` at a time: a resume holds a page, not all that others posted."""
        frames: list[dict[str, Any]] = []
        for thread, last_seq in heads:
            while self.last_sent[thread.id] < last_seq:
                page = await to_thread.run_sync(
                    self.service.messages, self.party_id, thread.id, self.last_sent[thread.id], self.config.max_batch
                )
                if not page:
                    break
                frames += [self._message_frame(m) for m in page]
                if len(frames) >= self.config.max_batch:
                    await self._send(frames)
                    frames = []
        await self._send(frames)

    def _cut_if_stuck(self, pump: asyncio.Task[None]) -> None:
        """The client overflowed: if a send is waiting for it, it does not read; end the session now
        (returning without a close frame, the server closes the connection)."""
        if self.sending:
            pump.cancel()

    async def _close_with_error(self, problem: str) -> None:
        try:
            await self.ws.send_text(json.dumps(error_frame([problem])))
            await self.ws.close(code=1008)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass

    def _message_frame(self, message: Message) -> dict[str, Any]:
        self.last_sent[message.thread_id] = message.seq
        return {"type": "message", "message": self.service.view(message, self.language)}

    async def _send(self, frames: list[dict[str, Any]], timeout_s: float | None = None) -> None:
        """Send ``frames``, in order: one as itself, several as ``batch`` frames of at most
        ``max_batch_frame_bytes`` each (fewer sends under load); ``TimeoutError`` when the client has
        not taken one within ``timeout_s`` (``send_timeout_s``)."""
        for text in batch_texts(frames, self.config.max_batch_frame_bytes):
            self.sending = True
            try:
                # A client that does not read for send_timeout_s is cut (TimeoutError ends the session).
                async with asyncio.timeout(self.config.send_timeout_s if timeout_s is None else timeout_s):
                    await self.ws.send_text(text)
            finally:
                self.sending = False

    async def _deliver(self, message: Message) -> list[dict[str, Any]]:
        """Frames for ``message`` unless already sent, a gap filled from the store first (exactly once, in order)."""
        last = self.last_sent.get(message.thread_id, 0)
        if message.seq <= last:
            return []
        frames = []
        if message.seq > last + 1:
            gap = await to_thread.run_sync(
                self.service.messages, self.party_id, message.thread_id, last, message.seq - 1 - last
            )
            frames = [self._message_frame(missing) for missing in gap]
        frames.append(self._message_frame(message))
        return frames

    async def _pump(self) -> None:
        assert self.subscription is not None
        subscription = self.subscription
        while True:
            items = [await subscription.get()]
            while not subscription.queue.empty() and len(items) < self.config.max_batch:
                items.append(subscription.get_nowait())
            frames: list[dict[str, Any]] = []
            caught_up: set[str] = set()  # the threads read from the store in this batch
            for kind, value in items:
                if kind == "messages":
                    for message in value:
                        frames += await self._deliver(message)
                elif kind == "event":
                    frames.append(_event_frame(value))
                elif kind == "frame":
                    frames.append(value)
                elif kind == "catch_up" and isinstance(value, str) and value not in caught_up:
                    # another process committed messages in thread ``value``: read once per batch
                    frames += await self._catch_up(value)
                    caught_up.add(value)
                elif kind == "revoked":
                    # Nothing after the revocation reaches the key: what came before it, then the end.
                    await self._send([*frames, error_frame(AuthenticationError("API key revoked"))])
                    async with asyncio.timeout(min(self.config.send_timeout_s, 2.0)):
                        await self.ws.close(code=1008)
                    return
                elif kind == "overflow":
                    # A client that overflowed reads slowly if at all: a little time for these last frames.
                    last_s = min(self.config.send_timeout_s, 2.0)
                    await self._send([*frames, {"type": "overflow"}], last_s)
                    async with asyncio.timeout(last_s):
                        await self.ws.close(code=1013)
                    return
            await self._send(frames)

    async def _catch_up(self, thread_id: str) -> list[dict[str, Any]]:
        """Frames for every stored message not yet sent of ``thread_id`` (another process committed one
        there: its bus event, or the store watch without a bus), or of every thread when the party
        is not a member of it after all."""
        try:
            return await self._read_after(thread_id)
        except KeepclearError:  # not a thread of this party after all: look at them all
            pass
        heads = await to_thread.run_sync(self.service.heads, self.party_id)
        frames: list[dict[str, Any]] = []
        for thread, last_seq in heads.items():
            if last_seq > self.last_sent.get(thread, 0):
                frames += await self._read_after(thread)
        return frames

    async def _read_after(self, thread_id: str) -> list[dict[str, Any]]:
        """Frames of ``thread_id``'s messages after the last sent, one bounded page; when there may be
        more, the rest is asked for again behind what is queued (so no batch grows without bound, and
        nothing waits for a later message to wake it)."""
        limit = self.config.max_batch * 5
        sent = self.last_sent.get(thread_id, 0)
        page = await to_thread.run_sync(self.service.messages, self.party_id, thread_id, sent, limit)
        if len(page) == limit and self.subscription is not None:
            self.subscription.offer(("catch_up", thread_id))
        return [self._message_frame(m) for m in page]

    def _reply(self, frame: dict[str, Any]) -> None:
        """Queue ``frame`` for the client within its backlog's bound: a client that sends and does not
        read fills its backlog with the answers and is cut as any client that falls behind."""
        assert self.subscription is not None
        self.subscription.offer(("frame", frame))

    async def _reader(self) -> None:
        while True:
            try:
                text = await self.ws.receive_text()
            except (WebSocketDisconnect, RuntimeError):
                return
            try:
                frame = parse_json(text, self.service.config.limits, "frame")
            except ValidationError as exc:
                self._reply(error_frame(exc))
                continue
            kind = frame.get("type") if isinstance(frame, dict) else None
            if kind == "post":
                await self.posts.put(frame)
            elif kind in ("delivered", "read"):
                await self._receipt_frame(kind, frame)
            elif kind == "ping":
                self._reply({"type": "pong"})
            else:
                self._reply(error_frame([f"type: {_shown(kind)} is not understood"]))

    async def _receipt_frame(self, kind: str, frame: dict[str, Any]) -> None:
        thread_id, through = frame.get("thread_id"), frame.get("through_seq")
        if not isinstance(thread_id, str) or not isinstance(through, int) or isinstance(through, bool):
            self._reply(error_frame([f"{kind}: needs thread_id and through_seq"]))
            return
        if len(thread_id) > MAX_ID_CHARS:  # no thread has such an id; not held, nor quoted whole
            self._reply(error_frame(NotFoundError(f"thread_id: unknown thread {_shown(thread_id)}")))
            return
        if kind == "delivered":
            while thread_id not in self.delivered and len(self.delivered) >= self.config.max_pending_receipts:
                self._delivered_taken.clear()
                await self._delivered_taken.wait()  # not reading meanwhile: the client's TCP pushes back
            self.delivered[thread_id] = max(through, self.delivered.get(thread_id, 0))
            self.delivered_signal.set()
            return
        try:
            await to_thread.run_sync(self.service.mark_read, self.party_id, self.person, thread_id, through)
        except KeepclearError as exc:
            self._reply(error_frame(exc))

    async def _poster(self) -> None:
        """Take posts in arrival order; commit whatever queued up meanwhile in one transaction."""
        while True:
            frames = [await self.posts.get()]
            while not self.posts.empty() and len(frames) < self.config.max_batch:
                frames.append(self.posts.get_nowait())
            drafts: list[Draft] = []
            answers: list[tuple[Message, bool] | KeepclearError | None] = []
            for frame in frames:
                try:
                    draft = draft_from_json(frame)
                except ValidationError as exc:
                    answers.append(exc)
                    continue
                refusal = None if self.post_rate is None else self.post_rate.take(self.party_id)
                answers.append(refusal)  # past the party's rate: refused, nothing stored
                if refusal is None:
                    drafts.append(draft)
            if drafts:
                posted = iter(await to_thread.run_sync(self.service.post_many, self.party_id, self.person, drafts))
                answers = [next(posted) if a is None else a for a in answers]
                if self.post_rate is not None:  # retries of stored posts: nothing new, their tokens return
                    self.post_rate.give_back(self.party_id, sum(isinstance(a, tuple) and not a[1] for a in answers))
            for frame, answer in zip(frames, answers, strict=True):
                if isinstance(answer, KeepclearError):
                    self._reply(error_frame(answer, ref=frame.get("ref"), idempotency_key=frame.get("idempotency_key")))
                elif answer is not None:
                    message, created = answer
                    self._reply(
                        {
                            "type": "accepted",
                            "ref": frame.get("ref"),
                            "created": created,
                            "thread_id": message.thread_id,
                            "seq": message.seq,
                            "time_s": message.time_s,
                            "idempotency_key": message.idempotency_key,
                        }
                    )

    async def _receipts(self) -> None:
        """Record delivered receipts, coalescing whatever the client confirmed meanwhile."""
        while True:
            await self.delivered_signal.wait()
            self.delivered_signal.clear()
            pending, self.delivered = self.delivered, {}
            self._delivered_taken.set()
            for thread_id, through in pending.items():
                try:
                    await to_thread.run_sync(self.service.mark_delivered, self.party_id, thread_id, through)
                except KeepclearError as exc:
                    self._reply(error_frame(exc))
