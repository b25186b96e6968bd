"""/v1/record and /v1/incidents: the shared record and incidents with each party's own account."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field

from keepclear.api.deps import authorized, hotline_posts, runtime
from keepclear.api.export_streams import ExportStreams
from keepclear.api.input_gate import JudgedBodyRoute
from keepclear.api.models import Strict, WholeNumber
from keepclear.api.models.record import (
    AccountOut,
    ConsistencyProof,
    Cosignatures,
    IncidentDetail,
    IncidentOut,
    InclusionProof,
    RecordExport,
    TimelineItemOut,
)
from keepclear.api.paging import PageRequest, page_request
from keepclear.api.party_rate import PartyRate
from keepclear.domain.identity import Principal
from keepclear.domain.incidents import Account, Incident, ReviewStatus, TimelineItem
from keepclear.domain.timefmt import format_utc, parse_utc
from keepclear.errors import NotFoundError, ValidationError
from keepclear.ledger.note import parse_note
from keepclear.services.policy import (
    Action,
    Sight,
    incident_visible,
    involvement_problems,
    party_sight,
    reference_problems,
    sees_all,
    unknown,
)
from keepclear.services.record.witness import PROBLEM_MAX_CHARS, alarm_text_problem, cosign_custodial, raise_alarm
from keepclear.services.reports.incident import REPORT_STYLE_SOURCE, incident_html
from keepclear.services.reports.words import choose_language
from keepclear.services.runtime.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["record"], route_class=JudgedBodyRoute)
RuntimeDep = Annotated[Runtime, Depends(runtime)]
TimelinePage = Annotated[PageRequest, Depends(page_request("incident-timeline", (float, int)))]


def incident_reports(request: Request) -> PartyRate:
    """The incident reports' rate per party (``api.party_rate``), one for the app."""
    rate: PartyRate = request.app.state.incident_reports
    return rate


ReportsDep = Annotated[PartyRate, Depends(incident_reports)]


PostsDep = Annotated[PartyRate, Depends(hotline_posts)]


def record_exports(request: Request) -> ExportStreams:
    """The record exports streaming per party (``api.export_streams``), one for the app."""
    exports: ExportStreams = request.app.state.record_exports
    return exports


ExportsDep = Annotated[ExportStreams, Depends(record_exports)]


class IncidentReportIn(Strict):
    time: str = Field(max_length=40, description="When it happened, ISO 8601 with zone.")
    summary: str = Field(min_length=1, max_length=4000)
    unit_ids: list[str] = Field(default_factory=list, max_length=50)
    parties: list[str] = Field(default_factory=list, max_length=20)
    alert_ids: list[str] = Field(default_factory=list, max_length=50)
    message_ids: list[str] = Field(default_factory=list, max_length=50)
    zone_id: str | None = Field(None, max_length=64)


class AccountIn(Strict):
    text: str = Field(min_length=1, max_length=20000)
    amends: WholeNumber | None = Field(None, ge=0, description="Position of one of the party's own earlier accounts.")


class ReviewIn(Strict):
    status: Literal["open", "under-review", "agreed", "disputed", "closed"]
    note: str = Field("", max_length=4000)


def _out(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "kind": incident.kind.value,
        "status": incident.status.value,
        "time": format_utc(incident.time_s),
        "opened": format_utc(incident.opened_s),
        "reported_by": incident.reported_by,
        "parties": list(incident.parties),
        "unit_ids": list(incident.unit_ids),
        "alert_ids": list(incident.alert_ids),
        "zone_id": incident.zone_id,
        "summary": incident.summary,
        "evidence_sha256": incident.evidence_sha256,
        "agreed_by": list(incident.agreed_by),
        "disputed_by": list(incident.disputed_by),
    }


def _visible(rt: Runtime, principal: Principal, incident_id: str) -> Incident:
    """The incident, if the caller's party is involved (admin: any); otherwise it does not exist for it."""
    try:
        incident = rt.incidents.get(incident_id)
    except NotFoundError:
        incident = None
    if incident is None or not incident_visible(principal, incident.parties):
        raise NotFoundError(unknown("incident", incident_id))
    return incident


