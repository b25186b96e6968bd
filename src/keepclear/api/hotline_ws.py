"""The hotline's live WebSocket: one ``LiveSession`` per connected client (routed in ``api.routes.hotline``).

The session reads the client's first frame (its resume cursors), then runs four tasks until the
client leaves, is cut or one fails: the reader of the client's frames, the poster that commits its
posts in groups, the recorder of its delivered receipts, and the pump that delivers (``Delivery``,
``api.hotline_delivery``). The protocol and its frames: ``api.hotline_frames``.
"""

import asyncio
from typing import Any

from anyio import to_thread
from fastapi import WebSocket, WebSocketDisconnect

from keepclear.api.hotline_codec import draft_from_json
from keepclear.api.hotline_delivery import Delivery
from keepclear.api.hotline_frames import (
    BINARY_PROBLEM,
    HELLO_PROBLEM,
    LiveConfig,
    accepted_frame,
    close_with_error,
    error_frame,
    problems_of,
    receipt_refusal,
    resume_cursors,
    shown,
)
from keepclear.api.party_rate import PartyRate
from keepclear.domain.hotline import Draft, Message
from keepclear.domain.json_input import parse_json
from keepclear.errors import ForbiddenError, KeepclearError, ValidationError
from keepclear.services.hotline.frame_texts import MessageTexts
from keepclear.services.hotline.hub import HotlineHub, Subscription
from keepclear.services.hotline.service import HotlineService


