"""POST /v1/activities/batch through a real server on SQLite and PostgreSQL: all or none, each activity
checked and delivered as one notified alone, problems named by index, retries answered once."""

from __future__ import annotations

import time

from apisupport import Service, SseReader
from test_api_activities import SQUARE, air_operation

from keepclear.domain.timefmt import format_utc


def _elsewhere(lon: float) -> list[list[list[float]]]:
    return [[[lon, 35.3], [lon + 0.2, 35.3], [lon + 0.2, 35.5], [lon, 35.5], [lon, 35.3]]]


def _ids(client, path: str = "/v1/activities") -> set[str]:
    return {view["id"] for view in client.get(path).json()}


def test_a_batch_is_checked_stored_and_delivered_as_each_alone(store_service: Service) -> None:
    service = store_service
    b_stream = SseReader(service, "b-liaison")
    try:
        with service.client("a-liaison") as a, service.client("b-liaison") as b:
            theirs = b.post("/v1/activities", json=air_operation(addressees=["a"], units=["ub"], contact="Bravo duty"))
            assert theirs.status_code == 201, theirs.text
            their_id = theirs.json()["activity"]["id"]
            far = {"geometry": {"type": "Polygon", "coordinates": _elsewhere(45.0)}, "lower_ft": 0, "upper_ft": 9000}
            body = {
                "activities": [
                    air_operation(id="a-batch-0"),  # over b's: a conflict
                    air_operation(id="a-batch-1", volumes=[far], start_h=60.0),
                    air_operation(volumes=[far], start_h=90.0),  # no id: one is made up
                ]
            }
            answer = a.post("/v1/activities/batch", json=body)
            assert answer.status_code == 201, answer.text
            results = answer.json()["activities"]
            assert [r["activity"]["id"] for r in results[:2]] == ["a-batch-0", "a-batch-1"]
            assert results[2]["activity"]["id"].startswith("a-")
            assert [[c["target_id"] for c in r["conflicts"]] for r in results] == [[their_id], [], []]
            assert all(r["addressees"] == ["b"] and r["activity"]["units"] == ["ua"] for r in results)
            new_ids = [r["activity"]["id"] for r in results]
            for activity_id in new_ids:
                b_stream.wait_for(
                    lambda e, i=activity_id: e["kind"] == "activity.notified" and e["payload"]["activity"]["id"] == i
                )
                seen = b.get(f"/v1/activities/{activity_id}")
                assert seen.status_code == 200 and "units" not in seen.json()
            # the strategic index holds the batch: b's next activity over a-batch-0 conflicts with it
            again = b.post("/v1/activities", json=air_operation(addressees=["a"], units=["ub"], contact="Bravo duty"))
            assert "a-batch-0" in [c["target_id"] for c in again.json()["conflicts"]]
    finally:
        b_stream.close()


def test_one_bad_activity_refuses_the_batch_naming_each_problem_by_index(store_service: Service) -> None:
    with store_service.client("a-liaison") as a:
        before = _ids(a)
        radius = {"circle": {"lat": 35.4, "lon": 40.0, "radius_m": -5}, "lower_ft": 0, "upper_ft": 1000}
        body = {
            "activities": [
                air_operation(id="a-fine-0"),
                air_operation(id="a-bad-1", volumes=[radius]),
                air_operation(id="a-bad-2", addressees=["nobody"], end=format_utc(time.time() - 60)),
                "not an activity",
                air_operation(id="a-fine-0"),
            ]
        }
        refused = a.post("/v1/activities/batch", json=body)
        assert refused.status_code == 422, refused.text
        errors = refused.json()["errors"]
        assert any(e.startswith("activities.3") or e.startswith("activities[3]") for e in errors), errors
        assert _ids(a) == before
        del body["activities"][3]  # what the body's own schema took: now each activity's values are judged
        refused = a.post("/v1/activities/batch", json=body)
        assert refused.status_code == 422, refused.text
        errors = refused.json()["errors"]
        assert any(e.startswith("activities[1].volumes[0].circle.radius_m") for e in errors), errors
        assert any(e.startswith("activities[2].addressees") for e in errors), errors
        assert any(e.startswith("activities[3].id") and "activities[0]" in e for e in errors), errors
        assert not any(e.startswith("activities[0]") for e in errors), errors
        assert _ids(a) == before
        stored = a.post("/v1/activities", json=air_operation(id="a-fine-0"))
        assert stored.status_code == 201, stored.text
        taken = a.post(
            "/v1/activities/batch", json={"activities": [air_operation(id="a-fine-9"), air_operation(id="a-fine-0")]}
        )
        assert taken.status_code == 409 and "activities[1]" in taken.json()["detail"], taken.text
        assert _ids(a) == before | {"a-fine-0"}
        assert a.post("/v1/activities/batch", json={"activities": []}).status_code == 422
        assert a.post("/v1/activities/batch", json={"activities": [air_operation()], "more": 1}).status_code == 422


def test_the_batch_size_is_a_setting_and_a_retry_is_answered_once(tmp_path) -> None:
    from apisupport import running_service

    with running_service(tmp_path / "data", max_activities_per_batch=2) as service, service.client("a-liaison") as a:
        before = _ids(a)
        far = {"geometry": {"type": "Polygon", "coordinates": SQUARE}, "lower_ft": 0, "upper_ft": 9000}
        three = {"activities": [air_operation(id=f"a-x-{i}", volumes=[far]) for i in range(3)]}
        refused = a.post("/v1/activities/batch", json=three)
        assert refused.status_code == 422 and "at most 2 in one batch" in refused.text
        two = {"activities": three["activities"][:2]}
        headers = {"Idempotency-Key": "ato-2017-11-03"}
        first = a.post("/v1/activities/batch", json=two, headers=headers)
        retry = a.post("/v1/activities/batch", json=two, headers=headers)
        assert first.status_code == retry.status_code == 201, (first.text, retry.text)
        assert retry.json() == first.json()
        assert _ids(a) == before | {"a-x-0", "a-x-1"}
        with service.client("b-liaison") as b, service.client("a-observer") as observer:
            assert b.get("/v1/activities/a-x-0").status_code == 200
            assert observer.post("/v1/activities/batch", json=two).status_code == 403
