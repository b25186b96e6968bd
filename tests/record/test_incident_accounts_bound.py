"""The accounts one party adds to one incident are bounded (``max_incident_accounts_per_party``),
counted in the transaction that appends one more with the incident's row locked, on SQLite and
PostgreSQL: two API processes adding a party's last one at once cannot both pass."""

from __future__ import annotations

from typing import Any

import pytest

from keepclear.domain.incidents import Account
from keepclear.errors import ConflictError
from keepclear.services.incidents.service import IncidentConfig, IncidentService
from keepclear.services.runtime.bus import EventBus, ManualClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.store import Database
from keepclear.store import incidents as store
from racing import Held, race_at_bound


def _bounded(db: Database, clock: ManualClock, most: int) -> IncidentService:
    return IncidentService(db, clock, EventBus(), None, IncidentConfig(max_accounts_per_party=most))


def test_two_processes_adding_a_partys_last_account_at_once_cannot_both_pass(
    deployment: Deployment, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _bounded(deployment.db, clock, 2)
    other_db = Database(deployment.db.url.render_as_string(hide_password=False))
    second = _bounded(other_db, clock, 2)
    incident = first.report("coalition", time_s=clock.now_s() - 5, summary="close pass", parties=["russia"])
    first.add_account(incident.id, "coalition", "the first")
    held = Held()
    append_account = store.append_account

    def held_open(conn: Any, incident_id: str, party_id: str, time_s: float, text: str, amends: int | None) -> Account:
        account = append_account(conn, incident_id, party_id, time_s, text, amends)
        if text == "held open":
            held.reached()
        return account

    monkeypatch.setattr(store, "append_account", held_open)
    try:
        answers = race_at_bound(
            lambda: first.add_account(incident.id, "coalition", "held open"),
            lambda: second.add_account(incident.id, "coalition", "at the same moment"),
            held,
        )
    finally:
        other_db.dispose()
    assert isinstance(answers[0], Account)
    assert isinstance(answers[1], ConflictError), answers
    assert "max_incident_accounts_per_party: 2" in str(answers[1])
    assert [a.text for a in first.accounts(incident.id)] == ["the first", "held open"]
    assert second.accounts_refused_limit_total == 1 and first.accounts_refused_limit_total == 0
    assert first.add_account(incident.id, "russia", "russia's own").party_id == "russia"  # its own bound
