"""Track ingest over HTTP: per-report refusals with the index, good reports kept, bounded queue."""

from __future__ import annotations

import json
import re
import time

from apisupport import Service

from keepclear.domain.timefmt import format_utc


def report(unit_id: str, **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "unit_id": unit_id,
        "time": format_utc(time.time()),
        "lat_deg": 35.0,
        "lon_deg": 38.0,
        "alt_m": 6000.0,
        "vel_east_mps": 200.0,
    }
    body.update(changes)
    return body


def test_bad_reports_are_refused_by_index_and_the_good_ones_kept(service: Service):
    batch = [
        report("ua"),
        report("ua-partner", lat_deg=95.0),
        report("nobody"),
        report("ub"),
        report("ua", time=format_utc(time.time() + 3600)),
        report("ua", time=format_utc(time.time() - 7200)),
        report("ua", time="yesterday"),
        report("ua-partner"),
    ]
    before = service.runtime.ingest.accepted_total
    with service.client("a-feed") as client:
        answer = client.post("/v1/tracks", json={"reports": batch})
    assert answer.status_code == 202
    body = answer.json()
    assert body["accepted_indices"] == [0, 7]
    reasons = {r["index"]: " ".join(r["problems"]) for r in body["refused"]}
    assert set(reasons) == {1, 2, 3, 4, 5, 6}
    assert "lat_deg: 95.0 is outside" in reasons[1]
    assert "unknown unit 'nobody'" in reasons[2]
    assert reasons[3].endswith("unknown unit 'ub'")  # as a made-up unit: ids cannot be enumerated
    assert "in the future" in reasons[4]
    assert "s old" in reasons[5]
    assert "'yesterday' is not an ISO 8601 time" in reasons[6]
    assert "time_s" not in reasons[6]  # the time that did not parse is told once, not again as a NaN
    assert service.runtime.ingest.accepted_total == before + 2


def _as_columns(batch: list[dict[str, object]]) -> dict[str, list[object]]:
    names = ("unit_id", "time", "lat_deg", "lon_deg", "alt_m", "vel_east_mps")
    return {name: [r[name] for r in batch] for name in names}


def _ageless(answer: dict[str, object]) -> str:
    return re.sub(r"[0-9.]+ s old", "N s old", json.dumps(answer, sort_keys=True))


def test_columns_are_judged_per_report_exactly_as_rows(service: Service):
    stale = format_utc(time.time() - 7200)
    batch = [report("ua"), report("ua-partner", lat_deg=95.0), report("ub"), report("ua", time=stale)]
    batch += [report("ua", time="yesterday"), report("ua-partner", vel_east_mps=-50.0)]
    with service.client("a-feed") as client:
        by_rows = client.post("/v1/tracks", json={"reports": batch}).json()
        before = service.runtime.ingest.accepted_total
        answer = client.post("/v1/tracks", json={"columns": _as_columns(batch)})
    assert answer.status_code == 202
    # A stale report's problem says how old it is: the two requests may be a second apart.
    assert _ageless(answer.json()) == _ageless(by_rows)
    assert answer.json()["accepted_indices"] == [0, 5]
    assert service.runtime.ingest.accepted_total == before + 2
    # columns left out (here all but the required ones) are 0 for every report, as in a row
    later = format_utc(time.time() + 1)
    minimal = {"unit_id": ["ua-partner"], "time": [later], "lat_deg": [36.5], "lon_deg": [38.5]}
    with service.client("a-feed") as client:
        assert client.post("/v1/tracks", json={"columns": minimal}).json()["accepted_indices"] == [0]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        states = {s.unit_id: s for s in service.runtime.tactical.visible_states("a")}
        if "ua-partner" in states and states["ua-partner"].lat_deg == 36.5:
            break
        time.sleep(0.05)
    state = states["ua-partner"]
    assert (state.lat_deg, state.lon_deg, state.alt_m) == (36.5, 38.5, 0.0)
    assert (state.vel_east_mps, state.vel_north_mps, state.vel_up_mps) == (0.0, 0.0, 0.0)


