"""Which incidents a party's list shows: exactly those naming it (a party or the reporter), on both stores.

A party id that is a prefix, suffix or substring of another, differs from it only in case, or holds
characters a ``LIKE`` pattern treats specially (``%``, ``_``, the escape ``/``) or a quote, matches
only itself.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from recordsupport import statements_seen

from keepclear.domain.incidents import Incident, IncidentKind, ReviewStatus
from keepclear.store import Database, migrate
from keepclear.store import incidents as store
from keepclear.store.migrate import alembic_config
from keepclear.store.schema import metadata

#: Party ids that a text match on the stored parties would confuse with one another.
TRICKY = ("a", "ab", "ba", "a_b", "axb", "a%", "a%b", "a/b", "a/", "it's", 'say"', "A", "AB", "a.b", "a-b", "b")


def _incident(n: int, parties: tuple[str, ...], reported_by: str | None = None) -> Incident:
    return Incident(
        id=f"inc-{n:03d}",
        kind=IncidentKind.REPORTED if reported_by else IncidentKind.SEPARATION_LOST,
        status=ReviewStatus.OPEN,
        time_s=1000.0 + n // 3,  # three incidents share each time: the id breaks the tie
        opened_s=1000.0,
        reported_by=reported_by,
        parties=parties,
        unit_ids=(),
        alert_ids=(),
        zone_id=None,
        zone_kind=None,
        summary=f"incident {n}",
    )


def _pages(db: Database, party_id: str | None, limit: int) -> list[str]:
    """Every incident id ``party_id``'s list shows, read in pages of ``limit``."""
    seen: list[str] = []
    after: tuple[float, str] | None = None
    with db.read() as conn:
        while True:
            page = store.incidents_page(conn, party_id, after, limit)
            seen += [i.id for i in page]
            if len(page) < limit:
                return seen
            after = (page[-1].time_s, page[-1].id)


def test_a_party_lists_only_the_incidents_naming_it_exactly(database: Database) -> None:
    stored = [_incident(n, (party,)) for n, party in enumerate(TRICKY)]
    stored += [_incident(100 + n, tuple(sorted({party, "b"}))) for n, party in enumerate(TRICKY)]
    stored += [_incident(200, ("b",), reported_by="a_b")]  # a reporter is shown its report
    with database.write() as conn:
        store.insert_incidents(conn, stored)
    by_time = sorted(stored, key=lambda i: (i.time_s, i.id))
    for party in (*TRICKY, "", "%", "_", "a\nb", "zz"):
        expected = [i.id for i in by_time if party in i.parties or i.reported_by == party]
        assert _pages(database, party, 1000) == expected, party
        assert _pages(database, party, 2) == expected, party
    assert _pages(database, None, 7) == [i.id for i in by_time]


def test_a_page_of_one_party_is_one_range_of_the_index_read_in_order(tmp_path: Path) -> None:
    """SQLite's plan: the membership's primary key searched by party and time, each incident found by
    its id, no sort of the whole list (PostgreSQL chooses by the table's size: the bench shows it)."""
    db = Database(f"sqlite:///{tmp_path / 'plan.db'}")
    migrate(db)
    try:
        with db.write() as conn:
            store.insert_incidents(conn, [_incident(n, ("a", "b") if n % 10 == 0 else ("b",)) for n in range(300)])
        with statements_seen(db.engine) as seen, db.read() as conn:
            page = store.incidents_page(conn, "a", (1010.0, "inc-030"), 5)
        assert [i.id for i in page] == ["inc-040", "inc-050", "inc-060", "inc-070", "inc-080"]
        assert len([s for s, _ in seen if s.lstrip().upper().startswith("SELECT")]) == 1
        statement, parameters = seen[-1]
        with db.read() as conn:
            plan = " | ".join(
                str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            )
        assert (
            "SEARCH incident_parties USING COVERING INDEX sqlite_autoindex_incident_parties_1 (party_id=? AND time_s>?)"
            in plan
        ), plan
        assert "SEARCH incidents USING INDEX sqlite_autoindex_incidents_1 (id=?)" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
    finally:
        db.dispose()


def test_a_failed_write_leaves_no_membership_behind(database: Database) -> None:
    with pytest.raises(RuntimeError), database.write() as conn:
        store.insert_incidents(conn, [_incident(1, ("a", "b"))])
        raise RuntimeError("the rest of the transaction failed")
    with database.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(store.incident_parties)).scalar_one() == 0
    assert _pages(database, "a", 10) == []


