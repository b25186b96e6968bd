"""A minimal hotline server for tests and benchmarks: FastAPI + uvicorn on 127.0.0.1 in a thread.

It trusts the ``X-Party`` / ``X-Person`` headers (a stand-in for the deployment's authentication):
never expose it beyond the loopback interface.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI, HTTPException
from fastapi.requests import Request
from fastapi.responses import JSONResponse
from starlette.requests import HTTPConnection

from keepclear.api.connection_limits import PerKeyLimit
from keepclear.api.deps import authenticated, socket_authenticated
from keepclear.api.hotline_frames import LiveConfig
from keepclear.api.party_rate import HOTLINE_POSTS, PartyRate
from keepclear.api.routes import hotline
from keepclear.domain.identity import Principal, Role
from keepclear.errors import ConflictError, KeepclearError, NotFoundError, ValidationError
from keepclear.services.hotline.hub import HotlineHub
from keepclear.services.hotline.service import HotlineService
from keepclear.settings import Settings


def header_principal(connection: HTTPConnection) -> Principal:
    """Stand-in authentication: trust ``X-Party`` and ``X-Person`` (tests and benchmarks only)."""
    party = connection.headers.get("x-party")
    if not party:
        raise HTTPException(status_code=401, detail="X-Party header required")
    return Principal("header", Role.LIAISON, party, connection.headers.get("x-person", "duty officer"))


#: The most ``hotline_messages_per_party_per_s`` and ``hotline_message_burst`` allow: a post rate no
#: benchmark or flood test reaches, so that what they measure is the hotline, not the parties' bound.
UNBOUNDED_POSTS_ENV = {
    "KEEPCLEAR_HOTLINE_MESSAGES_PER_PARTY_PER_S": "1000000",
    "KEEPCLEAR_HOTLINE_MESSAGE_BURST": "10000000",
}


def unbounded_rate() -> PartyRate:
    """The stand-in's post rate: ``UNBOUNDED_POSTS_ENV``'s."""
    return PartyRate(
        float(UNBOUNDED_POSTS_ENV["KEEPCLEAR_HOTLINE_MESSAGES_PER_PARTY_PER_S"]),
        int(UNBOUNDED_POSTS_ENV["KEEPCLEAR_HOTLINE_MESSAGE_BURST"]),
        HOTLINE_POSTS,
    )


def build_app(service: HotlineService, hub: HotlineHub, live: LiveConfig | None = None) -> FastAPI:
    """The service's hotline routes (under /v1/hotline) with the header stand-in for its principal
    dependencies (the routes' and the socket's), and a plain error mapping; the parties' post rate is
    ``unbounded_rate``."""
    app = FastAPI()
    sockets = PerKeyLimit("hotline", Settings.model_fields["max_streams_per_key"].default)
    app.state.hotline = hotline.Hotline(service, hub, sockets, unbounded_rate(), live or LiveConfig())
    app.dependency_overrides[authenticated] = header_principal
    app.dependency_overrides[socket_authenticated] = header_principal
    app.include_router(hotline.router)
    statuses = {ValidationError: 422, NotFoundError: 404, ConflictError: 409}

    @app.exception_handler(KeepclearError)
    async def _refused(_request: Request, exc: KeepclearError) -> JSONResponse:
        status = next((code for cls, code in statuses.items() if isinstance(exc, cls)), 400)
        problems = exc.problems if isinstance(exc, ValidationError) else [str(exc)]
        return JSONResponse({"status": status, "problems": problems}, status_code=status)

    return app


@contextmanager
def serve(service: HotlineService, hub: HotlineHub, live: LiveConfig | None = None) -> Iterator[str]:
    """Run the app on 127.0.0.1 (a free port) in a thread; yields ``http://127.0.0.1:<port>``."""
    config = uvicorn.Config(
        build_app(service, hub, live),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
        ws_per_message_deflate=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="hotline-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the hotline test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
