"""A party's tactical picture is built once a tick, however many of its streams send it.

Each ``/v1/stream`` connection sends its party's picture after every probe tick. Built per
connection, 200 consoles of one party over a picture of 2,000 units made 200 JSON texts of half a
megabyte every tick on the event loop, and another party's alerts reached its stream 7 to 9 s late
(bench: 28 ms without them). On a real server: many streams of one party each receive picture after
picture, and ``stream_pictures_built_total`` grows by the ticks, not by the ticks times the streams.
"""

from __future__ import annotations

import time
from pathlib import Path

from apisupport import SseReader, counter, running_service

STREAMS = 12
#: Pictures each stream receives before the count is read.
PICTURES_EACH = 8


def _pictures(reader: SseReader) -> int:
    return sum(1 for event in list(reader.events) if event.get("kind") == "tracks.picture")


def test_a_partys_picture_is_built_once_a_tick_for_all_its_streams(tmp_path: Path) -> None:
    with running_service(tmp_path / "data", max_streams_per_key=STREAMS) as service:
        readers = [SseReader(service, "a-liaison") for _ in range(STREAMS)]
        try:
            deadline = time.monotonic() + 60
            while min(_pictures(r) for r in readers) < PICTURES_EACH:
                assert time.monotonic() < deadline, [_pictures(r) for r in readers]
                time.sleep(0.05)
            built = counter(service, "stream_pictures_built_total")
            most = max(_pictures(r) for r in readers)
            sent = sum(_pictures(r) for r in readers)
        finally:
            for reader in readers:
                reader.close()
    assert sent >= STREAMS * PICTURES_EACH
    # Every picture any stream received was built for one tick of the party's, once: at most the
    # ticks since the first stream opened (the most one stream received, and the ticks while the
    # others opened), never one per stream and tick.
    assert 1 <= built <= most + 10, (built, most, sent)