def _sight(rt: Runtime, party_id: str, message_ids: Sequence[str]) -> Sight:
    """What ``party_id`` may name now and who it knows may see each of those (``policy.Sight``); of
    its threads, those of ``message_ids`` (``THREAD_ID#SEQ``): others may open up to
    ``max_hotline_threads_per_party`` threads each with it, which a report naming a message or two
    need not read."""
    alerts = rt.tactical.alerts_for(party_id, include_resolved=True)
    own = [unit.id for unit, _ in rt.deployment.registry.units(party_id)]
    now = {s.unit_id: s.party_id for s in rt.tactical.visible_states(party_id)}
    intruders = rt.tactical.intruder_audiences(party_id)
    named = {m.rpartition("#")[0] for m in message_ids}
    heads = rt.hotline.threads_with_last_seq(party_id, among=named) if named else []
    threads = [(thread.id, thread.parties, last) for thread, last in heads]
    return party_sight(party_id, own, alerts, now, intruders, threads, rt.deployment.clock.now_s())


def _reference_problems(rt: Runtime, party_id: str, body: IncidentReportIn, time_s: float) -> list[str]:
    """What ``body`` names that ``party_id`` may not see or that does not exist, in the same words;
    then another party's unit named at a time (``time_s``, its evidence window) far from when
    ``party_id`` was shown it, and any party it would involve that it does not know may see what
    the report names (the incident shows it to them): judged from the reporter's own sight only."""
    zone_ids = {z.id for z in rt.deployment.zones.list()} if body.zone_id is not None else set()
    known = {p.id for p in rt.deployment.registry.parties()}
    named = {"unit": body.unit_ids, "alert": body.alert_ids, "message": body.message_ids}
    mine = _sight(rt, party_id, body.message_ids)
    problems = [
        *mine.problems(named),
        *reference_problems("parties", "party", body.parties, known),
        *(reference_problems("zone_id", "zone", [body.zone_id], zone_ids) if body.zone_id is not None else []),
    ]
    if problems:
        return problems
    window_s = rt.deployment.settings.incident_evidence_window_s
    return [
        *mine.unshown_at(body.unit_ids, time_s, window_s),
        *involvement_problems(party_id, body.parties, named, mine),
    ]


@router.get("/record/export", response_model=RecordExport)
def export_record(
    rt: RuntimeDep, exports: ExportsDep, principal: Annotated[Principal, Depends(authorized(Action.RECORD_READ))]
) -> StreamingResponse:
    """The ledger as a self-contained file to verify offline (`keepclear ledger verify`).

    A party's export holds a placeholder (seq, prev, hash) for each entry it may not read: the chain and
    the signed tree heads still verify, and nothing says who did what with whom, or when. Streamed,
    its entries read a chunk at a time: the process holds a chunk, not the record. One export of a
    party streams at a time (``api.export_streams``): another is answered 429 with ``Retry-After``
    while it does, before the store is read.
    """
    for_party = None if sees_all(principal) else principal.party_id
    slot = exports.take(principal.party_id or "")  # refused before the store is read
    try:
        text = rt.ledger.export_text(for_party=for_party)
    except BaseException:
        slot.release()
        raise
    return StreamingResponse(slot.stream(text), media_type="application/json")


@router.get("/record/checkpoint", response_class=PlainTextResponse)
def record_checkpoint(
    rt: RuntimeDep, principal: Annotated[Principal, Depends(authorized(Action.RECORD_READ))]
) -> PlainTextResponse:
    """The latest signed tree head, a C2SP checkpoint note (the current head is signed first if needed)."""
    head = rt.ledger.latest_head()
    return PlainTextResponse(head.note or "", media_type="text/plain; charset=utf-8")


@router.get("/record/proof/inclusion")
def record_inclusion_proof(
    rt: RuntimeDep,
    principal: Annotated[Principal, Depends(authorized(Action.RECORD_READ))],
    seq: Annotated[int, Query(ge=1, le=2**62, description="The entry to prove.")],
    size: Annotated[
        int | None, Query(ge=1, le=2**62, description="Tree size of a signed head (default latest).")
    ] = None,
) -> InclusionProof:
    """Inclusion proof of entry ``seq`` (RFC 9162), to check offline with `keepclear ledger verify`.

    A party proves only entries whose payload it may read; any other does not exist for it.
    """
    for_party = None if sees_all(principal) else principal.party_id
    return InclusionProof.model_validate(rt.ledger.inclusion_proof(seq, tree_size=size, for_party=for_party))


