"""Request dependencies: the runtime of this app, and the authenticated, authorised caller.

``authenticated`` is the one place a key is read, for every HTTP route and WebSocket alike:
``Authorization: Bearer <key>`` (and ``X-Keepclear-Person``); a browser cannot set headers on a
WebSocket, so a socket may also give them as ``?key=`` and ``?person=``. ``authorized(action)``
adds the policy's check of the caller's role.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Header
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

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


async def authenticated(
    connection: HTTPConnection,
    authorization: Annotated[str | None, Header(description="Bearer kc_<id>_<secret>")] = None,
    x_keepclear_person: Annotated[str | None, Header(description="The person acting (for receipts).")] = None,
) -> Principal:
    """The caller behind the request's key (``AuthenticationError`` when there is none or it is not
    valid). The key lookup reads the store, so it runs on a worker thread, unless the input gate
    judged this key already (every request with a valid key passes it): then no thread is taken."""
    is_socket = connection.scope["type"] == "websocket"
    key = bearer_key(authorization)
    if key is None and is_socket:
        key = connection.query_params.get("key") or None
    if key is None:
        raise AuthenticationError(NO_KEY)
    person = x_keepclear_person or (connection.query_params.get("person", "") if is_socket else "")
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


async def public() -> None:
    """Marks an endpoint that needs no key (health only)."""


public.action = Action.HEALTH  # type: ignore[attr-defined]
