"""A bound on the TCP connections one API process holds, and on how long a request's headers may take.

uvicorn keeps a connection open for as long as its client wants until the first request's headers
are in: a client that connects and sends nothing, or a header a byte a minute, holds a connection
(a file descriptor, a protocol object) without end, and a few thousand such clients leave the
process unable to accept the parties' requests, streams and hotline sockets. Anyone who reaches the
port can do it, before any key is judged. So:

- past ``max_connections`` open at once a new connection is closed as soon as it is accepted,
  counted (``http_connections_refused_total``); the streams and hotline sockets of the parties are
  connections too, each key bounded apart (``max_streams_per_key``);
- a request whose headers are not all in within ``header_timeout_s`` of its first byte (or of the
  connection, for the first request) has its connection closed, counted
  (``http_connections_closed_slow_headers_total``). Between requests uvicorn's own keep-alive
  timeout closes an idle connection.

``ConnectionGuard.protocol()`` is the HTTP protocol class to give uvicorn (``http=``): uvicorn's
own (httptools), with the two bounds.

uvicorn reads on after each answer however many requests of the connection wait their turn, each
held meanwhile (its scope, its headers, a task to come): a client that pipelines requests and reads
no answer had the process hold one for each request it sent (11 MB of ``GET /v1/health``: 600 MB),
before any key is judged. Past ``max_pipelined`` waiting (``MAX_PIPELINED_REQUESTS``), the
connection is closed, counted (``http_connections_closed_pipelining_total``).

A WebSocket's pings are answered by uvicorn itself, a pong written for each whether the client reads
or not: one that sends pings and never reads had the process hold every pong, a byte for each byte
it sent, without end. ``ConnectionGuard.ws_protocol()`` (``ws=``), uvicorn's own (websockets'
sans-I/O) otherwise, closes a socket whose client has not taken ``unread_pong_bytes`` already written
when its next ping comes, counted (``http_connections_closed_unread_pongs_total``); what the app
sends is bounded apart (it waits while the client does not read: the hotline's backlog and send
timeout).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from uvicorn._types import ASGI3Application
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

#: Requests of one connection that may wait for the answers before them (HTTP/1.1 pipelining; browsers
#: and httpx send none): past it the connection is closed.
MAX_PIPELINED_REQUESTS = 100
#: Bytes written to a WebSocket and not yet taken by its client past which a ping closes it: far
#: above what the app writes (it waits past the transport's high-water mark, 64 KiB).
UNREAD_PONG_BYTES = 1024 * 1024


class ConnectionGuard:
    """The bounds and counters of one API process's connections (``/v1/metrics``)."""

    def __init__(
        self,
        max_connections: int,
        header_timeout_s: float,
        unread_pong_bytes: int = UNREAD_PONG_BYTES,
        max_pipelined: int = MAX_PIPELINED_REQUESTS,
    ) -> None:
        if max_connections < 1 or not header_timeout_s > 0:
            raise ValueError(f"max_connections, header_timeout_s: {max_connections!r}, {header_timeout_s!r}")
        self.max_connections = max_connections
        self.header_timeout_s = header_timeout_s
        self.unread_pong_bytes = unread_pong_bytes
        self.unread_pongs_total = 0
        self.max_pipelined = max_pipelined
        self.pipelining_total = 0
        #: uvicorn's set of the process's open connections (HTTP and WebSocket), once one was made.
        self.connections: set[Any] = set()
        self.refused_total = 0
        self.slow_headers_total = 0

    def gauges(self) -> Mapping[str, Callable[[], float]]:
        """Open connections, those closed at once for the bound, those closed for slow headers."""
        return {
            "http_connections": lambda: len(self.connections),
            "http_connections_limit": lambda: self.max_connections,
            "http_connections_refused_total": lambda: self.refused_total,
            "http_connections_closed_slow_headers_total": lambda: self.slow_headers_total,
            "http_connections_closed_unread_pongs_total": lambda: self.unread_pongs_total,
            "http_connections_closed_pipelining_total": lambda: self.pipelining_total,
        }

    def protocol(self) -> type[HttpToolsProtocol]:
        """uvicorn's HTTP protocol class under this guard's bounds."""
        guard = self

        class GuardedProtocol(HttpToolsProtocol):
            _headers_due: asyncio.TimerHandle | None = None
            #: The request being answered (uvicorn's ``cycle`` is the newest read, pipelined ones included).
            _serving: RequestResponseCycle | None = None

            def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
                # uvicorn's set holds every open connection, WebSockets too (an upgrade moves it over).
                guard.connections = self.connections
                super().connection_made(transport)
                if len(self.connections) > guard.max_connections:
                    guard.refused_total += 1
                    transport.close()
                    return
                self._wait_for_headers()

            def connection_lost(self, exc: Exception | None) -> None:
                self._headers_in()
                self._serving_gone()
                super().connection_lost(exc)

            def on_message_begin(self) -> None:
                super().on_message_begin()
                if self._headers_due is None:  # a next request on the connection (the first's runs from connecting)
                    self._wait_for_headers()

            def on_headers_complete(self) -> None:
                self._headers_in()
                if self.transport.is_closing():  # the rest of what was read, after a cut: not served
                    return
                super().on_headers_complete()
                if len(self.pipeline) > guard.max_pipelined:
                    guard.pipelining_total += 1
                    self._serving_gone()  # before its next write: the transport is closed at once
                    self.transport.abort()

            def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
                self._serving = cycle
                super()._start_asgi_task(cycle, app)

            def _serving_gone(self) -> None:
                """Tell the request being answered that its client has gone. uvicorn tells only the
                newest request read, which is another, waiting, when requests were pipelined: the one
                answered wrote on to the closed connection (uvloop: a ``RuntimeError`` and a trace)."""
                serving = self._serving
                if serving is not None and not serving.response_complete:
                    serving.disconnected = True
                    serving.message_event.set()

            def _wait_for_headers(self) -> None:
                self._headers_in()
                self._headers_due = self.loop.call_later(guard.header_timeout_s, self._headers_late)

            def _headers_in(self) -> None:
                if self._headers_due is not None:
                    self._headers_due.cancel()
                    self._headers_due = None

            def _headers_late(self) -> None:
                self._headers_due = None
                guard.slow_headers_total += 1
                self.transport.close()

        return GuardedProtocol

    def ws_protocol(self) -> type[WebSocketsSansIOProtocol]:
        """uvicorn's WebSocket protocol class, closing a socket that pings and does not read the pongs."""
        guard = self

        class GuardedWebSocket(WebSocketsSansIOProtocol):
            _cut = False

            def handle_ping(self) -> None:
                if self._cut:
                    self.conn.data_to_send()  # the pong of a socket being closed: dropped
                    return
                if self.transport.get_write_buffer_size() > guard.unread_pong_bytes:
                    self._cut = True
                    guard.unread_pongs_total += 1
                    self.conn.data_to_send()
                    self.transport.abort()  # what it did not read is dropped with it
                    return
                super().handle_ping()

        return GuardedWebSocket