@router.get("/record/proof/consistency")
def record_consistency_proof(
    rt: RuntimeDep,
    principal: Annotated[Principal, Depends(authorized(Action.RECORD_READ))],
    old: Annotated[int, Query(ge=1, le=2**62, description="Tree size of the head you saw.")],
    new: Annotated[int | None, Query(ge=1, le=2**62, description="Tree size of a later head (default latest).")] = None,
) -> ConsistencyProof:
    """Consistency proof from the signed head of size ``old`` to that of ``new`` (RFC 9162)."""
    return ConsistencyProof.model_validate(rt.ledger.consistency_proof(old, new))


class CosignatureIn(Strict):
    note: str = Field(
        min_length=1,
        max_length=8000,
        description="A signed tree head of this log with the party's cosignature/v1 line added"
        " (name keepclear.witness/PARTY, its current ledger key).",
    )


@router.post("/record/cosignatures", status_code=201)
def add_cosignature(
    body: CosignatureIn, rt: RuntimeDep, principal: Annotated[Principal, Depends(authorized(Action.RECORD_WITNESS))]
) -> Cosignatures:
    """Record the caller's party's witness cosignature of a head (after it checked consistency from the
    last head it saw: `keepclear ledger witness` does both)."""
    party = principal.party_id or ""
    return _cosignatures(rt, rt.ledger.add_cosignature(party, body.note))


class WitnessIn(Strict):
    tree_size: WholeNumber = Field(
        ge=1, le=2**62, description="Size of the signed head the client checked and cosigns."
    )


@router.post("/record/witness", status_code=201)
def witness_head(
    body: WitnessIn, rt: RuntimeDep, principal: Annotated[Principal, Depends(authorized(Action.RECORD_WITNESS))]
) -> Cosignatures:
    """Cosign a signed head for the caller's custodial party, with the key the deployment holds for it,
    once the client checked it extends the head it saw last (the console does, in the browser). A
    party in strong mode cosigns with its own key (`keepclear ledger witness --key`) and is refused."""
    party = principal.party_id or ""
    size = cosign_custodial(rt.ledger, rt.deployment.clock, party, body.tree_size)
    return _cosignatures(rt, size)


class InconsistencyIn(Strict):
    seen_before: str = Field(min_length=1, max_length=8000, description="The signed head the client saw last.")
    served: str = Field(min_length=1, max_length=8000, description="The signed head served now.")
    problem: str = Field(
        min_length=1, max_length=PROBLEM_MAX_CHARS, description="What the client's check found: one line of text."
    )


class AlarmRaised(BaseModel):
    status: Literal["raised"] = Field(description="The alarm is in the ledger and on the hotline.")
    created: bool = Field(
        description="False: this party raised this very alarm before (the same two heads); nothing new"
        " was recorded or posted."
    )
    alert_id: str = Field(
        description="The alarm's id: its ``alert_id`` in the ledger, the same for the same two heads."
    )


@router.post("/record/inconsistency", status_code=201)
def report_inconsistency(
    body: InconsistencyIn,
    rt: RuntimeDep,
    reports: ReportsDep,
    principal: Annotated[Principal, Depends(authorized(Action.RECORD_WITNESS))],
) -> AlarmRaised:
    """The caller's client found the served head inconsistent with the one it saw: recorded in the
    ledger as ``alert.record_inconsistent`` and sent to every other party on the hotline, both heads
    in the message. ``problem`` is one line of text (422 naming it otherwise, nothing stored or
    posted). The same alarm again (same ``seen_before`` and ``served``) is answered with the
    one raised, ``created`` false, nothing appended or posted. An alarm is the party's report to
    every party: it takes a token of its incident reports (``incident_reports_per_party_per_s``,
    bursts of ``incident_report_burst``), judged once the notes parse and before the store is read:
    past it, 429 with ``Retry-After``, nothing stored (``api.party_rate``); a repeat gives it back."""
    party = principal.party_id or ""
    for field, note in (("seen_before", body.seen_before), ("served", body.served)):
        try:
            parse_note(note)
        except ValueError as exc:
            raise ValidationError([f"{field}: {exc}"]) from None
    if found := alarm_text_problem(body.problem):  # posted in every other party's thread: one line, no escapes
        raise ValidationError([found])
    reports.require(party)
    others = [p.id for p in rt.deployment.registry.parties()]
    alert_id, created = raise_alarm(rt.ledger, rt.hotline, party, body.problem, body.seen_before, body.served, others)
    if not created:  # the same alarm again: nothing new, so its token returns
        reports.give_back(party)
    return AlarmRaised(status="raised", created=created, alert_id=alert_id)


