"""create_app(engine): the HTTP server. Mounts the dialects and turns every error into a response in one place."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import auth
from .engine import Engine
from .errors import Conflict, InvalidInput, MemvaultError, NotFound, TooLarge, Unauthorized, Unavailable

log = logging.getLogger("memvault.http")

STATUS: dict[type[MemvaultError], int] = {
    TooLarge: 413,
    InvalidInput: 400,
    NotFound: 404,
    Unauthorized: 401,
    Conflict: 409,
    Unavailable: 503,
}

ErrorShape = Callable[[int, str], dict[str, Any]]
_shapes: list[tuple[str, ErrorShape]] = []


def register_error_shape(path_prefix: str, shape: ErrorShape) -> None:
    """A dialect says how its errors look for paths under `path_prefix` (longest prefix wins)."""
    _shapes.append((path_prefix, shape))
    _shapes.sort(key=lambda p: -len(p[0]))


def _default_shape(status: int, message: str) -> dict[str, Any]:
    return {"error": message, "detail": message}


def error_response(path: str, status: int, message: str) -> JSONResponse:
    shape = next((s for prefix, s in _shapes if path.startswith(prefix)), _default_shape)
    return JSONResponse(shape(status, message), status_code=status)


def status_of(exc: MemvaultError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 400


# dependencies --------------------------------------------------------------------
_authorization = APIKeyHeader(name="Authorization", auto_error=False,
                              description="`Token <key>` (Mem0) or `Bearer <key>` (MemoryPlugin)")


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]


def current_project(engine: EngineDep, authorization: Annotated[str | None, Depends(_authorization)]) -> str:
    return auth.project_from_header(engine, authorization)


ProjectDep = Annotated[str, Depends(current_project)]


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path"))
        if err.get("type") == "json_invalid":
            return "Malformed JSON body"
        parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
    return "; ".join(parts) or "Invalid request"


class BodyLimit:
    """Refuses request bodies over `limit` bytes with 413 before they reach a handler."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        too_big = f"Request body is larger than {self.limit} bytes"
        if length is not None and length.isdigit() and int(length) > self.limit:
            await error_response(scope["path"], 413, too_big)(scope, receive, send)
            return
        if length is not None:  # the server holds the client to its Content-Length
            await self.app(scope, receive, send)
            return
        # A streamed body: read it (up to the limit) before the app does, so an oversized one gets a 413
        # here rather than a parse error from inside the framework, which swallows exceptions from receive.
        chunks: list[bytes] = []
        seen, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.limit:
                await error_response(scope["path"], 413, too_big)(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)


def create_app(engine: Engine, *, max_body_bytes: int = 4 * 1024 * 1024) -> FastAPI:
    from .dialects import mem0, memoryplugin
    from .mcp import http_transport

    mcp_app, mcp_lifespan = http_transport(engine)  # MCP needs its session manager running: the app's lifespan
    app = FastAPI(title="memvault", version="0.1.0", lifespan=lambda _: mcp_lifespan(),
                  description="A self-hosted memory layer: the Mem0 platform API and the MemoryPlugin API over one engine.")
    app.state.engine = engine

    @app.exception_handler(MemvaultError)
    async def _domain(request: Request, exc: MemvaultError) -> JSONResponse:
        return error_response(request.url.path, status_of(exc), exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(request.url.path, 400, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(request.url.path, exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request.url.path, 500, "Internal server error")

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Up. `vector_index` is "building" while a large project's vector graph is built after a start."""
        return {"status": "ok", "vector_index": engine.vector_index_state()}

    app.include_router(mem0.router)
    app.include_router(memoryplugin.router)
    app.router.routes.append(Route("/mcp", mcp_app, include_in_schema=False))  # streamable-HTTP MCP, Bearer key
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    return app