class LiveSession:
    """One WebSocket client: resume, then live delivery, posts (group-committed, each taking a token
    of its party's ``post_rate``; None: not bounded, a session tests drive alone) and receipts. With
    ``write_refusal`` (a key that may read threads but not post: an observer) it is read-only: every
    ``post``, ``read`` and ``delivered`` frame is answered with that refusal, nothing stored."""

    def __init__(
        self,
        service: HotlineService,
        hub: HotlineHub,
        websocket: WebSocket,
        party_id: str,
        person: str,
        config: LiveConfig,
        key_id: str | None = None,
        post_rate: PartyRate | None = None,
        write_refusal: ForbiddenError | None = None,
        frame_bytes: PartyRate | None = None,
    ) -> None:
        self.service = service
        self.hub = hub
        self.ws = websocket
        self.party_id = party_id
        self.person = person
        self.config = config
        self.key_id = key_id
        self.post_rate = post_rate
        #: The bytes the party sends (``body_bytes_per_party_per_s``; None: not bounded): each frame
        #: takes its bytes before it is parsed, as a request body does before it is read.
        self.frame_bytes = frame_bytes
        #: Why the caller may not write (an observer: read-only), or None: its ``post``, ``read`` and
        #: ``delivered`` frames are each answered with it, as HTTP answers the post it may not make.
        self.write_refusal = write_refusal
        # Bounded in count and bytes: a client posting faster than commits go stops being read (TCP
        # pushes back). Each post waits with its frame's bytes, released once its commit is answered.
        self.posts: asyncio.Queue[tuple[dict[str, Any], int]] = asyncio.Queue(maxsize=config.max_pending_posts)
        self.posts_bytes = 0
        self._posts_bytes_freed = asyncio.Event()
        # Bounded: past ``max_pending_receipts`` threads the reader waits for ``_receipts`` (TCP pushes back).
        self.delivered: dict[str, int] = {}
        self.delivered_signal = asyncio.Event()
        self._delivered_taken = asyncio.Event()
        self.subscription: Subscription | None = None
        self.delivery: Delivery | None = None

    async def run(self) -> None:
        await self.ws.accept()
        try:
            text = await asyncio.wait_for(self.ws.receive_text(), self.config.hello_timeout_s)
            hello = parse_json(text, self.service.config.limits, "frame")
        except (TimeoutError, ValueError, KeyError, ValidationError, WebSocketDisconnect):
            await close_with_error(self.ws, HELLO_PROBLEM)
            return
        cursors = resume_cursors(hello)
        if cursors is None:
            await close_with_error(
                self.ws, "cursors: must map thread ids to the last sequence number seen (integers >= 0)"
            )
            return
        try:
            # Before subscribing: the hub renders the messages it hands the subscription in its language.
            language = await to_thread.run_sync(self.service.language_of, self.party_id)
        except KeepclearError as exc:
            await close_with_error(self.ws, "; ".join(problems_of(exc)))
            return
        loop = asyncio.get_running_loop()
        self.subscription = self.hub.connect(self.party_id, self.person, loop, self.key_id, language)
        self.subscription.posts_waiting = self.posts.qsize
        self.subscription.posts_waiting_bytes = lambda: self.posts_bytes
        try:
            try:
                heads = await to_thread.run_sync(self.service.resume_points, self.party_id, cursors)
            except KeepclearError as exc:
                await close_with_error(self.ws, "; ".join(problems_of(exc)))
                return
            texts = self.hub.texts or MessageTexts(self.service.view)
            delivery = self.delivery = Delivery(
                self.service, self.ws, self.party_id, self.config, self.subscription, language, texts
            )
            await delivery.resume(cursors, heads)
            pump = asyncio.create_task(delivery.pump())
            tasks = [
                asyncio.create_task(self._reader(delivery)),
                pump,
                asyncio.create_task(self._poster(delivery)),
                asyncio.create_task(self._receipts(delivery)),
            ]
            self.subscription.on_overflow = lambda: delivery.cut_if_stuck(pump)
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

    async def _reader(self, delivery: Delivery) -> None:
        while True:
            try:
                message = await self.ws.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:  # a binary frame: answered, not fatal (``receive_text`` raised KeyError: dropped)
                delivery.reply(error_frame([BINARY_PROBLEM]))
                continue
            size_bytes = len(text.encode("utf-8"))
            if self.frame_bytes is not None and (refusal := self.frame_bytes.take_capped(self.party_id, size_bytes)[1]):
                delivery.reply(error_frame(refusal))  # not parsed: parsing is the cost the bytes bound
                continue
            try:
                frame = parse_json(text, self.service.config.limits, "frame")
            except ValidationError as exc:
                delivery.reply(error_frame(exc))
                continue
            kind = frame.get("type") if isinstance(frame, dict) else None
            if kind in ("post", "delivered", "read") and self.write_refusal is not None:
                extra = {k: frame[k] for k in ("ref", "idempotency_key") if kind == "post" and k in frame}
                delivery.reply(error_frame(self.write_refusal, **extra))
            elif kind == "post":
                await self._queue_post(frame, size_bytes)
            elif kind in ("delivered", "read"):
                await self._receipt_frame(delivery, kind, frame)
            elif kind == "ping":
                delivery.reply({"type": "pong"})
            else:
                delivery.reply(error_frame([f"type: {shown(kind)} is not understood"]))

    async def _queue_post(self, frame: dict[str, Any], size_bytes: int) -> None:
        """Queue a post for the poster; past ``max_pending_post_bytes`` waiting (one post always may),
        wait for commits first, not reading meanwhile (the client's TCP pushes back)."""
        while self.posts_bytes and self.posts_bytes + size_bytes > self.config.max_pending_post_bytes:
            self._posts_bytes_freed.clear()
            await self._posts_bytes_freed.wait()
        self.posts_bytes += size_bytes
        await self.posts.put((frame, size_bytes))

    async def _receipt_frame(self, delivery: Delivery, kind: str, frame: dict[str, Any]) -> None:
        refusal = receipt_refusal(kind, frame)
        if refusal is not None:
            delivery.reply(refusal)
            return
        thread_id, through = frame["thread_id"], frame["through_seq"]
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
            delivery.reply(error_frame(exc))

    async def _poster(self, delivery: Delivery) -> None:
        """Take posts in arrival order; commit whatever queued up meanwhile in one transaction."""
        while True:
            taken = [await self.posts.get()]
            while not self.posts.empty() and len(taken) < self.config.max_batch:
                taken.append(self.posts.get_nowait())
            frames = [frame for frame, _ in taken]
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
                    delivery.reply(
                        error_frame(answer, ref=frame.get("ref"), idempotency_key=frame.get("idempotency_key"))
                    )
                elif answer is not None:
                    delivery.reply(accepted_frame(frame.get("ref"), *answer))
            self.posts_bytes -= sum(size for _, size in taken)
            self._posts_bytes_freed.set()

    async def _receipts(self, delivery: Delivery) -> None:
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
                    delivery.reply(error_frame(exc))
