"""keepclear as a TLS client of a TAK server's port (8089): its client certificate presented, the
server's certificate checked against the CA it is given; positions read become tracks."""

from __future__ import annotations

import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from apisupport import Service
from interopsupport import tracks, wait_for, write_certificate

from keepclear.interop.cot import event_xml
from keepclear.interop.gateway import Endpoint, Gateway, client_tls
from keepclear.interop.inputs import decoders
from keepclear.interop.mapping import parse_mapping
from keepclear.interop.observation import Stats
from keepclear.interop.poster import Poster


@contextmanager
def tak_server(folder: Path, server: str, client_ca: str, events: list[bytes]) -> Iterator[tuple[int, list[str]]]:
    """A TLS server that, to each client presenting a certificate ``client_ca`` signed, sends ``events``;
    yields its port and the common names of the clients it served."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(folder / f"{client_ca}.pem"))
    context.load_cert_chain(str(folder / f"{server}.pem"), str(folder / f"{server}.key"))
    context.verify_mode = ssl.CERT_REQUIRED
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    served: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(raw, server_side=True) as conn:
                    subject = dict(x[0] for x in conn.getpeercert()["subject"])
                    served.append(subject["commonName"])
                    for event in events:
                        conn.sendall(event)
                    stop.wait(0.5)
            except (ssl.SSLError, OSError):
                raw.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], served
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def _gateway(service: Service, port: int, context: ssl.SSLContext | None, stats: Stats, poster: Poster) -> Gateway:
    return Gateway(
        parse_mapping("party: a\ncot:\n  ANDROID-A1: ua\n"),
        decoders(),
        [Endpoint.parse(f"cot:tls-connect:127.0.0.1:{port}", ("cot",))],
        poster.offer,
        stats,
        client_tls=context,
        reconnect_s=0.2,
    )


def test_positions_from_a_tak_servers_tls_port_become_tracks(service: Service, tmp_path: Path) -> None:
    ca = write_certificate(tmp_path, "ca", None, ca=True)
    write_certificate(tmp_path, "takserver", ca)
    write_certificate(tmp_path, "keepclear-a", ca)
    now_s = time.time()
    event = event_xml(uid="ANDROID-A1", cot_type="a-f-A", time_s=now_s, stale_s=now_s + 60, lat_deg=35.25, lon_deg=2.5)
    stats = Stats()
    poster = Poster(service.url, service.keys["a-feed"], stats, flush_s=0.05)
    context = client_tls(str(tmp_path / "keepclear-a.pem"), str(tmp_path / "keepclear-a.key"), str(tmp_path / "ca.pem"))
    with tak_server(tmp_path, "takserver", "ca", [event]) as (port, served):
        gateway = _gateway(service, port, context, stats, poster)
        poster.start()
        gateway.start()
        try:
            assert wait_for(lambda: tracks(service, "a-liaison").get("ua"), what="ua over TLS")["lat_deg"] == 35.25
        finally:
            gateway.stop()
            poster.stop()
    assert served[0] == "keepclear-a", "keepclear presented its client certificate"


def test_a_server_whose_certificate_another_ca_signed_is_not_read(service: Service, tmp_path: Path) -> None:
    ca = write_certificate(tmp_path, "ca", None, ca=True)
    write_certificate(tmp_path, "keepclear-a", ca)
    rogue_ca = write_certificate(tmp_path, "rogue-ca", None, ca=True)
    write_certificate(tmp_path, "impostor", rogue_ca)
    now_s = time.time()
    event = event_xml(uid="ANDROID-A1", cot_type="a-f-A", time_s=now_s, stale_s=now_s + 60, lat_deg=36.0, lon_deg=2.5)
    stats = Stats()
    poster = Poster(service.url, service.keys["a-feed"], stats, flush_s=0.05)
    context = client_tls(str(tmp_path / "keepclear-a.pem"), str(tmp_path / "keepclear-a.key"), str(tmp_path / "ca.pem"))
    # The impostor accepts keepclear's certificate (it trusts the real CA) but presents its own, which keepclear refuses.
    with tak_server(tmp_path, "impostor", "ca", [event]) as (port, _served):
        gateway = _gateway(service, port, context, stats, poster)
        poster.start()
        gateway.start()
        try:
            time.sleep(1.5)  # several connection attempts
        finally:
            gateway.stop()
            poster.stop()
    assert "ua" not in tracks(service, "a-liaison")
    assert stats.snapshot()["messages"] == 0


def test_tls_connect_without_a_client_context_is_refused_at_start(service: Service) -> None:
    stats = Stats()
    poster = Poster(service.url, service.keys["a-feed"], stats)
    gateway = _gateway(service, 8089, None, stats, poster)
    with pytest.raises(ValueError, match=re.escape("tls-connect:127.0.0.1:8089 needs a client TLS context")):
        gateway.start()
    assert not gateway._thread.is_alive(), "a gateway that could not start leaves no thread behind"
