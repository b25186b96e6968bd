"""Headers every answer carries, and the Content-Security-Policy of every HTML page.

Parties share this service and each other's words reach every page (an incident's summary, a
message, a zone's name): a page must not run script or load anything a party's text could name.
``SecurityHeaders`` (ASGI middleware, outermost) adds ``X-Content-Type-Options: nosniff`` and
``Referrer-Policy: no-referrer`` to every HTTP answer, and to an HTML answer without a policy of
its own ``HTML_CSP``, which allows nothing at all. The pages that need more set their own: the
console (``console/router.py``), the incident report (``services/reports/incident.py``), the API
documentation (``docs_pages``).
"""

from __future__ import annotations

import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keepclear.services.reports.page_policy import source_hash

#: An HTML answer that names no policy of its own loads nothing, runs nothing and is framed nowhere.
HTML_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def inline_script_hashes(page: bytes) -> list[str]:
    """The hash sources of the inline ``<script>`` blocks of ``page`` (in order, each once)."""
    return list(dict.fromkeys(source_hash(m.group(1)) for m in _INLINE_SCRIPT.finditer(page)))


class SecurityHeaders:
    """ASGI middleware adding the headers above to the start of every HTTP answer (never replacing
    one a route set)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def headed(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=list(message.get("headers", ())))
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                if headers.get("content-type", "").lower().startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", HTML_CSP)
                message["headers"] = headers.raw
            await send(message)

        await self.app(scope, receive, headed)
