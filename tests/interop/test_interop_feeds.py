"""GET /v1/feeds: each own unit's feed source (the adapter's X-Keepclear-Source, else the key) and the
time of its last message; another party's feeds are never shown."""

from __future__ import annotations

import time

from apisupport import Service
from interopsupport import wait_for

from keepclear.domain.timefmt import format_utc, parse_utc
from keepclear.interop.mapping import IdKind
from keepclear.interop.observation import Observation, Stats
from keepclear.interop.poster import Poster


def test_feeds_name_each_units_source_and_last_message(service: Service) -> None:
    stats = Stats()
    poster = Poster(service.url, service.keys["a-feed"], stats, flush_s=0.05, source="interop a-tak: cot:tcp:8087")
    poster.start()
    before_s = time.time()
    try:
        poster.offer([("ua", Observation(IdKind.COT, "ANDROID-A1", time.time(), 36.0, 2.0))])
        wait_for(lambda: stats.snapshot()["accepted"], what="the report")
    finally:
        poster.stop()
    report = {"unit_id": "ub", "time": format_utc(time.time()), "lat_deg": 37.0, "lon_deg": 3.0, "alt_m": 0.0}
    with service.client("b-feed") as b_feed:
        assert b_feed.post("/v1/tracks", json={"reports": [report]}).json()["accepted"] == 1
    with service.client("a-liaison") as a, service.client("b-observer") as b, service.client("a-feed") as feed:
        [mine] = a.get("/v1/feeds").json()
        [theirs] = b.get("/v1/feeds").json()
        assert feed.get("/v1/feeds").status_code == 403
    assert (mine["unit_id"], mine["source"]) == ("ua", "interop a-tak: cot:tcp:8087")
    assert before_s - 1 <= parse_utc(mine["last_message"], "last_message") <= time.time() + 1
    assert theirs["unit_id"] == "ub" and theirs["source"].startswith("HTTP (key ")
