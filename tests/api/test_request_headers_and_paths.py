"""What a request's header bytes and path shape mean, over HTTP to a real server.

- ``X-Keepclear-Person`` is UTF-8: "Иван" sent as its UTF-8 bytes was read as latin-1 and kept as
  mojibake in ``/v1/me`` and in the hotline's messages and receipts. Bytes that are not UTF-8 are
  refused 422 naming the header, as control characters and an over-long name are.
- ``X-Keepclear-Source`` (the feed a track batch names, shown in ``GET /v1/feeds``) is UTF-8 too: a
  source "Радар-1" was kept as mojibake; bytes that are not UTF-8 are refused 422 naming the header.
- ``Idempotency-Key`` and ``X-Keepclear-Source`` given twice are refused 400: the idempotency
  middleware kept the last value while the route read the first (a hotline message stored under
  one key, its request claimed under the other).
- A path with a trailing slash (``/v1/me/``) was answered 307 with a ``Location`` built from the
  client's ``Host`` header: a redirect anyone could point anywhere. It is a plain 404 problem now.
- ``HEAD /v1/health`` (load balancers' health checks) was answered 405; it answers as GET, no body.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from apisupport import Service, running_service

from keepclear.domain.timefmt import format_utc


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("headers") / "data") as running:
        yield running


def _problem(response: httpx.Response, status: int, names: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    assert names in response.text, response.text


def test_a_person_named_in_utf8_is_kept_as_named(service: Service) -> None:
    with service.client("b-liaison") as b:
        for name in ("Иван Петров", "Müller", "Duty officer"):
            me = b.get("/v1/me", headers={"X-Keepclear-Person": name.encode("utf-8")})
            assert me.status_code == 200, me.text
            assert me.json()["person"] == name
        [thread] = [t for t in b.get("/v1/hotline/threads").json() if t["standing"] and "a" in t["parties"]]
        posted = b.post(
            f"/v1/hotline/threads/{thread['id']}/messages",
            json={"body": "Принято", "idempotency_key": "person-utf8-1"},
            headers={"X-Keepclear-Person": "Иван".encode()},
        )
        assert posted.status_code == 201, posted.text
        assert posted.json()["message"]["sender_person"] == "Иван"
        seq = posted.json()["message"]["seq"]
    with service.client("a-liaison") as a:
        [read] = [m for m in a.get(f"/v1/hotline/threads/{thread['id']}/messages").json() if m["seq"] == seq]
        assert read["sender_person"] == "Иван"


def test_a_person_header_that_is_not_utf8_is_refused_naming_it(service: Service) -> None:
    with service.client("b-liaison") as b:
        for raw in (b"\xff\xfeIvan", "Иван".encode("cp1251"), b"\xc3"):
            _problem(b.get("/v1/me", headers={"X-Keepclear-Person": raw}), 422, "X-Keepclear-Person")
        # a control character, given as UTF-8 bytes beyond ASCII (U+0085, NEXT LINE), is refused as before
        _problem(b.get("/v1/me", headers={"X-Keepclear-Person": "Iv\u0085an".encode()}), 422, "X-Keepclear-Person")
        # the length counts characters, not bytes: 200 Cyrillic letters (400 bytes) are a name
        assert b.get("/v1/me", headers={"X-Keepclear-Person": ("Я" * 200).encode()}).json()["person"] == "Я" * 200
        _problem(b.get("/v1/me", headers={"X-Keepclear-Person": ("Я" * 201).encode()}), 422, "X-Keepclear-Person")


def _batch(unit_id: str) -> dict[str, object]:
    return {"columns": {"unit_id": [unit_id], "time": [format_utc(time.time())], "lat_deg": [36.0], "lon_deg": [38.0]}}


def test_a_feed_source_named_in_utf8_is_kept_as_named(service: Service) -> None:
    with service.client("a-feed") as feed:
        sent = feed.post("/v1/tracks", json=_batch("ua"), headers={"X-Keepclear-Source": "Радар-1 Müller".encode()})
        assert sent.status_code == 202, sent.text
    with service.client("a-liaison") as a:
        [fed] = [f for f in a.get("/v1/feeds").json() if f["unit_id"] == "ua"]
    assert fed["source"] == "Радар-1 Müller"


def test_a_feed_source_that_is_not_utf8_is_refused_naming_it(service: Service) -> None:
    with service.client("a-feed") as feed:
        for raw in (b"\xff\xfeRadar", "Радар".encode("cp1251")):
            _problem(
                feed.post("/v1/tracks", json=_batch("ua"), headers={"X-Keepclear-Source": raw}),
                422,
                "X-Keepclear-Source",
            )
        # C1 control characters (NEXT LINE, CSI) are dropped from what is kept, as before (C0 ones the
        # HTTP parser refuses itself)
        sent = feed.post(
            "/v1/tracks", json=_batch("ua"), headers={"X-Keepclear-Source": "Ra\u0085dar\u009b31m".encode()}
        )
        assert sent.status_code == 202, sent.text
    with service.client("a-liaison") as a:
        [fed] = [f for f in a.get("/v1/feeds").json() if f["unit_id"] == "ua"]
    assert fed["source"] == "Radar31m"


def test_a_header_the_routes_read_given_twice_is_refused(service: Service) -> None:
    with service.client("b-liaison") as b:
        [thread] = [t for t in b.get("/v1/hotline/threads").json() if t["standing"] and "a" in t["parties"]]
        twice = b.post(
            f"/v1/hotline/threads/{thread['id']}/messages",
            json={"body": "twice"},
            headers=[("Idempotency-Key", "twice-key-1"), ("Idempotency-Key", "twice-key-2")],
        )
        _problem(twice, 400, "idempotency-key")
    with service.client("a-feed") as feed:
        sources = [("X-Keepclear-Source", "one"), ("X-Keepclear-Source", "two")]
        _problem(feed.post("/v1/tracks", json=_batch("ua"), headers=sources), 400, "x-keepclear-source")


def test_a_trailing_slash_is_not_found_never_redirected(service: Service) -> None:
    with service.client("a-liaison") as a:
        for path in ("/v1/me/", "/v1/health/", "/v1/hotline/threads/", "/v1/alerts/"):
            answer = a.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
            _problem(answer, 404, "")
            assert "location" not in answer.headers
            assert "evil.example" not in answer.text
        # the routes themselves and the console still answer
        assert a.get("/v1/me").status_code == 200
        console = a.get("/", follow_redirects=False)
        assert console.status_code == 200 and "text/html" in console.headers["content-type"]


def test_head_on_health_answers_as_get_without_a_body(service: Service) -> None:
    with httpx.Client(base_url=service.url, timeout=30) as anyone:
        got = anyone.get("/v1/health")
        head = anyone.head("/v1/health")
        assert head.status_code == got.status_code == 200
        assert head.content == b""
        assert head.headers["content-type"] == got.headers["content-type"]
        assert head.headers["content-length"] == got.headers["content-length"]
        assert anyone.head("/v1/health/").status_code == 404


def test_no_endpoint_is_declared_with_a_trailing_slash(service: Service) -> None:
    """No endpoint needs the redirect that was turned off."""
    with httpx.Client(base_url=service.url, timeout=30) as anyone:
        paths = anyone.get("/openapi.json").json()["paths"]
    assert paths and [p for p in paths if p.endswith("/")] == []
