"""The adapters file: the adapters ``keepclear serve`` runs inside itself (setting ``interop_file``).

Each adapter is the same client of the public API that ``keepclear interop run``/``out`` is, posting
and reading over the service's own loopback address with a party's key, so need-to-know and refusals
are exactly the API's. Keys are secrets: the file names the environment variable holding each.

    in:
      - name: a-tak                   # names the adapter's counters in /v1/metrics
        mapping: interop-a.yaml       # relative to this file
        key_env: A_FEED_KEY           # the variable holding party a's feed key
        listen: [cot:tcp:0.0.0.0:8087, cot:tls:0.0.0.0:8089]
        connect: [beast:receiver.local:30005]
        receiver: [52.3, 4.76]        # lat, lon of the ADS-B receiver (optional)
        tls: {certificate: server.pem, key: server.key, client_ca: party-a-ca.pem}
        picture_key_env: A_LIAISON_KEY   # optional: cot/tak TCP/TLS connections get a's picture back
    out:
      - name: a-out
        party: a
        key_env: A_LIAISON_KEY
        to: [udp://239.2.3.1:6969]
        mapping: interop-a.yaml       # optional: units of these CoT uids are not echoed back
        interval_s: 2
    tak:                              # one TLS port for every party's TAK clients (optional)
      listen: [0.0.0.0:8089]
      tls: {certificate: server.pem, key: server.key, client_ca: tak-ca.pem}
      clients:                        # the client certificate's subject -> the in adapter it feeds
        - {subject: O=Party A, in: a-tak}
"""

from __future__ import annotations

import os
import re
import ssl
import threading
from collections.abc import Callable
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass, field
from pathlib import Path

from keepclear.errors import ValidationError
from keepclear.interop.ack import Acknowledger
from keepclear.interop.autocreate import UnitCreator
from keepclear.interop.clients import Clients
from keepclear.interop.cot_out import CotOut, Target
from keepclear.interop.gateway import Endpoint, Gateway, client_tls, server_tls
from keepclear.interop.inputs import FORMATS, decoders
from keepclear.interop.mapping import IdKind, Mapping, load_mapping
from keepclear.interop.observation import COUNTERS, Stats, check_position, log
from keepclear.interop.poster import Poster
from keepclear.interop.proposer import Proposer
from keepclear.interop.tak_endpoint import ClientRule, TakEndpoint
from keepclear.scenario.fields import FieldReader
from keepclear.scenario.located import load_located, read_utf8

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class InAdapter:
    """Feeds in for one party: endpoints, a mapping, the variable holding a feed key."""

    name: str
    mapping: Mapping
    key_env: str
    endpoints: list[Endpoint]
    receiver: tuple[float, float] | None = None
    tls: tuple[str, str, str] | None = None
    ack_key_env: str | None = None
    admin_key_env: str | None = None
    #: (certificate, key, the servers' CA) for ``connect_tls`` endpoints.
    client_tls: tuple[str, str, str] | None = None
    #: The variable holding a liaison or observer key of the party: its cot/tak stream connections
    #: (and the shared TAK port's connections of the party) get the party's picture back.
    picture_key_env: str | None = None


@dataclass(frozen=True)
class OutAdapter:
    """One party's picture out to TAK targets."""

    name: str
    party_id: str
    key_env: str
    targets: list[Target]
    skip_units: frozenset[str] = frozenset()
    interval_s: float = 2.0
    tls: tuple[str, str, str] | None = None


@dataclass(frozen=True)
class TakEndpointConfig:
    """One TLS port for every party's TAK clients: (attribute, value, in adapter) per client rule."""

    endpoints: list[Endpoint]
    tls: tuple[str, str, str]
    rules: list[tuple[str, str, str]]


@dataclass(frozen=True)
class AdaptersConfig:
    inputs: list[InAdapter] = field(default_factory=list)
    outputs: list[OutAdapter] = field(default_factory=list)
    tak: TakEndpointConfig | None = None


