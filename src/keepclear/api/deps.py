"""Request dependencies: the runtime of this app, and the authenticated, authorised caller.

``authenticated`` is where a request's key is read: ``Authorization: Bearer <key>`` (and
``X-Keepclear-Person``); a browser cannot set headers on a WebSocket, so a socket's caller
(``socket_authenticated``) may also give them as the query parameters ``?key=`` and ``?person=``,
declared there (an HTTP route takes neither: ``api.query_params`` refuses them). ``authorized(action)``
and ``socket_authorized(action)`` add the policy's check of the caller's role.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Header, Query
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from keepclear.api.party_rate import PartyRate
from keepclear.domain.identity import Principal
from keepclear.errors import AuthenticationError
from keepclear.services.policy import Action, require

if TYPE_CHECKING:
    from keepclear.services.runtime.runtime import Runtime

BEARER = "Bearer "
#: What a request without a key is told (by the input gate before a body, or by the route).
NO_KEY = "send the API key as 'Authorization: Bearer kc_<id>_<secret>'"
#: Where the first to judge a request's key leaves the caller (the input gate, before the body is
#: read), so the request keys and the route do not read it from the store again.
CALLER_SCOPE_KEY = "keepclear.caller"


def bearer_key(authorization: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header (None when the header is not one)."""
    return authorization[len(BEARER) :].strip() if authorization and authorization.startswith(BEARER) else None


def header_text(raw: bytes) -> str | None:
    """The text a header's bytes give: UTF-8 (HTTP hands header values over as bytes; read as
    latin-1, as Starlette and FastAPI read them, "Иван" became mojibake), None when they are not
    UTF-8 (the input gate refuses those for every header in ``input_gate.TEXT_HEADERS``)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def header_value(connection: HTTPConnection, name: bytes) -> str | None:
    """The request's header ``name`` (lower case; its first value, as the gate judged it) read as
    UTF-8 (``header_text``); None when it has none (or, never past the gate, one not UTF-8)."""
    for header, value in connection.scope.get("headers", ()):
        if header == name:
            return header_text(value)
    return None


def person_header(connection: HTTPConnection) -> str:
    """The request's ``X-Keepclear-Person`` (its first value, as the gate judged it), "" when none."""
    return header_value(connection, b"x-keepclear-person") or ""


def caller_of(
    scope: MutableMapping[str, Any], key: str, authenticate: Callable[[str], Principal], person: str = ""
) -> Principal:
    """The caller behind ``key``, judged once a request: the first judgement (``authenticate``, which
    may read the store, or raise ``AuthenticationError``) is kept in ``scope`` for the next."""
    known = scope.get(CALLER_SCOPE_KEY)
    if known is None or known[0] != key:
        known = scope[CALLER_SCOPE_KEY] = (key, authenticate(key))
    principal: Principal = known[1]
    return replace(principal, person=person) if person else principal


def runtime(connection: HTTPConnection) -> Runtime:
    """The runtime this app was built with (set by ``create_app``, never a global)."""
    return connection.app.state.runtime  # type: ignore[no-any-return]


def hotline_posts(connection: HTTPConnection) -> PartyRate:
    """The hotline's post rate per party (``api.party_rate``), for the writes that post into other
    parties' threads as a message would: an incident's review step, an objection to an activity."""
    return connection.app.state.hotline.posts  # type: ignore[no-any-return]


async def authenticated(
    connection: HTTPConnection,
    authorization: Annotated[str | None, Header(description="Bearer kc_<id>_<secret>")] = None,
    x_keepclear_person: Annotated[
        str | None, Header(description="The person acting (for receipts), as UTF-8 bytes.")
    ] = None,
) -> Principal:
    """The caller behind the request's key (``AuthenticationError`` when there is none or it is not
    valid). The person is read from the header's bytes as UTF-8 (``person_header``); the parameter
    only declares the header in the OpenAPI document (Starlette reads header values as latin-1)."""
    del x_keepclear_person
    return await _caller(connection, bearer_key(authorization), person_header(connection))


async def socket_authenticated(
    connection: HTTPConnection,
    authorization: Annotated[str | None, Header(description="Bearer kc_<id>_<secret>")] = None,
    x_keepclear_person: Annotated[
        str | None, Header(description="The person acting (for receipts), as UTF-8 bytes.")
    ] = None,
    key: Annotated[
        str | None, Query(description="The key, where the client cannot set headers (a browser's WebSocket).")
    ] = None,
    person: Annotated[str | None, Query(description="The person acting, where the client cannot set headers.")] = None,
) -> Principal:
    """A socket's caller: as ``authenticated``, the key and person also taken from the query."""
    del x_keepclear_person
    return await _caller(
        connection, bearer_key(authorization) or key or None, person_header(connection) or person or ""
    )


async def _caller(connection: HTTPConnection, key: str | None, person: str) -> Principal:
    """The caller behind ``key``. The key lookup reads the store, so it runs on a worker thread,
    unless the input gate judged this key already (every request with a valid key passes it): then
    no thread is taken."""
    if key is None:
        raise AuthenticationError(NO_KEY)
    authenticate = runtime(connection).deployment.keys.authenticate
    known = connection.scope.get(CALLER_SCOPE_KEY)
    if known is None or known[0] != key:
        return await run_in_threadpool(caller_of, connection.scope, key, authenticate, person)
    return caller_of(connection.scope, key, authenticate, person)


def authorized(action: Action) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the authenticated caller, if its role may take ``action``."""

    async def dependency(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
        require(principal, action)
        return principal

    dependency.action = action  # type: ignore[attr-defined]  # read by the authorisation matrix test
    return dependency


def socket_authorized(action: Action) -> Callable[..., Awaitable[Principal]]:
    """A WebSocket's dependency: its caller (``socket_authenticated``), if its role may take ``action``."""

    async def dependency(principal: Annotated[Principal, Depends(socket_authenticated)]) -> Principal:
        require(principal, action)
        return principal

    dependency.action = action  # type: ignore[attr-defined]
    return dependency


async def public() -> None:
    """Marks an endpoint that needs no key (health only)."""


public.action = Action.HEALTH  # type: ignore[attr-defined]
