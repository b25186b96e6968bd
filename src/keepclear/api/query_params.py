"""``QueryParams``: a request naming a query parameter its endpoint does not take, or giving one twice,
is refused (422) before anything else about it runs.

FastAPI ignores a parameter it was not told of and reads the last of a repeated one: ``?limt=10``
would list the default page, ``?since=a&since=b`` read ``b`` where a proxy or a log had judged ``a``.
Here the parameters an endpoint takes are those it declares (FastAPI's dependant: the route's own
parameters and those of its dependencies, by the names clients send), computed once per route when
the app is built, so the list served in the OpenAPI document is the list accepted. A parameter
declared as a list may be given more than once; any other only once.

It judges the API's endpoints: every route with a dependant (the ``/v1`` operations and the hotline
socket). The console's page and files and the OpenAPI pages are plain routes that read no parameter
and are left as they are. A request whose path and method no endpoint answers passes on untouched
(404 and 405 are the router's). It runs outside the input gate, so a refused request costs no key
look-up, no body read and no store read or write; a refused socket is answered, before it is
accepted, with the 422 problem where the server can send one (else closed with 1008, as the gate
closes the sockets it refuses).
"""

from __future__ import annotations

import re
import types
from collections import Counter
from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin
from urllib.parse import parse_qsl

from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_parameterless_sub_dependant
from pydantic import AliasChoices, BaseModel
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from keepclear.api.problems import problem_for
from keepclear.errors import Problem, ProblemCode, ValidationError

#: At most this many problems are listed in one refusal (a query may name thousands of parameters).
MAX_LISTED_PROBLEMS = 20
#: Names are quoted in refusals up to this many characters.
_SHOWN_NAME_CHARS = 64


@dataclass(frozen=True)
class Endpoint:
    """One endpoint as this check sees it: where it answers and the query parameters it takes
    (``lists``: those that may be given more than once)."""

    path: str
    path_regex: re.Pattern[str]
    methods: frozenset[str] | None  # None: a WebSocket
    accepted: tuple[str, ...]
    lists: frozenset[str]

    def answers(self, scope_type: str, method: str, path: str) -> bool:
        if (self.methods is None) != (scope_type == "websocket"):
            return False
        if self.methods is not None and method not in self.methods:
            return False
        return self.path_regex.match(path) is not None

    def problems(self, query: str) -> list[str]:
        """Why the query string ``query`` cannot be taken here ([] when it can)."""
        given = Counter(name for name, _ in parse_qsl(query, keep_blank_values=True))
        found: list[str] = []
        for name, times in given.items():
            if name not in self.accepted:
                takes = f"accepted: {', '.join(self.accepted)}" if self.accepted else "it takes none"
                found.append(
                    _problem(name, ProblemCode.UNKNOWN_PARAMETER, f"not a parameter of this endpoint ({takes})")
                )
            elif times > 1 and name not in self.lists:
                found.append(_problem(name, ProblemCode.REPEATED_PARAMETER, f"given {times} times; give it once"))
            if len(found) == MAX_LISTED_PROBLEMS:
                break
        return found


def _problem(name: str, code: ProblemCode, message: str) -> Problem:
    shown = name if len(name) <= _SHOWN_NAME_CHARS else name[:_SHOWN_NAME_CHARS] + "..."
    return Problem(f"query.{shown}", code, message)


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _names(field: Any) -> list[str]:
    """The names a client may send a parameter under: its alias, and its validation aliases."""
    names = [field.alias]
    choice = getattr(field.field_info, "validation_alias", None)
    if isinstance(choice, str):
        names.append(choice)
    elif isinstance(choice, AliasChoices):
        names.extend(c for c in choice.choices if isinstance(c, str))
    return names


def _repeatable(annotation: Any) -> bool:
    """Whether a parameter of type ``annotation`` may be given more than once: a list, tuple or set
    (FastAPI collects the repeats), also optional or ``Annotated``; text is one value."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _repeatable(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return any(_repeatable(arg) for arg in get_args(annotation))
    kind = origin or annotation
    if not isinstance(kind, type) or issubclass(kind, str | bytes):
        return False
    return issubclass(kind, Sequence | AbstractSet)


def query_parameters(dependants: Sequence[Dependant]) -> tuple[tuple[str, ...], frozenset[str]]:
    """The query parameters ``dependants`` (an endpoint's, with those its router's inclusion adds)
    read, in their order, and those of them that are lists. A parameter model
    (``Annotated[Model, Query()]``) stands for its fields."""
    accepted: dict[str, None] = {}
    lists: set[str] = set()
    for top in dependants:
        for dependant in _dependants(top):
            for field in dependant.query_params:
                annotation = field.field_info.annotation
                if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                    fields: list[tuple[list[str], Any]] = [
                        ([info.alias or name], info.annotation) for name, info in annotation.model_fields.items()
                    ]
                else:
                    fields = [(_names(field), annotation)]
                for names, kind in fields:
                    accepted.update(dict.fromkeys(names))
                    if _repeatable(kind):
                        lists.update(names)
    return tuple(accepted), frozenset(lists)


def endpoints(routes: Sequence[Any]) -> list[Endpoint]:
    """Every endpoint of ``routes`` (an app's or router's), in the order the router tries them,
    routers included under their prefixes and with the dependencies their inclusion adds."""
    found: list[Endpoint] = []

    def walk(items: Sequence[Any], prefix: str, extra: list[Any]) -> None:
        for route in items:
            inner = getattr(route, "original_router", None)
            if inner is not None:
                context = route.include_context
                walk(inner.routes, prefix + context.prefix, [*extra, *context.dependencies])
                continue
            dependant = getattr(route, "dependant", None)
            if not isinstance(dependant, Dependant):
                continue  # a plain route (the console's files, the OpenAPI pages): it reads no parameter
            path = prefix + route.path
            added = [get_parameterless_sub_dependant(depends=d, path=path) for d in extra]
            accepted, lists = query_parameters([dependant, *added])
            methods = getattr(route, "methods", None)
            found.append(
                Endpoint(
                    path=path,
                    path_regex=compile_path(path)[0],
                    methods=None if methods is None else frozenset(methods),
                    accepted=accepted,
                    lists=lists,
                )
            )

    walk(routes, "", [])
    return found


def _route_path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root + "/") else path


class QueryParams:
    """ASGI middleware refusing, with a 422 naming each, the query parameters an endpoint of
    ``routes`` (the app's routes, read when the middleware is built: after every router is included)
    does not take, and those of its single parameters given more than once."""

    def __init__(self, app: ASGIApp, routes: Sequence[Any]) -> None:
        self.app = app
        self.endpoints = endpoints(routes)

    def endpoint(self, scope: Scope) -> Endpoint | None:
        """The endpoint that answers ``scope`` (the router's first full match), None when none does."""
        path = _route_path(scope)
        method = scope.get("method", "")
        return next((e for e in self.endpoints if e.answers(scope["type"], method, path)), None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query: bytes = scope.get("query_string", b"")
        if not query or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)  # nothing to judge: no cost for most requests
            return
        endpoint = self.endpoint(scope)
        problems = [] if endpoint is None else endpoint.problems(query.decode("latin-1"))
        if not problems:
            await self.app(scope, receive, send)
            return
        refusal = problem_for(ValidationError(problems), scope.get("path", ""))
        if scope["type"] == "http" or "websocket.http.response" in scope.get("extensions", {}):
            await refusal(scope, receive, send)  # on a socket Starlette sends it as the handshake's answer
        else:
            reason = "refused: " + bytes(refusal.body).decode()[:100]
            await send({"type": "websocket.close", "code": 1008, "reason": reason})
