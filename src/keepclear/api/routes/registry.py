"""/v1/parties, /v1/forces, /v1/units, /v1/me, /v1/health."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends

from keepclear import __version__
from keepclear.api.deps import authorized, public, runtime
from keepclear.api.input_gate import JudgedBodyRoute
from keepclear.api.models import (
    ForceIn,
    ForceOut,
    Health,
    Metrics,
    PartyIn,
    PartyOut,
    UnitIn,
    UnitOut,
    WhoAmI,
)
from keepclear.domain import Domain, Force, Party, Unit
from keepclear.domain.identity import Principal, Role
from keepclear.domain.parties import Contact
from keepclear.domain.timefmt import format_utc
from keepclear.errors import StoreUnavailableError
from keepclear.services.policy import Action, sees_party_data
from keepclear.services.record.signer import RecordStatus
from keepclear.services.runtime.runtime import Runtime

router = APIRouter(prefix="/v1", route_class=JudgedBodyRoute)
RuntimeDep = Annotated[Runtime, Depends(runtime)]


@router.get("/health", dependencies=[Depends(public)], tags=["meta"])
def health(rt: RuntimeDep) -> Health:
    """Liveness, answered without a key (always 200): ``degraded`` while the record falls behind by
    more than ``record_backlog_degraded_s``, has parked entries, could not drain or its outbox is full,
    or while event subscribers fail. Which component, in words: no counts, which would tell anyone who
    reaches the port how busy the deployment is (the admin has them: ``/v1/metrics`` ``problems``)."""
    problems = [problem.said for problem in health_problems(rt, _read_record(rt))]
    return Health(status="degraded" if problems else "ok", version=__version__, problems=problems)


@dataclass(frozen=True, slots=True)
class HealthProblem:
    """Why the service is degraded: ``said`` to anyone (``/v1/health``: the component and what is
    wrong), ``counted`` to the admin (``/v1/metrics``: the same with its counts and ages)."""

    said: str
    counted: str


def _read_record(rt: Runtime) -> RecordStatus | Exception:
    """The signer's status, or why it cannot be read (the store cannot be reached, the outbox not read):
    read once a request, for both the health problems and the metrics' ``record``."""
    try:
        return rt.record.status()
    except Exception as exc:  # judged by health_problems: the metrics are needed most then
        return exc


def health_problems(rt: Runtime, record: RecordStatus | Exception) -> list[HealthProblem]:
    """Why the service is degraded (no party's data); ``record``: ``_read_record``'s answer."""
    problems = []
    if rt.deployment.db.outdated is not None:
        text = (
            "store: a newer keepclear migrated the schema: this process writes nothing (writes are answered 503);"
            " replace it by a process of the newer build"
        )
        problems.append(HealthProblem(text, text))
    if isinstance(record, StoreUnavailableError):
        going_on = (
            "store: cannot be reached: writes are answered 503; track ingest, the probe, alerts and the live"
            " streams go on;"
        )
        waiting = "wait for the record, incidents and the hotline, and"
        said = f"{going_on} events (alerts) {waiting} track history to be written"
        held, rows = rt.deployment.bus.held_events, rt.history.pending_rows
        counted = f"{going_on} {held} events (alerts) {waiting} {rows} track history rows to be written"
        return [*problems, HealthProblem(said, counted)]
    if isinstance(record, Exception):
        text = f"record: the outbox cannot be read ({type(record).__name__})"
        return [HealthProblem(text, text)]
    limit_s = rt.deployment.settings.record_backlog_degraded_s
    if record.waiting and record.oldest_age_s > limit_s:
        problems.append(
            HealthProblem(
                f"record: entries have waited to be signed for more than {limit_s:g} s",
                f"record: {record.waiting} entries wait to be signed, the oldest for {record.oldest_age_s:.0f} s"
                f" (more than {limit_s:g} s)",
            )
        )
    if record.failed:
        problems.append(
            HealthProblem(
                "record: entries failed to be signed and are parked in the outbox",
                f"record: {record.failed} entries failed to be signed and are parked in the outbox",
            )
        )
    if record.waiting + record.failed >= record.outbox_limit:
        problems.append(
            HealthProblem(
                "record: the outbox is full: writes are refused with 503",
                f"record: the outbox is full ({record.outbox_limit} entries): writes are refused with 503",
            )
        )
    if rt.record.failing:
        text = "record: the last attempt to drain the outbox failed"
        problems.append(HealthProblem(text, text))
    if rt.deployment.bus.failing:
        problems.append(
            HealthProblem(
                "events: a subscriber failed in the last minute",
                f"events: a subscriber failed in the last minute ({rt.deployment.bus.failures_total} failures in all)",
            )
        )
    return problems


