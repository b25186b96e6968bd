"""A real keepclear server (parties a and b, as in the API tests, plus a vessel of a's) for the adapters."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))

from apisupport import Service, populate

from keepclear.api import create_app
from keepclear.api.server import ThreadedServer
from keepclear.domain import Domain, Unit
from keepclear.services.runtime.bus import WallClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    settings = Settings(data_dir=tmp_path / "data", tick_s=0.2)
    dep = Deployment.open(settings, clock=WallClock(), create=True)
    keys = populate(dep)
    dep.registry.add_unit(Unit("ship-a", "ALPHASHIP", Domain.SEA, "frigate", "fa"))
    app = create_app(settings, deployment=dep)
    with ThreadedServer(app) as server:
        yield Service(server.url, dep, app.state.runtime, keys)
    dep.close()


@pytest.fixture(scope="session")
def pytak() -> ModuleType:
    """pytak, the TAK clients' Python library (it warns at import that an optional package is absent)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pytak as module
    return module
