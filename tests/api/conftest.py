"""A real keepclear server on 127.0.0.1 with two parties, their forces, units and keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apisupport import Endpoint, Service, import_example_zones, populate, populate_over_api, running_service

from keepclear.api import create_app
from keepclear.api.server import ThreadedServer
from keepclear.services.runtime.bus import WallClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings
from scaleout import ScaleOut


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    settings = Settings(data_dir=tmp_path / "data", tick_s=0.2)
    dep = Deployment.open(settings, clock=WallClock(), create=True)
    keys = populate(dep)
    import_example_zones(dep)
    app = create_app(settings, deployment=dep)
    with ThreadedServer(app) as server:
        yield Service(server.url, dep, app.state.runtime, keys)
    dep.close()


@pytest.fixture
def store_service(tmp_path: Path, database_url: str) -> Iterator[Service]:
    """The same real server on SQLite and on PostgreSQL: a test using it runs once on each store."""
    with running_service(tmp_path / "data", database_url) as service:
        yield service


@pytest.fixture(scope="session")
def scale_out_endpoint(scale_out_cluster: ScaleOut) -> Endpoint:
    """The session's scale-out cluster with what ``populate`` makes, made once through its API."""
    return Endpoint(scale_out_cluster.url, populate_over_api(scale_out_cluster.url, scale_out_cluster.admin_key))


@pytest.fixture(params=["embedded", "cluster"])
def end_to_end(request: pytest.FixtureRequest) -> Service | Endpoint:
    """What an end-to-end test runs against, reached over HTTP only: the embedded default (``service``)
    and the scale-out topology of ``scripts/cluster up`` (two API processes behind one address, the
    detector workers, NATS, PostgreSQL)."""
    if request.param == "embedded":
        service: Service = request.getfixturevalue("service")
        return service
    endpoint: Endpoint = request.getfixturevalue("scale_out_endpoint")
    return endpoint
