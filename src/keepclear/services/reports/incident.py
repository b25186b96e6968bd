"""An incident report as one self-contained HTML file: facts, a map figure of the tracks, the timeline,
each party's account, and the evidence hash, in the reader's language (``words``). No network: the
figure is an embedded PNG (matplotlib, Agg backend through ``Figure`` directly, so no global pyplot
state).
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
from typing import Any

from keepclear.domain.incidents import Account, Incident, TimelineItem
from keepclear.domain.timefmt import format_utc
from keepclear.services.reports import figures_available
from keepclear.services.reports.figure_cache import ReportFigures
from keepclear.services.reports.page_policy import source_hash
from keepclear.services.reports.words import Words


def track_map_png(
    tracks: list[dict[str, Any]], incident_time_s: float, *, title: str = "", words: Words | None = None
) -> bytes | None:
    """PNG of the tracks (longitude/latitude, aspect corrected for latitude), None when there are none.

    Each unit is one line with an arrow at its last position; a dot marks where it was at the
    incident time (the report nearest to it).
    """
    if not tracks or not figures_available():
        return None
    w = words or Words.load("en")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.5, 6.0), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    by_unit: dict[str, list[dict[str, Any]]] = {}
    for report in tracks:
        by_unit.setdefault(str(report["unit_id"]), []).append(report)
    lats: list[float] = []
    lons: list[float] = []
    for unit_id, reports in sorted(by_unit.items()):
        reports.sort(key=lambda r: float(r["time_s"]))
        lon = [float(r["lon_deg"]) for r in reports]
        lat = [float(r["lat_deg"]) for r in reports]
        lats.extend(lat)
        lons.extend(lon)
        (line,) = axes.plot(lon, lat, "-", linewidth=1.5, label=unit_id)
        nearest = min(reports, key=lambda r: abs(float(r["time_s"]) - incident_time_s))
        axes.plot([float(nearest["lon_deg"])], [float(nearest["lat_deg"])], "o", color=line.get_color())
        axes.annotate(unit_id, (lon[-1], lat[-1]), fontsize=8, color=line.get_color())
    # A square box in metres around every track (at least ~2 km across), no offset tick labels.
    mid_lat, mid_lon = (min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2
    cos_lat = max(math.cos(math.radians(mid_lat)), 0.05)
    half_deg = max((max(lons) - min(lons)) * cos_lat, max(lats) - min(lats), 0.02) / 2 * 1.1
    axes.set_xlim(mid_lon - half_deg / cos_lat, mid_lon + half_deg / cos_lat)
    axes.set_ylim(mid_lat - half_deg, mid_lat + half_deg)
    axes.set_aspect(1.0 / cos_lat)
    axes.ticklabel_format(useOffset=False)
    axes.set_xlabel(w.text("map.longitude"))
    axes.set_ylabel(w.text("map.latitude"))
    axes.grid(True, linewidth=0.3)
    axes.legend(fontsize=8, loc="best")
    axes.set_title(title or w.text("map.title", time=format_utc(incident_time_s)), fontsize=9)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


#: The report's one style block: the report is one self-contained file (saved, mailed, printed), so
#: its style is inline, and the API's Content-Security-Policy allows this block by its hash.
REPORT_STYLE = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}\n"
    "td,th{border:1px solid #999;padding:.2em .5em;vertical-align:top;text-align:left}pre{white-space:pre-wrap}"
)
#: The CSP source expression allowing exactly that block (``style-src``).
REPORT_STYLE_SOURCE = source_hash(REPORT_STYLE.encode())


#: Characters HTML text may not hold (control characters but tab, line feed, form feed and carriage
#: return; DEL and C1): a party's text holding them (ESC, U+000B) is shown with U+FFFD in their place.
_NOT_HTML_TEXT = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


def _escaped(text: str) -> str:
    """``text`` as HTML text: escaped, and any character HTML text may not hold written as U+FFFD.

    >>> _escaped("a<b\x1b[31m")
    'a&lt;b\ufffd[31m'
    """
    return html.escape(_NOT_HTML_TEXT.sub("\ufffd", text))


def _row(*cells: str) -> str:
    return "<tr>" + "".join(f"<td>{_escaped(c)}</td>" for c in cells) + "</tr>"


def _payload_text(payload: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(payload.items()) if k != "incident_id")


def incident_html(
    incident: Incident,
    accounts: list[Account],
    timeline: list[TimelineItem],
    evidence: dict[str, Any] | None,
    *,
    generated_s: float,
    language: str = "en",
    timeline_total: int | None = None,
    figures: ReportFigures | None = None,
    reader: str | None = None,
) -> str:
    """The report of one incident as HTML text in ``language`` (English where it has no words; every
    value escaped). ``timeline_total``: how many items the whole timeline holds when ``timeline`` is
    its first ones only (the report then says so). ``figures``: where the map figure of frozen
    evidence is kept, drawn in the turn of ``reader``'s party (None: drawn here)."""
    e = _escaped
    w = Words.load(language)
    tracks = list(evidence["tracks"]) if evidence else []

    def draw() -> bytes | None:
        return track_map_png(tracks, incident.time_s, words=w)

    png = draw() if figures is None or evidence is None else figures.png(incident, w.language, reader, draw)
    if png:
        figure = (
            f'<img alt="{e(w.text("map.alt"))}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'
        )
    else:
        missing = "map.missing_figures" if tracks else "map.none_in_window" if evidence else "map.none_yet"
        figure = f"<p>{e(w.text(missing))}</p>"
    kind = w.value("incident_kind", incident.kind.value)
    facts = [
        (w.text("fact.incident"), incident.id),
        (w.text("fact.kind"), kind),
        (w.text("fact.time"), format_utc(incident.time_s)),
        (w.text("fact.opened"), format_utc(incident.opened_s)),
        (w.text("fact.reported_by"), incident.reported_by or w.text("value.automatic")),
        (w.text("fact.parties"), ", ".join(incident.parties)),
        (w.text("fact.units"), ", ".join(incident.unit_ids)),
        (w.text("fact.alerts"), ", ".join(incident.alert_ids)),
        (w.text("fact.zone"), f"{incident.zone_id} ({incident.zone_kind})" if incident.zone_id else "-"),
        (w.text("fact.review_status"), w.value("review", incident.status.value)),
        (w.text("fact.summary"), incident.summary),
        (w.text("fact.evidence_sha256"), incident.evidence_sha256 or w.text("value.not_frozen")),
        (
            w.text("fact.evidence_frozen"),
            format_utc(incident.evidence_frozen_s) if incident.evidence_frozen_s else "-",
        ),
        (w.text("fact.track_reports"), str(len(tracks))),
    ]
    timeline_rows = "\n".join(
        _row(format_utc(t.time_s), w.value("event", t.kind), t.party_id or "-", _payload_text(t.payload))
        for t in timeline
    )
    shown = ""
    if timeline_total is not None and timeline_total > len(timeline):
        shown = f"<p>{e(w.text('timeline.shown', shown=len(timeline), total=timeline_total, id=incident.id))}</p>\n"
    account_blocks = "\n".join(
        f"<section class=account><h3>{e(a.party_id)} — #{a.position}"
        f"{' ' + e(w.text('account.amends', n=a.amends)) if a.amends is not None else ''} — {e(format_utc(a.time_s))}</h3>"
        f"<pre>{e(a.text)}</pre></section>"
        for a in accounts
    )
    footer = e(w.text("footer", time=format_utc(generated_s), command="{command}")).replace(
        "{command}", "<code>keepclear ledger verify</code>"
    )
    return f"""<!doctype html>
<html lang="{e(w.language)}"><head><meta charset="utf-8"><title>{e(w.text("report.title", id=incident.id))}</title>
<style>{REPORT_STYLE}</style>
</head><body>
<h1>{e(w.text("report.heading", id=incident.id, kind=kind))}</h1>
<table>{"".join(_row(k, v) for k, v in facts)}</table>
<h2>{e(w.text("section.map"))}</h2>
{figure}
<h2>{e(w.text("section.timeline"))}</h2>
<table><tr><th>{e(w.text("timeline.time"))}</th><th>{e(w.text("timeline.what"))}</th><th>{e(w.text("timeline.party"))}</th><th>{e(w.text("timeline.details"))}</th></tr>
{timeline_rows}
</table>
{shown}<h2>{e(w.text("section.accounts"))}</h2>
{account_blocks or f"<p>{e(w.text('accounts.none'))}</p>"}
<p><small>{footer}</small></p>
</body></html>
"""
