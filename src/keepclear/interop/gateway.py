"""Sockets in: TCP and UDP listeners and TCP client connections, one decoder per format, through the
mapping to a sink (the poster). Bad input is counted and skipped with a log line; nothing a peer
sends can stop the gateway, and every buffer has a bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Protocol

from keepclear.interop.clients import Clients
from keepclear.interop.cot import event_xml
from keepclear.interop.mapping import Mapping
from keepclear.interop.observation import Observation, Stats, log
from keepclear.interop.tak_out import to_tak


def server_tls(certificate: str, key: str, client_ca: str) -> ssl.SSLContext:
    """TLS for a listener that serves only clients whose certificate ``client_ca`` signed (TAK's 8089)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=client_ca)
    context.load_cert_chain(certificate, key)
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def client_tls(certificate: str, key: str, server_ca: str) -> ssl.SSLContext:
    """TLS for a connection to a TAK server's 8089: our client certificate, the server's certificate
    checked against ``server_ca`` (and its host name)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=server_ca)
    context.load_cert_chain(certificate, key)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class Decoder(Protocol):
    """One input format: how a byte stream splits into messages and what a message means."""

    name: str
    #: True when what is left after the last delimiter of a datagram is a message too (text lines).
    tail_is_message: bool

    def split(self, buffer: bytearray) -> list[bytes]: ...

    def decode(self, message: bytes, received_s: float) -> list[Observation]: ...


def split_lines(buffer: bytearray) -> list[bytes]:
    """Take every complete line (``\\n``, an optional ``\\r`` removed) out of ``buffer``."""
    end = buffer.rfind(b"\n")
    if end < 0:
        return []
    lines = [line.rstrip(b"\r") for line in bytes(buffer[:end]).split(b"\n")]
    del buffer[: end + 1]
    return [line for line in lines if line.strip()]


TRANSPORTS = ("tcp", "tls", "udp", "connect", "tls-connect")
#: The input formats whose stream connections can carry the party's picture back, and in what form.
PICTURE_FORMATS = {"cot": "xml", "tak": "tak"}
#: Transports where keepclear is the client of a feed's server (reconnecting after each loss).
CONNECTING = ("connect", "tls-connect")


@dataclass(frozen=True)
class Endpoint:
    """Where one format comes in: ``cot:tcp:8087``, ``cot:udp:0.0.0.0:4242``, ``sbs:connect:host:30003``,
    ``cot:tls-connect:takserver:8089`` (a TAK server's TLS port, with keepclear's client certificate)."""

    format: str
    transport: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str, formats: tuple[str, ...], default_host: str = "127.0.0.1") -> Endpoint:
        parts = text.split(":")
        if len(parts) not in (3, 4):
            raise ValueError(f"{text!r}: give FORMAT:TRANSPORT:[HOST:]PORT, e.g. cot:tcp:8087")
        fmt, transport = parts[0], parts[1]
        if fmt not in formats:
            raise ValueError(f"{text!r}: format {fmt!r} is not one of {', '.join(formats)}")
        if transport not in TRANSPORTS:
            raise ValueError(f"{text!r}: transport {transport!r} is not one of {', '.join(TRANSPORTS)}")
        host = parts[2] if len(parts) == 4 else default_host
        if transport in CONNECTING and len(parts) != 4:
            raise ValueError(f"{text!r}: {transport} needs a host, e.g. {fmt}:{transport}:127.0.0.1:{parts[-1]}")
        try:
            port = int(parts[-1])
        except ValueError:
            raise ValueError(f"{text!r}: port {parts[-1]!r} is not a number") from None
        if not 0 <= port <= 65535:
            raise ValueError(f"{text!r}: port {port} is outside 0..65535")
        return cls(fmt, transport, host, port)


def _is_multicast(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_multicast
    except ValueError:
        return False


Sink = Callable[[list[tuple[str, Observation]]], None]


class Gateway:
    """Runs the endpoints on an event loop of its own thread; ``start`` returns once every socket is bound."""

    def __init__(
        self,
        mapping: Mapping,
        decoders: dict[str, Decoder],
        endpoints: list[Endpoint],
        sink: Sink,
        stats: Stats,
        *,
        clock: Callable[[], float] = time.time,
        max_message_bytes: int = 65_536,
        max_connections: int = 64,
        reconnect_s: float = 2.0,
        multicast_interface: str = "0.0.0.0",
        tls: ssl.SSLContext | None = None,
        client_tls: ssl.SSLContext | None = None,
        on_unmapped: Callable[[Observation], None] | None = None,
        clients: Clients | None = None,
        presence_delay_s: float = 1.0,
    ) -> None:
        self.mapping = mapping
        #: With ``clients``, every cot/tak stream connection (accepted or made) gets the party's picture back.
        self.clients = clients
        #: How long after connecting to a TAK server keepclear says who it is: OpenTAKServer drops what
        #: a client sends before its own message queue for the client is open (a fraction of a second).
        self.presence_delay_s = presence_delay_s
        self.on_unmapped = on_unmapped
        self.decoders = decoders
        self.endpoints = endpoints
        self.sink = sink
        self.stats = stats
        self.clock = clock
        self.max_message_bytes = max_message_bytes
        self.max_connections = max_connections
        self.reconnect_s = reconnect_s
        self.multicast_interface = multicast_interface
        self.tls = tls
        self.client_tls = client_tls
        #: The bound port of each endpoint (its own port for ``connect``), in order.
        self.ports: list[int] = []
        self._connections = 0
        self._connections_lock = threading.Lock()
        self._unmapped_logged: set[str] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="interop-gateway", daemon=True)
        self._closers: list[Callable[[], None]] = []
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Bind every endpoint; on any failure, close what was opened and stop the thread, then raise."""
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._open(), self._loop).result(timeout=30)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        async def close() -> None:
            for closer in self._closers:
                closer()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
        self._loop.close()

    def __enter__(self) -> Gateway:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _open(self) -> None:
        for endpoint in self.endpoints:
            decoder = self.decoders[endpoint.format]
            if endpoint.transport in ("tcp", "tls"):
                if endpoint.transport == "tls" and self.tls is None:
                    raise ValueError(
                        f"{endpoint.format}:tls:{endpoint.port} needs a TLS context (certificate, key, client CA)"
                    )
                server = await asyncio.start_server(
                    self._stream_handler(decoder),
                    endpoint.host,
                    endpoint.port,
                    ssl=self.tls if endpoint.transport == "tls" else None,
                    ssl_handshake_timeout=10.0 if endpoint.transport == "tls" else None,
                )
                self._closers.append(server.close)
                self.ports.append(server.sockets[0].getsockname()[1])
            elif endpoint.transport == "udp":
                if _is_multicast(endpoint.host):
                    transport, _ = await self._loop.create_datagram_endpoint(
                        self._datagram_factory(decoder), sock=self._multicast_socket(endpoint)
                    )
                else:
                    transport, _ = await self._loop.create_datagram_endpoint(
                        self._datagram_factory(decoder), local_addr=(endpoint.host, endpoint.port)
                    )
                self._closers.append(transport.close)
                self.ports.append(transport.get_extra_info("sockname")[1])
            else:
                if endpoint.transport == "tls-connect" and self.client_tls is None:
                    raise ValueError(
                        f"{endpoint.format}:tls-connect:{endpoint.host}:{endpoint.port} needs a client TLS context"
                        " (certificate, key, the server's CA)"
                    )
                self._tasks.append(self._loop.create_task(self._keep_connected(endpoint, decoder)))
                self.ports.append(endpoint.port)
            log.info("interop: %s %s on %s:%d", endpoint.format, endpoint.transport, endpoint.host, self.ports[-1])

    def _multicast_socket(self, endpoint: Endpoint) -> socket.socket:
        """A UDP socket in a multicast group (TAK's mesh SA is 239.2.3.1:6969) on ``multicast_interface``;
        others on the host may listen to the same group and port."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((endpoint.host, endpoint.port))
        membership = socket.inet_aton(endpoint.host) + socket.inet_aton(self.multicast_interface)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        sock.setblocking(False)
        return sock

    def _stream_handler(
        self, decoder: Decoder
    ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[None, None, None]]:
        def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Coroutine[None, None, None]:
            return self._serve_stream(reader, writer, decoder)

        return handler

    def _datagram_factory(self, decoder: Decoder) -> Callable[[], asyncio.DatagramProtocol]:
        return lambda: _Datagrams(self, decoder)

    async def _keep_connected(self, endpoint: Endpoint, decoder: Decoder) -> None:
        """A client of a feed's server (an ADS-B receiver's port 30003, a TAK server's 8089 over TLS with
        keepclear's client certificate, the server's certificate and host name checked), reconnecting
        after each loss."""
        secure = endpoint.transport == "tls-connect"
        while True:
            try:
                reader, writer = await asyncio.open_connection(
                    endpoint.host,
                    endpoint.port,
                    ssl=self.client_tls if secure else None,
                    server_hostname=endpoint.host if secure else None,
                    ssl_handshake_timeout=10.0 if secure else None,
                )
            except OSError as exc:  # ssl.SSLError (a refused certificate) is one too
                log.warning("interop: cannot reach %s at %s:%d: %s", decoder.name, endpoint.host, endpoint.port, exc)
            else:
                log.info("interop: connected to %s at %s:%d", decoder.name, endpoint.host, endpoint.port)
                if self.clients is not None and decoder.name in PICTURE_FORMATS:
                    await asyncio.sleep(self.presence_delay_s)  # the picture follows (the stream registers it)
                    writer.write(self._presence(PICTURE_FORMATS[decoder.name]))
                await self._read_stream(reader, writer, decoder, f"{endpoint.host}:{endpoint.port}")
            await asyncio.sleep(self.reconnect_s)

    def _presence(self, protocol: str) -> bytes:
        """What keepclear says first as a client of a TAK server that is to carry the party's picture:
        who it is (``keepclear.<party>``, a contact and ``takv``), as a TAK client does, so that a
        server routing by sender (OpenTAKServer) gives the connection its traffic. Stale when sent,
        so no TAK client shows it."""
        now_s = self.clock()
        party = self.mapping.party_id
        event = event_xml(
            uid=f"keepclear.{party}", cot_type="a-f-G-U-C", time_s=now_s, stale_s=now_s, lat_deg=0.0, lon_deg=0.0,
            callsign=f"keepclear {party}", remarks=f"keepclear: party {party}'s picture",
            extra={"takv": {"platform": "keepclear", "device": "keepclear", "os": "", "version": "1"}},
        )  # fmt: skip
        return to_tak([event], stream=True)[0] if protocol == "tak" else event

    async def _serve_stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, decoder: Decoder) -> None:
        peer = writer.get_extra_info("peername")
        where = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        if not self.claim_connection(decoder.name, where):
            writer.close()
            return
        try:
            await self._read_stream(reader, writer, decoder, where)
        finally:
            self.release_connection()

    def claim_connection(self, what: str, where: str) -> bool:
        """Count one more connection feeding this gateway (any thread: the shared TAK port's too);
        False, counted (``connections_refused``), when ``max_connections`` are open already. Every
        True must be followed by one ``release_connection``."""
        with self._connections_lock:
            if self._connections < self.max_connections:
                self._connections += 1
                return True
        self.stats.bad_input("connections_refused", f"{what} connection from {where} refused: limit reached")
        return False

    def release_connection(self) -> None:
        """A connection claimed before has closed."""
        with self._connections_lock:
            self._connections -= 1

    @property
    def connections(self) -> int:
        """Connections feeding this gateway now (at most ``max_connections``)."""
        return self._connections

    async def _read_stream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, decoder: Decoder, where: str
    ) -> None:
        buffer = bytearray()
        picture = self.clients is not None and decoder.name in PICTURE_FORMATS
        if self.clients is not None and picture:
            self.clients.add(self._loop, writer, PICTURE_FORMATS[decoder.name], where)
        try:
            while True:
                chunk = await reader.read(65_536)
                if not chunk:
                    break
                buffer += chunk
                self.handle(decoder, decoder.split(buffer), where)
                if len(buffer) > self.max_message_bytes:
                    self.stats.bad_input(
                        "oversized",
                        f"{decoder.name} from {where}: {len(buffer)} bytes without a message end; discarded",
                    )
                    buffer.clear()
        except (ConnectionError, OSError) as exc:
            log.info("interop: %s connection %s ended: %s", decoder.name, where, exc)
        finally:
            if self.clients is not None and picture:
                self.clients.remove(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    def handle(self, decoder: Decoder, messages: list[bytes], where: str) -> None:
        """Decode, map and pass on one read's messages; count every outcome."""
        if not messages:
            return
        received_s = self.clock()
        out: list[tuple[str, Observation]] = []
        ignored = unmapped = positions = 0
        for message in messages:
            try:
                observations = decoder.decode(message, received_s)
            except ValueError as exc:
                self.stats.bad_input(
                    "malformed", f"malformed {decoder.name} message from {where} skipped: {exc}: {message[:120]!r}"
                )
                continue
            except Exception as exc:  # a decoding library's own failure must not end the connection
                self.stats.bad_input(
                    "malformed",
                    f"{decoder.name} message from {where} skipped: the decoder failed ({type(exc).__name__}: {exc}): "
                    f"{message[:120]!r}",
                )
                continue
            if not observations:
                ignored += 1
            for o in observations:
                positions += 1
                unit_id = self.mapping.unit_for(o.kind, o.external_id)
                if unit_id is None:
                    unmapped += 1
                    if self.on_unmapped is not None:
                        self.on_unmapped(o)
                    key = f"{o.kind.value}:{o.external_id}"
                    if key not in self._unmapped_logged and len(self._unmapped_logged) < 10_000:
                        self._unmapped_logged.add(key)
                        log.warning(
                            "interop: %s %s is not in the mapping file; its positions are refused",
                            o.kind.value,
                            o.external_id,
                        )
                else:
                    out.append((unit_id, o))
        self.stats.add("messages", len(messages))
        for name, count in (("ignored", ignored), ("unmapped", unmapped), ("positions", positions)):
            if count:
                self.stats.add(name, count)
        self.sink(out)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, gateway: Gateway, decoder: Decoder) -> None:
        self.gateway = gateway
        self.decoder = decoder

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        where = f"{addr[0]}:{addr[1]}"
        buffer = bytearray(data)
        messages = self.decoder.split(buffer)
        rest = bytes(buffer).strip()
        if rest and self.decoder.tail_is_message:
            messages.append(rest)
        elif rest:
            self.gateway.stats.bad_input(
                "malformed",
                f"malformed {self.decoder.name} datagram from {where} skipped: no message end: {rest[:120]!r}",
            )
        self.gateway.handle(self.decoder, messages, where)
