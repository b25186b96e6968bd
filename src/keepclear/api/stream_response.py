"""The response of ``/v1/stream`` (``EventStreamResponse``): an SSE response that never waits for ever
on its client, and the log filter that keeps a cut stream out of the server's log. The events it
sends come from ``api.streams``' hub."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncGenerator, Callable, Mapping

from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from keepclear.api.streams import StreamHub

#: Set in the task of a request whose stream the server cut on purpose (see ``CutStreamLogFilter``).
STREAM_CUT: contextvars.ContextVar[bool] = contextvars.ContextVar("keepclear_stream_cut", default=False)

#: What uvicorn logs when an application ends a response before its end; for a cut stream that is
#: the point (the connection is closed, the client reconnects), not an error.
_INCOMPLETE = "ASGI callable returned without completing response."


class CutStreamLogFilter(logging.Filter):
    """Drops uvicorn's "returned without completing response" for streams cut on purpose only:
    a hostile client must not be able to fill the log by not reading, and real errors still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.msg == _INCOMPLETE and STREAM_CUT.get())


class EventStreamResponse(StreamingResponse):
    """An SSE response that never waits for ever on its client.

    Starlette's ``StreamingResponse`` waits as long as a client takes to read; here each send may
    wait at most ``send_timeout_s``, and the hub may cut the stream at any time (backlog full,
    shutdown) by cancelling the task that sends. Either way the response ends unfinished, uvicorn
    closes the connection, and the stream's generator is closed so it leaves the hub at once.
    """

    def __init__(
        self,
        content: AsyncGenerator[str, None],
        hub: StreamHub,
        headers: Mapping[str, str],
        *,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(content, media_type="text/event-stream", headers=headers)
        self._hub = hub
        self._generator = content
        #: Called once the response has ended, however it ended (the key's connection given back).
        self._on_end = on_end

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._serve(send, receive)
        finally:
            if self._on_end is not None:
                self._on_end()

    async def _serve(self, send: Send, receive: Receive) -> None:
        sender = asyncio.ensure_future(self._send_all(send))
        listener = asyncio.ensure_future(self._until_disconnect(receive))
        disconnected = False
        try:
            await asyncio.wait((sender, listener), return_when=asyncio.FIRST_COMPLETED)
            disconnected = listener.done()
        finally:
            for task in (sender, listener):
                task.cancel()
            await asyncio.gather(sender, listener, return_exceptions=True)
            await self._generator.aclose()
        failure = None if sender.cancelled() else sender.exception()
        if failure is not None and not isinstance(failure, OSError):
            raise failure
        ended = sender.done() and not sender.cancelled() and failure is None and sender.result()
        if not ended and not disconnected:
            STREAM_CUT.set(True)  # cut on purpose, the client still there: uvicorn closes the connection

    async def _send_all(self, send: Send) -> bool:
        """Send the stream; True once it ended normally, False when a send timed out."""
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        try:
            async for chunk in self._generator:
                async with asyncio.timeout(self._hub.send_timeout_s):
                    await send({"type": "http.response.body", "body": chunk.encode(), "more_body": True})
            async with asyncio.timeout(self._hub.send_timeout_s):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except TimeoutError:
            self._hub.cut_total += 1
            return False
        return True

    @staticmethod
    async def _until_disconnect(receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
