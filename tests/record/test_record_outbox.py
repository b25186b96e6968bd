"""The record's outbox: every write's entries commit with it, a restart signs what a crash left,
refused entries are retried a bounded number of times and shown, never lost and never doubled."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from keepclear.cli.main import main
from keepclear.domain import Party
from keepclear.domain.events import Event
from keepclear.domain.hotline import Draft, MessageKind, PhraseUse
from keepclear.domain.timefmt import format_utc
from keepclear.ledger import Ledger, verify_document
from keepclear.services.hotline.service import HotlineService
from keepclear.services.record.signer import RecordSigner
from keepclear.services.record.staging import stage
from keepclear.services.runtime.bus import EventBus, ManualClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.store import outbox

PARTIES = frozenset({"coalition", "russia"})


def _kinds(ledger: Ledger) -> list[str]:
    return [e.statement.kind for e in ledger.entries() if e.statement.kind not in ("ledger.genesis", "key.registered")]


def test_a_crash_after_commit_is_healed_at_start(deployment: Deployment, ledger: Ledger, clock: ManualClock) -> None:
    """Committed with its change but never signed (the process died): the next signer's start signs it, once."""
    for n in range(3):
        with deployment.db.write() as conn:
            stage(conn, [Event("activity.acknowledged", clock.now_s(), "russia", {"n": n}, PARTIES)])
    assert _kinds(ledger) == []
    signer = RecordSigner(deployment.db, ledger, poll_s=0.05)
    signer.start()
    try:
        signer.wake()
        for _ in range(200):
            if signer.status().waiting == 0 and len(_kinds(ledger)) == 3:
                break
            signer.wake()
            time.sleep(0.05)
    finally:
        signer.stop()
    assert [e.payload_value()["n"] for e in ledger.entries() if e.statement.kind == "activity.acknowledged"] == [
        0,
        1,
        2,
    ]
    assert signer.drain() == 0  # nothing left to sign twice
    assert verify_document(ledger.export_document()).ok


def test_a_write_that_rolls_back_records_nothing(deployment: Deployment, ledger: Ledger, clock: ManualClock) -> None:
    bus = EventBus()
    bus.subscribe_batches(RecordSigner(deployment.db, ledger).record)
    with pytest.raises(RuntimeError), deployment.db.write() as conn:
        stage(conn, [Event("activity.notified", clock.now_s(), "coalition", {"a": 1}, PARTIES)])
        raise RuntimeError("the change failed")
    bus.emit(Event("activity.notified", clock.now_s(), "coalition", {"a": 1}, PARTIES))
    assert _kinds(ledger) == []


def test_a_refused_entry_is_retried_then_parked_and_shown(
    deployment: Deployment, ledger: Ledger, clock: ManualClock
) -> None:
    """One entry the ledger refuses (a reserved kind) costs only itself: the others are signed, it is
    tried ``max_attempts`` times, then parked, counted and kept in the outbox."""
    with deployment.db.write() as conn:
        stage(conn, [Event("activity.notified", clock.now_s(), "coalition", {"a": 1}, PARTIES)])
        outbox.stage(conn, [("ledger.genesis", None, clock.now_s(), "{}", None)], 0.0)
        stage(conn, [Event("activity.acknowledged", clock.now_s(), "russia", {"a": 1}, PARTIES)])
    signer = RecordSigner(deployment.db, ledger, max_attempts=2)
    signer.drain()
    assert _kinds(ledger) == ["activity.notified", "activity.acknowledged"]
    status = signer.status()
    assert (status.waiting, status.failed, status.retries_total) == (1, 0, 1)
    assert status.last_error is not None and "ledger.genesis" in status.last_error
    with deployment.db.write() as conn:  # the retry is due (no waiting out the back-off in a test)
        conn.execute(outbox.record_outbox.update().values(next_try_s=0.0))
    signer.drain()
    status = signer.status()
    assert (status.waiting, status.failed, status.retries_total) == (0, 1, 2)
    with deployment.db.read() as conn:
        ((_, kind, attempts, error),) = outbox.failed_entries(conn)
    assert (kind, attempts) == ("ledger.genesis", 2) and error is not None and "reserved" in error
    assert signer.drain() == 0 and _kinds(ledger) == ["activity.notified", "activity.acknowledged"]
    assert verify_document(ledger.export_document()).ok


