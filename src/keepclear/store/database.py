"""The database handle: one engine for reads, one serialised writer path for writes.

SQLite runs in WAL mode; every write transaction goes through ``Database.write()``, which holds
a lock of this handle and starts with ``BEGIN IMMEDIATE``, so writers queue instead of failing
with "database is locked". PostgreSQL uses the same path without the lock: its row locks order
concurrent writers, in this process as across processes.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from keepclear.errors import KeepclearError, StoreUnavailableError
from keepclear.store.request_keys import hold_pending_claim
from keepclear.store.schema_revisions import SchemaNewerError, Shipped, newer_problem, shipped, stored_revisions

#: SQLSTATE classes of a server that is going away or cannot be reached: connection exception (08),
#: operator intervention (57: shutting down, crashed, not accepting connections yet).
_UNREACHABLE_SQLSTATE_CLASSES = ("08", "57")
#: SQLite's words for a file that cannot be used now (the rest of its OperationalErrors are bugs).
_SQLITE_UNREACHABLE = ("unable to open database file", "disk i/o error", "database is locked")


class DeploymentNotInitialised(KeepclearError):
    """The database has no keepclear schema (run ``keepclear init``)."""


class OutdatedBuildError(StoreUnavailableError):
    """A newer keepclear migrated the schema while this process ran (``Database.look_at_schema``): the
    store is out of its reach for writes, as in an outage (alerts and live streams go on, events wait),
    until the process is replaced by one of the newer build, which another process may already be."""

    def __init__(self, cause: str) -> None:
        super().__init__(
            cause,
            retry_after_s=1.0,
            said="this process runs an older keepclear than the deployment's schema; nothing was stored; try"
            " again (a process of the newer build takes it)",
        )


def _sqlite_engine(url: sa.URL, *, begin_sql: str, pool_size: int) -> Engine:
    engine = sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=0 if pool_size == 1 else 8,
        connect_args={"check_same_thread": False, "timeout": 30},
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin_sql)

    return engine


#: ``look_at_schema`` reads the schema's revisions at most this often (a chore round is ``tick_s``;
#: a replay runs its rounds faster than real time).
SCHEMA_LOOK_S = 1.0

#: A pooled PostgreSQL connection idle longer than this is checked before use.
POSTGRES_IDLE_CHECK_S = 10.0


def _postgres_engine(url: sa.URL) -> Engine:
    engine = sa.create_engine(url, pool_size=5, max_overflow=10)

    # Checked before use only after being idle: a connection the server or a firewall dropped is
    # replaced without the caller noticing, while a busy pool (a hotline post every millisecond)
    # does not pay a round trip per transaction for it.
    @sa.event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since_s"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("idle_since_s", time.monotonic()) < POSTGRES_IDLE_CHECK_S:
            return
        try:
            dbapi_connection.execute("SELECT 1")
            dbapi_connection.rollback()
        except Exception as exc:
            raise sa.exc.DisconnectionError(str(exc)) from exc  # the pool opens a fresh connection

    return engine


def unreachable(exc: BaseException) -> str | None:
    """Why the store cannot be reached, when ``exc`` says so (else None): a server restarting, failing
    over or cut off, a connection pool with none free, a SQLite file that cannot be opened or stays
    locked. Not constraint violations, serialisation failures or SQL errors: those are the request's
    or the code's, and keep their own answers."""
    if isinstance(exc, sa.exc.TimeoutError):  # the pool: no connection free within its timeout
        return "no database connection free"
    if not isinstance(exc, sa.exc.DBAPIError):
        return None
    if exc.connection_invalidated:
        return "the database connection was lost"
    orig = exc.orig
    if isinstance(exc, sa.exc.OperationalError):
        sqlstate = getattr(orig, "sqlstate", None)
        if type(orig).__module__.startswith("psycopg") and (
            sqlstate is None or str(sqlstate)[:2] in _UNREACHABLE_SQLSTATE_CLASSES
        ):
            return f"PostgreSQL: {str(orig).splitlines()[0][:200] if str(orig) else type(orig).__name__}"
        if type(orig).__module__.startswith("sqlite3") and str(orig).lower() in _SQLITE_UNREACHABLE:
            return f"SQLite: {orig}"
    return None


@contextmanager
def _reachable() -> Iterator[None]:
    """Raise ``StoreUnavailableError`` (a 503 with Retry-After) for an error that says the store
    cannot be reached; every other error passes unchanged."""
    try:
        yield
    except (sa.exc.DBAPIError, sa.exc.TimeoutError) as exc:
        cause = unreachable(exc)
        if cause is None:
            raise
        raise StoreUnavailableError(cause) from exc


