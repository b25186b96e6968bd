"""Helpers of the interop tests: waiting on a condition, reading a party's picture."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from configparser import ConfigParser
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from apisupport import Service
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], timeout_s: float = 20.0, what: str = "condition") -> T:
    """Poll ``probe`` until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def tracks(service: Service, who: str) -> dict[str, dict[str, Any]]:
    """unit id -> latest state, as ``who`` sees them."""
    with service.client(who) as client:
        return {t["unit_id"]: t for t in client.get("/v1/tracks").json()}


def pytak_send(pytak: ModuleType, cot_url: str, events: list[bytes]) -> None:
    """Send ``events`` as a TAK client does, through pytak's own connection (``tcp://`` or ``udp+wo://``)."""

    async def send() -> None:
        config = ConfigParser()
        config["client"] = {"COT_URL": cot_url}
        reader, writer = await pytak.protocol_factory(config["client"])
        datagrams = hasattr(writer, "send")  # pytak's UDP client sends datagrams, its TCP client a stream
        for event in events:
            await writer.send(event) if datagrams else writer.write(event)
        if not datagrams:
            await writer.drain()
        writer.close()
        if not datagrams:
            await writer.wait_closed()
        if reader is not None and hasattr(reader, "close"):
            reader.close()

    asyncio.run(send())


class Receiver:
    """A TCP server standing for a receiver's output port (30003 SBS, 30005 Beast): sends ``payload`` to
    whoever connects, then holds the connection a moment."""

    def __init__(self, payload: bytes) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.payload = payload
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.sendall(self.payload)
            time.sleep(1.0)


def write_certificate(
    folder: Path,
    name: str,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    organization: str | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A P-256 certificate (and key) written to ``name.pem``/``name.key``; self-signed without ``issuer``;
    ``organization`` is the subject's O (a TAK client's party)."""
    key = ec.generate_private_key(ec.SECP256R1())
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    subject = x509.Name(attributes)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
    certificate = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
    (folder / f"{name}.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / f"{name}.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return certificate, key
