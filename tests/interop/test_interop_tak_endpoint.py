"""One TLS port for every party's TAK clients: the client certificate's subject picks the party's
feed; a certificate no rule names is closed."""

from __future__ import annotations

import contextlib
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
from keepclear.interop.tak_endpoint import ClientRule, TakEndpoint


def send(port: int, folder: Path, client: str, event: bytes) -> None:
    context = ssl.create_default_context(cafile=str(folder / "ca.pem"))
    context.load_cert_chain(str(folder / f"{client}.pem"), str(folder / f"{client}.key"))
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(event)
        tls.settimeout(0.5)
        with contextlib.suppress(TimeoutError, ssl.SSLError, ConnectionError):
            tls.recv(1)


def test_each_client_certificate_feeds_its_own_party(service: Service, tmp_path: Path) -> None:
    ca = write_certificate(tmp_path, "ca", None, ca=True)
    write_certificate(tmp_path, "server", ca)
    write_certificate(tmp_path, "atak-a", ca, organization="Party A")
    write_certificate(tmp_path, "atak-b", ca, organization="Party B")
    write_certificate(tmp_path, "atak-c", ca, organization="Party C")
    stats = Stats()
    parts = []
    for party, uid, unit in (("a", "ANDROID-A1", "ua"), ("b", "ANDROID-B1", "ub")):
        poster = Poster(service.url, service.keys[f"{party}-feed"], stats, flush_s=0.05)
        mapping = parse_mapping(f"party: {party}\ncot:\n  {uid}: {unit}\n")
        parts.append((poster, Gateway(mapping, decoders(), [], poster.offer, stats)))
    tls = server_tls(str(tmp_path / "server.pem"), str(tmp_path / "server.key"), str(tmp_path / "ca.pem"))
    rules = [
        ClientRule(ClientRule.attribute_of("O"), "Party A", parts[0][1]),
        ClientRule(ClientRule.attribute_of("O"), "Party B", parts[1][1]),
    ]
    endpoint = TakEndpoint([Endpoint("cot", "tls", "127.0.0.1", 0)], tls, rules, stats)
    for poster, _ in parts:
        poster.start()
    endpoint.start()
    try:
        now_s = time.time()

        def event(uid: str, lat: float) -> bytes:
            return event_xml(uid=uid, cot_type="a-f-A", time_s=now_s, stale_s=now_s + 60, lat_deg=lat, lon_deg=2.0)

        port = endpoint.ports[0]
        send(port, tmp_path, "atak-a", event("ANDROID-A1", 35.5) + event("ANDROID-B1", 35.6))  # B1 is not A's
        send(port, tmp_path, "atak-b", event("ANDROID-B1", 36.5))
        send(port, tmp_path, "atak-c", event("ANDROID-A1", 10.0))  # no party: closed, nothing read
        wait_for(lambda: tracks(service, "a-liaison").get("ua"), what="ua")
        wait_for(lambda: tracks(service, "b-liaison").get("ub"), what="ub")
    finally:
        endpoint.stop()
        for poster, gateway in parts:
            gateway.stop()  # never started (the shared endpoint reads for it): closes its loop
            poster.stop()
    assert tracks(service, "a-liaison")["ua"]["lat_deg"] == 35.5
    assert tracks(service, "b-liaison")["ub"]["lat_deg"] == 36.5
    counts = stats.snapshot()
    assert counts["connections_refused"] == 1 and counts["unmapped"] == 1 and counts["messages"] == 3


def test_a_partys_clients_on_the_shared_port_count_against_its_adapters_connections(
    service: Service, tmp_path: Path
) -> None:
    """The shared TAK port served any number of connections: a party's clients (one certificate is
    enough) opening thousands held a task, a read buffer and up to 4 MiB of picture each, where each
    adapter's own ports serve 64. They now count against their party's adapter's bound."""
    ca = write_certificate(tmp_path, "ca", None, ca=True)
    write_certificate(tmp_path, "server", ca)
    write_certificate(tmp_path, "atak-a", ca, organization="Party A")
    stats = Stats()
    poster = Poster(service.url, service.keys["a-feed"], stats, flush_s=0.05)
    mapping = parse_mapping("party: a\ncot:\n  ANDROID-A1: ua\n")
    gateway = Gateway(mapping, decoders(), [], poster.offer, stats, max_connections=2)
    tls = server_tls(str(tmp_path / "server.pem"), str(tmp_path / "server.key"), str(tmp_path / "ca.pem"))
    rules = [ClientRule(ClientRule.attribute_of("O"), "Party A", gateway)]
    endpoint = TakEndpoint([Endpoint("cot", "tls", "127.0.0.1", 0)], tls, rules, stats)
    context = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    context.load_cert_chain(str(tmp_path / "atak-a.pem"), str(tmp_path / "atak-a.key"))

    def open_client() -> ssl.SSLSocket:
        raw = socket.create_connection(("127.0.0.1", endpoint.ports[0]))
        return context.wrap_socket(raw, server_hostname="127.0.0.1")

    def closed_by_server(tls: ssl.SSLSocket) -> bool:
        tls.settimeout(1.0)
        try:
            return tls.recv(1) == b""
        except (ssl.SSLError, ConnectionError):
            return True
        except TimeoutError:
            return False

    endpoint.start()
    try:
        kept = [open_client(), open_client()]
        assert not any(closed_by_server(tls) for tls in kept)  # both served
        third = open_client()
        assert closed_by_server(third)
        assert stats.snapshot()["connections_refused"] == 1 and gateway.connections == 2
        kept.pop().close()  # one leaves: room for another
        wait_for(lambda: gateway.connections == 1, what="the connection given back")
        fourth = open_client()
        assert not closed_by_server(fourth)
        for tls in (*kept, third, fourth):
            tls.close()
    finally:
        endpoint.stop()
        gateway.stop()
        poster.stop()
