"""The console on a scenario's clock (as in ``keepclear demo``): the top bar, the look-back slider and
the countdowns follow the deployment's time, not the browser's."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from consolesupport import Service, feed, running_service, shot, sign_in

from keepclear.domain.timefmt import format_utc, parse_utc
from keepclear.services.runtime.bus import ManualClock

START_S = parse_utc("2017-05-20T10:00:00Z", "start")
RATE = 60.0


@pytest.fixture(scope="module")
def scenario_clock() -> ManualClock:
    return ManualClock(START_S, rate=RATE)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, scenario_clock: ManualClock) -> Iterator[Service]:
    """The test service on a clock that runs at ×60 from 2017, moved in steps like the demo's driver."""
    stop = threading.Event()

    def run() -> None:
        wall0, clock0 = time.monotonic(), scenario_clock.now_s()
        while not stop.wait(0.25):
            scenario_clock.set(clock0 + (time.monotonic() - wall0) * RATE)

    mover = threading.Thread(target=run, daemon=True)
    mover.start()
    try:
        with running_service(tmp_path_factory.mktemp("clock") / "data", clock=scenario_clock) as svc:
            yield svc
    finally:
        stop.set()
        mover.join(timeout=5)


def shown_time_s(page: Any) -> float:
    return parse_utc(page.get_attribute("#utc", "data-time"), "shown")


def test_the_console_runs_on_the_scenario_clock(
    service: Service, scenario_clock: ManualClock, pages: dict[str, Any]
) -> None:
    with service.client("a-liaison") as client:
        me = client.get("/v1/me").json()
    assert me["clock_rate"] == RATE and me["now"].startswith("2017-05-20T")
    page = pages["a"]
    sign_in(page, service.url, service.keys["a-liaison"])
    # The top bar: the scenario's time and pace, not the browser's.
    assert abs(shown_time_s(page) - scenario_clock.now_s()) < 45, (page.text_content("#utc"), me)
    assert page.text_content("#clock-rate") == "×60"
    first_s = shown_time_s(page)
    page.wait_for_timeout(2000)
    moved_s = shown_time_s(page) - first_s
    assert 80 < moved_s < 200, moved_s  # ~120 scenario seconds in 2 wall seconds
    assert abs(shown_time_s(page) - scenario_clock.now_s()) < 45

    # Look back: the history is asked for from the scenario's time, so the unit is still on the map.
    for _ in range(8):
        now_s = scenario_clock.now_s()
        report = {
            "unit_id": "ua", "time": format_utc(round(now_s)), "lat_deg": 35.0, "lon_deg": 38.0 + (now_s - START_S) / 36000,
            "alt_m": 6000.0, "vel_east_mps": 250.0, "vel_north_mps": 0.0, "vel_up_mps": 0.0,
        }  # fmt: skip
        feed(service, "a", [report])
        time.sleep(0.5)
    page.wait_for_timeout(3000)  # 3 min of scenario time: the oldest report is well over a minute old
    page.fill("#lookback", "-1")
    output = page.locator("#lookback-value")
    output.filter(has_text="(-1 min)").wait_for(timeout=10_000)
    shown = output.text_content() or ""
    at = datetime.fromtimestamp(scenario_clock.now_s() - 60, tz=UTC)
    assert shown.startswith(at.strftime("%H:")), shown  # the scenario's hour, a minute back
    page.wait_for_function(
        "() => window.keepclear.app.map.map.querySourceFeatures('tracks').some(f => f.properties.unit_id === 'ua')",
        timeout=10_000,
    )
    shot(page, "20-scenario-clock-look-back")
    # The LoS countdown runs at the scenario's pace (a made-up alert with 10 min to loss of separation).
    left = page.evaluate(
        """async () => { const a = window.keepclear.app.alerts; a.loadedAtMs = window.keepclear.app.clock.nowMs();
             const before = a.timeToLos({time_to_los_s: 600}); await new Promise(r => setTimeout(r, 1000));
             return [before, a.timeToLos({time_to_los_s: 600})]; }"""
    )
    assert 30 < left[0] - left[1] < 100, left
    assert page.errors == []
