"""The record's later migrations carry what earlier versions stored."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from keepclear.ledger import LedgerConfig, verify_document
from keepclear.services.record.signer import open_ledger
from keepclear.services.runtime.bus import ManualClock
from keepclear.store import Database, migrate
from keepclear.store import incidents as incidents_store
from keepclear.store.migrate import alembic_config
from keepclear.store.schema import metadata


def test_incident_alert_links_are_filled_from_incidents_stored_before_them(database_url: str) -> None:
    db = Database(database_url)
    try:
        command.upgrade(alembic_config(db), "0005_record")
        with db.write() as conn:
            for incident_id, alert_ids in (("inc-1", "al1\nal2"), ("inc-2", ""), ("inc-3", "al2")):
                conn.execute(
                    sa.text(
                        "INSERT INTO incidents (id, kind, status, time_s, opened_s, parties, unit_ids, alert_ids,"
                        " summary) VALUES (:id, 'separation-lost', 'open', 0, 0, 'a\nb', 'u1\nu2', :alerts, 's')"
                    ),
                    {"id": incident_id, "alerts": alert_ids},
                )
        migrate(db)
        with db.read() as conn:
            links = conn.execute(sa.text("SELECT alert_id, incident_id FROM incident_alerts")).all()
        assert sorted(map(tuple, links)) == [("al1", "inc-1"), ("al2", "inc-1"), ("al2", "inc-3")]
    finally:
        db.dispose()


def test_entries_stored_before_the_hash_index_was_dropped_verify_after_it(database_url: str, tmp_path: Path) -> None:
    db = Database(database_url)
    try:
        command.upgrade(alembic_config(db), "0010_transparency_log")
        ledger = open_ledger(db, ManualClock(1509494400.0), tmp_path, config=LedgerConfig(checkpoint_every_entries=3))
        for i in range(7):
            ledger.append("message.posted", "coalition", {"n": i}, audience=["coalition", "russia"])
        before = ledger.export_document()
        migrate(db)
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert [d for d in diff if "ledger_entries" in repr(d)] == []
        after = open_ledger(db, ManualClock(1509494500.0), tmp_path, config=LedgerConfig(checkpoint_every_entries=3))
        after.append("message.posted", "russia", {"n": 7})
        exported = after.export_document()
        assert exported["entries"][: len(before["entries"])] == before["entries"]
        assert verify_document(exported).ok
        command.downgrade(alembic_config(db), "0010_transparency_log")
        with db.read() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM ledger_entries")).scalar_one() == len(exported["entries"])
    finally:
        db.dispose()


def test_incidents_stored_before_the_index_of_keepclears_are_in_it_and_the_downgrade_drops_it(
    database_url: str,
) -> None:
    """Migration 0019 indexes the times of the incidents keepclear opened (``reported_by IS NULL``),
    those already stored included; the merge window reads them as before; the downgrade drops it."""
    db = Database(database_url)
    try:
        command.upgrade(alembic_config(db), "0015_incident_parties")
        with db.write() as conn:
            for incident_id, time_s, reported_by in (
                ("inc-1", 10.0, None),
                ("inc-2", 11.0, "a"),
                ("inc-3", 900.0, None),
            ):
                conn.execute(
                    sa.text(
                        "INSERT INTO incidents (id, kind, status, time_s, opened_s, reported_by, parties, unit_ids,"
                        " alert_ids, summary) VALUES (:id, 'separation-lost', 'open', :time_s, 0, :reported_by, 'a\nb',"
                        " 'u1', '', 's')"
                    ),
                    {"id": incident_id, "time_s": time_s, "reported_by": reported_by},
                )
        migrate(db)
        with db.engine.connect() as conn:
            indexes = {i["name"]: i for i in sa.inspect(conn).get_indexes("incidents")}
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert [d for d in diff if "incidents" in repr(d)] == []
        where = indexes["ix_incidents_opened_time_s"]["dialect_options"]
        assert "reported_by is null" in str(where.get("sqlite_where", where.get("postgresql_where"))).lower()
        with db.read() as conn:
            found = incidents_store.open_incidents_concerned(
                conn, alert_ids=[], incident_ids=[], time_windows=[(0.0, 100.0)], window_units=None
            )
        assert [i.id for i in found] == ["inc-1"]
        command.downgrade(alembic_config(db), "0015_incident_parties")
        with db.engine.connect() as conn:
            assert "ix_incidents_opened_time_s" not in {i["name"] for i in sa.inspect(conn).get_indexes("incidents")}
            assert conn.execute(sa.text("SELECT count(*) FROM incidents")).scalar_one() == 3
    finally:
        db.dispose()


def test_entries_stored_before_the_index_of_the_ids_they_name_are_indexed_as_the_ledger_indexes_them(
    database_url: str, tmp_path: Path
) -> None:
    """Migration 0020 fills ``ledger_refs`` from the entries already stored exactly as the ledger
    fills it for new ones (the payload's top-level ``alert_id``, ``incident_id``, ``message_id``
    when text of at most 128 characters without NUL; a payload that is not JSON names nothing), and
    the record's other tables are untouched; the downgrade drops it."""
    db = Database(database_url)
    try:
        migrate(db)
        ledger = open_ledger(db, ManualClock(1509494400.0), tmp_path, config=LedgerConfig(checkpoint_every_entries=3))
        ledger.append("alert.raised", None, {"alert_id": "al1", "level": "caution"})
        ledger.append("message.posted", "coalition", {"alert_id": "al1", "message_id": "t#1", "incident_id": 4})
        ledger.append("message.posted", "coalition", {"message_id": "m" * 129, "data": {"alert_id": "al2"}})
        ledger.append("hotline.escalated", None, {"incident_id": "inc-1", "alert_id": "al\x002"})
        ledger.append("incident.opened", None, {"incident_id": "inc-1", "alert_ids": ["al1"]})
        ledger.append("message.posted", "russia", ["al1"])
        ledger.append("message.posted", "russia", {"text": "nothing named"})
        with db.read() as conn:
            written = sorted(map(tuple, conn.execute(sa.text("SELECT ref, time_us, seq FROM ledger_refs")).all()))
            entries = conn.execute(sa.text("SELECT count(*) FROM ledger_entries")).scalar_one()
        assert [ref for ref, _, _ in written] == ["al1", "al1", "inc-1", "inc-1", "t#1"]

        command.downgrade(alembic_config(db), "0011_record_hash_index")
        with db.engine.connect() as conn:
            assert "ledger_refs" not in sa.inspect(conn).get_table_names()
        migrate(db)
        with db.read() as conn:
            filled = sorted(map(tuple, conn.execute(sa.text("SELECT ref, time_us, seq FROM ledger_refs")).all()))
            assert conn.execute(sa.text("SELECT count(*) FROM ledger_entries")).scalar_one() == entries
        assert filled == written
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert [d for d in diff if "ledger_refs" in repr(d)] == []
        named = sorted({seq for ref, _, seq in written if ref in ("al1", "inc-1")})
        assert [e.seq for e in ledger.entries(refs={"al1", "inc-1"})] == named
    finally:
        db.dispose()