def test_malformed_columns_are_refused_whole_naming_the_column(service: Service):
    columns = _as_columns([report("ua"), report("ua")])
    uneven = {**columns, "lat_deg": [35.0]}
    with service.client("a-feed") as client:
        answers = [
            client.post("/v1/tracks", json={"columns": uneven}),
            client.post("/v1/tracks", json={"columns": columns, "reports": [report("ua")]}),
            client.post("/v1/tracks", json={}),
            client.post("/v1/tracks", json={"columns": {**columns, "speed_kt": [1, 2]}}),
        ]
    assert [a.status_code for a in answers] == [422, 422, 422, 422]
    texts = [str(a.json()) for a in answers]
    assert "columns.lat_deg: 1 values, but unit_id has 2" in texts[0]
    assert "not both or neither" in texts[1] and "not both or neither" in texts[2]
    assert "speed_kt" in texts[3]
    assert service.runtime.ingest.queued == 0


def test_nan_in_json_is_refused_for_that_report_only(service: Service):
    now = format_utc(time.time())
    text = (
        f'{{"reports": [{{"unit_id": "ua", "time": "{now}", "lat_deg": NaN, "lon_deg": 38}},'
        f' {{"unit_id": "ua", "time": "{now}", "lat_deg": 35, "lon_deg": 38}}]}}'
    )
    with service.client("a-feed") as client:
        answer = client.post("/v1/tracks", content=text, headers={"content-type": "application/json"})
    assert answer.status_code == 202
    assert answer.json()["accepted_indices"] == [1]
    assert "lat_deg: nan is not a finite number" in answer.json()["refused"][0]["problems"]


def test_full_queue_answers_429_with_retry_after_and_keeps_nothing(service: Service):
    ingest = service.runtime.ingest
    service.runtime.stop()  # nothing drains the queue while we fill it
    ingest.limits = type(ingest.limits)(queue_reports=3)
    with service.client("a-feed") as client:
        assert client.post("/v1/tracks", json={"reports": [report("ua"), report("ua-partner")]}).status_code == 202
        before = ingest.accepted_total
        answer = client.post("/v1/tracks", json={"reports": [report("ua"), report("ua-partner")]})
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "1"
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert ingest.accepted_total == before
    assert ingest.queued == 2


def test_oversize_body_is_refused_with_413(service: Service):
    with service.client("a-feed") as client:
        answer = client.post("/v1/tracks", content=b"{" + b" " * (17 * 1024 * 1024) + b"}")
    assert answer.status_code == 413
    assert "limited to" in answer.json()["detail"]


def test_revoked_key_is_refused_at_once(service: Service):
    key = service.keys["a-feed"]
    key_id = key.split("_")[1]
    with service.client("a-feed") as client:
        assert client.get("/v1/me").status_code == 200
        service.deployment.keys.revoke(key_id)
        answer = client.get("/v1/me")
    assert answer.status_code == 401
    assert "revoked" in answer.json()["detail"]


def test_a_key_given_twice_in_a_batch_is_refused_naming_it_and_nothing_is_kept(service: Service):
    """pydantic, which reads track batches for speed, keeps the last value of a key given twice; the
    batch is now refused as every other body is (I-JSON). A key given twice with a space before its
    colon, in a column batch, or in a report holding an escape is found too; a report with a field the
    model leaves out is still taken."""
    one = json.dumps(report("ua"))
    twice = one[:-1] + ', "lat_deg": 36.5}'
    spaced = one[:-1] + ', "lat_deg" : 36.5}'
    escaped = json.dumps(report("ua", time="2017-11-01T12:00:00Z"))[:-1].replace("ua", "u\\u0061") + ', "alt_m": 1}'
    columns = json.dumps({"columns": _as_columns([report("ua")])})[:-2] + ', "lat_deg": [36.5]}}'
    before = service.runtime.ingest.accepted_total
    with service.client("a-feed") as client:
        for body, key in (
            ('{"reports": [' + twice + "]}", "lat_deg"),
            ('{"reports": [' + one + ", " + spaced + "]}", "lat_deg"),
            ('{"reports": [' + escaped + "]}", "alt_m"),
            (columns, "lat_deg"),
            ('{"reports": [' + one + '], "reports": []}', "reports"),
        ):
            answer = client.post("/v1/tracks", content=body, headers={"Content-Type": "application/json"})
            assert answer.status_code == 422, (body, answer.text)
            assert f"key '{key}' is given twice" in answer.text, answer.text
        assert service.runtime.ingest.accepted_total == before
        extra = one[:-1] + ', "callsign": "VIPER 11"}'
        answer = client.post(
            "/v1/tracks", content='{"reports": [' + extra + "]}", headers={"Content-Type": "application/json"}
        )
        assert answer.status_code == 202 and answer.json()["accepted"] == 1, answer.text
