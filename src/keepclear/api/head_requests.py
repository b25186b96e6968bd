"""``HeadAsGet``: HEAD on the paths named answers as GET would, without the body.

Load balancers check a service's health with HEAD; FastAPI routes answer only the methods they
declare (405 otherwise), and a HEAD route of its own would be a second operation in the OpenAPI
document for every check of the routes to cover. The request goes to the GET route; the answer's
status and headers (its Content-Length the GET's) are sent, its body is not (RFC 9110 §9.3.2).
"""

from __future__ import annotations

from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """ASGI middleware: HEAD on one of ``paths`` is served by its GET route, the body left out."""

    def __init__(self, app: ASGIApp, paths: Collection[str]) -> None:
        self.app = app
        self.paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "HEAD" or scope.get("path") not in self.paths:
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send(message)

        # A copy: the server's own scope stays HEAD (uvicorn then sends no body either).
        await self.app({**scope, "method": "GET"}, receive, headers_only)
