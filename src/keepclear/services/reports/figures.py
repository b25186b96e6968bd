"""Map figures of an after-action report (matplotlib, offline): an overview, one per alert, one per incident.

Drawn on the bundled basemap (Natural Earth country outlines clipped to the Middle East, see
``keepclear/data/basemap/PROVENANCE.md``) with the scenario's zones and lines; tracks are the
simulator's noise-free truth, so a figure shows what happened, not what a sensor saw.

Each figure has one legend (outside the map): a party per track colour, each kind of zone drawn,
and what the dots mean; units are named on the map at the end of their track. Parties and zones
never share a colour or a line style: tracks are solid lines in saturated colours with no green,
amber, orange, grey or black; a deconfliction line is black and dashed on a grey band, a protected
site green and cross-hatched, a restricted zone orange and hatched, a de-escalation zone an amber
area. Times read ``HH:MM:SSZ`` (``clock.ReportClock``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from importlib import resources
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from shapely.geometry import shape

from keepclear.domain.zones import zone_drawing_problem
from keepclear.geo.zone_geojson import zones_to_geojson
from keepclear.services.reports.clock import ReportClock
from keepclear.services.runtime.scenario_run import ScenarioRun

#: Track colours of the parties, in the scenario's order: none of them a zone's (below).
PARTY_COLOURS = ("#1f5fbf", "#d62728", "#8e44ad", "#8c564b", "#e7298a", "#17a2b8")
#: How each kind of zone is drawn: fill, edge, hatch, line style of the edge, legend label.
ZONE_STYLES: dict[str, dict[str, Any]] = {
    "de-escalation-zone": {
        "face": "#f4c542",
        "edge": "#c79a00",
        "hatch": None,
        "ls": "-",
        "label": "de-escalation zone",
    },
    "deconfliction-line": {
        "face": "#bdbdbd",
        "edge": "#222222",
        "hatch": None,
        "ls": "--",
        "label": "deconfliction line",
    },
    "restricted-operating-zone": {
        "face": "none",
        "edge": "#ff7f0e",
        "hatch": "///",
        "ls": "-",
        "label": "restricted operating zone",
    },
    "protected-site": {"face": "none", "edge": "#2ca02c", "hatch": "xxx", "ls": "-", "label": "protected site"},
}
_OTHER_ZONE = {"face": "#dddddd", "edge": "#888888", "hatch": None, "ls": ":", "label": "other zone"}


def basemap() -> dict[str, Any]:
    """The bundled country outlines (GeoJSON FeatureCollection)."""
    source = resources.files("keepclear.data").joinpath("basemap/middle-east-countries.geojson")
    document: dict[str, Any] = json.loads(source.read_text())
    return document


def _draw_zone(ax: Axes, geometry: Any, style: dict[str, Any]) -> None:
    """One zone: areas filled (or hatched) with their edge, lines as their style's line, points
    (sites without a radius) as a square marker."""
    geoms = getattr(geometry, "geoms", [geometry])
    for geom in geoms:
        if geom.geom_type == "Polygon":
            x, y = geom.exterior.xy
            filled = style["face"] != "none"
            ax.fill(
                x, y, facecolor=style["face"] if filled else "none", alpha=0.35 if filled else 1.0,
                edgecolor=style["edge"], hatch=style["hatch"], linewidth=0.8, linestyle=style["ls"],
            )  # fmt: skip
        elif geom.geom_type in ("LineString", "LinearRing"):
            x, y = geom.xy
            ax.plot(x, y, color=style["edge"], linewidth=1.6, linestyle=style["ls"])
        elif geom.geom_type == "Point":
            ax.plot(geom.x, geom.y, marker="s", markersize=6, markerfacecolor="none", color=style["edge"])
        else:
            _draw_zone(ax, geom, style)


class MapPainter:
    """Draws the scenario's ground (countries, zones) under tracks; one painter per report."""

    def __init__(self, run: ScenarioRun) -> None:
        self.run = run
        self.countries = [(f["properties"]["name"], shape(f["geometry"])) for f in basemap()["features"]]
        # a zone that cannot be drawn (``zone_drawing_problem``) is left off the map, never the report
        drawable = [zone for zone in run.scenario.zones if zone_drawing_problem(zone) is None]
        zones = json.loads(json.dumps(zones_to_geojson(drawable)))["features"]
        self.zones = [(f["properties"], shape(f["geometry"])) for f in zones]
        parties = [spec.party.id for spec in run.scenario.parties]
        self.colour = {p: PARTY_COLOURS[i % len(PARTY_COLOURS)] for i, p in enumerate(parties)}
        self.clock = ReportClock(run.scenario.start_s)
        self.party_of_unit = run.scenario.party_of_unit()

    def ground(self, ax: Axes, bounds: tuple[float, float, float, float]) -> None:
        """Countries and zones inside ``bounds`` (lon_min, lat_min, lon_max, lat_max)."""
        lon0, lat0, lon1, lat1 = bounds
        ax.set_facecolor("#dfeaf2")
        for _name, geom in self.countries:
            for part in getattr(geom, "geoms", [geom]):
                if part.geom_type == "Polygon":
                    ax.fill(*_outline(part), facecolor="#f3f1ea", edgecolor="#9a9a9a", linewidth=0.6)
        area = _box(bounds)
        self.zone_kinds_drawn: set[str] = set()
        for props, geom in self.zones:
            kind = str(props.get("kind", ""))
            if not geom.intersects(area.buffer(0.5)):
                continue
            self.zone_kinds_drawn.add(kind)
            if kind == "deconfliction-line" and "buffer_m" in props:  # the band, then its centre line dashed
                band = _buffered_deg(geom, float(props["buffer_m"]))
                for part in getattr(band, "geoms", [band]):
                    ax.fill(*_outline(part), facecolor=ZONE_STYLES[kind]["face"], alpha=0.45, edgecolor="none")
            _draw_zone(ax, geom, ZONE_STYLES.get(kind, _OTHER_ZONE))
            if geom.geom_type != "Point" and geom.intersects(area):
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

    def legend(self, ax: Axes, units: list[str], marks: str | None = None) -> None:
        """The figure's one legend, outside the map: the parties whose tracks are drawn, the kinds of
        zone drawn, and what the dots mean (``marks``)."""
        parties = sorted({self.party_of_unit[u] for u in units}, key=list(self.colour).index)
        handles: list[Any] = [Line2D([], [], color=self.colour[p], linewidth=2, label=f"{p} (track)") for p in parties]
        for kind in sorted(getattr(self, "zone_kinds_drawn", set())):
            style = ZONE_STYLES.get(kind, _OTHER_ZONE)
            if kind == "deconfliction-line":
                handles.append(Line2D([], [], color=style["edge"], linestyle="--", linewidth=1.6, label=style["label"]))
            else:
                handles.append(
                    Patch(
                        facecolor=style["face"], edgecolor=style["edge"], hatch=style["hatch"],
                        alpha=0.6 if style["face"] != "none" else 1.0, label=style["label"],
                    )
                )  # fmt: skip
        if marks:
            handles.append(Line2D([], [], color="#555555", marker="o", linestyle="none", markersize=4, label=marks))
        ax.legend(handles=handles, fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)

    def track(self, ax: Axes, unit_id: str, from_s: float, until_s: float, marks: Sequence[float] = ()) -> None:
        """The noise-free track of ``unit_id`` over [from_s, until_s] in its party's colour, named at
        its end, with dots at ``marks``."""
        truth = self.run.simulator.truth(unit_id)
        keep = (truth.time_s >= from_s) & (truth.time_s <= until_s)
        if not keep.any():
            return
        colour = self.colour[self.party_of_unit[unit_id]]
        lon, lat = truth.lon_deg[keep], truth.lat_deg[keep]
        ax.plot(lon, lat, color=colour, linewidth=1.4, solid_capstyle="round")
        ax.annotate(unit_id, (float(lon[-1]), float(lat[-1])), fontsize=5, color=colour, xytext=(2, 2),
                    textcoords="offset points")  # fmt: skip
        for t in marks:
            state = self.run.simulator.truth_at(unit_id, t)
            if state is not None:
                ax.plot(state.lon_deg, state.lat_deg, "o", color=colour, markersize=4, markeredgecolor="#222222")

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


