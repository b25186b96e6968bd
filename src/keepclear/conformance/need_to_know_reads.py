"""Need to know, reading: every GET path of the served OpenAPI (so a new path is covered without
editing the suite), the SSE stream with catch-up, the hotline WebSocket backlog and the record export
are read with every key of every party, and searched for the texts of the run that the key's party
may not see. Naming another party's objects: ``need_to_know``.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from keepclear.conformance.client import (
    ADMIN,
    Api,
    Who,
    answer_shape,
    get_all,
    liaison,
    operations,
    path_params,
    shape_difference,
    sibling_id,
)
from keepclear.conformance.need_to_know import GROUP, party_keys
from keepclear.conformance.registry import Check, Result, failed, judge
from keepclear.conformance.world import Secret, World, utc
from keepclear.ledger.spec import PUBLIC_KINDS

#: How long the SSE stream is read for, with each key.
STREAM_READ_S = 3.0


def _param_values(w: World, name: str, zone_id: str | None) -> list[str]:
    """Values to fill a path parameter with: the run's own objects of every party, so foreign ones are
    read too."""
    by_name: dict[str, list[str]] = {
        "activity_id": list(w.activities.values()),
        "thread_id": list(w.threads.values()),
        "incident_id": list(w.incidents.values()),
        "proposal_id": list(w.proposals.values()),
        "alert_id": [w.alert_id or ""],
        "party_id": list(w.parties),
        "seq": ["1"],
        "zone_id": [zone_id or w.name("zone")],
        "key_id": [w.name("key")],
    }
    return by_name.get(name, [w.name(name)])


@dataclass(frozen=True)
class GetRoute:
    """One GET operation of the served OpenAPI, ready to read: its query, whether it is a stream, the
    names of its path parameters, and why the suite cannot fill it (None when it can)."""

    path: str
    query: dict[str, str]
    stream: bool
    names: tuple[str, ...]
    unfillable: str | None

    def concrete(self, values: tuple[str, ...]) -> str:
        """The path with its parameters replaced by ``values``, in order."""
        out = self.path
        for n, v in zip(self.names, values, strict=True):
            out = out.replace("{" + n + "}", v)
        return out


def get_routes(document: dict[str, Any]) -> list[GetRoute]:
    """Every GET operation of an OpenAPI document (so a new path is read without editing any check)."""
    routes = []
    for path, operation in operations(document, "GET"):
        query, unfillable = query_params(operation)
        routes.append(GetRoute(path, query, _is_stream(operation), tuple(path_params(path)), unfillable))
    return routes


def query_params(operation: dict[str, Any]) -> tuple[dict[str, str], str | None]:
    """Values of the required query parameters (and ``once`` for a stream), or why they cannot be filled."""
    params: dict[str, str] = {}
    for p in operation.get("parameters", []):
        if p.get("in") != "query":
            continue
        if p["name"] == "once":
            params["once"] = "true"
        elif p.get("required"):
            if p["name"] in ("since",):
                params[p["name"]] = utc(time.time() - 3600)
            elif p["name"] in ("seq", "old"):
                params[p["name"]] = "1"  # the record's first entry (its genesis) and the first tree size
            else:
                return params, f"the suite does not know how to fill the required query parameter {p['name']!r}"
    return params, None


def _is_stream(operation: dict[str, Any]) -> bool:
    content = operation.get("responses", {}).get("200", {}).get("content", {})
    return "text/event-stream" in content


def read(client: httpx.Client, path: str, params: dict[str, str], stream: bool) -> tuple[int, str]:
    """Status and text of a GET; a stream is read from the start of what it keeps (catch-up) until it
    closes or ``STREAM_READ_S`` passes."""
    if not stream:
        response = get_all(client, path, params)  # a list in pages: every page
        return response.status_code, response.text
    chunks: list[str] = []
    deadline = time.monotonic() + STREAM_READ_S
    with client.stream("GET", path, params=params, headers={"Last-Event-ID": "0"}, timeout=STREAM_READ_S) as r:
        try:
            for text in r.iter_text():
                chunks.append(text)
                if time.monotonic() > deadline:
                    break
        except httpx.ReadTimeout:
            pass
        return r.status_code, "".join(chunks)


def leaks(secrets: Iterable[Secret], party: str | None, text: str) -> list[str]:
    """The labels of the ``secrets`` in ``text`` that ``party`` may not be shown."""
    return [s.label for s in secrets if party not in s.allowed and s.text in text]


def _leaks(w: World, who: Who, text: str) -> list[str]:
    return leaks(w.secrets, who.party, text)


def unknown_twin(client: httpx.Client, route: GetRoute, values: tuple[str, ...], hidden: str) -> str | None:
    """None when reading ``route`` with ``hidden`` (an id the caller may not see) among ``values``
    answers exactly as with a made-up id of its shape in its place; else what tells them apart."""
    concrete = route.concrete(values)
    twin = route.concrete(tuple(sibling_id(v) if v == hidden else v for v in values))
    return shape_difference(
        answer_shape(client.get(concrete, params=route.query), hidden),
        answer_shape(client.get(twin, params=route.query), sibling_id(hidden)),
    )


def read_every_get_path(w: World) -> Iterator[Result]:
    """Every GET path of the served OpenAPI, as every key of every party: nothing of the others' beyond policy,
    never a 5xx; and an object of another party, named in the path, answers as a made-up one."""
    document = w.api.openapi()
    zones = w.api.client(ADMIN).get("/v1/zones")
    features = zones.json().get("features", []) if zones.status_code == 200 else []
    zone_id = str(features[0].get("id")) if features else None
    seen: set[tuple[str, str]] = set()
    for route in get_routes(document):
        name = f"{GROUP}.read:{route.path}"
        if route.unfillable:
            yield failed(name, route.unfillable)
            continue
        combos = list(itertools.product(*[_param_values(w, n, zone_id) for n in route.names]))
        problems: list[str] = []
        twins: list[str] = []
        for who in party_keys(w):
            client = w.api.client(who)
            for values in combos:
                concrete = route.concrete(values)
                status, text = read(client, concrete, route.query, route.stream)
                if status >= 500:
                    problems.append(f"{who.label} GET {concrete} answered {status}")
                problems += [f"{who.label} GET {concrete} shows {label}" for label in _leaks(w, who, text)]
                seen |= {(who.party or "", s.label) for s in w.secrets if s.shown and s.text in text}
                for v in values:
                    if v in w.visible_to and who.party not in w.visible_to[v]:
                        difference = unknown_twin(client, route, values, v)
                        if difference:
                            twins.append(f"{who.label} GET {concrete} (not its party's): {difference}")
        yield judge(name, problems, f"{len(combos) * len(party_keys(w))} reads")
        if any(v in w.visible_to for combo in combos for v in combo):
            yield judge(f"{GROUP}.read-unknown-ids:{route.path}", twins)
    hidden = [
        f"{p} is never shown {s.label}"
        for s in w.secrets
        if s.shown
        for p in sorted(s.allowed)
        if (p, s.label) not in seen
    ]
    yield judge(f"{GROUP}.read:shown-where-allowed", hidden, "what policy gives a party reaches it")


def socket_backlog(api: Api, who: Who, timeout_s: float = 10.0) -> tuple[str, str | None]:
    """Everything the hotline WebSocket sends ``who`` when it resumes from the start, up to its
    ``resumed`` frame; and what went wrong (None when nothing did)."""
    from websockets.sync.client import connect

    base = api.url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    frames: list[str] = []
    try:
        with connect(
            f"{base}/v1/hotline/ws",
            additional_headers={"Authorization": f"Bearer {api.key(who)}"},
            open_timeout=timeout_s,
        ) as ws:
            ws.send(json.dumps({"type": "resume", "cursors": {}}))
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                frame = str(ws.recv(timeout=timeout_s))
                frames.append(frame)
                if '"resumed"' in frame:
                    return "".join(frames), None
            return "".join(frames), f"{who.label}: no 'resumed' frame within {timeout_s:.0f} s"
    except Exception as exc:  # the report names it; the other parties are still read
        return "".join(frames), f"{who.label}: the socket failed: {type(exc).__name__}: {exc}"


def hotline_socket(w: World) -> Iterator[Result]:
    """Each party's liaison resumes the hotline WebSocket from the start: its backlog shows nothing beyond
    policy."""
    problems = []
    for party in w.parties:
        who = liaison(party)
        text, problem = socket_backlog(w.api, who)
        problems += [problem] if problem else []
        problems += [f"{who.label} WS /v1/hotline/ws backlog shows {label}" for label in _leaks(w, who, text)]
    yield judge(f"{GROUP}.read:hotline-socket", problems)


#: All a party's export shows of an entry it may not read (docs/record.md, "Placeholders").
PLACEHOLDER_FIELDS = frozenset({"seq", "prev", "hash"})


def foreign_entries(entries: Iterable[dict[str, Any]], party: str | None) -> list[str]:
    """The record export entries that show ``party`` more than it may read: the statement (who, what,
    when, to whom) or the payload of an entry whose audience leaves it out, or a placeholder carrying
    more than its seq, prev and hash."""
    wrong = []
    for entry in entries:
        statement = entry.get("statement")
        if not isinstance(statement, dict):
            extra = sorted(set(entry) - PLACEHOLDER_FIELDS)
            if extra:
                wrong.append(f"#{entry.get('seq')} placeholder with {extra}")
            continue
        audience, kind = statement.get("audience"), statement.get("kind")
        if (
            audience is not None and party not in audience and kind not in PUBLIC_KINDS
        ):  # the key entries every verifier needs
            shown = "statement and payload" if entry.get("payload") is not None else "statement"
            wrong.append(f"#{entry.get('seq')} {kind} ({shown}; audience {audience})")
    return wrong


def record_export_audience(w: World) -> Iterator[Result]:
    """Each party's record export shows it whole only the entries whose audience includes it (or is
    everyone), and a bare placeholder (seq, prev, hash) for every other: neither the payload nor the
    statement of an entry it may not read."""
    for who in party_keys(w):
        if who.role == "feed":
            continue
        response = w.api.client(who).get("/v1/record/export")
        name = f"{GROUP}.record-audience:{who.label}"
        if response.status_code != 200:
            yield failed(name, f"GET /v1/record/export answered {response.status_code}")
            continue
        entries = response.json().get("entries", [])
        wrong = foreign_entries(entries, who.party)
        more = f" ({len(wrong)} in all)" if len(wrong) > 5 else ""
        problems = [f"entries whose audience excludes {who.party} shown: {', '.join(wrong[:5])}{more}"]
        yield judge(name, problems if wrong else [], f"{len(entries)} entries")


READING = [
    Check(GROUP, "read", read_every_get_path),
    Check(GROUP, "read:hotline-socket", hotline_socket),
    Check(GROUP, "record-audience", record_export_audience),
]