@router.get("/record/cosignatures")
def get_cosignatures(
    rt: RuntimeDep,
    principal: Annotated[Principal, Depends(authorized(Action.RECORD_READ))],
    size: Annotated[int | None, Query(ge=1, le=2**62, description="Tree size (default: the latest cosigned).")] = None,
) -> Cosignatures:
    """A signed head with every cosignature, who has not cosigned it, and whether it is agreed (all parties)."""
    return _cosignatures(rt, size)


def _cosignatures(rt: Runtime, size: int | None) -> Cosignatures:
    head, lines = rt.ledger.cosignatures(size)
    parties = sorted(p.id for p in rt.deployment.registry.parties())
    missing = [p for p in parties if p not in lines]
    return Cosignatures(
        tree_size=head.seq,
        note=(head.note or "") + "".join(line + "\n" for line in lines.values()),
        cosigned_by=sorted(lines),
        missing=missing,
        agreed=not missing,
    )


@router.get("/incidents")
def list_incidents(
    request: Request,
    response: Response,
    rt: RuntimeDep,
    principal: Annotated[Principal, Depends(authorized(Action.RECORD_READ))],
    page: Annotated[PageRequest, Depends(page_request("incidents", (float, str)))],
) -> list[IncidentOut]:
    """Incidents the caller's party is involved in (admin: all), oldest first: a page of ``limit``,
    the next one linked by ``Link: <...>; rel="next"`` (docs/api.md, "Lists come in pages")."""
    party = None if sees_all(principal) else principal.party_id
    after = None if page.after is None else (page.after[0], page.after[1])  # (time_s, id): checked by page_request
    found, more = rt.incidents.page(party, after, page.limit)
    page.link(request, response, (found[-1].time_s, found[-1].id) if more and found else None)
    return [IncidentOut(**_out(i)) for i in found]


@router.post("/incidents", status_code=201)
def report_incident(
    body: IncidentReportIn,
    rt: RuntimeDep,
    reports: ReportsDep,
    principal: Annotated[Principal, Depends(authorized(Action.INCIDENTS_WRITE))],
) -> IncidentOut:
    """Report an incident; the reporting party is always involved.

    It may name only what it may see (its own units, the units and alerts of alerts involving it,
    messages of its threads, any party and zone): anything else is refused as unknown, nothing stored.
    It may involve a party only where it knows that party may see what it names (an alert's parties,
    a thread's members, a unit's party, the witnesses of a zone it intrudes; its own units: anyone).
    A party reporting faster than ``incident_reports_per_party_per_s`` (bursts of ``incident_report_burst``)
    is answered 429 with ``Retry-After``, judged before the store is read, nothing stored (``api.party_rate``).
    """
    assert principal.party_id is not None
    reports.require(principal.party_id)
    try:
        time_s = parse_utc(body.time, "time")
    except ValueError as exc:
        raise ValidationError([str(exc)]) from None
    problems = _reference_problems(rt, principal.party_id, body, time_s)
    if problems:  # validated completely before anything is stored
        raise ValidationError(problems)
    incident = rt.incidents.report(
        principal.party_id,
        time_s=time_s,
        summary=body.summary,
        unit_ids=body.unit_ids,
        parties=body.parties,
        alert_ids=body.alert_ids,
        message_ids=body.message_ids,
        zone_id=body.zone_id,
    )
    return IncidentOut(**_out(incident))


def _account(a: Account) -> AccountOut:
    return AccountOut(
        incident_id=a.incident_id,
        position=a.position,
        party_id=a.party_id,
        text=a.text,
        written=format_utc(a.time_s),
        amends=a.amends,
    )


def _timeline_item(item: TimelineItem) -> TimelineItemOut:
    """The item with its times as ISO 8601 (every ``*_s`` float, as the stored names have it)."""
    values = {k: (format_utc(v) if k.endswith("_s") and isinstance(v, float) else v) for k, v in asdict(item).items()}
    return TimelineItemOut.model_validate(values)


