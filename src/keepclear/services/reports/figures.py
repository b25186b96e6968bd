"""Map figures of an after-action report (matplotlib, offline): an overview, one per alert, one per incident.

Drawn on the bundled basemap (Natural Earth country outlines clipped to the Middle East, see
``keepclear/data/basemap/PROVENANCE.md``) with the scenario's zones and lines; tracks are the
simulator's noise-free truth, so a figure shows what happened, not what a sensor saw.
"""

from __future__ import annotations

import io
import json
from importlib import resources
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from shapely.geometry import shape

from keepclear.domain.timefmt import format_utc
from keepclear.geo.zone_geojson import zones_to_geojson
from keepclear.services.runtime.scenario_run import ScenarioRun

_PARTY_COLOURS = ("tab:blue", "tab:red", "tab:green", "tab:purple", "tab:orange", "tab:brown")
_ZONE_COLOURS = {
    "de-escalation-zone": "#f4c542",
    "deconfliction-line": "#3b8bd9",
    "restricted-operating-zone": "#d95f3b",
    "protected-site": "#2ca02c",
}


def basemap() -> dict[str, Any]:
    """The bundled country outlines (GeoJSON FeatureCollection)."""
    source = resources.files("keepclear.data").joinpath("basemap/middle-east-countries.geojson")
    document: dict[str, Any] = json.loads(source.read_text())
    return document


def _draw_polygonal(ax: Axes, geometry: Any, **style: Any) -> None:
    geoms = getattr(geometry, "geoms", [geometry])
    for geom in geoms:
        if geom.geom_type == "Polygon":
            x, y = geom.exterior.xy
            ax.fill(x, y, **style)
        elif geom.geom_type in ("LineString", "LinearRing"):
            x, y = geom.xy
            ax.plot(x, y, color=style.get("edgecolor", "k"), linewidth=1.5)
        elif geom.geom_type == "Point":
            ax.plot(geom.x, geom.y, marker="+", color=style.get("edgecolor", "k"))
        else:
            _draw_polygonal(ax, geom, **style)


class MapPainter:
    """Draws the scenario's ground (countries, zones) under tracks; one painter per report."""

    def __init__(self, run: ScenarioRun) -> None:
        self.run = run
        self.countries = [(f["properties"]["name"], shape(f["geometry"])) for f in basemap()["features"]]
        zones = json.loads(json.dumps(zones_to_geojson(list(run.scenario.zones))))["features"]
        self.zones = [(f["properties"], shape(f["geometry"])) for f in zones]
        parties = [spec.party.id for spec in run.scenario.parties]
        self.colour = {p: _PARTY_COLOURS[i % len(_PARTY_COLOURS)] for i, p in enumerate(parties)}
        self.party_of_unit = run.scenario.party_of_unit()

    def ground(self, ax: Axes, bounds: tuple[float, float, float, float]) -> None:
        """Countries and zones inside ``bounds`` (lon_min, lat_min, lon_max, lat_max)."""
        lon0, lat0, lon1, lat1 = bounds
        ax.set_facecolor("#dfeaf2")
        for _name, geom in self.countries:
            _draw_polygonal(ax, geom, facecolor="#f3f1ea", edgecolor="#9a9a9a", linewidth=0.6)
        for props, geom in self.zones:
            colour = _ZONE_COLOURS.get(props.get("kind", ""), "#888888")
            if props.get("kind") == "deconfliction-line" and "buffer_m" in props:
                _draw_polygonal(ax, geom, facecolor=colour, edgecolor=colour, alpha=0.35, linewidth=0.5)
            else:
                _draw_polygonal(ax, geom, facecolor=colour, edgecolor=colour, alpha=0.3, linewidth=0.8)
            if geom.geom_type != "Point" and geom.intersects(_box(bounds)):
                c = geom.representative_point()
                if lon0 <= c.x <= lon1 and lat0 <= c.y <= lat1:
                    ax.annotate(props.get("id", ""), (c.x, c.y), fontsize=6, color="#444444")
        ax.set_xlim(lon0, lon1)
        ax.set_ylim(lat0, lat1)
        mid = np.radians((lat0 + lat1) / 2)
        ax.set_aspect(1 / max(np.cos(mid), 0.1))
        ax.set_xlabel("longitude (°E)")
        ax.set_ylabel("latitude (°N)")
        ax.tick_params(labelsize=7)

    def track(self, ax: Axes, unit_id: str, from_s: float, until_s: float, marks: list[float] = ()) -> None:  # type: ignore[assignment]
        """The noise-free track of ``unit_id`` over [from_s, until_s], with dots at ``marks``."""
        truth = self.run.simulator.truth(unit_id)
        keep = (truth.time_s >= from_s) & (truth.time_s <= until_s)
        if not keep.any():
            return
        colour = self.colour[self.party_of_unit[unit_id]]
        ax.plot(truth.lon_deg[keep], truth.lat_deg[keep], color=colour, linewidth=1.2, label=unit_id)
        for t in marks:
            state = self.run.simulator.truth_at(unit_id, t)
            if state is not None:
                ax.plot(state.lon_deg, state.lat_deg, "o", color=colour, markersize=4)

    def bounds_of(
        self, units: list[str], from_s: float, until_s: float, margin_deg: float = 0.15
    ) -> tuple[float, float, float, float]:
        """A box around the units' truth over the period."""
        lons, lats = [], []
        for unit in units:
            truth = self.run.simulator.truth(unit)
            keep = (truth.time_s >= from_s) & (truth.time_s <= until_s)
            lons += truth.lon_deg[keep].tolist()
            lats += truth.lat_deg[keep].tolist()
        if not lons:
            return (35.0, 32.0, 43.0, 37.5)
        return (min(lons) - margin_deg, min(lats) - margin_deg, max(lons) + margin_deg, max(lats) + margin_deg)


