"""Build the refuelling-2020 pack from a real trajectory shipped in the PyPI package ``traffic``.

Usage (``traffic`` needs ``pandas<3``; install it in a separate environment, it is not a keepclear
dependency; only its data file is read here, with the standard library and numpy):

    python3 -m venv /tmp/traffic-venv && /tmp/traffic-venv/bin/pip install "traffic==2.13.*" "pandas<3"
    .venv/bin/python scripts/build_refuelling_pack.py \
        /tmp/traffic-venv/lib/python3.11/site-packages/traffic/data/samples/military/inflight_refuelling.json.gz

The sample is one aircraft (callsign FAF4011) flying refuelling racetracks over central France on
30 June 2020, one position a second. Rows are dropped, never altered: rows without a position, and
rows whose barometric altitude is an outlier (outside 0..50,000 ft, or more than 1,500 ft from the
median of the 31 s around it), rows repeating the previous row's position (no new position was
received that second), and positions implying more than 350 m/s (plus 300 m of jitter) from the last kept one. The rest is thinned to at most one report every 4 s; velocities are taken
from the positions (central differences), because the sample's speed and track columns are a single
value carried forward. Output: ``src/keepclear/data/scenarios/refuelling-2020/faf4011.csv``.
"""

from __future__ import annotations

import csv
import gzip
import json
import sys
from pathlib import Path

import numpy as np

from keepclear.domain import TrackReport, track_report_problems
from keepclear.domain.timefmt import format_utc
from keepclear.geo import distance_m
from keepclear.geo.geodesy import WGS84_A_M, WGS84_E2

OUT = Path(__file__).resolve().parent.parent / "src/keepclear/data/scenarios/refuelling-2020/faf4011.csv"
FT_M = 0.3048
THIN_S = 4
MEDIAN_WINDOW = 31
MAX_ALT_FT = 50_000.0
MAX_ALT_JUMP_FT = 1_500.0
#: Faster than this tanker flies: a position implying it is a decoding error.
MAX_SPEED_MPS = 350.0
#: Positions are binned to whole seconds, so consecutive ones jitter by up to a few hundred metres.
POSITION_SLACK_M = 300.0


def load(path: Path) -> list[dict[str, object]]:
    """The sample's rows (a JSON array of records, gzip-compressed)."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        rows = json.load(handle)
    assert isinstance(rows, list)
    return rows


def convert(rows: list[dict[str, object]]) -> tuple[list[TrackReport], dict[str, int]]:
    """Clean, thin and convert the rows to reports; returns the reports and what was dropped."""
    counts = {"rows": len(rows)}
    have = [r for r in rows if r.get("latitude") is not None and r.get("longitude") is not None]
    counts["dropped_no_position"] = len(rows) - len(have)
    t = np.array([float(r["timestamp"]) / 1000.0 for r in have])  # type: ignore[arg-type]
    lat = np.array([float(r["latitude"]) for r in have])  # type: ignore[arg-type]
    lon = np.array([float(r["longitude"]) for r in have])  # type: ignore[arg-type]
    alt_ft = np.array([float(r["altitude"]) for r in have])  # type: ignore[arg-type]
    half = MEDIAN_WINDOW // 2
    padded = np.pad(alt_ft, half, mode="edge")
    median = np.array([np.median(padded[i : i + MEDIAN_WINDOW]) for i in range(len(alt_ft))])
    good = (alt_ft >= 0) & (alt_ft <= MAX_ALT_FT) & (np.abs(alt_ft - median) <= MAX_ALT_JUMP_FT)
    counts["dropped_altitude_outlier"] = int((~good).sum())
    t, lat, lon, alt_ft = t[good], lat[good], lon[good], alt_ft[good]
    fresh = np.ones(len(t), dtype=bool)
    fresh[1:] = (np.diff(lat) != 0) | (np.diff(lon) != 0)
    counts["dropped_repeated_position"] = int((~fresh).sum())
    t, lat, lon, alt_ft = t[fresh], lat[fresh], lon[fresh], alt_ft[fresh]
    plausible = np.ones(len(t), dtype=bool)
    last = 0
    for i in range(1, len(t)):
        jump_m = float(distance_m(lat[last], lon[last], lat[i], lon[i]))
        if jump_m > MAX_SPEED_MPS * (t[i] - t[last]) + POSITION_SLACK_M:
            plausible[i] = False
        else:
            last = i
    counts["dropped_position_jump"] = int((~plausible).sum())
    t, lat, lon, alt_ft = t[plausible], lat[plausible], lon[plausible], alt_ft[plausible]
    thin = np.zeros(len(t), dtype=bool)
    last_s = -np.inf
    for i, time_s in enumerate(t):
        if time_s - last_s >= THIN_S:
            thin[i] = True
            last_s = time_s
    t, lat, lon, alt_m = t[thin], lat[thin], lon[thin], alt_ft[thin] * FT_M
    counts["thinned_away"] = int((~thin).sum())
    lat_r = np.radians(lat)
    w = np.sqrt(1.0 - WGS84_E2 * np.sin(lat_r) ** 2)
    vn = np.gradient(lat_r, t) * WGS84_A_M * (1.0 - WGS84_E2) / w**3
    ve = np.gradient(np.radians(lon), t) * WGS84_A_M / w * np.cos(lat_r)
    vu = np.gradient(alt_m, t)
    reports = []
    for i in range(len(t)):
        report = TrackReport("faf4011", float(round(t[i], 3)), float(lat[i]), float(lon[i]), float(alt_m[i]),
                             float(ve[i]), float(vn[i]), float(vu[i]))  # fmt: skip
        if not track_report_problems(report):
            reports.append(report)
    counts["dropped_invalid"] = len(t) - len(reports)
    counts["kept"] = len(reports)
    return reports, counts


def write(reports: list[TrackReport]) -> None:
    """The CSV the pack's scenario names as the unit's recording."""
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["time", "lat_deg", "lon_deg", "alt_m", "vel_east_mps", "vel_north_mps", "vel_up_mps"])
        for r in reports:
            out.writerow([format_utc(r.time_s), f"{r.lat_deg:.6f}", f"{r.lon_deg:.6f}", f"{r.alt_m:.1f}",
                          f"{r.vel_east_mps:.2f}", f"{r.vel_north_mps:.2f}", f"{r.vel_up_mps:.2f}"])  # fmt: skip


def main(argv: list[str]) -> int:
    """Convert the sample named on the command line."""
    if len(argv) != 2:
        print(__doc__)
        return 2
    reports, counts = convert(load(Path(argv[1])))
    write(reports)
    span = f"{format_utc(reports[0].time_s)} .. {format_utc(reports[-1].time_s)}"
    print(f"wrote {OUT}: {span}; " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
