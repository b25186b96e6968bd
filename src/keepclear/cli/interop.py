"""``keepclear interop``: adapters between keepclear and TAK, ADS-B receivers and AIS (docs/interop.md)."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import click


@click.group()
def interop() -> None:
    """Adapters to the tools forces already run: CoT/TAK in and out, ADS-B (SBS-1, Mode S, Beast), ASTERIX and AIS in."""


def _wait_for_interrupt(stop: threading.Event, every_s: float, report: object) -> None:
    """Block until Ctrl-C or SIGTERM, calling ``report()`` every ``every_s`` seconds."""
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(every_s):
            report()  # type: ignore[operator]
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def _receiver(text: str) -> tuple[float, float]:
    """``LAT,LON`` in degrees."""
    from keepclear.interop.observation import check_position

    try:
        lat_text, lon_text = text.split(",")
        found = float(lat_text), float(lon_text)
        check_position(*found)
    except ValueError as exc:
        raise click.BadParameter(
            f"{text!r}: give LAT,LON in degrees, e.g. 52.3,4.76 ({exc})", param_hint="--receiver"
        ) from None
    return found


@interop.command()
@click.option(
    "--mapping",
    "mapping_path",
    type=click.Path(path_type=Path),
    required=True,
    help="interop.yaml: external ids -> units.",
)
@click.option("--url", required=True, help="The running keepclear, e.g. http://127.0.0.1:8080.")
@click.option(
    "--key",
    envvar="KEEPCLEAR_FEED_KEY",
    required=True,
    help="A feed key of the mapping's party (or KEEPCLEAR_FEED_KEY).",
)
@click.option(
    "--listen",
    "listens",
    multiple=True,
    help="FORMAT:TRANSPORT:[HOST:]PORT to listen on, e.g. cot:tcp:8087, cot:tls:8089, cot:udp:4242, ais:udp:10110 (repeatable).",
)
@click.option(
    "--connect",
    "connects",
    multiple=True,
    help="FORMAT:HOST:PORT to connect to as a client, e.g. sbs:127.0.0.1:30003 (repeatable).",
)
@click.option(
    "--connect-tls",
    "connect_tls",
    multiple=True,
    help="FORMAT:HOST:PORT to connect to over TLS with --tls-cert/--tls-key as the client certificate, the server's"
    " checked against --tls-server-ca, e.g. cot:takserver:8089 (repeatable).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address listeners bind when --listen names none.")
@click.option(
    "--multicast-interface",
    default="0.0.0.0",
    show_default=True,
    help="Address of the interface multicast listeners join on.",
)
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False),
    help="PEM certificate of tls listeners, and keepclear's client certificate for --connect-tls.",
)
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="PEM private key of --tls-cert.")
@click.option(
    "--tls-client-ca",
    type=click.Path(exists=True, dir_okay=False),
    help="PEM CA whose client certificates tls listeners accept.",
)
@click.option(
    "--tls-server-ca",
    type=click.Path(exists=True, dir_okay=False),
    help="PEM CA that signed the certificates of the servers --connect-tls names.",
)
@click.option(
    "--ack-key",
    envvar="KEEPCLEAR_ACK_KEY",
    default=None,
    help="A liaison key of the party (or KEEPCLEAR_ACK_KEY): GeoChat 'ACK <alert>' from the TAK users the mapping's"
    " acknowledge list names acknowledges the alert.",
)
@click.option(
    "--admin-key",
    envvar="KEEPCLEAR_ADMIN_KEY",
    default=None,
    help="An admin key (or KEEPCLEAR_ADMIN_KEY), only for a mapping with auto_create: unmapped ids become units.",
)
@click.option(
    "--picture-key",
    envvar="KEEPCLEAR_PICTURE_KEY",
    default=None,
    help="A liaison or observer key of the mapping's party (or KEEPCLEAR_PICTURE_KEY): every cot/tak TCP or TLS"
    " connection (a TAK client's, or a TAK server's that --connect names) gets the party's picture back, as from"
    " interop out.",
)
@click.option(
    "--interval-s",
    type=click.FloatRange(0.1, 600),
    default=2.0,
    show_default=True,
    help="Seconds between pictures sent to connections (with --picture-key).",
)
@click.option(
    "--receiver",
    default=None,
    help="LAT,LON (degrees) of the ADS-B receiver: modes/beast positions resolve from one CPR half.",
)
@click.option("--flush-s", type=float, default=0.2, show_default=True, help="Longest wait before a batch is posted.")
@click.option(
    "--max-pending", type=int, default=50_000, show_default=True, help="Reports buffered at most (oldest dropped)."
)
@click.option("--stats-s", type=float, default=30.0, show_default=True, help="Seconds between status lines.")
def run(
    mapping_path: Path,
    url: str,
    key: str,
    listens: tuple[str, ...],
    connects: tuple[str, ...],
    connect_tls: tuple[str, ...],
    host: str,
    multicast_interface: str,
    tls_cert: str | None,
    tls_key: str | None,
    tls_client_ca: str | None,
    tls_server_ca: str | None,
    ack_key: str | None,
    admin_key: str | None,
    picture_key: str | None,
    interval_s: float,
    receiver: str | None,
    flush_s: float,
    max_pending: int,
    stats_s: float,
) -> None:
    """Take CoT (XML or TAK protobuf), SBS-1, Mode S/Beast, ASTERIX and AIS feeds in and post their mapped units' positions to keepclear."""
    from keepclear.interop.ack import Acknowledger
    from keepclear.interop.autocreate import UnitCreator
    from keepclear.interop.clients import Clients
    from keepclear.interop.cot_out import CotOut
    from keepclear.interop.gateway import Endpoint, Gateway, client_tls, server_tls
    from keepclear.interop.inputs import FORMATS, decoders
    from keepclear.interop.mapping import IdKind, load_mapping
    from keepclear.interop.observation import Stats
    from keepclear.interop.poster import Poster
    from keepclear.interop.proposer import Proposer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    mapping = load_mapping(mapping_path)
    try:
        endpoints = [Endpoint.parse(text, FORMATS, host) for text in listens]
        for transport, texts in (("connect", connects), ("tls-connect", connect_tls)):
            for text in texts:
                fmt, _, rest = text.partition(":")
                endpoints.append(Endpoint.parse(f"{fmt}:{transport}:{rest}", FORMATS, host))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if not endpoints:
        raise click.UsageError("give at least one --listen, --connect or --connect-tls")
    reference = _receiver(receiver) if receiver else None
    if mapping.auto_create_force and not admin_key:
        raise click.UsageError("the mapping's auto_create needs --admin-key (or KEEPCLEAR_ADMIN_KEY)")
    tls = None
    if any(e.transport == "tls" for e in endpoints):
        if not (tls_cert and tls_key and tls_client_ca):
            raise click.UsageError("a tls listener needs --tls-cert, --tls-key and --tls-client-ca")
        tls = server_tls(tls_cert, tls_key, tls_client_ca)
    secure_client = None
    if connect_tls:
        if not (tls_cert and tls_key and tls_server_ca):
            raise click.UsageError("--connect-tls needs --tls-cert, --tls-key and --tls-server-ca")
        secure_client = client_tls(tls_cert, tls_key, tls_server_ca)
    stats = Stats()
    source = "interop run: " + ", ".join(f"{e.format}:{e.transport}:{e.host}:{e.port}" for e in endpoints)
    poster = Poster(url, key, stats, max_pending=max_pending, flush_s=flush_s, source=source)
    acker = Acknowledger(url, ack_key, mapping.acknowledgers, stats) if ack_key and mapping.acknowledgers else None
    creator = None
    if mapping.auto_create_force and admin_key:
        creator = UnitCreator(url, admin_key, mapping, mapping.auto_create_force, stats)
    clients = Clients() if picture_key else None
    gateway = Gateway(
        mapping,
        decoders(
            reference,
            acker.on_chat if acker else None,
            Proposer(url, key, stats).on_drawing if mapping.propose_zones else None,
        ),
        endpoints,
        poster.offer,
        stats,
        multicast_interface=multicast_interface,
        tls=tls,
        client_tls=secure_client,
        on_unmapped=creator.on_unmapped if creator else None,
        clients=clients,
    )
    stop = threading.Event()
    picture = None
    if clients is not None and picture_key:
        picture = CotOut(url, picture_key, mapping.party_id, [], stats, interval_s=interval_s, clients=clients,
                         skip_units=frozenset(mapping.external_ids(IdKind.COT)))  # fmt: skip
    poster.start()
    gateway.start()
    worker = threading.Thread(target=picture.run, args=(stop,), daemon=True) if picture else None
    if worker is not None:
        worker.start()
    for endpoint, port in zip(endpoints, gateway.ports, strict=True):
        click.echo(f"{endpoint.format} {endpoint.transport} {endpoint.host}:{port}", err=True)
    both_ways = ", and its picture back to its TAK connections" if picture else ""
    click.echo(f"ready: posting party {mapping.party_id}'s units to {url}{both_ways}", err=True)
    try:
        _wait_for_interrupt(stop, stats_s, lambda: click.echo(f"interop: {stats.line()}", err=True))
    finally:
        stop.set()
        if picture is not None and worker is not None:
            picture.wake()
            worker.join(timeout=15)
            picture.close()
        gateway.stop()
        poster.stop()
        click.echo(f"interop stopped: {stats.line()}", err=True)


