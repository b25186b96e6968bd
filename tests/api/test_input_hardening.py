"""Issue 15, the input items: bad input is refused before anything is stored, the same way on SQLite
and PostgreSQL, each refusal a problem naming the field; nothing stored can break a later read.

Every test runs through a real server on both stores (``store_service``). Bodies are sent as raw
bytes so they can hold what a careless or hostile client sends: lone surrogates, NUL, NaN.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from apisupport import Service, running_service
from test_api_activities import air_operation

from keepclear.api.server import free_port
from serving import ServedProcess

JSON = {"Content-Type": "application/json"}


def raw(client: httpx.Client, method: str, path: str, value: Any, **headers: str) -> httpx.Response:
    """Send ``value`` as JSON the way Python writes it: lone surrogates escaped, NaN as a literal."""
    return client.request(method, path, content=json.dumps(value).encode(), headers={**JSON, **headers})


def assert_problem(response: httpx.Response, status: int, *mentions: str) -> dict[str, Any]:
    """``response`` is an RFC 9457 problem of ``status`` whose detail names each of ``mentions``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status and body["title"] and "detail" in body
    for mention in mentions:
        assert mention in body["detail"], (mention, body["detail"])
    if status == 422:
        assert len(body["codes"]) == len(body["errors"]), body
    return body


def standing_thread(client: httpx.Client) -> str:
    threads = client.get("/v1/hotline/threads").json()
    return next(t["id"] for t in threads if t["standing"] and set(t["parties"]) == {"a", "b"})


