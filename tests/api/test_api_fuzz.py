"""Schemathesis against the served OpenAPI document: every operation, valid credentials, no 5xx,
responses that match the schema (status codes, content types, bodies, headers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from apisupport import api_routes, import_example_zones, populate
from hypothesis import HealthCheck, given, settings

from keepclear.api import create_app
from keepclear.api.server import ThreadedServer
from keepclear.domain.identity import Role
from keepclear.services.policy import ALLOWED, Action
from keepclear.services.runtime.bus import WallClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings

KEY_FOR_ROLE = {Role.ADMIN: "admin", Role.LIAISON: "a-liaison", Role.FEED: "a-feed", Role.OBSERVER: "a-observer"}


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, dict[str, str], dict[tuple[str, str], Action]]]:
    folder = tmp_path_factory.mktemp("fuzz")
    settings = Settings(data_dir=folder / "data", tick_s=0.5)
    dep = Deployment.open(settings, clock=WallClock(), create=True)
    keys = populate(dep)
    import_example_zones(dep)
    app = create_app(settings, deployment=dep)
    actions = {}
    for method, path, action in api_routes(app):
        actions[(method, path)] = action
    with ThreadedServer(app) as server:
        yield server.url, keys, actions
    dep.close()


def _fuzz(operation, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case):
        if case.path == "/v1/stream":
            case.query = {**(case.query or {}), "once": "true"}
        # Semantic validation beyond the schema (a polygon that crosses itself) is legitimate, so
        # "schema-valid data must be accepted" is not asked; everything else schemathesis checks is.
        case.call_and_validate(
            headers=headers, timeout=30, excluded_checks=[schemathesis.checks.positive_data_acceptance]
        )

    run()


def test_every_operation_no_server_error_and_schema_conformance(served):
    url, keys, actions = served
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {(op.method.upper(), op.path) for op in operations} == set(actions)
    failures: list[str] = []
    for operation in operations:
        action = actions[(operation.method.upper(), operation.path)]
        role = next(r for r in (Role.LIAISON, Role.ADMIN, Role.FEED, Role.OBSERVER) if r in ALLOWED[action])
        headers = {"Authorization": f"Bearer {keys[KEY_FOR_ROLE[role]]}"}

        try:
            _fuzz(operation, headers)
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
