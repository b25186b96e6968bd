"""Fixtures of the record tests: a ledger on each store, and a ledger populated with a bit of everything."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from keepclear.ledger import Ledger, LedgerConfig
from keepclear.services.record.signer import open_ledger
from keepclear.services.runtime.bus import ManualClock
from keepclear.services.runtime.deployment import Deployment


@pytest.fixture
def ledger(deployment: Deployment, tmp_path: Path) -> Ledger:
    """An empty ledger on each store, keys in a temporary folder, every entry signed on its own
    (these tests are about per-entry signatures; batch signing has its own in test_record_tlog)."""
    config = LedgerConfig(checkpoint_every_entries=4, entry_signatures="each")
    return open_ledger(deployment.db, deployment.clock, tmp_path / "data", config=config)


@pytest.fixture
def populated(ledger: Ledger, clock: ManualClock) -> Ledger:
    """Entries by the deployment and two custodial parties, one rotation in between."""
    ledger.append("party.added", None, {"party_id": "coalition"})
    ledger.append(
        "activity.notified", "coalition", {"activity_id": "a1", "alt_ft": 20000.5}, audience=["coalition", "russia"]
    )
    clock.advance(30)
    ledger.append("activity.acknowledged", "russia", {"activity_id": "a1"}, audience=["coalition", "russia"])
    ledger.append("message.posted", "russia", {"message_id": "m1", "text": "Приём"}, audience=["coalition", "russia"])
    ledger.rotate_key("russia")
    clock.advance(60)
    ledger.append(
        "message.posted", "russia", {"message_id": "m2", "text": "after rotation"}, audience=["coalition", "russia"]
    )
    ledger.append("alert.raised", None, {"alert_id": "x1", "level": "caution"}, audience=["coalition", "russia"])
    ledger.append("message.posted", "coalition", {"message_id": "m3", "text": "private"}, audience=["coalition"])
    return ledger


@pytest.fixture
def export(populated: Ledger) -> dict[str, Any]:
    """A clean export of ``populated`` (a deep copy tests may tamper with)."""
    return copy.deepcopy(populated.export_document())