def messages(client: httpx.Client, thread_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/hotline/threads/{thread_id}/messages", params={"after_seq": 0})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_item1_lone_surrogate_activity_is_refused_and_list_still_reads(store_service: Service):
    with store_service.client("a-liaison") as a, store_service.client("b-liaison") as b:
        thread = standing_thread(a)
        before = messages(a, thread)
        refused = raw(a, "POST", "/v1/activities", air_operation(text="Strike \udfff package"))
        assert_problem(refused, 422, "text", "surrogate")
        for client in (a, b):
            listed = client.get("/v1/activities")
            assert listed.status_code == 200 and listed.json() == []
        # No hotline notice of the refused activity either.
        time.sleep(0.3)
        assert messages(a, thread) == before
        # The same activity without the surrogate is accepted, so the refusal was about the text alone.
        accepted = a.post("/v1/activities", json=air_operation(text="Strike package"))
        assert accepted.status_code == 201, accepted.text


def test_item2_deeply_nested_hotline_data_is_refused_and_thread_still_reads(store_service: Service):
    with store_service.client("a-liaison") as a, store_service.client("b-liaison") as b:
        thread = standing_thread(a)
        nested: dict[str, Any] = {}
        for _ in range(600):
            nested = {"a": nested}
        post = {"idempotency_key": "deep-nest-0001", "body": "hello", "data": nested}
        for _ in range(2):  # the retry with the same key is refused the same way
            assert_problem(raw(a, "POST", f"/v1/hotline/threads/{thread}/messages", post), 422, "nested deeper")
        for client in (a, b):
            assert all(m["idempotency_key"] != "deep-nest-0001" for m in messages(client, thread))
        ok = a.post(f"/v1/hotline/threads/{thread}/messages", json={**post, "data": {"depth": 1}})
        assert ok.status_code == 201, ok.text


def test_item4_bad_text_and_out_of_range_numbers_are_4xx_on_both_stores(store_service: Service):
    with store_service.client("a-liaison") as a:
        thread = standing_thread(a)
        before = messages(a, thread)
        post = f"/v1/hotline/threads/{thread}/messages"
        assert_problem(raw(a, "POST", post, {"idempotency_key": "surrogate-01", "body": "x\ud800"}), 422, "body")
        assert_problem(raw(a, "POST", post, {"idempotency_key": "nul-byte-001", "body": "x\x00y"}), 422, "NUL")
        assert_problem(raw(a, "POST", "/v1/hotline/threads", {"parties": ["b"], "title": "\udc00"}), 422, "title")
        assert_problem(
            raw(a, "PUT", "/v1/hotline/availability", {"availability": "degraded", "reason": "\udfff"}), 422, "reason"
        )
        assert_problem(raw(a, "POST", "/v1/activities", air_operation(contact="duty\x00officer")), 422, "contact")
        assert a.get("/v1/hotline/availability/a").json()["availability"] == "available"
        assert messages(a, thread) == before
        huge = str(2**64)
        assert_problem(a.get(f"/v1/hotline/threads/{thread}/messages", params={"after_seq": huge}), 422, "after_seq")
        assert_problem(a.get(f"/v1/hotline/threads/{thread}/messages/{2**70}/receipts"), 422, "seq")
        assert_problem(raw(a, "POST", f"/v1/hotline/threads/{thread}/read", {"through_seq": 2**64}), 422)
        # An id holding NUL names nothing, on either store.
        for path in ("/v1/activities/x%00y", f"/v1/hotline/threads/{thread}%00/messages", "/v1/zones/%00"):
            assert_problem(a.get(path), 404)
        assert_problem(a.get("/v1/tracks/history", params={"since": "2017-01-01T00:00:00Z\x00"}), 422, "since")
    with httpx.Client(base_url=store_service.url) as anonymous:
        for path in ("/static/%00", "/static/js%00.js", "/static/" + "a" * 300, "/static/" + "a/" * 1000 + "x.js"):
            assert_problem(anonymous.get(path), 404)
        assert_problem(anonymous.get("/static/" + "a" * 5000), 414)


def test_item5_unbounded_input_is_bounded(store_service: Service):
    with store_service.client("a-liaison") as a:
        thread = standing_thread(a)
        post = f"/v1/hotline/threads/{thread}/messages"
        big = {"idempotency_key": "big-data-001", "body": "x", "data": {"blob": "y" * 20_000}}
        assert_problem(raw(a, "POST", post, big), 422, "data", "16384")
        for literal in ("NaN", "Infinity", "-Infinity", "1e400"):
            body = b'{"idempotency_key": "nan-data-001", "body": "x", "data": {"v": ' + literal.encode() + b"}}"
            response = a.post(post, content=body, headers=JSON)
            assert_problem(response, 422)
        assert all(m["idempotency_key"] not in ("big-data-001", "nan-data-001") for m in messages(a, thread))

        def chunks() -> Iterator[bytes]:  # no Content-Length: the server counts as it reads
            yield b'{"text": "'
            for _ in range(17):
                yield b"x" * (1024 * 1024)
            yield b'"}'

        for path in (post, "/v1/activities"):
            assert_problem(a.post(path, content=chunks(), headers=JSON), 413)
        assert_problem(a.get("/v1/me", headers={"X-Keepclear-Person": "p" * 300}), 422, "X-Keepclear-Person")
        assert a.get("/v1/me", headers={"X-Keepclear-Person": "Duty officer"}).json()["person"] == "Duty officer"


def _square(vertices: int, index: int = 0) -> dict[str, Any]:
    ring = [[40.0, 35.0], *[[40.0 + 0.5 * i / vertices, 35.5] for i in range(1, vertices - 2)], [40.5, 35.0]]
    ring.append(ring[0])
    return {
        "type": "Feature",
        "id": f"zone-{index}",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"kind": "special-caution-area", "name": f"Zone {index}"},
    }


