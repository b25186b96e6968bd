"""Everything that buffers has a bound and a metric: what a hostile party drives through the real API
stays within its bound, is refused (or dropped, counted) at it, and shows in /v1/metrics."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

from apisupport import Service, running_service
from test_api_activities import air_operation
from test_input_hardening import assert_problem

from keepclear.domain.timefmt import format_utc


def test_a_party_keeps_a_bounded_number_of_live_activities(tmp_path: Path, database_url: str) -> None:
    """Every live activity stays in each API process's strategic index, geometry drawn, until it is
    completed or cancelled (none expires): a party notifying without end grew every process's memory
    without bound. Past ``max_live_activities_per_party`` a notification is refused whole."""
    with (
        running_service(tmp_path / "data", database_url, max_live_activities_per_party=3) as service,
        service.client("a-liaison") as a,
        service.client("b-liaison") as b,
        service.client("admin") as admin,
    ):
        ids = []
        for k in range(3):
            notified = a.post("/v1/activities", json=air_operation(start_h=30.0 + 10 * k))
            assert notified.status_code == 201, notified.text
            ids.append(notified.json()["activity"]["id"])
        one_more = air_operation(start_h=80.0, id="a-one-more")
        assert_problem(a.post("/v1/activities", json=one_more), 409, "max_live_activities_per_party", "3")
        batch = {"activities": [air_operation(start_h=90.0, id="a-batch-1"), air_operation(start_h=95.0)]}
        assert_problem(a.post("/v1/activities/batch", json=batch), 409, "max_live_activities_per_party")
        assert len(a.get("/v1/activities").json()) == 3  # nothing of either was stored
        # The bound is each party's own.
        assert b.post("/v1/activities", json=air_operation(addressees=["a"], units=["ub"])).status_code == 201
        counters = admin.get("/v1/metrics").json()["counters"]
        assert counters["activities_live"] == 4
        assert counters["activities_live_per_party_max"] == 3
        assert counters["activities_refused_live_limit_total"] == 2
        # Cancelling one makes room.
        assert a.post(f"/v1/activities/{ids[0]}/cancel", json={"version": 1, "reason": "off"}).status_code == 200
        assert a.post("/v1/activities", json=one_more).status_code == 201
        assert admin.get("/v1/metrics").json()["counters"]["activities_live_per_party_max"] == 3


def test_a_party_opens_a_bounded_number_of_hotline_threads(tmp_path: Path, database_url: str) -> None:
    """Any party could open hotline threads without end, each a row and a place in every member's
    thread list (and a message in each at every availability change). Past
    ``max_hotline_threads_per_party`` one more is refused: 409 naming the setting and the figure."""
    with (
        running_service(tmp_path / "data", database_url, max_hotline_threads_per_party=2) as service,
        service.client("a-liaison") as a,
        service.client("b-liaison") as b,
        service.client("admin") as admin,
    ):
        for k in range(2):
            made = a.post("/v1/hotline/threads", json={"parties": ["b"], "title": f"topic {k}"})
            assert made.status_code == 201, made.text
        one_more = a.post("/v1/hotline/threads", json={"parties": ["b"], "title": "one too many"})
        assert_problem(one_more, 409, "max_hotline_threads_per_party", "2")
        assert all(t["title"] != "one too many" for t in a.get("/v1/hotline/threads").json())
        # The bound is each party's own: b opens one with a, and a's count stays where it was.
        assert b.post("/v1/hotline/threads", json={"parties": ["a"], "title": "b asks"}).status_code == 201
        assert a.post("/v1/hotline/threads", json={"parties": ["b"], "title": "again"}).status_code == 409
        assert admin.get("/v1/metrics").json()["counters"]["hotline_threads_refused_limit_total"] == 2


def test_where_each_unit_is_fed_from_is_kept_for_known_units_only_and_counted(service: Service) -> None:
    """The feed each unit was last reported by (``GET /v1/feeds``) is one entry per unit of the
    registry; reports the service refuses (another party's unit, a made-up id) leave none."""
    now = format_utc(time.time())
    columns = {"unit_id": ["ua", "ub", "made-up"], "time": [now] * 3, "lat_deg": [36.0] * 3, "lon_deg": [38.0] * 3}
    with service.client("a-feed") as feed, service.client("admin") as admin:
        answer = feed.post("/v1/tracks", json={"columns": columns}, headers={"X-Keepclear-Source": "x" * 10_000})
        assert answer.status_code == 202 and answer.json()["accepted_indices"] == [0], answer.text
        assert admin.get("/v1/metrics").json()["counters"]["feed_sources_units"] == 1
    with service.client("a-liaison") as liaison:
        (fed,) = liaison.get("/v1/feeds").json()
    assert fed["unit_id"] == "ua" and len(fed["source"]) == 200  # the source a feed names is cut


def _upload(url: str, key: str, size: int, sent: bytes = b"") -> socket.socket:
    """A POST of a body of ``size`` bytes to /v1/activities/batch of which only ``sent`` is sent yet."""
    host, port = url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=10)
    head = (
        f"POST /v1/activities/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
    )
    connection.sendall(head.encode() + sent)
    return connection


