"""How fast the founding scenario is simulated and played flat out (in process, a no-op sink).

The figure that matters: a 4-hour scenario at ×1000 must be played in 14.4 s of wall time, so the
simulator and driver must deliver well above 1,000 scenario seconds per wall second on their own.

    .venv/bin/python bench/bench_scenario.py
"""

from __future__ import annotations

import time

from keepclear.scenario import DriverConfig, ScenarioDriver, SensorModel, Simulator, SinkTransport, resolve_scenario


def main() -> None:
    """Print one table: build, play, and the speed-up over real time."""
    scenario = resolve_scenario("euphrates-2017")
    span_s = scenario.end_s - scenario.start_s
    rows = []
    for label, sensors in (("noisy sensors", None), ("perfect sensors", SensorModel())):
        started = time.perf_counter()
        sim = Simulator(scenario, sensors=sensors)
        built_s = time.perf_counter() - started
        delivered = [0]

        def sink(_party: str, reports: object, delivered: list[int] = delivered) -> None:
            delivered[0] += len(reports)  # type: ignore[arg-type]

        driver = ScenarioDriver(sim, SinkTransport(sink), None, DriverConfig(speed=None, max_step_s=5.0))
        started = time.perf_counter()
        driver.run()
        played_s = time.perf_counter() - started
        rows.append((label, built_s, played_s, delivered[0], span_s / played_s))
    print(f"euphrates-2017: {span_s / 3600:.1f} h, {len(scenario.plans)} units")
    print(f"{'run':<16} {'build s':>8} {'play s':>8} {'reports':>8} {'x real time':>12} {'x / x1000 target':>17}")
    for label, built_s, played_s, count, speedup in rows:
        print(f"{label:<16} {built_s:8.2f} {played_s:8.2f} {count:8d} {speedup:12.0f} {speedup / 1000:17.1f}")


if __name__ == "__main__":
    main()
