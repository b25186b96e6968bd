"""``console_router()``: serves the console at ``/`` and its files at ``/static/...`` from package data.

The console needs no key to load: every piece of data it shows comes from the API with the key the
user signs in with, under the same need-to-know rules as any other client. The routes are plain
Starlette routes (no OpenAPI entry, no API action).
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from keepclear.services.reports.incident import REPORT_STYLE_SOURCE

#: Content types the standard ``mimetypes`` table may lack or get wrong.
_TYPES = {
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".css": "text/css",
    ".geojson": "application/geo+json",
    ".json": "application/json",
    ".ttf": "font/ttf",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
}

#: The page and its files must come from this server only; no inline scripts, no third parties;
#: never framed (a party's page in another's frame could be clicked through). MapLibre runs its
#: workers from blobs and draws its sprites and glyphs from data and blob URLs. The one inline style
#: allowed (by hash) is the incident report's: the console opens the report from a blob URL, whose
#: page has this policy (a local URL's page inherits its opener's).
_CSP = (
    f"default-src 'self'; script-src 'self'; style-src 'self' {REPORT_STYLE_SOURCE}; "
    "img-src 'self' data: blob:; worker-src 'self' blob:; connect-src 'self'; font-src 'self' data: blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def static_root() -> Path:
    """The folder of the console's static files inside the installed package."""
    return Path(str(files("keepclear.console") / "static"))


def console_router(root: Path | None = None) -> APIRouter:
    """Routes serving the console from ``root`` (default: the package's static folder)."""
    base = (root or static_root()).resolve()
    router = APIRouter()

    def _file(path: Path, *, cache: str) -> Response:
        media = _TYPES.get(path.suffix)
        headers = {"Cache-Control": cache, "X-Content-Type-Options": "nosniff", "Content-Security-Policy": _CSP}
        return FileResponse(path, media_type=media, headers=headers)

    async def index(request: Request) -> Response:
        return _file(base / "index.html", cache="no-cache")

    async def languages(request: Request) -> Response:
        # The console's languages are the files in static/i18n: adding a language is adding a file.
        found = []
        for path in sorted((base / "i18n").glob("*.json")):
            try:
                name = json.loads(path.read_text(encoding="utf-8")).get("language.name", path.stem)
            except (OSError, ValueError):
                continue
            found.append({"code": path.stem, "name": str(name)})
        return JSONResponse(found, headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})

    async def static(request: Request) -> Response:
        relative = str(request.path_params["path"])
        try:
            target = (base / relative).resolve()
            found = target.is_relative_to(base) and target.is_file() and target.name != "index.html"
        except (OSError, ValueError):  # a name too long for the file system, a NUL byte
            found = False
        if not found:
            # The application's handler answers it as a problem, like every other refusal.
            raise HTTPException(404, f"no console file {relative[:200]!r}")
        # Vendored libraries and basemap data change only with a release; the app's own code revalidates.
        cache = "public, max-age=86400" if relative.startswith(("vendor/", "basemap/", "fonts/")) else "no-cache"
        return _file(target, cache=cache)

    router.add_route("/", index, methods=["GET"], include_in_schema=False)
    router.add_route("/static/i18n/index.json", languages, methods=["GET"], include_in_schema=False)
    router.add_route("/static/{path:path}", static, methods=["GET"], include_in_schema=False)
    return router
