"""Track reports as a feed sends them, for the tests that drive aircraft through a real server."""

from __future__ import annotations

from keepclear.domain.timefmt import format_utc


def air_report(
    unit_id: str, lon_deg: float, east_mps: float, time_s: float, lat_deg: float = 35.0
) -> dict[str, object]:
    """One report of ``unit_id`` at 7,000 m flying east at ``east_mps`` (west when negative)."""
    return {
        "unit_id": unit_id,
        "time": format_utc(time_s),
        "lat_deg": lat_deg,
        "lon_deg": lon_deg,
        "alt_m": 7000.0,
        "vel_east_mps": east_mps,
        "vel_north_mps": 0.0,
    }
