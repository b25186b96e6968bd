"""Issue 15 item 8: tracks were gone after a restart. A batch answered 202 is durable: after kill -9
of a real ``keepclear serve`` and a restart, its reports are in the track history (evidence and
look-back) and the units are back in the picture. Both stores.
"""

from __future__ import annotations

import time
from pathlib import Path

from drillsupport import client, history, populate, track_batch, unit_ids

from keepclear.domain.timefmt import format_utc
from serving import serve


def test_item8_acknowledged_tracks_survive_kill_9_and_restart(tmp_path: Path, database_url: str):
    keys = populate(tmp_path / "data", database_url)
    server = serve(tmp_path / "data", tmp_path / "serve.log", database_url=database_url)
    server.start()
    try:
        now_s = time.time()
        times = [now_s - 40.0 + 2.5 * k for k in range(12)]  # 2.5 s apart: history keeps every one
        with client(server, keys["a-feed"]) as feed_a, client(server, keys["b-feed"]) as feed_b:
            for time_s in times:
                for feed, party in ((feed_a, "a"), (feed_b, "b")):
                    answer = feed.post("/v1/tracks", json=track_batch(party, time_s))
                    assert answer.status_code == 202 and answer.json()["accepted"] == 8, answer.text
        server.kill9()  # at once after the last 202: nothing had a chance to be flushed later
        server.start()
        for party in ("a", "b"):
            expected = sorted((u, format_utc(t)) for u in unit_ids(party) for t in times)
            assert sorted(history(server, keys[f"{party}-liaison"], now_s - 60.0)) == expected
        with client(server, keys["a-liaison"]) as a:
            picture = a.get("/v1/tracks")
            assert picture.status_code == 200, picture.text
            assert {t["unit_id"] for t in picture.json()} >= set(unit_ids("a"))
            # An incident reported now finds the evidence of the restored history.
            incident = a.post(
                "/v1/incidents",
                json={"time": format_utc(times[-1]), "summary": "after restart", "unit_ids": ["ua0"]},
            )
            assert incident.status_code == 201, incident.text
    finally:
        server.stop()