def _answer(connection: socket.socket, wait_s: float = 1.0) -> bytes:
    """What the server answered within ``wait_s`` (b"" when nothing yet)."""
    connection.settimeout(wait_s)
    try:
        return connection.recv(65536)
    except TimeoutError:
        return b""


def _ask(url: str, key: str, body: bytes, wait_s: float = 10.0) -> bytes:
    """The answer to a whole upload of ``body`` (b"" when none came within ``wait_s``)."""
    with _upload(url, key, len(body), body) as connection:
        return _answer(connection, wait_s)


def test_the_body_bytes_one_key_holds_at_once_are_bounded(tmp_path: Path) -> None:
    """Each body is read whole, then held until its request is answered: one key sending many large
    bodies at once (each within ``max_batch_body_bytes``) held as many times that much, without bound.
    Past ``max_body_bytes_in_flight_per_key`` a request is refused before a byte of it is read."""
    with running_service(tmp_path / "data", max_body_bytes_in_flight_per_key=1_000_000) as service:
        a, b = service.keys["a-liaison"], service.keys["b-liaison"]
        with _upload(service.url, a, 900_000, b'{"activities": [') as slow:  # a slow upload holds 900 kB
            assert _answer(slow, 0.5) == b""
            with _upload(service.url, a, 200_000) as refused_upload:
                refused = _answer(refused_upload)
            assert refused.startswith(b"HTTP/1.1 429 "), refused[:200]
            assert b"retry-after: 1" in refused.lower() and b"max_body_bytes_in_flight_per_key" in refused
            with _upload(service.url, b, 900_000, b"{") as others:  # another key's budget is its own
                assert _answer(others) == b""
            small = b" " * 49_998 + b"{}"  # fits beside the slow one: read, judged, answered
            assert _ask(service.url, a, small).startswith(b"HTTP/1.1 422 ")
        body = b" " * 199_998 + b"{}"  # the slow one gone, its bytes are free again
        for _ in range(50):
            answered = _ask(service.url, a, body)
            if not answered.startswith(b"HTTP/1.1 429 "):
                break
            time.sleep(0.1)
        assert answered.startswith(b"HTTP/1.1 422 "), answered[:200]
        with service.client("admin") as admin:
            for _ in range(50):  # every request answered: nothing held
                counters = admin.get("/v1/metrics").json()["counters"]
                if counters["body_bytes_in_flight"] == 0:
                    break
                time.sleep(0.05)
        assert counters["bodies_refused_in_flight_total"] >= 1 and counters["body_bytes_in_flight"] == 0


BUFFERS_DOC = Path(__file__).resolve().parents[2] / "docs" / "buffers.md"


def documented_metrics() -> set[str]:
    """The metric names in the last column of docs/buffers.md's tables."""
    names: set[str] = set()
    for line in BUFFERS_DOC.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and line.startswith("|") and not set(cells[0]) <= {"-", " "} and cells[0] != "buffer":
            names.update(re.findall(r"`([^`]+)`", cells[3]))
    return names


def test_every_metric_docs_buffers_names_is_published(service: Service) -> None:
    """docs/buffers.md lists every buffer with its metric: each one it names is in /v1/metrics (those
    of the bus across processes and of interop adapters appear only with bus_url and interop_file)."""
    names = documented_metrics()
    assert {"events_held", "activities_live", "stream_ring_bytes", "ledger_tree_leaves"} <= names
    with service.client("admin") as admin:
        answer = admin.get("/v1/metrics").json()
    missing = []
    for name in sorted(names):
        if name.startswith(("bus_", "interop_")):
            continue
        if name.startswith("record."):
            found = name.removeprefix("record.") in answer["record"]
        else:
            found = name in answer["counters"] or name in answer
        if not found:
            missing.append(name)
    assert not missing, f"docs/buffers.md names metrics /v1/metrics does not publish: {missing}"
