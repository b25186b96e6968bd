"""A hotline socket's posts waiting for their commit are bounded in bytes, not only in count.

The bound was 20,000 posts whatever their size (each frame up to megabytes): one socket posting
while commits stall could hold gigabytes. Past ``hotline_max_pending_post_bytes`` the socket is read
no further until its posts commit, as past the count (TCP pushes back), and nothing is lost.
The commit is stalled for real: another connection holds the SQLite file's write lock.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from apisupport import Service, running_service
from websockets.sync.client import connect

BOUND_BYTES = 1 << 20
PAD_CHARS = 400_000
BIG_POSTS = 8


def _gauges(service: Service) -> dict[str, Any]:
    with service.client("admin") as admin:
        return dict(admin.get("/v1/metrics").json()["counters"])


def test_posts_waiting_for_a_stalled_commit_are_bounded_in_bytes(tmp_path: Path) -> None:
    with running_service(tmp_path / "data", hotline_max_pending_post_bytes=BOUND_BYTES) as service:
        with service.client("a-liaison") as a:
            [thread] = [t for t in a.get("/v1/hotline/threads").json() if t["standing"] and "b" in t["parties"]]
        path = service.deployment.db.sqlite_path
        assert path is not None
        uri = service.url.replace("http", "ws") + f"/v1/hotline/ws?key={service.keys['a-liaison']}&person=duty"
        with connect(uri, open_timeout=60, max_size=None) as ws:
            ws.send(json.dumps({"type": "resume", "cursors": {}}))
            while json.loads(ws.recv(timeout=30)).get("type") != "resumed":
                pass
            lock = sqlite3.connect(path, timeout=30, isolation_level=None)
            lock.execute("BEGIN IMMEDIATE")  # every writer of the deployment waits meanwhile
            try:
                post = {"type": "post", "thread_id": thread["id"], "kind": "text"}
                ws.send(json.dumps({**post, "ref": 0, "idempotency_key": "stall-000000", "body": "first"}))
                for ref in range(1, BIG_POSTS + 1):  # refused once read (a field no post has), but read first
                    big = {**post, "ref": ref, "idempotency_key": f"stall-{ref:06d}", "pad": "x" * PAD_CHARS}
                    ws.send(json.dumps(big))
                deadline = time.monotonic() + 4.0
                waiting = _gauges(service)
                while time.monotonic() < deadline and waiting["hotline_posts_waiting_max"] < BIG_POSTS:
                    time.sleep(0.2)
                    waiting = _gauges(service)
                shown = str({name: value for name, value in waiting.items() if "posts_waiting" in name})
                # the commit stalls: the first post in it, two big ones wait, the rest are not read
                assert waiting["hotline_posts_waiting_max"] <= BOUND_BYTES // PAD_CHARS, shown
                assert 0 < waiting["hotline_posts_waiting_bytes_max"] <= BOUND_BYTES, shown
            finally:
                lock.execute("ROLLBACK")
                lock.close()
            answers: dict[int, str] = {}
            while len(answers) < BIG_POSTS + 1:
                frame = json.loads(ws.recv(timeout=30))
                for item in frame["frames"] if frame["type"] == "batch" else [frame]:
                    if "ref" in item:
                        answers[item["ref"]] = item["type"]
        assert answers[0] == "accepted" and all(answers[ref] == "error" for ref in range(1, BIG_POSTS + 1)), answers
        after = _gauges(service)
        assert after["hotline_posts_waiting_bytes_max"] == 0, after