def _file(reader: FieldReader, path: tuple[str | int, ...], base: Path) -> Path | None:
    text = reader.text(path)
    if text is None:
        return None
    found = (base / text).resolve()
    if not found.is_file():
        reader.problem(path, f"{found} is not a readable file")
        return None
    return found


def _tls(
    reader: FieldReader, path: tuple[str | int, ...], base: Path, names: tuple[str, str, str]
) -> tuple[str, str, str] | None:
    """Three PEM files (certificate, key, CA) of a tls mapping, each readable."""
    reader.mapping(path, frozenset(names), frozenset(names))
    files = [_file(reader, (*path, name), base) for name in names]
    if files[0] is None or files[1] is None or files[2] is None:
        return None
    return str(files[0]), str(files[1]), str(files[2])


def _common(
    reader: FieldReader, path: tuple[str | int, ...], names: set[str], environ: AbcMapping[str, str]
) -> tuple[str | None, str | None]:
    name = reader.get((*path, "name"))
    if not isinstance(name, str) or not _NAME_RE.match(name):
        reader.problem((*path, "name"), "must be 1-40 of a-z, 0-9, '_', '-' (it names the adapter's counters)")
        name = None
    elif name in names:
        reader.problem((*path, "name"), f"{name!r} names two adapters")
    else:
        names.add(name)
    key_env = reader.get((*path, "key_env"))
    if not isinstance(key_env, str) or not _ENV_RE.match(key_env):
        reader.problem((*path, "key_env"), "must name an environment variable, e.g. A_FEED_KEY")
        key_env = None
    elif not environ.get(key_env):
        reader.problem((*path, "key_env"), f"the environment variable {key_env} is not set")
    return name, key_env


