"""`/docs` (Swagger UI) and `/redoc` (ReDoc) with their scripts and styles served by the server itself: the pages
work on a machine without internet and make no request to another host. Their Content-Security-Policy holds the
browser to that: ReDoc's sidebar would load Redocly's logo from its CDN, Swagger UI would send the schema to a
public validator; both are refused (the logo hides itself).

The assets come from the `fastapi-offline` package (MIT), which ships Swagger UI (Apache-2.0) and ReDoc (MIT)
builds; their licences travel with that package.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Awaitable, Callable
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

ASSETS = "/docs/assets"
_FILES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
          "redoc.standalone.js": "text/javascript", "favicon.png": "image/png"}


def _asset_dir() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


def _policy(page: HTMLResponse) -> HTMLResponse:
    """The page with a policy that lets it load from this server only; its inline script (Swagger UI's set-up) is
    allowed by its hash. Styles may be inline: both UIs set them from their scripts."""
    inline = re.findall(r"<script>(.*?)</script>", bytes(page.body).decode(), flags=re.S)
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline)
    page.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
    return page


def _asset(path: Path, media_type: str) -> Callable[[], Awaitable[FileResponse]]:
    async def asset() -> FileResponse:
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})

    return asset


def add_docs(app: FastAPI, docs_url: str = "/docs", redoc_url: str = "/redoc") -> set[str]:
    """Add the two pages and their assets to `app` (made with docs_url=None, redoc_url=None); answer their paths,
    which need no key."""
    assert app.openapi_url is not None
    openapi_url, folder = app.openapi_url, _asset_dir()

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return _policy(get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{app.title} — API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js", swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},  # Swagger UI would send the schema to a public validator
        ))

    @app.get(redoc_url, include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return _policy(get_redoc_html(openapi_url=openapi_url, title=f"{app.title} — API",
                                      redoc_js_url=f"{ASSETS}/redoc.standalone.js", redoc_favicon_url=f"{ASSETS}/favicon.png",
                                      with_google_fonts=False))

    for name, media_type in _FILES.items():
        app.add_api_route(f"{ASSETS}/{name}", _asset(folder / name, media_type), methods=["GET"], include_in_schema=False)
    return {docs_url, redoc_url, *(f"{ASSETS}/{name}" for name in _FILES)}
