"""Reading the world of a scenario: its zones (a GeoJSON file next to the scenario file) and its
sensors (noise, report intervals and dropouts of the feeds). Every problem noted with its line."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path as FilePath

from keepclear.domain import Domain, Zone
from keepclear.errors import ValidationError
from keepclear.geo.zone_geojson import zones_from_geojson
from keepclear.scenario.fields import FieldReader
from keepclear.scenario.located import Path
from keepclear.scenario.model import Dropouts, SensorModel

_SENSORS = frozenset({"position_sigma_m", "altitude_sigma_m", "velocity_sigma_mps", "report_interval_s", "dropout"})
_DROPOUT = frozenset({"probability", "outages_per_h", "outage_mean_s"})


def read_sensors(r: FieldReader) -> SensorModel:
    """The ``sensors`` section (defaults: perfect sensors at each domain's report interval)."""
    p: Path = ("sensors",)
    if r.get(p) is None:
        return SensorModel()
    r.mapping(p, _SENSORS)
    default = SensorModel()
    intervals = dict(default.report_interval_s)
    raw = r.get((*p, "report_interval_s"))
    if raw is not None:
        r.mapping((*p, "report_interval_s"), frozenset(d.value for d in Domain))
        for domain in Domain:
            value = r.number((*p, "report_interval_s", domain.value), required=False, minimum=0.1)
            if value is not None:
                intervals[domain] = value
    d: Path = (*p, "dropout")
    dropouts = Dropouts()
    if r.get(d) is not None:
        r.mapping(d, _DROPOUT)
        dropouts = Dropouts(
            probability=r.number((*d, "probability"), required=False, default=0.0, minimum=0.0, maximum=1.0) or 0.0,
            outages_per_h=r.number((*d, "outages_per_h"), required=False, default=0.0, minimum=0.0) or 0.0,
            outage_mean_s=r.number((*d, "outage_mean_s"), required=False, default=60.0, minimum=0.0) or 60.0,
        )
    return SensorModel(
        position_sigma_m=r.number((*p, "position_sigma_m"), required=False, default=0.0, minimum=0.0) or 0.0,
        altitude_sigma_m=r.number((*p, "altitude_sigma_m"), required=False, default=0.0, minimum=0.0) or 0.0,
        velocity_sigma_mps=r.number((*p, "velocity_sigma_mps"), required=False, default=0.0, minimum=0.0) or 0.0,
        report_interval_s=intervals,
        dropouts=dropouts,
    )


def read_zones(r: FieldReader, base: FilePath | None, party_ids: Collection[str]) -> list[Zone]:
    """The zones of the GeoJSON file ``scenario.zones`` names, read from the folder ``base``; a zone
    may permit only the scenario's parties ``party_ids`` (installed, it would be refused otherwise)."""
    name = r.get(("scenario", "zones"))
    if name is None:
        return []
    if not isinstance(name, str) or base is None:
        r.problem(("scenario", "zones"), "must name a GeoJSON file next to the scenario file")
        return []
    path = base / name
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        r.problem(("scenario", "zones"), f"cannot read {path}: {exc.strerror}")
        return []
    except json.JSONDecodeError as exc:
        r.problem(("scenario", "zones"), f"{name} line {exc.lineno}: not JSON ({exc.msg})")
        return []
    try:
        return zones_from_geojson(document, parties=party_ids)
    except ValidationError as exc:
        for problem in exc.problems:
            r.problem(("scenario", "zones"), f"{name} {problem}")
        return []