@interop.command()
@click.option("--url", required=True, help="The running keepclear, e.g. http://127.0.0.1:8080.")
@click.option(
    "--key",
    envvar="KEEPCLEAR_READ_KEY",
    required=True,
    help="A liaison or observer key of the party (or KEEPCLEAR_READ_KEY).",
)
@click.option("--party", "party_id", required=True, help="The key's party: its units are sent as friendly.")
@click.option(
    "--to",
    "targets",
    multiple=True,
    required=True,
    help="udp://HOST:PORT (multicast too), tcp://HOST:PORT or tls://HOST:PORT (repeatable); tak+udp://, "
    "tak+tcp://, tak+tls:// send TAK protocol v1 (protobuf) instead of CoT XML.",
)
@click.option(
    "--tls-cert", type=click.Path(exists=True, dir_okay=False), help="PEM client certificate for tls targets."
)
@click.option(
    "--tls-key", type=click.Path(exists=True, dir_okay=False), help="PEM private key of the client certificate."
)
@click.option(
    "--tls-ca", type=click.Path(exists=True, dir_okay=False), help="PEM CA that signed the tls targets' certificates."
)
@click.option(
    "--mapping",
    "mapping_path",
    type=click.Path(path_type=Path),
    help="interop.yaml: units its CoT uids name are not echoed back.",
)
@click.option("--interval-s", type=float, default=2.0, show_default=True, help="Seconds between two pictures.")
@click.option("--ttl", type=int, default=1, show_default=True, help="Multicast TTL of UDP targets.")
@click.option("--multicast-interface", default=None, help="Address of the interface multicast targets are sent on.")
def out(
    url: str,
    key: str,
    party_id: str,
    targets: tuple[str, ...],
    tls_cert: str | None,
    tls_key: str | None,
    tls_ca: str | None,
    mapping_path: Path | None,
    interval_s: float,
    ttl: int,
    multicast_interface: str | None,
) -> None:
    """Send what a party's key may read (its tracks, alerts with their level) to TAK as CoT events."""
    from keepclear.interop.cot_out import CotOut, Target
    from keepclear.interop.gateway import client_tls
    from keepclear.interop.mapping import IdKind, load_mapping
    from keepclear.interop.observation import Stats

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        parsed = [Target.parse(text) for text in targets]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--to") from None
    tls = None
    if any(t.transport == "tls" for t in parsed):
        if not (tls_cert and tls_key and tls_ca):
            raise click.UsageError("a tls target needs --tls-cert, --tls-key and --tls-ca")
        tls = client_tls(tls_cert, tls_key, tls_ca)
    skip = frozenset(load_mapping(mapping_path).external_ids(IdKind.COT)) if mapping_path else frozenset()
    stats = Stats()
    sender = CotOut(
        url,
        key,
        party_id,
        parsed,
        stats,
        interval_s=interval_s,
        skip_units=skip,
        multicast_ttl=ttl,
        multicast_interface=multicast_interface,
        tls=tls,
    )
    stop = threading.Event()
    worker = threading.Thread(target=sender.run, args=(stop,), name="interop-out", daemon=True)
    worker.start()
    click.echo(f"ready: party {party_id}'s picture from {url} to {', '.join(targets)}", err=True)
    try:
        _wait_for_interrupt(stop, 30.0, lambda: click.echo(f"interop out: {stats.line()}", err=True))
    finally:
        stop.set()
        sender.wake()
        worker.join(timeout=15)
        sender.close()
        click.echo(f"interop out stopped: {stats.line()}", err=True)
