"""/v1/hotline: threads, messages, receipts, availability, phrases and the live WebSocket.

The routes themselves are the hotline's (``api.hotline_ws.hotline_router``); this module puts them
behind the deployment's keys and the policy: reading needs a liaison or observer key of a party,
writing (posting, marking read, creating threads, availability) and the live socket a liaison key.
A browser cannot set headers on a WebSocket, so the socket also takes the key as ``?key=``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from keepclear.api.hotline_ws import LiveConfig, hotline_router
from keepclear.domain.identity import Principal
from keepclear.errors import AuthenticationError
from keepclear.services.policy import Action, require
from keepclear.services.runtime.runtime import Runtime

#: What each HTTP method of the hotline routes asks of the caller ("WS": the live socket).
ACTION_BY_METHOD: dict[str, Action] = {
    "GET": Action.THREADS_READ,
    "POST": Action.MESSAGES_POST,
    "PUT": Action.AVAILABILITY_SET,
    "WS": Action.MESSAGES_POST,
}


def hotline_routes(runtime: Runtime) -> APIRouter:
    """The hotline's routes under /v1/hotline, authenticated and authorised."""

    async def authenticate(connection: HTTPConnection) -> Principal:
        header = connection.headers.get("authorization", "")
        is_socket = connection.scope["type"] == "websocket"
        key = (
            header[7:].strip()
            if header.startswith("Bearer ")
            else (connection.query_params.get("key", "") if is_socket else "")
        )
        if not key:
            raise AuthenticationError("send the API key as 'Authorization: Bearer kc_<id>_<secret>'")
        person = connection.headers.get("x-keepclear-person", "") or connection.query_params.get("person", "")
        principal = await run_in_threadpool(runtime.deployment.keys.authenticate, key, person)
        require(principal, ACTION_BY_METHOD["WS" if is_socket else connection.scope["method"]])
        return principal

    authenticate.action_for = lambda method: ACTION_BY_METHOD[method]  # type: ignore[attr-defined]
    router = APIRouter(prefix="/v1")
    live = LiveConfig(send_timeout_s=runtime.deployment.settings.stream_send_timeout_s)
    router.include_router(hotline_router(runtime.hotline, runtime.hotline_hub, authenticate, live))
    return router


def hotline_action(call: Any, method: str) -> Action | None:
    """The action a route's dependency enforces for ``method`` (for the authorisation tests)."""
    action_for = getattr(call, "action_for", None)
    return None if action_for is None else action_for(method)