@router.get("/incidents/{incident_id}")
def get_incident(
    incident_id: str, rt: RuntimeDep, principal: Annotated[Principal, Depends(authorized(Action.RECORD_READ))]
) -> IncidentDetail:
    """One incident with every account (each party's own, never altered; at most
    ``max_incident_accounts_per_party`` each) and the earliest ``incident_view_max_timeline_items``
    items of its timeline, ``timeline_total`` counting them all (the rest: ``GET .../timeline``)."""
    incident = _visible(rt, principal, incident_id)
    timeline, total = rt.incidents.timeline_view(incident_id)
    return IncidentDetail(
        **_out(incident),
        accounts=[_account(a) for a in rt.incidents.accounts(incident_id)],
        timeline=[_timeline_item(t) for t in timeline],
        timeline_total=total,
    )


@router.get("/incidents/{incident_id}/timeline")
def list_incident_timeline(
    incident_id: str,
    request: Request,
    response: Response,
    rt: RuntimeDep,
    principal: Annotated[Principal, Depends(authorized(Action.RECORD_READ))],
    page: TimelinePage,
) -> list[TimelineItemOut]:
    """The incident's whole timeline by time (then arrival), a page of ``limit``, the next one linked
    by ``Link: <...>; rel="next"`` (docs/api.md, "Lists come in pages"). An incident the caller's
    party is not involved in answers as an unknown one (404)."""
    _visible(rt, principal, incident_id)
    after = None if page.after is None else (float(page.after[0]), int(page.after[1]))
    found, more = rt.incidents.timeline_page(incident_id, after, page.limit)
    page.link(request, response, (found[-1].time_s, found[-1].position) if more and found else None)
    return [_timeline_item(t) for t in found]


@router.post("/incidents/{incident_id}/accounts", status_code=201)
def add_account(
    incident_id: str,
    body: AccountIn,
    rt: RuntimeDep,
    principal: Annotated[Principal, Depends(authorized(Action.INCIDENTS_WRITE))],
) -> AccountOut:
    """Append the caller's party's account (or an amendment of its own); only it can write it."""
    _visible(rt, principal, incident_id)
    return _account(rt.incidents.add_account(incident_id, principal.party_id or "", body.text, amends=body.amends))


@router.post("/incidents/{incident_id}/review")
def set_review(
    incident_id: str,
    body: ReviewIn,
    rt: RuntimeDep,
    posts: PostsDep,
    principal: Annotated[Principal, Depends(authorized(Action.INCIDENTS_WRITE))],
) -> IncidentOut:
    """Move the joint review forward (an involved party). Each step is an item of the timeline, an
    entry of the record and a message in the standing thread of each other involved party, so it
    takes a token of the party's hotline post rate (``hotline_messages_per_party_per_s``, bursts of
    ``hotline_message_burst``): past it 429 with ``Retry-After``, nothing changed."""
    _visible(rt, principal, incident_id)
    posts.require(principal.party_id or "")
    status = ReviewStatus(body.status)
    return IncidentOut(
        **_out(rt.incidents.set_review(incident_id, status, by_party=principal.party_id, note=body.note))
    )


#: The incident report as served: its one style block and its map figure (a ``data:`` PNG), nothing
#: else; no script runs in it, whatever a party wrote in it.
REPORT_CSP = (
    f"default-src 'none'; style-src {REPORT_STYLE_SOURCE}; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@router.get("/incidents/{incident_id}/report", response_class=HTMLResponse)
def incident_report(
    incident_id: str,
    rt: RuntimeDep,
    principal: Annotated[Principal, Depends(authorized(Action.RECORD_READ))],
    lang: Annotated[
        str | None,
        Query(max_length=35, description="Language of the report (en, ru); default: the reader's party's."),
    ] = None,
    accept_language: Annotated[str | None, Header(max_length=500)] = None,
) -> HTMLResponse:
    """The incident report as self-contained HTML: map figure of the tracks, timeline (its earliest
    ``incident_view_max_timeline_items`` items, saying how many there are), accounts; in
    the language asked for, else the reader's party's, else the first of Accept-Language keepclear
    writes, else English."""

    incident = _visible(rt, principal, incident_id)
    party_language = rt.deployment.registry.party(principal.party_id).language if principal.party_id else None
    timeline, total = rt.incidents.timeline_view(incident_id)
    html = incident_html(
        incident,
        rt.incidents.accounts(incident_id),
        timeline,
        rt.incidents.evidence(incident_id),
        generated_s=rt.deployment.clock.now_s(),
        language=choose_language(lang, party_language, accept_language),
        timeline_total=total,
        figures=rt.report_figures,
        reader=principal.party_id,
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": REPORT_CSP})
