"""What a hotline socket sends its client (``Delivery``): on resume every message after the client's
cursors, then live from its subscription's backlog, each message exactly once and in order per
thread (a gap filled from the store first), frames sent in ``batch`` frames within a byte bound and
a send timeout. The frames are ``api.hotline_frames``'; the session that runs it is ``api.hotline_ws``.
A live message comes with its frame's text, rendered once for all the sockets of its party and language
(``HotlineHub``, ``services.hotline.frame_texts``); what a socket reads from the store itself (its
resume, a gap, another process's messages) is rendered in the thread that reads it, never on the loop."""

import asyncio
from typing import Any

from anyio import to_thread
from fastapi import WebSocket

from keepclear.api.hotline_frames import LiveConfig, batch_texts, error_frame, event_frame
from keepclear.domain.hotline import Message, Thread
from keepclear.errors import AuthenticationError, KeepclearError
from keepclear.services.hotline.frame_texts import FrameText, MessageTexts, frame_text
from keepclear.services.hotline.hub import Subscription
from keepclear.services.hotline.service import HotlineService


class Delivery:
    """The server → client half of one socket of ``party_id``: ``last_sent`` per thread, the messages
    in the reader's ``language`` (rendered by ``texts``), through ``subscription``'s bounded backlog."""

    def __init__(
        self,
        service: HotlineService,
        websocket: WebSocket,
        party_id: str,
        config: LiveConfig,
        subscription: Subscription,
        language: str,
        texts: MessageTexts,
    ) -> None:
        self.service = service
        self.ws = websocket
        self.party_id = party_id
        self.config = config
        self.subscription = subscription
        self.language = language
        self.texts = texts
        self.last_sent: dict[str, int] = {}
        #: True while a send waits for the client (a client that overflows meanwhile is cut at once).
        self.sending = False

    async def resume(self, cursors: dict[str, int], heads: list[tuple[Thread, int]]) -> None:
        """Send every message after the client's ``cursors`` up to ``heads``, thread by thread in
        order, read and sent ``max_batch`` at a time (a resume holds a page, not all that others
        posted), then the ``resumed`` frame."""
        self.last_sent = {thread.id: cursors.get(thread.id, 0) for thread, _ in heads}
        frames: list[FrameText] = []
        for thread, last_seq in heads:
            while self.last_sent[thread.id] < last_seq:
                page = await self._texts_after(thread.id, self.last_sent[thread.id], self.config.max_batch)
                if not page:
                    break
                frames += page
                if len(frames) >= self.config.max_batch:
                    await self.send(frames)
                    frames = []
        await self.send(frames)
        await self.send([frame_text({"type": "resumed", "cursors": self.last_sent})])

    def reply(self, frame: dict[str, Any]) -> None:
        """Queue ``frame`` for the client within its backlog's bound: a client that sends and does not
        read fills its backlog with the answers and is cut as any client that falls behind."""
        self.subscription.offer(("frame", frame))

    def cut_if_stuck(self, pump: asyncio.Task[None]) -> None:
        """The client overflowed: if a send is waiting for it, it does not read; end the session now
        (returning without a close frame, the server closes the connection)."""
        if self.sending:
            pump.cancel()

    async def send(self, frames: list[FrameText], timeout_s: float | None = None) -> None:
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

    async def pump(self) -> None:
        """Send what the subscription's backlog holds, as it comes, until the key is revoked or the
        client overflowed (then the last frames, and the socket closed)."""
        subscription = self.subscription
        while True:
            items = [await subscription.get()]
            while not subscription.queue.empty() and len(items) < self.config.max_batch:
                items.append(subscription.get_nowait())
            frames: list[FrameText] = []
            caught_up: set[str] = set()  # the threads read from the store in this batch
            for kind, value in items:
                if kind == "messages":
                    for message, text in value:
                        frames += await self._deliver(message, text)
                elif kind == "event":
                    frames.append(frame_text(event_frame(value)))
                elif kind == "frame":
                    frames.append(frame_text(value))
                elif kind == "catch_up" and isinstance(value, str) and value not in caught_up:
                    # another process committed messages in thread ``value``: read once per batch
                    frames += await self._catch_up(value)
                    caught_up.add(value)
                elif kind == "revoked":
                    # Nothing after the revocation reaches the key: what came before it, then the end.
                    await self.send([*frames, frame_text(error_frame(AuthenticationError("API key revoked")))])
                    async with asyncio.timeout(min(self.config.send_timeout_s, 2.0)):
                        await self.ws.close(code=1008)
                    return
                elif kind == "overflow":
                    # A client that overflowed reads slowly if at all: a little time for these last frames.
                    last_s = min(self.config.send_timeout_s, 2.0)
                    await self.send([*frames, frame_text({"type": "overflow"})], last_s)
                    async with asyncio.timeout(last_s):
                        await self.ws.close(code=1013)
                    return
            await self.send(frames)

    async def _texts_after(self, thread_id: str, after_seq: int, limit: int) -> list[FrameText]:
        """The frames of up to ``limit`` stored messages of ``thread_id`` after ``after_seq``, read
        and rendered in a worker thread; ``last_sent`` moves past them."""

        def read() -> list[tuple[Message, FrameText]]:
            page = self.service.messages(self.party_id, thread_id, after_seq, limit)
            return [(m, self.texts.text(m, self.language, self.party_id)) for m in page]

        page = await to_thread.run_sync(read)
        for message, _ in page:
            self.last_sent[message.thread_id] = message.seq
        return [text for _, text in page]

    async def _deliver(self, message: Message, text: FrameText | None) -> list[FrameText]:
        """Frames for ``message`` (``text``: its frame, rendered for this socket's language, or None)
        unless already sent, a gap filled from the store first (exactly once, in order)."""
        last = self.last_sent.get(message.thread_id, 0)
        if message.seq <= last:
            return []
        frames = []
        if message.seq > last + 1:
            frames = await self._texts_after(message.thread_id, last, message.seq - 1 - last)
        self.last_sent[message.thread_id] = message.seq
        frames.append(self.texts.text(message, self.language, self.party_id) if text is None else text)
        return frames

    async def _catch_up(self, thread_id: str) -> list[FrameText]:
        """Frames for every stored message not yet sent of ``thread_id`` (another process committed one
        there: its bus event, or the store watch without a bus), or of every thread when the party
        is not a member of it after all."""
        try:
            return await self._read_after(thread_id)
        except KeepclearError:  # not a thread of this party after all: look at them all
            pass
        heads = await to_thread.run_sync(self.service.heads, self.party_id)
        frames: list[FrameText] = []
        for thread, last_seq in heads.items():
            if last_seq > self.last_sent.get(thread, 0):
                frames += await self._read_after(thread)
        return frames

    async def _read_after(self, thread_id: str) -> list[FrameText]:
        """Frames of ``thread_id``'s messages after the last sent, one bounded page; when there may be
        more, the rest is asked for again behind what is queued (so no batch grows without bound, and
        nothing waits for a later message to wake it)."""
        limit = self.config.max_batch * 5
        page = await self._texts_after(thread_id, self.last_sent.get(thread_id, 0), limit)
        if len(page) == limit:
            self.subscription.offer(("catch_up", thread_id))
        return page