def parse_adapters(text: str, source: str, base: Path, environ: AbcMapping[str, str] | None = None) -> AdaptersConfig:
    """Read an adapters file; every problem is reported at once with its line and field, mapping files'
    own problems included, and the key variables must be set."""
    environ = os.environ if environ is None else environ
    reader = FieldReader(load_located(text, source))
    top = reader.mapping((), frozenset({"in", "out", "tak"}))
    names: set[str] = set()
    problems: list[str] = []
    config = AdaptersConfig()
    for index, _ in enumerate(reader.sequence(("in",), required=False) if "in" in top else []):
        path: tuple[str | int, ...] = ("in", index)
        entry = reader.mapping(path, frozenset({"name", "mapping", "key_env", "listen", "connect", "connect_tls", "receiver", "tls", "ack_key_env", "admin_key_env", "picture_key_env"}),
                               frozenset({"name", "mapping", "key_env"}))  # fmt: skip
        name, key_env = _common(reader, path, names, environ)
        mapping_file = _file(reader, (*path, "mapping"), base) if "mapping" in entry else None
        mapping = None
        if mapping_file is not None:
            try:
                mapping = load_mapping(mapping_file)
            except ValidationError as exc:
                problems += exc.problems
        endpoints: list[Endpoint] = []
        for key, transport in (("listen", None), ("connect", "connect"), ("connect_tls", "tls-connect")):
            for j, raw in enumerate(reader.sequence((*path, key), required=False) if key in entry else []):
                try:
                    text_ = str(raw)
                    if transport:
                        fmt, _, rest = text_.partition(":")
                        text_ = f"{fmt}:{transport}:{rest}"
                    endpoints.append(Endpoint.parse(text_, FORMATS))
                except ValueError as exc:
                    reader.problem((*path, key, j), str(exc))
        if not endpoints and not {"listen", "connect", "connect_tls"} & set(entry):
            reader.problem(path, "give at least one of listen, connect, connect_tls")
        receiver = None
        if "receiver" in entry:
            raw = entry["receiver"]
            try:
                if not (isinstance(raw, list) and len(raw) == 2):
                    raise ValueError("give [lat, lon] in degrees")
                receiver = (float(raw[0]), float(raw[1]))
                check_position(*receiver)
            except (TypeError, ValueError) as exc:
                reader.problem((*path, "receiver"), str(exc))
        tls: tuple[str, str, str] | None = None
        client_tls_files: tuple[str, str, str] | None = None
        listens_tls = any(e.transport == "tls" for e in endpoints)
        connects_tls = any(e.transport == "tls-connect" for e in endpoints)
        if "tls" in entry:
            tls_path = (*path, "tls")
            given = reader.mapping(
                tls_path, frozenset({"certificate", "key", "client_ca", "server_ca"}), frozenset({"certificate", "key"})
            )
            for needed, why in (("client_ca", listens_tls), ("server_ca", connects_tls)):
                if why and needed not in given:
                    what = "a tls listener" if needed == "client_ca" else "connect_tls"
                    reader.problem((*tls_path, needed), f"{what} needs the {needed} it checks certificates against")
            files = {
                k: _file(reader, (*tls_path, k), base)
                for k in ("certificate", "key", "client_ca", "server_ca")
                if k in given
            }
            cert_file, key_file = files.get("certificate"), files.get("key")
            if cert_file and key_file and files.get("client_ca"):
                tls = (str(cert_file), str(key_file), str(files["client_ca"]))
            if cert_file and key_file and files.get("server_ca"):
                client_tls_files = (str(cert_file), str(key_file), str(files["server_ca"]))
        else:
            if listens_tls:
                reader.problem((*path, "tls"), "a tls listener needs tls: {certificate, key, client_ca}")
            if connects_tls:
                reader.problem((*path, "tls"), "connect_tls needs tls: {certificate, key, server_ca}")
        ack_key_env = None
        if "ack_key_env" in entry:
            ack_key_env = entry["ack_key_env"]
            if not isinstance(ack_key_env, str) or not environ.get(ack_key_env):
                reader.problem((*path, "ack_key_env"), f"the environment variable {ack_key_env!r} is not set")
                ack_key_env = None
        admin_key_env = entry.get("admin_key_env")
        if admin_key_env is not None and (not isinstance(admin_key_env, str) or not environ.get(admin_key_env)):
            reader.problem((*path, "admin_key_env"), f"the environment variable {admin_key_env!r} is not set")
            admin_key_env = None
        picture_key_env = entry.get("picture_key_env")
        if picture_key_env is not None and (not isinstance(picture_key_env, str) or not environ.get(picture_key_env)):
            reader.problem((*path, "picture_key_env"), f"the environment variable {picture_key_env!r} is not set")
            picture_key_env = None
        if mapping is not None and mapping.auto_create_force and not admin_key_env:
            reader.problem((*path, "admin_key_env"), "the mapping's auto_create needs admin_key_env (an admin key)")
        if name and key_env and mapping:
            config.inputs.append(
                InAdapter(
                    name,
                    mapping,
                    key_env,
                    endpoints,
                    receiver,
                    tls,
                    ack_key_env,
                    admin_key_env,
                    client_tls_files,
                    picture_key_env,
                )
            )
    for index, _ in enumerate(reader.sequence(("out",), required=False) if "out" in top else []):
        path = ("out", index)
        entry = reader.mapping(path, frozenset({"name", "party", "key_env", "to", "mapping", "interval_s", "tls"}),
                               frozenset({"name", "party", "key_env", "to"}))  # fmt: skip
        name, key_env = _common(reader, path, names, environ)
        party_id = reader.ident((*path, "party")) if "party" in entry else None
        targets: list[Target] = []
        for j, raw in enumerate(reader.sequence((*path, "to")) if "to" in entry else []):
            try:
                targets.append(Target.parse(str(raw)))
            except ValueError as exc:
                reader.problem((*path, "to", j), str(exc))
        skip: frozenset[str] = frozenset()
        if "mapping" in entry:
            mapping_file = _file(reader, (*path, "mapping"), base)
            if mapping_file is not None:
                try:
                    skip = frozenset(load_mapping(mapping_file).external_ids(IdKind.COT))
                except ValidationError as exc:
                    problems += exc.problems
        interval_s = reader.number((*path, "interval_s"), required=False, default=2.0, minimum=0.1, maximum=600)
        out_tls = _tls(reader, (*path, "tls"), base, ("certificate", "key", "ca")) if "tls" in entry else None
        if "tls" not in entry and any(t.transport == "tls" for t in targets):
            reader.problem((*path, "tls"), "a tls target needs tls: {certificate, key, ca}")
        if name and key_env and party_id and targets and interval_s is not None:
            config.outputs.append(OutAdapter(name, party_id, key_env, targets, skip, interval_s, out_tls))
    if "tak" in top:
        tak = _tak_endpoint(reader, base, {a.name for a in config.inputs})
        config = AdaptersConfig(config.inputs, config.outputs, tak)
    problems = reader.problems + problems
    if not problems and not (config.inputs or config.outputs):
        problems.append(f"{source}: names no adapter: give in, out or both")
    if problems:
        raise ValidationError(problems)
    return config


