"""The Units panel shows where each own unit's reports come from and when the last one arrived."""

from __future__ import annotations

import time
from typing import Any

from apisupport import Service
from consolesupport import feed, sign_in


def test_the_units_panel_shows_each_feeds_source_and_last_message(service: Service, pages: dict[str, Any]) -> None:
    report = {"unit_id": "ua", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "lat_deg": 36.0,
              "lon_deg": 2.0, "alt_m": 1000.0}  # fmt: skip
    answer = feed(service, "a", [report], {"X-Keepclear-Source": "interop a-tak: cot:tcp:8087"})
    assert answer["accepted"] == 1, answer
    service.runtime.pump()
    sign_in(pages["a"], service.url, service.keys["a-liaison"])
    pages["a"].click("#tab-units")
    line = pages["a"].wait_for_selector('#units-list li[data-unit="ua"] .feed', timeout=10_000)
    assert line is not None
    text = line.inner_text()
    assert "interop a-tak: cot:tcp:8087" in text and "last message" in text
