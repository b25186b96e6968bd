"""Bad input: every write route of the served OpenAPI gets a catalogue of bad bodies, each a spoilt copy
of a valid request on the run's own objects. Every one must be refused as an RFC 9457 problem (4xx,
``application/problem+json``), and nothing may be stored (the state read back after is unchanged).

``POST /v1/tracks`` judges each report alone (docs/api.md): a batch whose every report is refused (202,
nothing accepted, each refusal listed) counts as refused too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from keepclear.conformance.bodies import valid_request
from keepclear.conformance.client import ADMIN, Who, get_all, is_problem, liaison, operations, send_large
from keepclear.conformance.registry import Check, Result, judge
from keepclear.conformance.world import World

GROUP = "bad-input"
NESTING_DEPTH = 100_000
OVERSIZE_BYTES = 17 * 1024 * 1024
_MARK = "\u0000conformance-slot\u0000"


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))
    else:
        yield path, value


def _set(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _set(value[path[0]], path[1:], new)
    return copy


def _with_raw(body: Any, paths: list[tuple[Any, ...]], raw: str) -> bytes:
    """``body`` as JSON text with the values at ``paths`` replaced by the raw JSON text ``raw``."""
    for p in paths:
        body = _set(body, p, _MARK)
    return json.dumps(body).replace(json.dumps(_MARK), raw).encode("utf-8", "surrogatepass")


def _texts(w: World, body: Any) -> list[tuple[Any, ...]]:
    """Free-text places of a body (those carrying the run id), else every text place."""
    strings = [(p, v) for p, v in _leaves(body) if isinstance(v, str)]
    mine = [p for p, v in strings if w.run_id in v]
    return mine or [p for p, _ in strings]


def _numbers(body: Any) -> list[tuple[Any, ...]]:
    return [p for p, v in _leaves(body) if isinstance(v, int | float) and not isinstance(v, bool)]


def _numbers_as(body: Any, paths: list[tuple[Any, ...]], spoil: Callable[[Any], Any]) -> bytes:
    """``body`` as JSON with each number at ``paths`` replaced by ``spoil`` of it (its own text, true)."""
    for p in paths:
        value = body
        for step in p:
            value = value[step]
        body = _set(body, p, spoil(value))
    return json.dumps(body).encode("utf-8", "surrogatepass")


def _wrong_types(body: Any) -> Any:
    if not isinstance(body, dict):
        return 123
    swap: dict[type, Any] = {str: 123, int: "x", float: "x", bool: "x", list: "x", dict: "x"}
    return {k: swap.get(type(v), 123) for k, v in body.items()}


def catalogue(w: World, body: Any) -> dict[str, bytes]:
    """Each kind of bad body, made from the valid ``body``."""
    texts, numbers = _texts(w, body), _numbers(body)
    somewhere = texts[:1] or numbers[:1]
    bodies = {
        "not-json": b'{"version": 1,',
        "not-an-object": b"[]",
        "missing-fields": b"{}",
        "wrong-types": json.dumps(_wrong_types(body)).encode(),
        "lone-surrogate": _with_raw(body, texts, '"conformance \\ud800 text"') if texts else b"",
        "deep-nesting": _with_raw(body, somewhere, "[" * NESTING_DEPTH + "]" * NESTING_DEPTH) if somewhere else b"",
        "huge-integer": _with_raw(body, numbers or somewhere, "1" + "0" * 400) if somewhere else b"",
        "huge-float": _with_raw(body, numbers or somewhere, "1e999") if somewhere else b"",
        # A lax reader takes "1" or true for the number 1: the valid request's own number as text or true.
        "number-as-text": _numbers_as(body, numbers, str) if numbers else b"",
        "number-as-boolean": _numbers_as(body, numbers, lambda _: True) if numbers else b"",
        "nan": _with_raw(body, numbers or somewhere, "NaN") if somewhere else b"",
        "infinity": _with_raw(body, numbers or somewhere, "-Infinity") if somewhere else b"",
        "oversized": _with_raw(body, somewhere, json.dumps("x" * OVERSIZE_BYTES)) if somewhere else b"",
    }
    return {kind: raw for kind, raw in bodies.items() if raw}


def _refused(path: str, response: Any) -> str | None:
    """None when ``response`` refuses; else what is wrong."""
    if path == "/v1/tracks" and response.status_code == 202:
        answer = response.json()
        if answer.get("accepted") == 0 and answer.get("refused"):
            return None
        return f"POST /v1/tracks accepted {answer.get('accepted')} report(s) of a bad batch"
    return is_problem(response)


def _state(w: World) -> dict[str, Any]:
    """What a wrongly accepted bad body would change, read back as the admin and as a and b."""
    admin, a, b = ADMIN, liaison(w.a), liaison(w.b)

    def read(who: Who, path: str, pick: Callable[[Any], Any]) -> Any:
        try:
            response = get_all(w.api.client(who), path)
        except httpx.TransportError:  # a connection the server broke earlier: once more on a new one
            w.api.reset(who)
            response = get_all(w.api.client(who), path)
        if response.status_code != 200:
            return f"GET {path} answered {response.status_code}"
        return pick(response.json())

    def ids(key: str = "id") -> Callable[[Any], Any]:
        def pick(items: Any) -> Any:
            items = items.get("features", []) if isinstance(items, dict) else items
            return sorted(str(i.get(key)) for i in items)

        return pick

    a1 = w.activities[w.activity_id(w.a, "a1")]
    state: dict[str, Any] = {
        "parties": read(admin, "/v1/parties", ids()),
        "forces": read(admin, "/v1/forces", ids()),
        "units": read(admin, "/v1/units", ids()),
        "zones": read(admin, "/v1/zones", ids()),
        "keys": read(admin, "/v1/keys", ids("key_id")),
        "activities of a": read(
            a, "/v1/activities", lambda vs: sorted((v["id"], v.get("version"), v.get("status")) for v in vs)
        ),
        "incidents of a": read(a, "/v1/incidents", lambda xs: sorted((i["id"], i.get("status")) for i in xs)),
        "availability of a": read(a, f"/v1/hotline/availability/{w.a}", lambda v: v.get("availability")),
        "a1 as b sees it": read(b, f"/v1/activities/{a1}", lambda v: v),
        "positions of the run's units": read(
            a,
            "/v1/tracks",
            lambda states: sorted(
                (s["unit_id"], s["lat_deg"], s["lon_deg"])
                for s in states
                if w.run_id in s["unit_id"] and s["unit_id"] != w.units[w.a][0]
            ),
        ),
    }
    heads = read(a, "/v1/hotline/threads", lambda ts: {t["id"]: t.get("last_seq") for t in ts})
    state["threads of a"] = sorted(heads) if isinstance(heads, dict) else heads
    for name, thread in w.threads.items():
        state[f"last seq of thread {name}"] = heads.get(thread) if isinstance(heads, dict) else heads
    for incident in w.incidents.values():
        state[f"accounts of {incident}"] = read(a, f"/v1/incidents/{incident}", lambda i: len(i.get("accounts", [])))
    return state


def every_write_route(w: World) -> Iterator[Result]:
    """The catalogue on every write route with a request body; then: nothing stored."""
    before = _state(w)
    document = w.api.openapi()
    for method in ("POST", "PUT", "PATCH"):
        for path, operation in operations(document, method):
            if "requestBody" not in operation:
                continue
            request = valid_request(w, method, path)
            if request is None:
                yield judge(f"{GROUP}:{method} {path}", [f"the suite knows no valid request of {method} {path}"])
                continue
            for kind, raw in catalogue(w, request.body).items():
                try:
                    response = _send(w, request.who, method, request.path, raw, kind)
                except (httpx.TransportError, OSError) as exc:
                    failure = f"the connection failed: {type(exc).__name__}: {exc}"
                    yield judge(f"{GROUP}:{method} {path}:{kind}", [failure])
                    continue
                if response.status_code >= 500:
                    w.api.reset(request.who)
                wrong = _refused(path, response)
                detail = f" ({response.text[:160]})" if wrong and response.status_code < 300 else ""
                yield judge(
                    f"{GROUP}:{method} {path}:{kind}", [wrong + detail] if wrong else [], str(response.status_code)
                )
    w.api.reset()
    after = _state(w)
    changed = [f"{k}: {_short(before[k])} -> {_short(after.get(k))}" for k in before if before[k] != after.get(k)]
    yield judge(f"{GROUP}:nothing-stored", changed, "the state read back is unchanged")


def _send(w: World, who: Any, method: str, path: str, raw: bytes, kind: str) -> httpx.Response:
    """Send one bad body; once more on a fresh connection when the kept-alive one was broken (by the
    server's failure on an earlier request, which that request's own line reports)."""
    if kind == "oversized":
        return send_large(w.api, who, method, path, raw)
    headers = {"Content-Type": "application/json"}
    try:
        return w.api.client(who).request(method, path, content=raw, headers=headers)
    except httpx.TransportError:
        w.api.reset(who)
        return w.api.client(who).request(method, path, content=raw, headers=headers)


def _short(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, ensure_ascii=True, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


CHECKS: list[Check] = [Check(GROUP, "", every_write_route)]
