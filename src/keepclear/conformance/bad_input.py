"""Bad input: every write route of the served OpenAPI gets a catalogue of bad bodies, each a spoilt copy
of a valid request on the run's own objects. Every one must be refused as an RFC 9457 problem (4xx,
``application/problem+json``), and nothing may be stored (the state read back after is unchanged).

``POST /v1/tracks`` judges each report alone (docs/api.md): a batch whose every report is refused (202,
nothing accepted, each refusal listed) counts as refused too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from keepclear.conformance.bodies import valid_request
from keepclear.conformance.client import ADMIN, is_problem, liaison, operations
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
    admin, a, b = w.api.client(ADMIN), w.api.client(liaison(w.a)), w.api.client(liaison(w.b))

    def ids(response: Any, key: str = "id") -> Any:
        if response.status_code != 200:
            return f"answered {response.status_code}"
        items = response.json()
        items = items.get("features", []) if isinstance(items, dict) else items
        return sorted(str(i.get(key)) for i in items)

    state: dict[str, Any] = {
        "parties": ids(admin.get("/v1/parties")),
        "forces": ids(admin.get("/v1/forces")),
        "units": ids(admin.get("/v1/units")),
        "zones": ids(admin.get("/v1/zones")),
        "keys": ids(admin.get("/v1/keys"), "key_id"),
        "activities of a": sorted((v["id"], v.get("version"), v.get("status")) for v in a.get("/v1/activities").json()),
        "incidents of a": sorted((i["id"], i.get("status")) for i in a.get("/v1/incidents").json()),
        "availability of a": a.get(f"/v1/hotline/availability/{w.a}").json().get("availability"),
        "a1 as b sees it": b.get(f"/v1/activities/{w.activities[w.name('a1')]}").json(),
        "positions of the run's units": sorted(
            (s["unit_id"], s["lat_deg"], s["lon_deg"])
            for s in a.get("/v1/tracks").json()
            if w.run_id in s["unit_id"] and s["unit_id"] != w.units[w.a][0]
        ),
    }
    for name, thread in w.threads.items():
        heads = {t["id"]: t.get("last_seq") for t in a.get("/v1/hotline/threads").json()}
        state[f"last seq of thread {name}"] = heads.get(thread)
    for incident in w.incidents.values():
        state[f"accounts of {incident}"] = len(a.get(f"/v1/incidents/{incident}").json().get("accounts", []))
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
            client = w.api.client(request.who)
            for kind, raw in catalogue(w, request.body).items():
                response = client.request(
                    method, request.path, content=raw, headers={"Content-Type": "application/json"}
                )
                wrong = _refused(path, response)
                detail = f" ({response.text[:160]})" if wrong and response.status_code < 300 else ""
                yield judge(
                    f"{GROUP}:{method} {path}:{kind}", [wrong + detail] if wrong else [], str(response.status_code)
                )
    after = _state(w)
    changed = [f"{k}: {_short(before[k])} -> {_short(after.get(k))}" for k in before if before[k] != after.get(k)]
    yield judge(f"{GROUP}:nothing-stored", changed, "the state read back is unchanged")


def _short(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, ensure_ascii=True, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


CHECKS: list[Check] = [Check(GROUP, "routes", every_write_route)]
