"""The benchmarks' throwaway databases: a SQLite file in a temporary folder, or a PostgreSQL schema
of its own on a server, dropped afterwards. One helper for every bench script (run from ``bench/``,
which Python puts first on the path)."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

#: The PostgreSQL server of the tests (``KEEPCLEAR_TEST_POSTGRES_URL``), the default of the benches.
POSTGRES_URL = os.environ.get("KEEPCLEAR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def fresh_database(store: str, postgres_url: str = POSTGRES_URL) -> Iterator[str]:
    """A URL to an empty database: ``store`` ``sqlite`` (a file) or ``postgres`` (a fresh schema on
    ``postgres_url``, dropped afterwards)."""
    if store == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    if store != "postgres":
        raise ValueError(f"store: {store!r} is not sqlite or postgres")
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{postgres_url}{'&' if '?' in postgres_url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