class Database:
    """A keepclear database at ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``)."""

    def __init__(self, url: str) -> None:
        self.url = sa.make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            self._reader = _sqlite_engine(self.url, begin_sql="BEGIN", pool_size=5)
            self._writer = _sqlite_engine(self.url, begin_sql="BEGIN IMMEDIATE", pool_size=1)
        else:
            self._reader = _postgres_engine(self.url)
            self._writer = self._reader
        self._write_lock = threading.Lock()
        #: Set by ``dispose``: a transaction asked for afterwards (a request still running while the
        #: service stops) is refused, rather than opening a pool nobody would close again.
        self._disposed = False
        self._shipped: Shipped | None = None
        self._schema_looked_s = -SCHEMA_LOOK_S  # monotonic: the last look_at_schema's read
        #: Why this process writes nothing more (``look_at_schema`` found a newer keepclear's schema), or None.
        self.outdated: str | None = None

    @property
    def engine(self) -> Engine:
        """The reading engine (migrations use the writer through ``write``)."""
        return self._reader

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: committed when the block ends, rolled back if it raises.

        On SQLite writers of this handle queue on a lock (the file has one writer at a time). On
        PostgreSQL they run side by side, as writers in other processes do anyway: every write
        path locks the rows it depends on (in a fixed order), so a post need not wait for a
        ledger batch to commit first.

        The first transaction of a request sent with an idempotency key also stores the key
        (``request_keys.claiming``): the key and what the request wrote commit together.
        """
        claim = None
        self._require_open()
        if self.outdated is not None:
            raise OutdatedBuildError(self.outdated)
        try:
            with (
                _reachable(),
                self._write_lock if self.is_sqlite else contextlib.nullcontext(),
                self._writer.begin() as conn,
            ):
                claim = hold_pending_claim(conn)
                yield conn
        except BaseException:
            if claim is not None:  # rolled back with everything else: the next transaction claims it
                claim.held = False
            raise

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only snapshot for the length of the block."""
        self._require_open()
        with _reachable(), self._reader.connect() as conn, conn.begin():
            yield conn

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file, or None for an in-memory or server database."""
        database = self.url.database or ""
        return Path(database) if self.is_sqlite and database and database != ":memory:" else None

    @property
    def where(self) -> str:
        """The database's URL without its password: for messages."""
        return self.url.render_as_string(hide_password=True)

    def shipped(self) -> Shipped:
        """The schema revisions and heads this keepclear ships (read from its migrations once)."""
        if self._shipped is None:
            self._shipped = shipped()
        return self._shipped

    def refuse_newer(self, stored: frozenset[str] | None) -> None:
        """``SchemaNewerError`` when ``stored`` (the deployment's revisions) holds one this keepclear
        does not know: a newer build migrated it (``store.schema_revisions``)."""
        problem = newer_problem(self.where, stored or frozenset(), self.shipped().revisions)
        if problem is not None:
            raise SchemaNewerError(problem)

    def require_schema(self) -> None:
        """Raise ``DeploymentNotInitialised`` unless migrations have been applied, ``SchemaNewerError``
        when a newer keepclear applied some this one does not know."""
        if self.sqlite_path is not None and not self.sqlite_path.exists():
            raise DeploymentNotInitialised(f"no keepclear deployment at {self.sqlite_path}; run `keepclear init` first")
        try:
            with self.read() as conn:
                stored = stored_revisions(conn)
        except (sa.exc.OperationalError, StoreUnavailableError) as exc:
            cause = exc.__cause__ if isinstance(exc, StoreUnavailableError) else exc
            why = cause.orig if isinstance(cause, sa.exc.DBAPIError) else exc
            raise DeploymentNotInitialised(f"cannot open the database at {self.where}: {why}") from None
        if stored is None:
            raise DeploymentNotInitialised(f"no keepclear deployment at {self.where}; run `keepclear init` first")
        self.refuse_newer(stored)
        # A deployment made by an older keepclear: its schema lacks what this one writes (a request
        # would fail half way), so it is refused at the door with what to do.
        heads = self.shipped().heads
        if not heads <= stored:
            raise DeploymentNotInitialised(
                f"the deployment at {self.where} was made by an older keepclear (schema"
                f" {', '.join(sorted(stored)) or 'none'}; this one needs {', '.join(sorted(heads))});"
                " run `keepclear init` to bring it up to date (it keeps what is stored)"
            )

    def look_at_schema(self, _now_s: float | None = None) -> None:
        """A chore of a running service: once a newer keepclear has migrated the schema (a rolling
        upgrade: its processes start beside this one's), this process writes nothing more
        (``outdated``; every write refused with ``OutdatedBuildError``: a 503 to a request, an outage to
        the services, whose alerts and live streams go on), so the writers that keep
        the newer schema's derived rows up to date are the only ones left. Reads go on."""
        if self.outdated is not None or time.monotonic() - self._schema_looked_s < SCHEMA_LOOK_S:
            return
        self._schema_looked_s = time.monotonic()
        with self.read() as conn:
            stored = stored_revisions(conn)
        self.outdated = newer_problem(self.where, stored or frozenset(), self.shipped().revisions)

    def _require_open(self) -> None:
        if self._disposed:
            raise StoreUnavailableError("the database handle was closed (the service is stopping)")

    def dispose(self) -> None:
        """Close every pooled connection; the handle takes no transaction after (``StoreUnavailableError``)."""
        self._disposed = True
        self._reader.dispose()
        if self._writer is not self._reader:
            self._writer.dispose()