def test_timelines_stored_before_the_index_of_their_order_are_in_it_and_the_downgrade_drops_it(
    database_url: str,
) -> None:
    """Migration 0022 indexes each incident's timeline by (incident, time, position), the items
    already stored included; a page reads them in that order; the downgrade drops the index only."""
    db = Database(database_url)
    try:
        command.upgrade(alembic_config(db), "0019_incidents_opened_index")
        with db.write() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO incidents (id, kind, status, time_s, opened_s, parties, unit_ids, alert_ids,"
                    " summary) VALUES ('inc-1', 'separation-lost', 'open', 0, 0, 'a\nb', 'u1', '', 's')"
                )
            )
            for position, time_s in ((1, 30.0), (2, 10.0), (3, 20.0), (4, 10.0)):
                conn.execute(
                    sa.text(
                        "INSERT INTO incident_timeline (incident_id, position, time_s, kind, party_id, payload)"
                        " VALUES ('inc-1', :position, :time_s, 'alert.updated', NULL, '{}')"
                    ),
                    {"position": position, "time_s": time_s},
                )
        migrate(db)
        with db.engine.connect() as conn:
            indexes = {i["name"]: i for i in sa.inspect(conn).get_indexes("incident_timeline")}
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert [d for d in diff if "incident_timeline" in repr(d)] == []
        assert indexes["ix_incident_timeline_order"]["column_names"] == ["incident_id", "time_s", "position"]
        with db.read() as conn:
            first = incidents_store.timeline_page(conn, "inc-1", None, 2)
            rest = incidents_store.timeline_page(conn, "inc-1", (first[-1].time_s, first[-1].position), 10)
            total = incidents_store.timeline_length(conn, "inc-1")
        assert [t.position for t in first + rest] == [2, 4, 3, 1] and total == 4
        command.downgrade(alembic_config(db), "0019_incidents_opened_index")
        with db.engine.connect() as conn:
            names = {i["name"] for i in sa.inspect(conn).get_indexes("incident_timeline")}
            assert "ix_incident_timeline_order" not in names
            assert conn.execute(sa.text("SELECT count(*) FROM incident_timeline")).scalar_one() == 4
    finally:
        db.dispose()


def test_incidents_stored_before_the_joint_review_keep_their_status_with_no_stance_and_the_downgrade_drops_it(
    database_url: str,
) -> None:
    """Migration 0027 keeps each involved party's stance in the review (who agrees, who disputes):
    incidents stored before keep their status and have no stance; the schema is what the code
    describes; the downgrade drops the two columns, the incidents kept."""
    db = Database(database_url)
    try:
        command.upgrade(alembic_config(db), "0022_incident_timeline_order")
        with db.write() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO incidents (id, kind, status, time_s, opened_s, parties, unit_ids, alert_ids,"
                    " summary) VALUES ('inc-1', 'separation-lost', 'disputed', 0, 0, 'a\nb', 'u1', '', 's')"
                )
            )
        migrate(db)
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert [d for d in diff if "'incidents'" in repr(d) or "review_" in repr(d)] == []
        with db.read() as conn:
            stored = incidents_store.get_incident(conn, "inc-1")
        assert (stored.status.value, stored.agreed_by, stored.disputed_by) == ("disputed", (), ())
        command.downgrade(alembic_config(db), "0022_incident_timeline_order")
        with db.engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("incidents")}
            assert not {"review_agreed", "review_disputed"} & columns
            assert conn.execute(sa.text("SELECT count(*) FROM incidents")).scalar_one() == 1
    finally:
        db.dispose()
