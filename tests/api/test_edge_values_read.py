"""Values at the edges of what the validators accept, stored by one party, read by every other.

Found by a generated sweep (the longest texts, bidirectional overrides, joiners, combining marks,
characters outside the BMP, noncharacters, -0.0 and subnormal numbers, the earliest and latest
times, shapes at the poles and the antimeridian, on every write path; then every read path of
every party and the admin): each test pins one value that was accepted at the edge and broke a
write or a later read, on SQLite and on PostgreSQL (``store_service``).
"""

from __future__ import annotations

from apisupport import Service
from test_api_activities import air_operation
from test_input_hardening import assert_problem, raw

#: The last microsecond of the year 9999: a valid ISO time, but as seconds since the epoch (a float,
#: spaced 30 µs apart there) it is 253402300800.0, the year 10000, which no time can be written as.
LAST_MICROSECOND = "9999-12-31T23:59:59.999999Z"


def test_a_time_whose_seconds_round_past_the_year_9999_is_refused_naming_it(store_service: Service) -> None:
    with store_service.client("a-liaison") as a, store_service.client("b-liaison") as b:
        # An activity ending then was a 500 (its notice could not be written), as was a zone valid until then.
        notified = raw(a, "POST", "/v1/activities", air_operation(end=LAST_MICROSECOND))
        assert_problem(notified, 422, "end", "9999")
        history = a.get("/v1/tracks/history", params={"since": "2020-01-01T00:00:00Z", "until": LAST_MICROSECOND})
        assert_problem(history, 422, "until")
        for client in (a, b):
            listed = client.get("/v1/activities")
            assert listed.status_code == 200 and listed.json() == [], listed.text
        # The last whole second of the year is a time like any other.
        kept = raw(a, "POST", "/v1/activities", air_operation(end="9999-12-31T23:59:59Z"))
        assert kept.status_code == 201, kept.text
        assert b.get(f"/v1/activities/{kept.json()['activity']['id']}").json()["end"] == "9999-12-31T23:59:59Z"
    with store_service.client("admin") as admin:
        before = admin.get("/v1/zones").json()
        zone = {
            "type": "Feature",
            "id": "z-last",
            "geometry": {"type": "Point", "coordinates": [40.0, 35.0]},
            "properties": {"kind": "protected-site", "name": "Site", "radius_m": 500, "valid_until": LAST_MICROSECOND},
        }
        imported = raw(admin, "POST", "/v1/zones", {"type": "FeatureCollection", "features": [zone]})
        assert_problem(imported, 422, "valid_until")
        assert admin.get("/v1/zones").json() == before