def test_a_message_entry_says_what_was_said_to_the_members_only(
    deployment: Deployment, ledger: Ledger, clock: ManualClock
) -> None:
    bus = EventBus()
    bus.subscribe_batches(RecordSigner(deployment.db, ledger).record)
    deployment.bus = bus
    for party in ("coalition", "russia", "un"):
        deployment.registry.add_party(Party(party, party.title(), "en"))
    hotline = HotlineService(deployment.db, clock, bus)
    thread = hotline.ensure_pair_thread("coalition", "russia")
    hotline.post(
        "coalition",
        "duty",
        Draft(thread.id, MessageKind.TEXT, idempotency_key="key-0001", body="Holding at FL200, «copy»?"),
    )
    phrase = PhraseUse("UNABLE", {"ref": "#1", "reason": "weather"})
    hotline.post("russia", "watch", Draft(thread.id, MessageKind.TEXT, idempotency_key="key-0002", phrase=phrase))
    posted = [e for e in ledger.entries() if e.statement.kind == "message.posted"]
    assert [(e.statement.party_id, e.statement.audience) for e in posted] == [
        ("coalition", ("coalition", "russia")),
        ("russia", ("coalition", "russia")),
    ]
    text, coded = (e.payload_value() for e in posted)
    assert text["text"] == "Holding at FL200, «copy»?" and "phrase" not in text
    assert (text["thread_id"], text["seq"], text["person"]) == (thread.id, 1, "duty")
    assert coded["phrase"] == {"code": "UNABLE", "params": {"ref": "#1", "reason": "weather"}} and "text" not in coded
    # a party outside the thread sees a placeholder for each message: not who said what, nor when
    for_un = verify_document(ledger.export_document(for_party="un"))
    assert for_un.ok and for_un.redacted >= 2
    outside = ledger.export_document(for_party="un")["entries"]
    assert all(e["statement"]["kind"] != "message.posted" for e in outside if "statement" in e)
    assert sum(set(e) == {"seq", "prev", "hash"} for e in outside) >= 2


def test_cli_writes_reach_the_record(tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``keepclear party add`` and ``keepclear activity notify`` from the command line are recorded."""
    base = ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]
    assert main([*base, "init"]) == 0
    for party in ("alpha", "bravo"):
        assert main([*base, "party", "add", party]) == 0
    document = {
        "kind": "air-operation",
        "start": format_utc(time.time() + 30 * 3600),
        "end": format_utc(time.time() + 32 * 3600),
        "addressees": ["bravo"],
        "contact": "Alpha duty officer",
        "volumes": [
            {
                "geometry": {"type": "Polygon", "coordinates": [[[40, 35], [40.2, 35], [40.2, 35.2], [40, 35]]]},
                "lower_ft": 1000,
                "upper_ft": 9000,
            }
        ],
    }
    activity_file = tmp_path / "activity.json"
    activity_file.write_text(json.dumps(document))
    assert main([*base, "activity", "notify", "--party", "alpha", str(activity_file)]) == 0
    export = tmp_path / "export.json"
    assert main([*base, "ledger", "export", "-o", str(export)]) == 0
    capsys.readouterr()
    entries = json.loads(export.read_text())["entries"]
    kinds = [e["statement"]["kind"] for e in entries]
    assert kinds.count("party.added") == 2 and kinds.count("activity.notified") == 1
    assert verify_document(json.loads(export.read_text())).ok
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM record_outbox")).scalar_one() == 0
    engine.dispose()


def test_a_write_with_an_unrecordable_event_is_refused(deployment: Deployment, clock: ManualClock) -> None:
    for kind, payload in (("activity.Notified", {}), ("activity.notified", {"x": float("nan")})):
        with pytest.raises(ValueError), deployment.db.write() as conn:
            stage(conn, [Event(kind, clock.now_s(), "coalition", payload, PARTIES)])
    with deployment.db.read() as conn:
        assert outbox.backlog(conn).waiting == 0


def test_a_full_outbox_refuses_the_write_and_takes_it_again_once_drained(
    deployment: Deployment, ledger: Ledger, clock: ManualClock
) -> None:
    """Past ``max_rows`` (waiting and parked rows together) ``stage`` refuses, and the write's
    transaction with it; rows signed out of order leave gaps in the ids that are not counted."""

    def staged(n: int) -> list[tuple[str, str | None, float, str, list[str] | None]]:
        return [("activity.acknowledged", "russia", clock.now_s(), json.dumps({"n": i}), None) for i in range(n)]

    with deployment.db.write() as conn:
        outbox.stage(conn, staged(3), clock.now_s(), max_rows=3)
    with (
        pytest.raises(outbox.OutboxFull, match=r"holds 3 entries .*at most 3") as refused,
        deployment.db.write() as conn,
    ):
        outbox.stage(conn, staged(1), clock.now_s(), max_rows=None)  # an earlier write of the transaction
        outbox.stage(conn, staged(1), clock.now_s(), max_rows=3)
    assert refused.value.retry_after_s > 0
    with deployment.db.read() as conn:
        assert outbox.backlog(conn).waiting == 3  # the whole transaction was refused
        ids = [row.id for row in outbox.take(conn, clock.now_s(), 10)]
    with deployment.db.write() as conn:
        outbox.remove(conn, [ids[1]])  # signed out of order: ids 1 and 3 are left
        outbox.stage(conn, staged(1), clock.now_s(), max_rows=3)
    assert RecordSigner(deployment.db, ledger).drain() == 3
    with deployment.db.write() as conn:
        outbox.stage(conn, staged(3), clock.now_s(), max_rows=3)
