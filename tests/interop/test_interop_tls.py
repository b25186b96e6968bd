"""TAK's TLS port: only clients with a certificate the configured CA signed are served."""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path

from apisupport import Service
from interopsupport import tracks, wait_for, write_certificate

from keepclear.interop.cot import event_xml
from keepclear.interop.gateway import Endpoint, Gateway, server_tls
from keepclear.interop.inputs import decoders
from keepclear.interop.mapping import parse_mapping
from keepclear.interop.observation import Stats
from keepclear.interop.poster import Poster


def _send(port: int, folder: Path, client: str, event: bytes) -> bytes:
    context = ssl.create_default_context(cafile=str(folder / "ca.pem"))
    context.load_cert_chain(str(folder / f"{client}.pem"), str(folder / f"{client}.key"))
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(event)
        tls.settimeout(1.0)
        try:
            return tls.recv(1)  # the server never writes: wait for its verdict (TLS 1.3 rejects after the handshake)
        except TimeoutError:
            return b"timeout"


def test_a_client_certificate_of_the_ca_is_served_and_another_is_refused(service: Service, tmp_path: Path) -> None:
    ca = write_certificate(tmp_path, "ca", None, ca=True)
    write_certificate(tmp_path, "server", ca)
    write_certificate(tmp_path, "atak-a", ca)
    rogue_ca = write_certificate(tmp_path, "rogue-ca", None, ca=True)
    write_certificate(tmp_path, "rogue", rogue_ca)
    stats = Stats()
    poster = Poster(service.url, service.keys["a-feed"], stats, flush_s=0.05)
    tls = server_tls(str(tmp_path / "server.pem"), str(tmp_path / "server.key"), str(tmp_path / "ca.pem"))
    gateway = Gateway(
        parse_mapping("party: a\ncot:\n  ANDROID-A1: ua\n  ANDROID-A2: ua-partner\n"),
        decoders(),
        [Endpoint.parse("cot:tls:0", ("cot",))],
        poster.offer,
        stats,
        tls=tls,
    )
    poster.start()
    gateway.start()
    try:
        now_s = time.time()
        rogue_event = event_xml(
            uid="ANDROID-A2", cot_type="a-f-G", time_s=now_s, stale_s=now_s + 60, lat_deg=1.0, lon_deg=1.0
        )
        try:
            verdict = _send(gateway.ports[0], tmp_path, "rogue", rogue_event)
        except (ssl.SSLError, ConnectionError):
            verdict = b""
        assert verdict == b""  # closed at once: a certificate another CA signed is not served
        event = event_xml(
            uid="ANDROID-A1", cot_type="a-f-A", time_s=now_s, stale_s=now_s + 60, lat_deg=35.5, lon_deg=2.0
        )
        assert _send(gateway.ports[0], tmp_path, "atak-a", event) == b"timeout"  # served: the connection stays open
        assert wait_for(lambda: tracks(service, "a-liaison").get("ua"), what="ua over TLS")["lat_deg"] == 35.5
    finally:
        gateway.stop()
        poster.stop()
    assert "ua-partner" not in tracks(service, "a-liaison")
    assert stats.snapshot()["messages"] == 1
