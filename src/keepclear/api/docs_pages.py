"""The interactive API documentation (``/docs``): Swagger UI over ``/openapi.json``, its script and
style served from the installed ``swagger-ui-py`` package (Apache-2.0), never from a CDN.

FastAPI's own pages load Swagger UI and ReDoc from jsDelivr at every view: a deployment without the
internet shows an empty page, and a script from elsewhere would run on the console's origin, where
a tab's session holds the party's key and the witness keeps the record's head. Here the page's only
script outside the package's is its inline start-up, allowed by hash; nothing else runs or loads.
``create_app`` turns FastAPI's routes off (``docs_url=None, redoc_url=None``) and adds these.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse

from keepclear.api.security_headers import inline_script_hashes

DOCS_URL = "/docs"
ASSETS_URL = "/docs/assets"
#: The files of the package the page loads (the package also holds an editor: not served).
_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
#: What the page may load besides its inline start-up: this service's files, and the images and
#: inline styles Swagger UI draws with (no party's text is on this page).
_POLICY_REST = (
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; default-src 'none'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def swagger_ui_dir() -> Path:
    """Where the installed ``swagger-ui-py`` keeps Swagger UI's files (found without importing the
    package, whose handlers this service does not use)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed: pip install -e . installs it")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def add_docs_pages(app: FastAPI) -> None:
    """Routes serving ``/docs`` of ``app`` (created with ``docs_url=None, redoc_url=None``) and the
    few files of Swagger UI it loads."""
    assert app.openapi_url is not None
    openapi_url = app.openapi_url
    assets = swagger_ui_dir()

    async def swagger(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        page = get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - API",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon-32x32.png",
            oauth2_redirect_url=None,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )
        scripts = " ".join(["'self'", *inline_script_hashes(bytes(page.body))])
        page.headers["Content-Security-Policy"] = f"script-src {scripts}; {_POLICY_REST}"
        return page

    async def asset(request: Request) -> FileResponse:
        name = request.path_params["name"]
        media_type = _ASSETS.get(name)
        if media_type is None:
            raise HTTPException(404, f"{ASSETS_URL}/{name}: no such file")
        return FileResponse(assets / name, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})

    app.add_route(DOCS_URL, swagger, include_in_schema=False)
    app.add_route(ASSETS_URL + "/{name}", asset, include_in_schema=False)
