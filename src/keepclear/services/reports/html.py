"""Write an after-action report: ``report.json`` (the numbers), ``report.html`` (self-contained, PNG
figures embedded, nothing fetched from the network) and the figures as PNG files beside them."""

from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path
from typing import Any

from keepclear.domain.timefmt import parse_utc
from keepclear.services.reports.after_action import after_action
from keepclear.services.reports.clock import ReportClock
from keepclear.services.reports.figures import MapPainter, alert_figure, incident_figure, overview_figure
from keepclear.services.runtime.scenario_run import ScenarioRun

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:2px 8px;font-size:13px}
th{background:#f0f0f0}.ok{color:#1a7f37}.bad{color:#c62828;font-weight:bold}figure{display:inline-block;margin:0.5em}
figcaption{font-size:12px;color:#555}
"""


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _minutes(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 60:.1f} min"


def _img(name: str, data: bytes, caption: str) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return (
        f'<figure><img alt="{escape(name)}" src="data:image/png;base64,{encoded}" width="560">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def render_html(numbers: dict[str, Any], figures: list[tuple[str, bytes, str]]) -> str:
    """The report page for ``numbers`` (from ``after_action``) and ``figures`` (name, PNG, caption)."""
    sc = numbers["scenario"]
    check = numbers["check"]
    clock = ReportClock(parse_utc(sc["start"], "scenario.start"))
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>After-action report: {escape(sc['name'])}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>After-action report: {escape(sc['name'])}</h1>",
        f"<p>{escape(clock.date)}, {escape(clock.iso(sc['start']))} .. {escape(clock.iso(sc['end']))} UTC "
        f"(times below are UTC, on this day unless dated), seed {sc['seed']}; {sc['reports_sent']} track reports "
        f"({sc['reports_refused']} refused), {sc['actions_done']} scripted actions.</p>",
        "<h2>Expectations</h2>",
        _table(
            ["expected", "involving", "occurred"],
            [[r["kind"], ", ".join(r["what"]), "yes" if r["met"] else "NO"] for r in check["expectations"]],
        ),
        f"<p class='{'ok' if not check['unexpected'] else 'bad'}'>{len(check['unexpected'])} unexpected event(s).</p>",
    ]
    if check["unexpected"]:
        parts.append(
            _table(
                ["time", "kind", "payload"],
                [
                    [clock.iso(u["time"]), u["kind"], json.dumps(clock.payload(u["payload"]), ensure_ascii=False)[:200]]
                    for u in check["unexpected"]
                ],
            )
        )
    parts.append("<h2>Alerts: warning before separation was lost</h2>")
    parts.append(
        _table(
            [
                "alert",
                "units",
                "parties",
                "raised",
                "max level",
                "loss (truth)",
                "separation_lost event",
                "predicted at raise",
                "warning",
                "basis",
            ],
            [
                [
                    a["alert_id"],
                    " / ".join(a["units"]),
                    ", ".join(a["parties"]),
                    clock.text(a["raised_s"]),
                    a["max_level"],
                    clock.text(a["truth_loss_s"]) if a["truth_loss_s"] else "—",
                    clock.text(a["separation_lost_s"]) if a["separation_lost_s"] else "—",
                    clock.text(a["predicted_loss_s"]) if a["predicted_loss_s"] else "—",
                    _minutes(a["warning_s"]),
                    a["loss_basis"],
                ]
                for a in numbers["alerts"]
            ],
        )
    )
    parts.append("<h2>Incidents</h2>")
    parts.append(
        _table(
            ["incident", "kind", "time", "units", "parties"],
            [
                [
                    i.get("incident_id"),
                    i.get("kind"),
                    clock.iso(i["time"]),
                    ", ".join(i.get("unit_ids", [])),
                    ", ".join(i.get("parties", [])),
                ]
                for i in numbers["incidents"]
            ],
        )
    )
    delays = numbers["ack_delays"]
    parts.append("<h2>Acknowledgement delays per party</h2>")
    rows = []
    for channel in ("activities", "hotline"):
        for party, stats in delays[channel].items():
            rows.append([party, channel, stats["count"], _minutes(stats["mean_s"]), _minutes(stats["max_s"])])
    parts.append(_table(["party", "of", "acknowledged", "mean delay", "max delay"], rows))
    if delays["never"]:
        parts.append(
            _table(
                ["never acknowledged", "by"],
                [[n.get("activity") or n.get("message"), n["party"]] for n in delays["never"]],
            )
        )
    parts.append("<h2>Line crossings per party per UTC day</h2>")
    parts.append(
        _table(
            ["party", "day", "crossings"],
            [[p, d, n] for p, days in numbers["line_crossings"].items() for d, n in days.items()],
        )
    )
    parts.append("<h2>Escalations</h2>")
    parts.append(
        _table(
            ["time", "activity / thread", "silent party", "level", "contact"],
            [
                [
                    clock.iso(e["time"]),
                    e.get("activity_id") or e.get("thread_id", ""),
                    e.get("addressee") or e.get("party_id", ""),
                    e.get("level", e.get("step", "")),
                    "roster exhausted"
                    if e.get("roster_exhausted") or e.get("exhausted")
                    else e.get("contact") or f"roster position {e.get('level', '')}",
                ]
                for e in numbers["escalations"]
            ],
        )
    )
    parts.append("<h2>Maps</h2>")
    parts.extend(_img(name, data, caption) for name, data, caption in figures)
    parts.append("<h2>Timeline</h2>")
    parts.append(
        _table(
            ["time", "event", "what", "parties"],
            [[clock.iso(t["time"]), t["kind"], t["summary"], ", ".join(t["parties"])] for t in numbers["timeline"]],
        )
    )
    parts.append("<p>Basemap: Natural Earth (public domain) via world-atlas (ISC).</p></body></html>")
    return "\n".join(parts)


def write_report(run: ScenarioRun, out_dir: Path, wall_s: float | None = None) -> dict[str, Any]:
    """Write report.json, report.html and figures/*.png into ``out_dir``; returns the numbers."""
    numbers = after_action(run, wall_s)
    painter = MapPainter(run)
    figures = [("overview", overview_figure(painter), "All tracks of the scenario (noise-free truth).")]
    for alert in numbers["alerts"]:
        figures.append(
            (
                alert["alert_id"],
                alert_figure(painter, alert),
                f"Alert {alert['alert_id']}: {' / '.join(alert['units'])}",
            )
        )
    for incident in numbers["incidents"]:
        name = str(incident.get("incident_id"))
        figures.append((name, incident_figure(painter, incident), f"Incident {name}: {incident.get('kind')}"))
    figure_dir = out_dir / "figures"
    figure_dir.mkdir(parents=True, exist_ok=True)
    numbers["figures"] = []
    for name, data, _caption in figures:
        (figure_dir / f"{name}.png").write_bytes(data)
        numbers["figures"].append(f"figures/{name}.png")
    (out_dir / "report.json").write_text(json.dumps(numbers, indent=2, default=str) + "\n")
    (out_dir / "report.html").write_text(render_html(numbers, figures))
    return numbers
