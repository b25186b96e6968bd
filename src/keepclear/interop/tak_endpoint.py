"""One TAK endpoint for several parties: TAK clients connect to one port (TAK's 8089, TLS) and their
client certificate says whose feed they are. Each rule names a certificate subject attribute and
value (``O=Party A``, or ``CN=ANDROID-...``) and the in adapter (a party's gateway: its mapping and
feed key) that the connection's CoT goes to; a certificate no rule names is closed at once. A
party's connections here count with those of its adapter's own ports against the adapter's bound
(``Gateway.max_connections``, 64): one more is closed at once, counted (``connections_refused``).

So a TAK administrator issues each party's clients certificates from one CA with the party in the
subject (as TAK Server's groups do), and points every client at the same host and port.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from keepclear.interop.gateway import Endpoint, Gateway
from keepclear.interop.observation import Stats, log


@dataclass(frozen=True)
class ClientRule:
    """A client certificate whose subject has ``attribute=value`` feeds ``gateway``."""

    attribute: str  # e.g. "organizationName" (O), "organizationalUnitName" (OU), "commonName" (CN)
    value: str
    gateway: Gateway

    @staticmethod
    def attribute_of(short: str) -> str:
        names = {"O": "organizationName", "OU": "organizationalUnitName", "CN": "commonName"}
        if short not in names:
            raise ValueError(f"subject attribute {short!r} is not one of {', '.join(names)}")
        return names[short]


def _subject(peercert: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for rdn in (peercert or {}).get("subject", ()):
        for name, value in rdn:
            out.setdefault(name, value)
    return out


class TakEndpoint:
    """TLS listeners (client certificates required) that hand each connection to its party's gateway."""

    def __init__(
        self, endpoints: Sequence[Endpoint], tls: ssl.SSLContext, rules: Sequence[ClientRule], stats: Stats
    ) -> None:
        self.endpoints = list(endpoints)
        self.tls = tls
        self.rules = list(rules)
        self.stats = stats
        self.ports: list[int] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="interop-tak-endpoint", daemon=True)
        self._servers: list[asyncio.Server] = []

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._open(), self._loop).result(timeout=30)

    async def _open(self) -> None:
        for endpoint in self.endpoints:
            server = await asyncio.start_server(
                self._serve, endpoint.host, endpoint.port, ssl=self.tls, ssl_handshake_timeout=10.0
            )
            self._servers.append(server)
            self.ports.append(server.sockets[0].getsockname()[1])
            log.info("interop: TAK endpoint (tls) on %s:%d", endpoint.host, self.ports[-1])

    def gateway_for(self, peercert: Any) -> Gateway | None:
        subject = _subject(peercert)
        return next((r.gateway for r in self.rules if subject.get(r.attribute) == r.value), None)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        where = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        gateway = self.gateway_for(writer.get_extra_info("peercert"))
        if gateway is None:
            subject = _subject(writer.get_extra_info("peercert"))
            self.stats.bad_input("connections_refused", f"TAK client {where} ({subject}) matches no party: closed")
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
            return
        if not gateway.claim_connection("TAK", where):  # the party's connections: its adapter's bound
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
            return
        decoder = gateway.decoders["cot"]
        buffer = bytearray()
        if gateway.clients is not None:  # the picture of the certificate's party, on the same connection
            gateway.clients.add(self._loop, writer, "xml", where)
        try:
            while chunk := await reader.read(65_536):
                buffer += chunk
                gateway.handle(decoder, decoder.split(buffer), where)  # thread-safe: its sink and counters lock
                if len(buffer) > gateway.max_message_bytes:
                    gateway.stats.bad_input("oversized", f"cot from {where}: {len(buffer)} bytes without an end")
                    buffer.clear()
        except (ConnectionError, OSError) as exc:
            log.info("interop: TAK client %s ended: %s", where, exc)
        finally:
            gateway.release_connection()
            if gateway.clients is not None:
                gateway.clients.remove(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    def stop(self) -> None:
        async def close() -> None:
            for server in self._servers:
                server.close()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
        self._loop.close()