def _rss_bytes() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@router.get("/metrics", tags=["meta"])
def metrics(rt: RuntimeDep, _: Annotated[Principal, Depends(authorized(Action.METRICS_READ))]) -> Metrics:
    """Ingest totals, tick and task timings, memory, and why health is degraded with the counts
    (``problems``): for the operator (admin). ``record`` is null while the store cannot be read."""
    record = _read_record(rt)
    return Metrics(
        ingest_accepted_total=rt.ingest.accepted_total,
        ingest_refused_total=rt.ingest.refused_total,
        ingest_queued=rt.ingest.queued,
        ticks=rt.ticks,
        tick_errors=rt.tick_errors,
        task_duration_s=dict(rt.task_duration_s),
        rss_bytes=_rss_bytes(),
        counters=rt.counters(),
        record=None if isinstance(record, Exception) else record,
        events_subscriber_failures_total=rt.deployment.bus.failures_total,
        process_id=os.getpid(),
        problems=[problem.counted for problem in health_problems(rt, record)],
    )


@router.get("/me", tags=["meta"])
def whoami(rt: RuntimeDep, principal: Annotated[Principal, Depends(authorized(Action.WHOAMI))]) -> WhoAmI:
    """The caller's key, role and party, and the deployment's clock (``now``, ``clock_rate``)."""
    clock = rt.deployment.clock
    return WhoAmI(
        key_id=principal.key_id,
        role=principal.role.value,
        party_id=principal.party_id,
        person=principal.person,
        now=format_utc(clock.now_s()),
        clock_rate=float(getattr(clock, "rate", 1.0)),
    )


@router.get("/parties", tags=["registry"])
def list_parties(rt: RuntimeDep, _: Annotated[Principal, Depends(authorized(Action.PARTIES_READ))]) -> list[PartyOut]:
    """Every party (names are shared so activities and threads can address them)."""
    parties = rt.deployment.registry.parties()
    return [PartyOut(id=p.id, name=p.name, language=p.language) for p in parties]


@router.post("/parties", status_code=201, tags=["registry"])
def add_party(
    body: PartyIn, rt: RuntimeDep, _: Annotated[Principal, Depends(authorized(Action.PARTIES_WRITE))]
) -> PartyOut:
    """Add a party with its escalation roster (admin)."""
    party = Party(body.id, body.name, body.language)
    roster = [Contact(c.name, c.role) for c in body.roster]
    rt.deployment.registry.add_party(party, roster)
    return PartyOut(id=party.id, name=party.name, language=party.language)


def _force_out(force: Force) -> ForceOut:
    return ForceOut(id=force.id, name=force.name, party_id=force.party_id, partner=force.partner)


@router.get("/forces", tags=["registry"])
def list_forces(
    rt: RuntimeDep, principal: Annotated[Principal, Depends(authorized(Action.FORCES_READ))]
) -> list[ForceOut]:
    """Forces: admin sees all; a party sees its own and its partners'."""
    forces = rt.deployment.registry.forces()
    return [_force_out(f) for f in forces if principal.role is Role.ADMIN or sees_party_data(principal, f.party_id)]


@router.post("/forces", status_code=201, tags=["registry"])
def add_force(
    body: ForceIn, rt: RuntimeDep, _: Annotated[Principal, Depends(authorized(Action.FORCES_WRITE))]
) -> ForceOut:
    """Add a force, own or partner, to a party (admin)."""
    force = Force(body.id, body.name, body.party_id, body.partner)
    rt.deployment.registry.add_force(force)
    return _force_out(force)


def _unit_out(unit: Unit, party_id: str) -> UnitOut:
    return UnitOut(
        id=unit.id,
        callsign=unit.callsign,
        domain=unit.domain.value,
        kind=unit.kind,
        force_id=unit.force_id,
        party_id=party_id,
    )


@router.get("/units", tags=["registry"])
def list_units(
    rt: RuntimeDep, principal: Annotated[Principal, Depends(authorized(Action.UNITS_READ))]
) -> list[UnitOut]:
    """Units: admin sees all; a party (liaison, observer, feed) only its own and its partners'."""
    units = rt.deployment.registry.units()
    return [
        _unit_out(u, owner) for u, owner in units if principal.role is Role.ADMIN or sees_party_data(principal, owner)
    ]


@router.post("/units", status_code=201, tags=["registry"])
def add_unit(body: UnitIn, rt: RuntimeDep, _: Annotated[Principal, Depends(authorized(Action.UNITS_WRITE))]) -> UnitOut:
    """Add a unit to a force (admin)."""
    unit = Unit(body.id, body.callsign, Domain(body.domain), body.kind, body.force_id)
    rt.deployment.registry.add_unit(unit)
    stored, party_id = rt.deployment.registry.unit(unit.id)
    return _unit_out(stored, party_id)