def test_item5_zone_imports_are_bounded(store_service: Service, tmp_path: Path):
    with store_service.client("admin") as admin:
        before = admin.get("/v1/zones").json()["features"]
        one_big = {"type": "FeatureCollection", "features": [_square(60_000)]}
        assert_problem(admin.post("/v1/zones", json=one_big), 422, "feature 0", "50000")
        many = {"type": "FeatureCollection", "features": [_square(40_000, i) for i in range(13)]}
        assert_problem(admin.post("/v1/zones", json=many), 422, "500000")
        bad = {"type": "FeatureCollection", "features": [{"type": "Feature"} for _ in range(4000)]}
        refused = assert_problem(admin.post("/v1/zones", json=bad), 422, "more problems")
        assert len(refused["errors"]) == 51 and len(refused["detail"]) < 10_000
        assert admin.get("/v1/zones").json()["features"] == before
    # The command line: a huge file is refused before it is read, deep nesting without a RecursionError.
    cli = [sys.executable, "-m", "keepclear.cli.main", "--data-dir", str(tmp_path / "cli")]
    deep = tmp_path / "deep.geojson"
    deep.write_bytes(b"[" * 2_000_000)
    huge = tmp_path / "huge.geojson"
    with huge.open("wb") as out:
        out.truncate(17 * 1024 * 1024)
    subprocess.run([*cli, "init"], check=True, capture_output=True)
    for file, mention in ((deep, "nested deeper than 32"), (huge, "over the limit")):
        result = subprocess.run([*cli, "zones", "import", str(file)], capture_output=True, text=True, timeout=120)
        assert result.returncode != 0 and mention in result.stderr, result.stderr
        assert "internal error" not in result.stderr and "Recursion" not in result.stderr


def test_item9_allow_schemas_references_static_bom_and_media_type(store_service: Service):
    with store_service.client("a-liaison") as a, store_service.client("b-liaison") as b:
        not_allowed = a.delete("/v1/activities")
        assert_problem(not_allowed, 405)
        assert {"GET", "POST"} <= set(not_allowed.headers["allow"].replace(" ", "").split(","))
        thread_methods = a.put("/v1/hotline/threads").headers["allow"]
        assert {"GET", "POST"} <= set(thread_methods.replace(" ", "").split(","))
        # The hand-read bodies have real schemas, and a body that fits one is accepted.
        schema = a.get("/openapi.json").json()
        for name in ("MessageIn", "ThreadIn", "ReadIn", "AvailabilityIn"):
            assert schema["components"]["schemas"][name]["properties"], name
        created = a.post("/v1/hotline/threads", json={"parties": ["b"], "title": "Coordination"})
        assert created.status_code == 201, created.text
        # A hotline notice of an activity names the activity and its version.
        notified = a.post("/v1/activities", json=air_operation())
        assert notified.status_code == 201, notified.text
        activity = notified.json()["activity"]
        thread = standing_thread(b)
        deadline = time.monotonic() + 10
        notice = None
        while notice is None and time.monotonic() < deadline:
            notice = next((m for m in messages(b, thread) if m["data"].get("event") == "activity.notified"), None)
            time.sleep(0.1)
        assert notice is not None
        assert notice["data"]["activity_id"] == activity["id"] and notice["data"]["version"] == activity["version"]
        # A byte order mark, or a batch that is not JSON, is refused as such.
        bom = a.post("/v1/activities", content=b"\xef\xbb\xbf" + json.dumps(air_operation()).encode(), headers=JSON)
        assert_problem(bom, 400, "byte order mark")
    with store_service.client("a-feed") as feed:
        batch = json.dumps({"reports": []}).encode()
        assert_problem(feed.post("/v1/tracks", content=batch, headers={"Content-Type": "text/plain"}), 415)
    with httpx.Client(base_url=store_service.url) as anonymous:
        assert_problem(anonymous.get("/static/no-such-file.js"), 404, "no-such-file.js")


def test_item9_clean_ctrl_c_of_serve_exits_0(tmp_path: Path, database_url: str):
    base = [
        sys.executable,
        "-m",
        "keepclear.cli.main",
        "--data-dir",
        str(tmp_path / "d"),
        "--database-url",
        database_url,
    ]
    subprocess.run([*base, "init"], check=True, capture_output=True, timeout=120)
    port = free_port()
    with ServedProcess([*base, "serve", "--port", str(port)], tmp_path / "serve.log", port=port).start() as server:
        returncode = server.interrupt(wait_s=30)
    output = server.log_text()
    assert returncode == 0, output
    assert "aborted" not in output and "Traceback" not in output


def _padded(value: dict[str, Any], size_bytes: int) -> bytes:
    """``value`` as JSON of at least ``size_bytes``: padded with spaces (valid JSON, nothing to store)."""
    text = json.dumps(value).encode()
    return text[:-1] + b" " * max(0, size_bytes - len(text)) + b"}"


