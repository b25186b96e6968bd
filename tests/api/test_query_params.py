"""A query parameter an endpoint does not take, or a single one given twice, is refused with a 422
naming it (``api.query_params``; docs/api.md, "Query parameters"), before anything else about the
request runs. They were ignored: ``?limt=5`` listed the default page, ``?since=a&since=b`` read ``b``.
Through real servers; the walk over every route keeps the check and the declared parameters one list.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from apisupport import EXAMPLE_ZONES, Service, populate, statements_of_requests
from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.dependencies.utils import get_flat_params
from fastapi.params import ParamTypes
from fastapi.routing import APIRoute, APIWebSocketRoute
from pydantic import BaseModel, Field
from test_api_activities import air_operation
from test_input_hardening import assert_problem
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from keepclear.api import create_app
from keepclear.api.query_params import QueryParams
from keepclear.api.server import ThreadedServer
from keepclear.services.runtime.bus import WallClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings

NOT_TAKEN = "not a parameter of this endpoint"
GIVE_ONCE = "give it once"


def refused(response: httpx.Response, *mentions: str) -> dict[str, Any]:
    body = assert_problem(response, 422, *mentions)
    codes = ["unknown_parameter" if NOT_TAKEN in e else "repeated_parameter" for e in body["errors"]]
    assert body["codes"] == codes, body
    return body


@pytest.mark.parametrize(
    ("path", "query", "error", "answered"),
    [
        # a list
        ("/v1/activities", "limt=5", f"query.limt: {NOT_TAKEN} (accepted: limit, after)", "limit=5"),
        # a single object
        ("/v1/activities/{activity}", "fields=id", f"query.fields: {NOT_TAKEN} (it takes none)", ""),
        # the record
        ("/v1/record/proof/inclusion", "seq=1&sise=2", f"query.sise: {NOT_TAKEN} (accepted: seq, size)", "seq=1"),
        ("/v1/record/checkpoint", "size=1", f"query.size: {NOT_TAKEN} (it takes none)", ""),
        # the stream (its answer would otherwise hold the connection open)
        ("/v1/stream", "onse=true", f"query.onse: {NOT_TAKEN} (accepted: once)", "once=true"),
        # a key belongs in the Authorization header: only the socket takes one in the query
        ("/v1/me", "key=kc_0000000000000000_nope", f"query.key: {NOT_TAKEN} (it takes none)", ""),
    ],
)
def test_an_unknown_parameter_is_refused_naming_it(
    service: Service, path: str, query: str, error: str, answered: str
) -> None:
    with service.client("a-liaison") as a:
        activity = a.post("/v1/activities", json=air_operation()).json()["activity"]["id"]
        target = path.format(activity=activity)
        with a.stream("GET", f"{target}?{query}") as response:  # a stream answered 200 would never end
            if response.status_code == 422:
                response.read()
        body = refused(response, error)
        assert body["errors"] == [error] and body["instance"] == target
        answer = a.get(f"{target}?{answered}")  # with the parameters it takes, it is answered
        assert answer.status_code == 200, answer.text


def test_a_repeated_parameter_is_refused_and_every_problem_is_listed(service: Service) -> None:
    with service.client("a-liaison") as a:
        since = "2020-01-01T00:00:00Z"
        history = a.get("/v1/tracks/history", params=[("since", since), ("since", "2030-01-01T00:00:00Z")])
        refused(history, f"query.since: given 2 times; {GIVE_ONCE}")
        # the same value twice is still two values: which one a reader takes must never matter
        refused(a.get("/v1/activities?limit=1&limit=1&after=x&limit=1"), f"query.limit: given 3 times; {GIVE_ONCE}")
        body = refused(a.get("/v1/alerts?include_resolved=true&include_resolved=false&resolved=1"))
        assert body["errors"] == [
            f"query.include_resolved: given 2 times; {GIVE_ONCE}",
            f"query.resolved: {NOT_TAKEN} (accepted: include_resolved)",
        ]


def test_known_parameters_are_answered_as_before(service: Service) -> None:
    with service.client("a-liaison") as a:
        assert a.get("/v1/activities", params={"limit": 1}).status_code == 200
        assert a.get("/v1/alerts?include_resolved=true").status_code == 200
        assert a.get("/v1/tracks/history", params={"since": "2020-01-01T00:00:00Z"}).status_code == 200
        assert a.get("/v1/hotline/phrases", params={"language": "ru"}).status_code == 200
        assert a.get("/v1/stream", params={"once": "true"}).status_code == 200
        assert a.get("/v1/activities?").status_code == 200  # an empty query names nothing
        # a value the endpoint refuses is still refused as before, by the endpoint
        assert_problem(a.get("/v1/activities", params={"limit": 0}), 422, "limit")


def test_the_socket_refuses_an_unknown_or_repeated_parameter_before_it_is_accepted(service: Service) -> None:
    base = service.url.replace("http", "ws") + "/v1/hotline/ws?key=" + service.keys["a-liaison"]
    for query, error in [
        ("&persn=duty", f"query.persn: {NOT_TAKEN} (accepted: key, person)"),
        ("&person=duty&person=night", f"query.person: given 2 times; {GIVE_ONCE}"),
    ]:
        with pytest.raises(InvalidStatus) as info, connect(base + query, open_timeout=60):
            pass
        assert info.value.response.status_code == 422
        body = json.loads(info.value.response.body or b"{}")
        assert body["errors"] == [error], body
    with connect(base + "&person=duty", open_timeout=60) as ws:  # the parameters it takes open it
        ws.send(json.dumps({"type": "resume", "cursors": {}}))
        assert json.loads(ws.recv(timeout=30))


def test_a_refused_write_runs_nothing_and_stores_nothing(store_service: Service) -> None:
    engine = store_service.deployment.db.engine
    with store_service.client("a-liaison") as a, store_service.client("admin") as admin:
        with statements_of_requests(engine) as seen:
            notified = a.post("/v1/activities?dryrun=1", json=air_operation(id="a-op-dryrun"))
            zones = admin.post("/v1/zones?replce=true", json=json.loads(EXAMPLE_ZONES.read_text()))
        refused(notified, f"query.dryrun: {NOT_TAKEN} (it takes none)")
        refused(zones, f"query.replce: {NOT_TAKEN} (accepted: replace)")
        assert seen == []  # not even the key was looked up
        assert a.get("/v1/activities/a-op-dryrun").status_code == 404


@pytest.fixture
def served_app(tmp_path: Path) -> Iterator[tuple[FastAPI, str]]:
    settings = Settings(data_dir=tmp_path / "data", tick_s=0.2)
    dep = Deployment.open(settings, clock=WallClock(), create=True)
    populate(dep)
    app = create_app(settings, deployment=dep)
    with ThreadedServer(app) as server:
        yield app, server.url
    dep.close()


def _routes(app: FastAPI) -> Iterator[tuple[str, APIRoute | APIWebSocketRoute]]:
    """Every FastAPI route of ``app`` with its full path (routers included under their prefixes)."""

    def walk(items: Any, prefix: str) -> Iterator[tuple[str, APIRoute | APIWebSocketRoute]]:
        for route in items:
            if isinstance(route, (APIRoute, APIWebSocketRoute)):
                yield prefix + route.path, route
            elif hasattr(route, "original_router"):
                yield from walk(route.original_router.routes, prefix + route.include_context.prefix)

    yield from walk(app.routes, "")


def _declared_query(route: APIRoute | APIWebSocketRoute) -> list[str]:
    return [p.alias for p in get_flat_params(route.dependant) if getattr(p.field_info, "in_", None) == ParamTypes.query]


def test_every_route_takes_each_parameter_it_declares_and_refuses_others(
    served_app: tuple[FastAPI, str],
) -> None:
    """Each operation is asked with every query parameter it declares (in the OpenAPI document, and
    FastAPI's own list of its dependant), then with one it does not: only the second is refused.
    Without a key, so nothing past the check runs but the refusal of the missing key."""
    app, url = served_app
    operations = app.openapi()["paths"]
    routes = list(_routes(app))
    asked = 0
    with httpx.Client(base_url=url, timeout=60) as client:
        for path, route in routes:
            declared = _declared_query(route)
            concrete = re.sub(r"\{[^}]+\}", "x1", path)
            if isinstance(route, APIWebSocketRoute):
                uri = url.replace("http", "ws") + concrete + "?" + "&".join(f"{n}=1" for n in declared)
                with pytest.raises(InvalidStatus) as info, connect(uri, open_timeout=60):
                    pass
                # refused for its missing key, not for its query
                assert info.value.response.status_code == 401, (path, info.value.response.body)
                with pytest.raises(InvalidStatus) as info, connect(uri + "&bogus=1", open_timeout=60):
                    pass
                assert info.value.response.status_code == 422 and b"query.bogus" in (info.value.response.body or b"")
                asked += 1
                continue
            for method in sorted(route.methods):
                in_openapi = [
                    p["name"] for p in operations[path][method.lower()].get("parameters", []) if p["in"] == "query"
                ]
                assert sorted(in_openapi) == sorted(declared), (method, path)
                params = {name: "1" for name in declared}
                answer = client.request(method, concrete, params=params)
                assert NOT_TAKEN not in answer.text and GIVE_ONCE not in answer.text, (method, path, answer.text)
                assert answer.status_code != 500, (method, path, answer.text)
                refused(client.request(method, concrete, params={**params, "bogus": "1"}), "query.bogus")
                asked += 1
    assert asked == sum(len(getattr(r, "methods", None) or [None]) for _, r in routes) > 60


class Window(BaseModel):
    start: int = 0
    end_at: int = Field(0, alias="end")


def test_lists_may_repeat_and_every_way_of_declaring_counts(tmp_path: Path) -> None:
    """On a small app: a parameter declared as a list may be given many times; parameters of a
    dependency, of an inclusion's dependency, under an alias and of a parameter model are taken."""

    def paged(cursor: Annotated[str | None, Query()] = None) -> str | None:
        return cursor

    def traced(trace: Annotated[str | None, Query(alias="trace-id")] = None) -> str | None:
        return trace

    router = APIRouter(prefix="/r")

    @router.get("/items")
    def items(
        tag: Annotated[list[str], Query()] = [],  # noqa: B006  # FastAPI copies defaults
        limit: int = 10,
        cursor: str | None = Depends(paged),
    ) -> dict[str, Any]:
        return {"tag": tag, "limit": limit, "cursor": cursor}

    @router.get("/window")
    def window(w: Annotated[Window, Query()]) -> dict[str, int]:
        return {"start": w.start, "end": w.end_at}

    app = FastAPI()
    app.include_router(router, dependencies=[Depends(traced)])
    app.add_middleware(QueryParams, routes=app.routes)
    with ThreadedServer(app) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        answer = client.get("/r/items?tag=a&tag=b&limit=2&cursor=c&trace-id=t")
        assert answer.json() == {"tag": ["a", "b"], "limit": 2, "cursor": "c"}
        assert client.get("/r/window?start=1&end=2").json() == {"start": 1, "end": 2}
        refused(client.get("/r/items?limit=1&limit=2"), f"query.limit: given 2 times; {GIVE_ONCE}")
        refused(client.get("/r/items?tags=a"), f"query.tags: {NOT_TAKEN} (accepted: tag, limit, cursor, trace-id)")
        refused(client.get("/r/window?end_at=2"), f"query.end_at: {NOT_TAKEN} (accepted: start, end, trace-id)")
        assert client.get("/r/nowhere?x=1").status_code == 404  # no endpoint: the router answers
        assert client.post("/r/items?x=1").status_code == 405
