"""The dashboard at /ui: a page, its CSS and ES modules (memvault/ui/static/, no build step), and one small route.

The page is public (it holds no data); everything it shows comes from the Mem0 and MemoryPlugin APIs, called
from the browser with the key the person signed in with (`Authorization`, kept in the tab's session storage).
The one read or write no API offers lives under /ui/api/ and passes the same door, key and tenancy as the
dialects: `POST /ui/api/memories/delete` deletes every memory a filter matches (Mem0's delete-by-filter only
takes owner ids). Rules stay in the engine; this module only translates.

Every answer under /ui carries a strict Content-Security-Policy (scripts, styles, images and requests from this
server only; no inline script or style), `X-Frame-Options: DENY` and `nosniff`. The scripts write memory text
with `textContent` only, so a memory holding `<script>` shows as those characters.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field, StrictBool

from .. import filters as F
from ..faces import EngineDep, Face, ProjectDep, receipted

PREFIX = "/ui"

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}


def _static() -> dict[str, tuple[bytes, str]]:
    """Every file of memvault/ui/static/ by name: its bytes and its content type (read once, at app creation)."""
    folder = resources.files(__package__) / "static"
    return {f.name: (f.read_bytes(), TYPES[ext]) for f in folder.iterdir()
            if (ext := f.name[f.name.rfind("."):]) in TYPES}


def _secure(response: Response) -> None:
    response.headers.update(SECURITY_HEADERS)


class DeleteWhere(BaseModel):
    filters: dict[str, Any] = Field(description="A Mem0 filter (the one the Memories page lists with); at least one condition.")
    dry_run: StrictBool = Field(False, description="Count what would be deleted; delete nothing.")


class Dashboard(Face):
    """The dashboard's face: its paths under /ui, memvault's error shape, a `Bearer` key for /ui/api/."""

    name = "ui"
    prefixes = (PREFIX,)
    scheme = "Bearer"

    def __init__(self) -> None:
        self.files = _static()
        self.public = frozenset({PREFIX, f"{PREFIX}/", *(f"{PREFIX}/static/{name}" for name in self.files)})
        """The paths the door lets through without a key: the page and its static files, never /ui/api/."""

    def router(self) -> APIRouter:
        router = APIRouter(dependencies=[Depends(_secure)])
        files = self.files

        def answer(name: str) -> Response:
            body, kind = files[name]
            return Response(body, media_type=kind, headers=SECURITY_HEADERS)

        @router.api_route(PREFIX, methods=["GET", "HEAD"], include_in_schema=False)
        def page() -> Response:
            return answer("index.html")

        @router.api_route(f"{PREFIX}/", methods=["GET", "HEAD"], include_in_schema=False)
        def page_slash() -> Response:
            return RedirectResponse(PREFIX, headers=SECURITY_HEADERS)

        def static(name: str) -> Any:
            def handler() -> Response:
                return answer(name)
            return handler

        for name in files:
            router.add_api_route(f"{PREFIX}/static/{name}", static(name), methods=["GET", "HEAD"],
                                 include_in_schema=False)

        @router.post(f"{PREFIX}/api/memories/delete", tags=["dashboard"], summary="Delete memories by filter")
        def delete_where(body: DeleteWhere, engine: EngineDep, project: ProjectDep, response: Response) -> dict[str, Any]:
            """Delete every memory of the key's project that `filters` matches (the dashboard's "Delete all
            matching"); answers how many were deleted. An empty filter is a 400: it never means "everything".
            With `dry_run`, nothing is deleted: `{"dry_run": true, "would_delete": n, "memory_ids": [first 1,000]}`."""
            where = F.parse(body.filters)
            if body.dry_run:
                count, ids = engine.would_delete_where(project, where)
                return {"dry_run": True, "would_delete": count, "memory_ids": ids}
            return receipted({"deleted": engine.delete_where(project, where)}, response)

        return router
