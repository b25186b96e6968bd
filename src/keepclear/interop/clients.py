"""The TAK connections of one party, both ways: a TAK client connected to keepclear's CoT/TAK port
(or a TAK server keepclear connected to) sends its positions in on the connection, and gets the
party's picture back on the same connection, as from a TAK server.

The connection's party is the adapter's that accepted it (its mapping's party; on the shared TAK
port, the party its client certificate names), so a connection gets exactly what that party's
``interop out`` would send: need-to-know is the API's, read with that party's key.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass

from keepclear.interop.observation import Stats, log
from keepclear.interop.tak_out import to_tak


@dataclass(eq=False)
class _Connection:
    loop: asyncio.AbstractEventLoop
    writer: asyncio.StreamWriter
    protocol: str  # "xml" or "tak" (the stream form)
    where: str


class Clients:
    """Connections of one party that get its picture; written from any thread, each on its own loop.

    A client that does not read (more than ``max_buffer_bytes`` waiting in its socket's buffer) is
    closed: the picture is sent again every few seconds, and a stalled client must not hold memory.
    """

    def __init__(self, max_buffer_bytes: int = 4 * 1024 * 1024, stats: Stats | None = None) -> None:
        self.max_buffer_bytes = max_buffer_bytes
        #: Where a client closed for not reading is counted (``closed_slow``), besides ``closed_slow``.
        self.stats = stats
        self._lock = threading.Lock()
        self._connections: list[_Connection] = []
        self._joined = threading.Event()
        self.closed_slow = 0
        #: Called when a connection comes (the picture's sender wakes, so it need not wait an interval).
        self.on_join: Callable[[], None] | None = None

    def add(self, loop: asyncio.AbstractEventLoop, writer: asyncio.StreamWriter, protocol: str, where: str) -> None:
        with self._lock:
            self._connections.append(_Connection(loop, writer, protocol, where))
        self._joined.set()
        if self.on_join is not None:
            self.on_join()

    def remove(self, writer: asyncio.StreamWriter) -> None:
        with self._lock:
            self._connections = [c for c in self._connections if c.writer is not writer]

    def count(self) -> int:
        with self._lock:
            return len(self._connections)

    def joined(self) -> bool:
        """Whether a connection came since the last call (it needs the whole picture, zones included)."""
        found = self._joined.is_set()
        self._joined.clear()
        return found

    def send(self, events: list[bytes]) -> int:
        """Queue ``events`` (CoT XML) to every connection, as XML or TAK protocol v1 as it speaks;
        the number of connections written to."""
        with self._lock:
            connections = list(self._connections)
        if not connections or not events:
            return 0
        payload = {"xml": b"".join(events)}
        if any(c.protocol == "tak" for c in connections):
            payload["tak"] = b"".join(to_tak(events, stream=True))
        for connection in connections:
            try:
                connection.loop.call_soon_threadsafe(self._write, connection, payload[connection.protocol])
            except RuntimeError:  # the loop has closed: the connection went with it
                self.remove(connection.writer)
        return len(connections)

    def _write(self, connection: _Connection, data: bytes) -> None:
        writer = connection.writer
        if writer.is_closing():
            self.remove(writer)
            return
        if writer.transport.get_write_buffer_size() > self.max_buffer_bytes:
            self.closed_slow += 1
            if self.stats is not None:
                self.stats.add("closed_slow")
            log.warning("interop: TAK client %s reads too slowly for its picture: closed", connection.where)
            self.remove(writer)
            writer.close()
            return
        writer.write(data)
