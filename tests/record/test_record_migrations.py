"""The record's later migrations carry what earlier versions stored."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from keepclear.store import Database, migrate
from keepclear.store.migrate import alembic_config


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