def test_each_route_takes_the_body_size_its_setting_names(tmp_path: Path):
    """One object's body (an activity, a message) is bounded by ``max_body_bytes``; only the routes that
    take many at once take ``max_batch_body_bytes`` (track and activity batches) or
    ``max_zone_file_bytes`` (zone files): megabytes of JSON hold the interpreter while parsed."""
    small, batch, zone_file = 4096, 16384, 32768
    limits = {"max_body_bytes": small, "max_batch_body_bytes": batch, "max_zone_file_bytes": zone_file}
    with running_service(tmp_path / "data", **limits) as service:
        with service.client("a-liaison") as a:
            one = air_operation(text="x" * 100)
            refused = a.post("/v1/activities", content=_padded(one, small + 1), headers=JSON)
            assert_problem(refused, 413, str(small), "max_body_bytes")
            assert a.post("/v1/activities", content=_padded(one, small - 10), headers=JSON).status_code == 201
            several = {"activities": [air_operation(text="x" * 100)]}
            taken = a.post("/v1/activities/batch", content=_padded(several, batch - 10), headers=JSON)
            assert taken.status_code == 201, taken.text
            over = a.post("/v1/activities/batch", content=_padded(several, batch + 1), headers=JSON)
            assert_problem(over, 413, str(batch), "max_batch_body_bytes")
            proposal = _padded({"type": "FeatureCollection", "features": []}, zone_file + 1)
            assert_problem(a.post("/v1/zone-proposals", content=proposal, headers=JSON), 413, "max_zone_file_bytes")
        with service.client("a-feed") as feed:
            reports = _padded({"reports": []}, batch + 1)
            assert_problem(feed.post("/v1/tracks", content=reports, headers=JSON), 413, "max_batch_body_bytes")
            assert feed.post("/v1/tracks", content=_padded({"reports": []}, small * 2), headers=JSON).status_code == 202
        with service.client("admin") as admin:
            zones = _padded({"type": "FeatureCollection", "features": []}, zone_file - 10)
            assert admin.post("/v1/zones", content=zones, headers=JSON).status_code != 413
            over_zones = _padded({"type": "FeatureCollection", "features": []}, zone_file + 1)
            assert_problem(admin.post("/v1/zones", content=over_zones, headers=JSON), 413, "max_zone_file_bytes")


def test_a_body_is_parsed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The route reads the value the gate parsed (``JudgedBodyRoute``): parsing megabytes holds the
    interpreter, the probe's tick waiting, and twice would double it."""
    parsed: list[int] = []
    loads = json.loads

    def counting(text: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(text, str | bytes) and "Parsed once" in (text if isinstance(text, str) else text.decode()):
            parsed.append(1)
        return loads(text, *args, **kwargs)

    with running_service(tmp_path / "data") as service, service.client("a-liaison") as a:
        monkeypatch.setattr(json, "loads", counting)
        notified = a.post("/v1/activities", content=json.dumps(air_operation(text="Parsed once")), headers=JSON)
        monkeypatch.undo()
        assert notified.status_code == 201, notified.text
        assert notified.json()["activity"]["text"] == "Parsed once"
    assert len(parsed) == 1


def test_every_route_reads_the_body_the_gate_parsed(tmp_path: Path):
    from fastapi.routing import APIRoute

    from keepclear.api import create_app
    from keepclear.api.input_gate import JudgedBodyRoute
    from keepclear.services.runtime.deployment import Deployment
    from keepclear.settings import Settings

    settings = Settings(data_dir=tmp_path)
    deployment = Deployment.open(settings, create=True)
    routes: list[APIRoute] = []

    def walk(items: Any) -> None:
        for route in items:
            if isinstance(route, APIRoute):
                routes.append(route)
            elif hasattr(route, "original_router"):
                walk(route.original_router.routes)

    try:
        walk(create_app(settings, deployment=deployment).routes)
    finally:
        deployment.close()
    assert len(routes) > 50
    assert [r.path for r in routes if not isinstance(r, JudgedBodyRoute)] == []