def _tak_endpoint(reader: FieldReader, base: Path, in_names: set[str]) -> TakEndpointConfig | None:
    """``tak: {listen: [HOST:PORT...], tls: {...}, clients: [{subject: O=Party A, in: a-tak}...]}``."""
    entry = reader.mapping(("tak",), frozenset({"listen", "tls", "clients"}), frozenset({"listen", "tls", "clients"}))
    endpoints = []
    for index, raw in enumerate(reader.sequence(("tak", "listen")) if "listen" in entry else []):
        try:
            endpoints.append(Endpoint.parse(f"cot:tls:{raw}", ("cot",), "0.0.0.0"))
        except ValueError as exc:
            reader.problem(("tak", "listen", index), f"{exc} (give [HOST:]PORT, e.g. 0.0.0.0:8089)")
    tls = _tls(reader, ("tak", "tls"), base, ("certificate", "key", "client_ca")) if "tls" in entry else None
    rules = []
    for index, _ in enumerate(reader.sequence(("tak", "clients")) if "clients" in entry else []):
        path: tuple[str | int, ...] = ("tak", "clients", index)
        rule = reader.mapping(path, frozenset({"subject", "in"}), frozenset({"subject", "in"}))
        subject, target = str(rule.get("subject", "")), rule.get("in")
        short, _, value = subject.partition("=")
        try:
            attribute = ClientRule.attribute_of(short.strip())
        except ValueError as exc:
            reader.problem((*path, "subject"), f"{subject!r}: {exc} (give e.g. O=Party A)")
            continue
        if target not in in_names:
            reader.problem((*path, "in"), f"{target!r} names no in adapter")
            continue
        rules.append((attribute, value.strip(), str(target)))
    if endpoints and tls and rules:
        return TakEndpointConfig(endpoints, tls, rules)
    return None


def load_adapters(path: Path, environ: AbcMapping[str, str] | None = None) -> AdaptersConfig:
    text = read_utf8(path, "the adapters file")
    return parse_adapters(text, str(path), path.parent, environ)


def _connections_of(gateway: Gateway) -> Callable[[], float]:
    return lambda: gateway.connections


def _reader(stats: Stats, counter: str) -> Callable[[], float]:
    return lambda: stats.snapshot()[counter]