def _outline(polygon: Any) -> tuple[Any, Any]:
    x, y = polygon.exterior.xy
    return x, y


def _buffered_deg(line: Any, buffer_m: float) -> Any:
    """A line's band of ``buffer_m`` each side, approximately in degrees (for drawing only)."""
    mid_lat = np.radians(line.centroid.y)
    return line.buffer(buffer_m / (111_320.0 * max(np.cos(mid_lat), 0.1)))


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
    clock = painter.clock
    ax.set_title(
        f"{run.scenario.name}: all tracks, {clock.date} {clock.text(run.scenario.start_s)} .. "
        f"{clock.text(run.scenario.end_s)} (UTC)",
        fontsize=9,
    )
    painter.legend(ax, units)
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
        f"{alert['alert_id']} {' / '.join(alert['units'])}: max {alert['max_level']}, "
        f"raised {painter.clock.text(alert['raised_s'])}"
        + ("" if warning is None else f", warning {warning / 60:.1f} min"),
        fontsize=8,
    )
    painter.legend(ax, list(alert["units"]), "dot: alert raised, separation lost")
    return png(fig)


def incident_figure(painter: MapPainter, incident: dict[str, Any]) -> bytes:
    """One incident: its units' tracks ±10 min around it, dot at the incident time."""
    t = float(incident["time_s"])
    units = list(incident.get("unit_ids", []))
    fig, ax = plt.subplots(figsize=(6, 5))
    painter.ground(ax, painter.bounds_of(units, t - 600, t + 600))
    for unit in units:
        painter.track(ax, unit, t - 600, t + 600, [t])
    ax.set_title(f"{incident.get('incident_id')} {incident.get('kind')} at {painter.clock.text(t)}", fontsize=8)
    painter.legend(ax, units, "dot: incident time")
    return png(fig)
