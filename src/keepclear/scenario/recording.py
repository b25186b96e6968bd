"""Recorded tracks: real reports of one unit, read from a CSV file next to the scenario.

Columns: ``time`` (ISO 8601 with zone), ``lat_deg``, ``lon_deg``, ``alt_m``, ``vel_east_mps``,
``vel_north_mps``, ``vel_up_mps``. Every row is checked like a live report; a bad row is an error naming
the file, the line and the column. Times must increase strictly.
"""

from __future__ import annotations

import csv
from pathlib import Path

from keepclear.domain import TrackReport, track_report_problems
from keepclear.domain.timefmt import parse_utc

COLUMNS = ("time", "lat_deg", "lon_deg", "alt_m", "vel_east_mps", "vel_north_mps", "vel_up_mps")


def read_recording(path: Path, unit_id: str) -> tuple[tuple[TrackReport, ...], list[str]]:
    """The reports in ``path`` for ``unit_id``, and every problem found (file, line, column)."""
    problems: list[str] = []
    reports: list[TrackReport] = []
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        return (), [f"cannot read {path.name}: {exc.strerror}"]
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            return (), [f"{path.name} line 1: missing columns {', '.join(missing)} (needs {', '.join(COLUMNS)})"]
        for row in reader:
            where = f"{path.name} line {reader.line_num}"
            try:
                time_s = parse_utc(row["time"], "time")
                values = [float(row[c]) for c in COLUMNS[1:]]
            except (ValueError, TypeError) as exc:
                problems.append(f"{where}: {exc}")
                continue
            report = TrackReport(unit_id, time_s, *values)
            row_problems = track_report_problems(report)
            problems += [f"{where}: {p}" for p in row_problems]
            if reports and time_s <= reports[-1].time_s:
                problems.append(f"{where}: time: {row['time']} does not come after the previous row")
            if not row_problems:
                reports.append(report)
            if len(problems) >= 20:
                problems.append(f"{path.name}: stopped after 20 problems")
                break
    if not reports and not problems:
        problems.append(f"{path.name}: has no rows")
    return tuple(reports), problems
