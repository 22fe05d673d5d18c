"""What an HTTP face is, and what its handlers may depend on — without importing the app that mounts them.

A face (each dialect, the MCP endpoint, the server's own routes) is an object handed to
`memvault.http.create_app(engine, dialects=...)`. It says which paths are its own, how its errors look, which
`Authorization` scheme its documentation gives, its own words for some error codes, and its routes. The app
keeps its faces in a `Faces` table on `app.state.faces`; the door and the one error hook read it from there,
so two apps in one process never share a table, and importing a dialect changes nothing.

This module imports the engine and the errors, never `memvault.http` nor a dialect: dialects import it,
`memvault.http` imports them, and the imports run one way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import APIKeyHeader

from . import auth
from .engine import Engine, receipts
from .errors import MemvaultError, NotFound, Unauthorized


class Face:
    """One face of the server. The defaults are memvault's own: `{"error": msg, "detail": msg}`, Token,
    the engine's messages as they are, no routes. A dialect overrides what differs."""

    name = "memvault"
    prefixes: tuple[str, ...] = ()
    scheme = "Token"
    words: Mapping[str, str] = MappingProxyType({})
    """This face's message for an error code (`memvault.errors`); a code not here keeps the engine's message."""
    body_limits: Mapping[str, int] = MappingProxyType({})
    """Paths of this face whose request body may pass the server's limit, and the limit each has instead."""
    direct: frozenset[tuple[str, str]] = frozenset()
    """Routes of this face (method, path) answered in one worker thread past FastAPI's router (`memvault.direct`):
    hot ones whose handler takes (body: a model, engine: EngineDep, project: ProjectDep)."""

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return {"error": message, "detail": message}

    def message(self, exc: MemvaultError) -> str:
        return self.words.get(exc.code, exc.message)

    def router(self) -> APIRouter | None:
        return None


class Faces:
    """An app's table of faces by path prefix (the longest prefix wins; `default` answers every other path)."""

    def __init__(self, faces: Iterable[Face], default: Face | None = None) -> None:
        self.default = default or Face()
        entries = [(prefix, face) for face in faces for prefix in face.prefixes]
        taken = [prefix for i, (prefix, _) in enumerate(entries) if prefix in {p for p, _ in entries[:i]}]
        if taken:
            raise ValueError(f"two faces claim the path prefix {taken[0]!r}")
        self._by_prefix = sorted(entries, key=lambda entry: -len(entry[0]))

    def __iter__(self) -> Iterator[Face]:
        return iter(dict.fromkeys(face for _, face in self._by_prefix))

    def of(self, path: str) -> Face:
        return next((face for prefix, face in self._by_prefix if path.startswith(prefix)), self.default)


# dependencies of the handlers ------------------------------------------------------------
_authorization = APIKeyHeader(name="Authorization", auto_error=False,
                              description="`Token <key>` (Mem0) or `Bearer <key>` (MemoryPlugin)")


async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]


async def current_project(request: Request, authorization: Annotated[str | None, Depends(_authorization)]) -> str:
    """The project of the request's key, checked once by the `Door` before the body was read (async: it only
    reads the scope, so no worker thread is taken for it). `authorization` documents the header in the schema."""
    project: str | None = request.scope.get(auth.PROJECT_SCOPE_KEY)
    if project is None:  # an app without its door: refuse rather than serve
        raise Unauthorized("Missing API key")
    begin_receipt(request.method, getattr(request.scope.get("route"), "path", request.url.path))
    return project


def begin_receipt(method: str, route_path: str) -> None:
    """Start the request's receipt (memvault.engine.receipts), named by its method and route: what a delete's
    receipt records. Every route does it before its handler runs (`current_project`, `memvault.direct`)."""
    receipts.begin(f"{method} {route_path}")


ProjectDep = Annotated[str, Depends(current_project)]


def receipted(body: dict[str, Any], response: Response) -> dict[str, Any]:
    """A delete's answer with the receipt its request wrote (memvault.engine.receipts): `receipt_id` added to the
    body, and the `X-Memvault-Receipt` header. A request that deleted nothing has none, and its answer is unchanged."""
    receipt_id = receipts.issued()
    if receipt_id is None:
        return body
    response.headers[receipts.RECEIPT_HEADER] = receipt_id
    return {**body, "receipt_id": receipt_id}


def own_project(project: str, *named: str) -> None:
    """Mem0's paths name the project (and org) by the ids `/v1/ping/` answered, which are the key's project: any
    other is a 404, as an unknown one is."""
    if any(n != project for n in named):
        raise NotFound("Project not found")