class HostedAdapters:
    """The configured adapters of one ``serve``: started once the service answers, stopped with it."""

    def __init__(self, config: AdaptersConfig, url: str, environ: AbcMapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        self.stats: dict[str, Stats] = {}
        #: Gauges of what the adapters hold now (the counters are in ``stats``).
        self._held: dict[str, Callable[[], float]] = {}
        self._starters: list[Callable[[], None]] = []
        self._stoppers: list[Callable[[], None]] = []
        self._stop = threading.Event()
        gateways: dict[str, Gateway] = {}
        for adapter in config.inputs:
            stats = self.stats[adapter.name] = Stats()
            tls: ssl.SSLContext | None = server_tls(*adapter.tls) if adapter.tls else None
            where = ", ".join(f"{e.format}:{e.transport}:{e.port}" for e in adapter.endpoints)
            poster = Poster(url, environ[adapter.key_env], stats, source=f"interop {adapter.name}: {where}"[:200])
            acker = None
            if adapter.ack_key_env and adapter.mapping.acknowledgers:
                acker = Acknowledger(url, environ[adapter.ack_key_env], adapter.mapping.acknowledgers, stats)
            chat = acker.on_chat if acker else None
            drawing = (
                Proposer(url, environ[adapter.key_env], stats).on_drawing if adapter.mapping.propose_zones else None
            )
            creator = None
            if adapter.mapping.auto_create_force and adapter.admin_key_env:
                creator = UnitCreator(
                    url, environ[adapter.admin_key_env], adapter.mapping, adapter.mapping.auto_create_force, stats
                )
            clients = Clients(stats=stats) if adapter.picture_key_env else None
            gateway = Gateway(
                adapter.mapping,
                decoders(adapter.receiver, chat, drawing),
                adapter.endpoints,
                poster.offer,
                stats,
                tls=tls,
                client_tls=client_tls(*adapter.client_tls) if adapter.client_tls else None,
                on_unmapped=creator.on_unmapped if creator else None,
                clients=clients,
            )
            gateways[adapter.name] = gateway
            self._held[f"interop_{adapter.name}_pending"] = poster.pending
            self._held[f"interop_{adapter.name}_connections"] = _connections_of(gateway)
            self._starters += [poster.start, gateway.start]
            self._stoppers += [gateway.stop, poster.stop]
            if clients is not None and adapter.picture_key_env:
                picture = CotOut(url, environ[adapter.picture_key_env], adapter.mapping.party_id, [], stats,
                                 skip_units=frozenset(adapter.mapping.external_ids(IdKind.COT)), clients=clients)  # fmt: skip
                self._run_out(picture, f"{adapter.name}-picture")
        if config.tak is not None:
            stats = self.stats["tak-endpoint"] = Stats()
            rules = [ClientRule(attribute, value, gateways[name]) for attribute, value, name in config.tak.rules]
            endpoint = TakEndpoint(config.tak.endpoints, server_tls(*config.tak.tls), rules, stats)
            self._starters.append(endpoint.start)
            self._stoppers.insert(0, endpoint.stop)
        for out in config.outputs:
            stats = self.stats[out.name] = Stats()
            sender = CotOut(url, environ[out.key_env], out.party_id, out.targets, stats, interval_s=out.interval_s,
                            skip_units=out.skip_units, tls=client_tls(*out.tls) if out.tls else None)  # fmt: skip
            self._run_out(sender, out.name)

    def _run_out(self, sender: CotOut, name: str) -> None:
        """Cycle ``sender`` on a thread of its own from start to stop."""
        worker = threading.Thread(target=sender.run, args=(self._stop,), name=f"interop-{name}", daemon=True)
        self._starters.append(worker.start)

        def stop_out() -> None:
            sender.wake()
            worker.join(timeout=15)
            sender.close()

        self._stoppers.append(stop_out)

    def gauges(self) -> dict[str, Callable[[], float]]:
        """``interop_<adapter>_<counter>`` for every adapter and counter, and what each in adapter holds
        now (``_pending``: reports buffered for the service; ``_connections``: open connections), for
        /v1/metrics."""
        out: dict[str, Callable[[], float]] = dict(self._held)
        for name, stats in self.stats.items():
            for counter in COUNTERS:
                out[f"interop_{name}_{counter}"] = _reader(stats, counter)
        return out

    def start(self) -> None:
        for start in self._starters:
            start()
        log.info("interop: %d adapters started inside the service", len(self.stats))

    def stop(self) -> None:
        self._stop.set()
        for stop in self._stoppers:
            stop()
