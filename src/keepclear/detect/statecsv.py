"""Read unit states from CSV text in the reference format (``id,lat_deg,lon_deg,alt_m,gs_mps,trk_deg,vs_mps``).

Optional columns ``party`` and ``domain`` (air, land, sea); without them every row is its own
party and in the air. Every problem names its line; nothing is fixed silently.
"""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import numpy.typing as npt

from keepclear.detect.minima import DOMAIN_CODES
from keepclear.detect.states import TrackStates, states_from_track
from keepclear.domain import Domain, TrackReport, track_report_problems
from keepclear.domain.tracks import track_columns_valid

REQUIRED = ("id", "lat_deg", "lon_deg", "alt_m", "gs_mps", "trk_deg", "vs_mps")
MAX_PROBLEMS = 20


class StatesCsvError(ValueError):
    """The CSV was refused; ``problems`` name the line of each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def parse_states_csv(text: str, source: str = "states.csv") -> TrackStates:
    """Parse the whole text or raise ``StatesCsvError`` listing the problems (first 20).

    A well-formed file is read by whole columns; any doubt sends it through the line-by-line
    reader, which accepts exactly the same files and names the line of each problem.
    """
    try:
        return _parse_columns(text) or _parse_lines(text, source)
    except csv.Error as exc:  # a field past the csv module's limit (131,072 characters), a NUL...
        raise StatesCsvError([f"{source}: not a CSV file the probe can read ({exc})"]) from None


def _parse_columns(text: str) -> TrackStates | None:
    """The states of a file with no problem at all, checked by whole columns; None at any doubt."""
    reader = csv.reader(io.StringIO(text))
    names = [h.strip() for h in next(reader, [])]
    if any(c not in names for c in REQUIRED):
        return None
    col = {name: k for k, name in enumerate(names)}
    body = [row for row in reader if row and (row[0].strip() or any(c.strip() for c in row))]
    if any(len(row) != len(names) for row in body):
        return None
    columns = list(zip(*body, strict=True)) if body else [() for _ in names]
    ids = [unit.strip() for unit in columns[col["id"]]]
    if "" in ids or len(set(ids)) != len(ids):
        return None
    try:  # float() of each text, as the line-by-line reader does (it strips first; float() ignores spaces)
        a = np.array([list(map(float, columns[col[name]])) for name in REQUIRED[1:]], dtype=np.float64).T.reshape(-1, 6)
    except ValueError:
        return None
    lat, lon, alt, gs, trk, vs = a.T
    with np.errstate(invalid="ignore"):
        if not bool(np.all(np.isfinite(gs) & (gs >= 0.0) & np.isfinite(trk))):
            return None
    rad = np.radians(trk)
    if not bool(np.all(track_columns_valid(np.zeros(len(ids)), lat, lon, alt, gs * np.sin(rad), gs * np.cos(rad), vs))):
        return None
    domains = [DOMAIN_CODES[Domain.AIR]] * len(ids)
    if "domain" in col:
        by_name = {d.value: DOMAIN_CODES[d] for d in Domain}
        try:
            domains = [by_name[text.strip().lower()] for text in columns[col["domain"]]]
        except KeyError:
            return None
    parties = ids
    if "party" in col:
        parties = [text.strip() for text in columns[col["party"]]]
        if "" in parties:
            return None
    return _states(ids, parties, domains, a)


def _parse_lines(text: str, source: str) -> TrackStates:
    """Line by line, collecting every problem with its line (the first 20)."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise StatesCsvError([f"{source}: empty file (expected a header {','.join(REQUIRED)})"])
    names = [h.strip() for h in header]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise StatesCsvError([f"{source} line 1: missing column(s) {', '.join(missing)}"])
    col = {name: k for k, name in enumerate(names)}
    has_party, has_domain = "party" in col, "domain" in col
    problems: list[str] = []
    ids: list[str] = []
    parties: list[str] = []
    domains: list[int] = []
    numbers: list[list[float]] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if len(problems) >= MAX_PROBLEMS:
            break
        if len(row) != len(names):
            problems.append(f"{source} line {line}: {len(row)} fields, expected {len(names)}")
            continue
        unit = row[col["id"]].strip()
        if not unit:
            problems.append(f"{source} line {line}: id is empty")
            continue
        if unit in seen:
            problems.append(f"{source} line {line}: id {unit!r} already on line {seen[unit]}")
            continue
        seen[unit] = line
        values: list[float] = []
        for name in REQUIRED[1:]:
            raw = row[col[name]].strip()
            try:
                values.append(float(raw))
            except ValueError:
                problems.append(f"{source} line {line}: {name} {raw!r} is not a number")
        if len(values) != len(REQUIRED) - 1:
            continue
        lat, lon, alt, gs, trk, vs = values
        if not (math.isfinite(gs) and gs >= 0):
            problems.append(f"{source} line {line}: gs_mps {gs!r} must be a finite number >= 0")
            continue
        if not math.isfinite(trk):
            problems.append(f"{source} line {line}: trk_deg {trk!r} is not a finite number")
            continue
        rad = math.radians(trk)
        report = TrackReport(unit, 0.0, lat, lon, alt, gs * math.sin(rad), gs * math.cos(rad), vs)
        problems.extend(f"{source} line {line}: {p}" for p in track_report_problems(report))
        domain = Domain.AIR
        if has_domain:
            raw = row[col["domain"]].strip().lower()
            try:
                domain = Domain(raw)
            except ValueError:
                problems.append(f"{source} line {line}: domain {raw!r} is not one of air, land, sea")
        party = unit
        if has_party:
            party = row[col["party"]].strip()
            if not party:
                problems.append(f"{source} line {line}: party is empty")
        ids.append(unit)
        parties.append(party)
        domains.append(DOMAIN_CODES[domain])
        numbers.append(values)
    if problems:
        raise StatesCsvError(problems[:MAX_PROBLEMS])
    return _states(ids, parties, domains, np.array(numbers, dtype=np.float64).reshape(-1, 6))


def _states(ids: list[str], parties: list[str], domains: list[int], a: npt.NDArray[np.float64]) -> TrackStates:
    """States from the parsed columns (``a``: lat, lon, alt, gs, trk, vs per row); parties coded
    in order of first appearance."""
    codes: dict[str, int] = {}
    party_codes = np.array([codes.setdefault(p, len(codes)) for p in parties], dtype=np.int64)
    return states_from_track(
        tuple(ids),
        party_codes,
        np.array(domains, dtype=np.int64),
        np.zeros(len(ids)),
        a[:, 0],
        a[:, 1],
        a[:, 2],
        a[:, 3],
        a[:, 4],
        a[:, 5],
    )