def test_the_migration_declares_the_table_the_store_writes(database: Database) -> None:
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if "incident_parties" in repr(d)] == []


_OLD_INCIDENT = sa.text(
    "INSERT INTO incidents (id, kind, status, time_s, opened_s, reported_by, parties, unit_ids, alert_ids, summary)"
    " VALUES (:id, 'reported', 'open', :time_s, 0, :reported_by, :parties, '', '', 's')"
)


def test_incidents_stored_before_the_membership_are_listed_as_before_and_bad_rows_never_fail(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Migration 0015 fills ``incident_parties`` from the incidents already stored, as the store reads
    their text; a row that cannot give a party's row is left out and logged, and the migration and
    every list after it still succeed."""
    db = Database(database_url)
    sqlite = database_url.startswith("sqlite")
    long_id = "x" * 65
    old: list[dict[str, object]] = [
        {"id": "inc-1", "time_s": 10.0, "reported_by": None, "parties": "a\nb"},
        {"id": "inc-2", "time_s": 11.0, "reported_by": "a", "parties": "a\nb\na\n\nab"},  # a twice, a blank line
        {"id": "inc-3", "time_s": 11.0, "reported_by": "c", "parties": "b"},  # a reporter not among the parties
        {"id": "inc-4", "time_s": 12.0, "reported_by": None, "parties": ""},
        {"id": "inc-5", "time_s": 13.0, "reported_by": None, "parties": f"a\n{long_id}"},
        {"id": "inc-6", "time_s": 14.0, "reported_by": None, "parties": "A\na_b\na%\nit's\r"},
        # Not text (SQLite keeps any type in any column), or a time that is not a number.
        {"id": "inc-7", "time_s": 15.0, "reported_by": "a", "parties": b"a\nb" if sqlite else "b"},
        {"id": "inc-8", "time_s": "soon" if sqlite else float("nan"), "reported_by": None, "parties": "a"},
    ]
    try:
        command.upgrade(alembic_config(db), "0007_incident_alerts")
        with db.write() as conn:
            for row in old:
                conn.execute(_OLD_INCIDENT, row)
        with caplog.at_level(logging.WARNING, logger="keepclear.store.migrate"):
            migrate(db)
        with db.read() as conn:
            rows = conn.execute(sa.select(store.incident_parties.c.incident_id, store.incident_parties.c.party_id))
            members = sorted(map(tuple, rows))
        assert members == sorted(
            [
                ("inc-1", "a"), ("inc-1", "b"),
                ("inc-2", "a"), ("inc-2", "ab"), ("inc-2", "b"),
                ("inc-3", "b"), ("inc-3", "c"),
                ("inc-5", "a"),
                ("inc-6", "A"), ("inc-6", "a%"), ("inc-6", "a_b"), ("inc-6", "it's\r"),
                ("inc-7", "a"), *([] if sqlite else [("inc-7", "b")]),
            ]
        )  # fmt: skip
        (warning,) = [r.getMessage() for r in caplog.records if r.name == "keepclear.store.migrate"]
        assert "inc-5: 1 party id(s) longer than 64 characters" in warning
        assert "inc-8: time_s" in warning
        assert ("inc-7: parties is bytes, not text" in warning) == sqlite
        assert _pages(db, "a", 2) == ["inc-1", "inc-2", "inc-5", "inc-7"]
        assert _pages(db, "b", 2) == ["inc-1", "inc-2", "inc-3", *([] if sqlite else ["inc-7"])]
        assert _pages(db, "c", 2) == ["inc-3"]
        assert _pages(db, "A", 2) == _pages(db, "a_b", 2) == ["inc-6"]
        assert _pages(db, long_id, 2) == []
        with db.read() as conn:
            (unreadable,) = [i for i in store.incidents_page(conn, "a", (14.0, "inc-6"), 10) if i.id == "inc-7"]
        assert unreadable.parties == (() if sqlite else ("b",))
        command.downgrade(alembic_config(db), "0007_incident_alerts")
        assert "incident_parties" not in sa.inspect(db.engine).get_table_names()
        migrate(db)  # and up again, from the same rows
        assert _pages(db, "a", 10) == ["inc-1", "inc-2", "inc-5", "inc-7"]
    finally:
        db.dispose()