def _box(bounds: tuple[float, float, float, float]) -> Any:
    from shapely.geometry import box

    return box(*bounds)


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes (and closed)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def overview_figure(painter: MapPainter) -> bytes:
    """The whole scenario: every unit's track over the whole run."""
    run = painter.run
    fig, ax = plt.subplots(figsize=(8, 6))
    units = [unit.id for unit in run.scenario.units]
    painter.ground(ax, painter.bounds_of(units, run.scenario.start_s, run.scenario.end_s, margin_deg=0.5))
    for unit in run.scenario.units:
        painter.track(ax, unit.id, run.scenario.start_s, run.scenario.end_s)
    ax.set_title(
        f"{run.scenario.name}: all tracks, {format_utc(run.scenario.start_s)} .. {format_utc(run.scenario.end_s)}",
        fontsize=9,
    )
    ax.legend(fontsize=5, loc="lower right", ncol=2)
    return png(fig)


def alert_figure(painter: MapPainter, alert: dict[str, Any]) -> bytes:
    """One alert: both tracks from 10 min before raise to 5 min after resolution; dots at raise and loss."""
    from_s = alert["raised_s"] - 600
    until_s = (alert["resolved_s"] or alert["raised_s"] + 900) + 300
    marks = [t for t in (alert["raised_s"], alert.get("truth_loss_s") or alert.get("separation_lost_s")) if t]
    fig, ax = plt.subplots(figsize=(6, 5))
    painter.ground(ax, painter.bounds_of(alert["units"], from_s, until_s))
    for unit in alert["units"]:
        painter.track(ax, unit, from_s, until_s, marks)
    warning = alert.get("warning_s")
    ax.set_title(
        f"{alert['alert_id']} {' / '.join(alert['units'])}: max {alert['max_level']}, raised {format_utc(alert['raised_s'])}"
        + ("" if warning is None else f", warning {warning / 60:.1f} min"),
        fontsize=8,
    )
    ax.legend(fontsize=7)
    return png(fig)


def incident_figure(painter: MapPainter, incident: dict[str, Any]) -> bytes:
    """One incident: its units' tracks ±10 min around it, dot at the incident time."""
    t = float(incident["time_s"])
    units = list(incident.get("unit_ids", []))
    fig, ax = plt.subplots(figsize=(6, 5))
    painter.ground(ax, painter.bounds_of(units, t - 600, t + 600))
    for unit in units:
        painter.track(ax, unit, t - 600, t + 600, [t])
    ax.set_title(f"{incident.get('incident_id')} {incident.get('kind')} at {format_utc(t)}", fontsize=8)
    ax.legend(fontsize=7)
    return png(fig)
