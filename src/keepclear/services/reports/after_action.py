"""The numbers of an after-action report, from what a ``ScenarioRun`` recorded.

Timeline (notifications, conflicts, alerts, acknowledgements, escalations, crossings, incidents);
per alert the warning it gave before separation was lost — against the noise-free truth of the
simulator, the ``alert.separation_lost`` event, and the probe's prediction at raise time;
acknowledgement delays per party (activities and hotline); line crossings per party per UTC day;
and whether each of the scenario's expectations occurred, plus anything that happened unexpected.
Everything is plain JSON-ready data; ``keepclear.services.reports.html`` renders it.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from typing import Any

from keepclear.detect.minima import SeparationMinima
from keepclear.domain import Domain
from keepclear.domain.event_kinds import ACTIVITY_KINDS, ALERT_KINDS, INCIDENT_KINDS, ZONE_KINDS, EventKind
from keepclear.domain.event_payloads import ActivityConflicts
from keepclear.domain.events import Event
from keepclear.domain.timefmt import format_utc
from keepclear.geo import distance_m
from keepclear.scenario import ExpectationKind, Scenario
from keepclear.services.runtime.scenario_run import ScenarioRun

#: Event kinds that make the timeline (message posts are summarised as acknowledgement delays instead).
TIMELINE_KINDS = (
    ACTIVITY_KINDS
    | ALERT_KINDS
    | {
        EventKind.ZONE_LINE_CROSSED,
        EventKind.ZONE_ENTERED,
        EventKind.HOTLINE_ESCALATED,
        EventKind.INCIDENT_OPENED,
    }
)
_DOMAINS = (Domain.AIR, Domain.LAND, Domain.SEA)


def _summary(event: Event, names: dict[str, str]) -> str:
    p = event.payload
    kind = event.kind
    if kind in ALERT_KINDS:
        return f"{p.get('unit_a')} / {p.get('unit_b')}: {p.get('level')}"
    if kind in ZONE_KINDS:
        return f"{p.get('unit_id')} ({p.get('party_id')}) {p.get('zone_id')} {p.get('direction', '')}".strip()
    if kind == EventKind.ACTIVITY_NOTIFIED:
        activity = p.get("activity", {})
        ident = activity.get("id", "")
        return f"{names.get(ident, ident)} {activity.get('kind', '')} by {event.party_id}"
    if kind == EventKind.ACTIVITY_ESCALATED:  # the position called, never who (told to the notifier too)
        ident = p["activity_id"]
        who = "roster exhausted" if p.get("roster_exhausted") else f"roster position {p['level']}"
        return f"{names.get(ident, ident)}: {p['addressee']} silent, level {p['level']} → {who}"
    if kind == EventKind.HOTLINE_ESCALATED:
        who = p.get("contact") or ("roster exhausted" if p.get("exhausted") else "")
        return f"{p.get('thread_id')} #{p.get('seq')}: {p.get('party_id')} silent, step {p.get('step')} → {who}"
    if kind == EventKind.ACTIVITY_CONFLICT:
        told = ActivityConflicts.from_payload(p)
        if told.activity_id is not None:  # the notifier's, of one activity
            return f"{names.get(told.activity_id, told.activity_id)}: {told.conflicts_total} conflicts found"
        if any("your_activity_id" in c for c in told.conflicts):  # the overlapped party's: its own only
            own = dict.fromkeys(str(c["your_activity_id"]) for c in told.conflicts)
            overlapped = ", ".join(names.get(ident, ident) for ident in own)
            more = f" and {told.activities_total - len(own)} more" if told.activities_total > len(own) else ""
            return f"{overlapped}{more} overlapped by another party's activity ({told.conflicts_total} overlaps)"
        mine = dict.fromkeys(str(c["activity_id"]) for c in told.conflicts)  # the notifier's, of a batch
        listed = ", ".join(names.get(ident, ident) for ident in mine)
        more = f" and {told.activities_total - len(mine)} more" if told.activities_total > len(mine) else ""
        return f"{listed}{more}: {told.conflicts_total} conflicts found"
    if kind in ACTIVITY_KINDS:
        ident = p.get("activity_id", "")
        extra = p.get("kind") or p.get("addressee") or ""
        return f"{names.get(ident, ident)} {extra}".strip()
    if kind == EventKind.INCIDENT_OPENED:
        return f"{p.get('kind')}: {', '.join(p.get('unit_ids', []))}"
    return json.dumps(p, default=str)[:120]


def _conflicts(event: Event) -> list[dict[str, Any]]:
    """The conflicts an ``activity.conflict`` event holds (the first its check found: a scenario's few)."""
    return ActivityConflicts.from_payload(event.payload).conflicts


def _once(event: Event) -> bool:
    """False for the copy of a hotline escalation told to the thread's other members: each step is two
    events (the overdue party alone is told the contact it called); the operator's report lists the
    overdue party's, which names the contact."""
    return event.kind != EventKind.HOTLINE_ESCALATED or event.parties == {event.payload.get("party_id")}


def timeline(run: ScenarioRun) -> list[dict[str, Any]]:
    """The notable events in time order, each with scenario clock time and a one-line summary."""
    names = {ident: ref for ref, ident in run.player.activity_ids.items()}
    rows = []
    for event in run.log.events():
        if event.kind not in TIMELINE_KINDS or not _once(event):
            continue
        rows.append(
            {
                "time": format_utc(event.time_s),
                "t_plus_s": round(event.time_s - run.scenario.start_s, 1),
                "kind": event.kind,
                "summary": _summary(event, names),
                "parties": sorted(event.parties),
            }
        )
    return rows


def _minima(run: ScenarioRun, unit_a: str, unit_b: str) -> SeparationMinima:
    domain = {u.id: u.domain for u in run.scenario.units}
    d0, d1 = sorted((domain[unit_a], domain[unit_b]), key=_DOMAINS.index)
    minima: SeparationMinima = getattr(run.runtime.config.tactical.probe, f"{d0.value}_{d1.value}")
    return minima


def truth_loss_s(run: ScenarioRun, unit_a: str, unit_b: str, from_s: float, until_s: float) -> float | None:
    """First second in [from_s, until_s] at which the noise-free truth of the pair is inside the minima."""
    minima = _minima(run, unit_a, unit_b)
    sim = run.simulator
    t = math.floor(from_s)
    while t <= until_s:
        a, b = sim.truth_at(unit_a, t), sim.truth_at(unit_b, t)
        if a is not None and b is not None:
            horizontal_m = distance_m(a.lat_deg, a.lon_deg, b.lat_deg, b.lon_deg)
            if horizontal_m < minima.horizontal_m and abs(a.alt_m - b.alt_m) < minima.vertical_m:
                return float(t)
        t += 1
    return None


def alerts(run: ScenarioRun) -> list[dict[str, Any]]:
    """One row per alert: its course, and the warning it gave before separation was lost."""
    by_id: dict[str, dict[str, Any]] = {}
    for event in run.log.events(ALERT_KINDS):
        p = event.payload
        row = by_id.setdefault(
            p["alert_id"],
            {
                "alert_id": p["alert_id"],
                "units": [p["unit_a"], p["unit_b"]],
                "parties": sorted({p["party_a"], p["party_b"]}),
                "raised_s": p["raised_s"],
                "levels": [],
                "max_level": "none",
                "resolved_s": None,
                "separation_lost_s": None,
                "predicted_loss_s": None,
                "acknowledged": [],
            },
        )
        if event.kind == EventKind.ALERT_RAISED and p.get("cpa"):
            row["predicted_loss_s"] = event.time_s + float(p["cpa"]["t_in_s"])
        if event.kind in (EventKind.ALERT_RAISED, EventKind.ALERT_LEVEL_CHANGED):
            row["levels"].append({"time_s": event.time_s, "level": p["level"]})
            if p["level_number"] > {"none": 0, "advisory": 1, "caution": 2, "warning": 3}[row["max_level"]]:
                row["max_level"] = p["level"]
        elif event.kind == EventKind.ALERT_RESOLVED:
            row["resolved_s"] = event.time_s
        elif event.kind == EventKind.ALERT_SEPARATION_LOST:
            row["separation_lost_s"] = event.time_s
        elif event.kind == EventKind.ALERT_ACKNOWLEDGED:
            row["acknowledged"].append({"party": event.party_id, "delay_s": event.time_s - row["raised_s"]})
    rows = []
    for row in by_id.values():
        unit_a, unit_b = row["units"]
        minima = _minima(run, unit_a, unit_b)
        until_s = row["resolved_s"] or run.scenario.end_s
        row["truth_loss_s"] = truth_loss_s(run, unit_a, unit_b, row["raised_s"] - minima.lookahead_s, until_s)
        loss_s = row["truth_loss_s"] or row["separation_lost_s"] or row["predicted_loss_s"]
        row["loss_basis"] = (
            "truth" if row["truth_loss_s"] else "separation_lost" if row["separation_lost_s"] else "predicted"
        )
        row["warning_s"] = None if loss_s is None else loss_s - row["raised_s"]
        row["minima"] = {"horizontal_m": minima.horizontal_m, "vertical_m": minima.vertical_m}
        rows.append(row)
    return sorted(rows, key=lambda r: r["raised_s"])


def _stats(delays: list[float]) -> dict[str, Any]:
    return {
        "count": len(delays),
        "mean_s": round(statistics.fmean(delays), 1) if delays else None,
        "max_s": round(max(delays), 1) if delays else None,
        "delays_s": [round(d, 1) for d in delays],
    }


def ack_delays(run: ScenarioRun) -> dict[str, Any]:
    """Acknowledgement delays per party: of activities (from the events) and of hotline messages
    (from the hotline's own acknowledgement records), and who never acknowledged."""
    activity_delays: dict[str, list[float]] = defaultdict(list)
    for event in run.log.events(EventKind.ACTIVITY_ACKNOWLEDGED):
        notified_s = run.notified_s.get(event.payload["activity_id"])
        if notified_s is not None:
            activity_delays[event.payload["addressee"]].append(event.time_s - notified_s)
    message_delays: dict[str, list[float]] = defaultdict(list)
    never: list[dict[str, Any]] = []
    for ref, message_id in run.player.message_ids.items():
        thread_id, seq = message_id.rsplit("#", 1)
        sender, posted_s = run.posted[message_id]
        for row in run.runtime.hotline.ack_status(sender, thread_id, int(seq)):
            if row["acked_s"] is not None:
                message_delays[row["party_id"]].append(row["acked_s"] - posted_s)
            else:
                never.append({"message": ref, "party": row["party_id"]})
    for ref, activity_id in run.player.activity_ids.items():
        for ack in run.runtime.activities.get(activity_id).acks:
            if ack.state != "acknowledged":
                never.append({"activity": ref, "party": ack.party_id, "state": ack.state})
    parties = sorted(set(activity_delays) | set(message_delays))
    return {
        "activities": {p: _stats(activity_delays[p]) for p in parties},
        "hotline": {p: _stats(message_delays[p]) for p in parties},
        "never": never,
    }


def line_crossings(events: list[Event]) -> dict[str, dict[str, int]]:
    """party → UTC day → number of line crossings (either direction) by its units."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for event in events:
        if event.kind == EventKind.ZONE_LINE_CROSSED:
            counts[event.payload["party_id"]][event.payload["utc_day"]] += 1
    return {party: dict(days) for party, days in sorted(counts.items())}


def check_expectations(scenario: Scenario, events: list[Event], activity_ids: dict[str, str]) -> dict[str, Any]:
    """Each expectation of ``scenario`` with whether it occurred, and every notable event no expectation covers."""
    ids = {ref: activity_ids.get(ref, f"?{ref}") for ref in activity_ids}
    results = []
    covered: set[int] = set()

    def mark(matches: list[int]) -> bool:
        covered.update(matches)
        return bool(matches)

    text = [json.dumps(e.payload, default=str) for e in events]
    for exp in scenario.expectations:
        acts = {ids.get(ref, ref) for ref in exp.activities}
        units = set(exp.units)
        hits: list[int] = []
        if exp.kind is ExpectationKind.STRATEGIC_CONFLICT:
            hits = [
                k
                for k, e in enumerate(events)
                if e.kind == EventKind.ACTIVITY_CONFLICT
                and (
                    sum(a in text[k] for a in acts) == len(acts)
                    or any(c.get("your_activity_id") in acts for c in _conflicts(e))
                )
            ]
        elif exp.kind is ExpectationKind.TACTICAL_ALERT:
            hits = [
                k
                for k, e in enumerate(events)
                if e.kind in ALERT_KINDS and {e.payload["unit_a"], e.payload["unit_b"]} == units
            ]
        elif exp.kind is ExpectationKind.LOSS_OF_SEPARATION:
            lost = [
                k
                for k, e in enumerate(events)
                if e.kind == EventKind.ALERT_SEPARATION_LOST and {e.payload["unit_a"], e.payload["unit_b"]} == units
            ]
            incident = [
                k
                for k, e in enumerate(events)
                if e.kind in INCIDENT_KINDS and units <= set(e.payload.get("unit_ids", units))
            ]
            hits = lost + incident if lost and incident else []
        elif exp.kind is ExpectationKind.LINE_CROSSING:
            hits = [
                k
                for k, e in enumerate(events)
                if e.kind == EventKind.ZONE_LINE_CROSSED
                and e.payload["unit_id"] in units
                and e.payload["zone_id"] == exp.zone
            ]
        elif exp.kind is ExpectationKind.ESCALATION:
            hits = [
                k
                for k, e in enumerate(events)
                if e.kind == EventKind.ACTIVITY_ESCALATED
                and e.payload["activity_id"] in acts
                and (not exp.parties or e.payload["addressee"] in exp.parties)
            ]
        elif exp.kind is ExpectationKind.LEAD_TIME:
            flagged = [
                k
                for k, e in enumerate(events)
                if e.kind in (EventKind.ACTIVITY_LATE_NOTICE, EventKind.ACTIVITY_CONFLICT)
                and e.payload.get("activity_id") in acts
                and (
                    e.kind == EventKind.ACTIVITY_LATE_NOTICE
                    or any(c.get("kind") == "zone-short-notice" for c in _conflicts(e))
                )
            ]
            plan_units = {u for a in scenario.activities if a.ref in exp.activities for u in a.body.get("units", [])}
            entered = [
                k
                for k, e in enumerate(events)
                if e.kind in (EventKind.ZONE_ENTERED, EventKind.ZONE_ENTRY_PREDICTED)
                and e.payload["unit_id"] in plan_units
                and (exp.zone is None or e.payload["zone_id"] == exp.zone)
            ]
            hits = flagged + entered if flagged else []
        met = mark(hits)
        what = [*exp.activities, *exp.units, *([exp.zone] if exp.zone else []), *exp.parties]
        results.append({"kind": exp.kind.value, "what": what, "met": met, "events": len(hits)})
    notable = (EventKind.ALERT_RAISED, EventKind.ZONE_LINE_CROSSED, EventKind.ZONE_ENTERED, EventKind.ACTIVITY_CONFLICT, EventKind.ACTIVITY_ESCALATED,
               EventKind.ACTIVITY_LATE_NOTICE, EventKind.HOTLINE_ESCALATED, EventKind.INCIDENT_OPENED, EventKind.ALERT_SEPARATION_LOST)  # fmt: skip
    unexpected = [
        {"time": format_utc(e.time_s), "kind": e.kind, "payload": json.loads(text[k])}
        for k, e in enumerate(events)
        if e.kind in notable and k not in covered and _once(e)
    ]
    return {"expectations": results, "all_met": all(r["met"] for r in results), "unexpected": unexpected}


def after_action(run: ScenarioRun, wall_s: float | None = None) -> dict[str, Any]:
    """Every number of the report as one JSON-ready mapping."""
    events = run.log.events()
    scenario = run.scenario
    incidents = [dict(e.payload, time=format_utc(e.time_s)) for e in events if e.kind == EventKind.INCIDENT_OPENED]
    return {
        "scenario": {
            "id": scenario.id,
            "name": scenario.name,
            "start": format_utc(scenario.start_s),
            "end": format_utc(scenario.end_s),
            "seed": scenario.seed,
            "reports_sent": run.driver.progress.reports_sent,
            "reports_refused": run.rejected_reports,
            "actions_done": run.driver.progress.actions_done,
            "wall_s": None if wall_s is None else round(wall_s, 2),
        },
        "activities": {ref: ident for ref, ident in sorted(run.player.activity_ids.items())},
        "timeline": timeline(run),
        "alerts": alerts(run),
        "incidents": incidents,
        "ack_delays": ack_delays(run),
        "line_crossings": line_crossings(events),
        "escalations": [
            dict(e.payload, time=format_utc(e.time_s))
            for e in events
            if e.kind in (EventKind.ACTIVITY_ESCALATED, EventKind.HOTLINE_ESCALATED) and _once(e)
        ],
        "check": check_expectations(scenario, events, run.player.activity_ids),
    }
