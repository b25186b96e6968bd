"""The durable track history: thinned reports of every unit, kept for the retention, read back on start.

One row per kept report, in arrival order, indexed by time only: rows come in nearly in time
order, so both the table and its index grow at their ends (a (unit, time) key would insert at
random and cost twice as much per row). No report is kept twice: history keeps a report only if it
is newer than the unit's last kept one, and the last kept times are read back on start. Written in
one transaction per acknowledged batch (a binary COPY on PostgreSQL, one prepared insert on
SQLite), before the feed gets 202.

Where (``history_database``): on PostgreSQL, the deployment's database (migration
``0009_request_keys``): writers there only wait for the rows they touch. On SQLite, a file of its
own beside the main one (``keepclear-history.db``), with its own writer: SQLite has one writer per
file, and ingest must not queue behind the record writing a storm of 30,000 alerts (measured: the
bench's ingest rate fell to a quarter with the history in the main file). Both files run in WAL
mode with ``synchronous=NORMAL``: a committed batch survives the process being killed (kill -9
included); an operating-system crash or power cut may lose the last commits before a checkpoint.
The side file holds nothing but this bounded history, so it is created here, not by a migration.
Its write-ahead log is copied into the file (a checkpoint, which syncs the disk) by the pruning
pass once a minute on a thread of its own, not by whichever feed's commit crosses SQLite's default
1,000 pages: a feed's 202 never waits for a disk sync.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keepclear.store.database import Database
from keepclear.store.schema import metadata

#: The report columns stored, in ``ReportColumns.values`` order.
VALUE_COLUMNS = ("time_s", "lat_deg", "lon_deg", "alt_m", "vel_east_mps", "vel_north_mps", "vel_up_mps")

track_history = sa.Table(
    "track_history",
    metadata,
    sa.Column("unit_id", sa.String(64), nullable=False),
    sa.Column("time_s", sa.Double, nullable=False),
    sa.Column("party_id", sa.String(64), nullable=False),
    *(sa.Column(name, sa.Double, nullable=False) for name in VALUE_COLUMNS[1:]),
    sa.Index("ix_track_history_time_s", "time_s"),
)

#: The PostgreSQL types of a row's fields, for the binary ``COPY``.
_COPY_TYPES = ["varchar", "varchar", *["float8"] * len(VALUE_COLUMNS)]

#: A row: unit id, party id, then the ``VALUE_COLUMNS``.
HistoryRow = tuple[str, str, float, float, float, float, float, float, float]


def insert(conn: Connection, rows: Sequence[HistoryRow]) -> None:
    """Store ``rows``, in this transaction. Rows go to the driver as tuples: no per-row dictionaries
    on the ingest path. On PostgreSQL (psycopg) by a binary ``COPY``, which costs the client about a
    tenth of the CPU of an insert a row (~1 against ~12 µs a row, measured); elsewhere one prepared
    statement, executed for many rows by the driver."""
    if not rows:
        return
    columns = ("unit_id", "party_id", *VALUE_COLUMNS)
    names = ", ".join(columns)
    cursor = conn.connection.cursor()  # the driver's, in this transaction
    try:
        if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
            with cursor.copy(f"COPY track_history ({names}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(_COPY_TYPES)
                for row in rows:
                    copy.write_row(row)
        else:
            mark = "%s" if conn.dialect.name == "postgresql" else "?"
            cursor.executemany(f"INSERT INTO track_history ({names}) VALUES ({', '.join([mark] * len(columns))})", rows)
    finally:
        cursor.close()


def since(
    conn: Connection, oldest_s: float, newest_s: float = math.inf, chunk_rows: int = 50_000
) -> Iterator[list[HistoryRow]]:
    """Every row from ``oldest_s`` to ``newest_s``, by time, in chunks (a restart reads the whole retention)."""
    columns = [track_history.c.unit_id, track_history.c.party_id, *(track_history.c[n] for n in VALUE_COLUMNS)]
    result = conn.execution_options(yield_per=chunk_rows).execute(
        sa.select(*columns)
        .where(track_history.c.time_s >= oldest_s, track_history.c.time_s <= newest_s)
        .order_by(track_history.c.time_s)
    )
    for partition in result.partitions():
        yield [tuple(row) for row in partition]


def prune(db: Database, older_than_s: float, chunk_s: float = 5.0) -> int:
    """Forget rows older than ``older_than_s``, oldest first, ``chunk_s`` of report time per
    transaction (short ones: ingest writes in between); returns how many."""
    removed = 0
    while True:
        with db.read() as conn:
            first = conn.execute(sa.select(sa.func.min(track_history.c.time_s))).scalar()
        if first is None or first >= older_than_s:
            return removed
        edge_s = min(float(first) + chunk_s, older_than_s)
        with db.write() as conn:
            removed += conn.execute(track_history.delete().where(track_history.c.time_s < edge_s)).rowcount or 0


def checkpoint(db: Database) -> None:
    """On SQLite, copy the write-ahead log into the file now (off the ingest path; module docstring)."""
    if db.is_sqlite:
        with db.read() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


#: Pages of write-ahead log after which a commit on the history file checkpoints by itself: a safety
#: net only, the pruning pass checkpoints once a minute off the ingest path (40 MB at most).
AUTOCHECKPOINT_PAGES = 10_000


def history_database(db: Database) -> Database:
    """The database the track history of ``db``'s deployment lives in (module docstring)."""
    path = db.sqlite_path
    if path is None:
        return db
    side = Database(f"sqlite:///{path.with_name(f'{path.stem}-history{path.suffix}')}")
    with side.write() as conn:
        track_history.create(conn, checkfirst=True)
        conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")  # the one writer connection
    return side
