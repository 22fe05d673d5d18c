"""create_app(engine, dialects=...): the HTTP server. Mounts the faces it is handed and turns every error into a
response in one place, in the shape and words of the face whose path it is (`memvault.faces`)."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import auth
from .delivery import DeliveryOptions, delivering
from .engine import Engine
from .errors import Conflict, InvalidInput, MemvaultError, NotFound, TooLarge, Unauthorized, Unavailable
from .faces import Face, Faces
from .origin import Origin, acting

log = logging.getLogger("memvault.http")

STATUS: dict[type[MemvaultError], int] = {
    TooLarge: 413,
    InvalidInput: 400,
    NotFound: 404,
    Unauthorized: 401,
    Conflict: 409,
    Unavailable: 503,
}


class McpFace(Face):
    """The streamable-HTTP MCP endpoint, mounted by create_app: memvault's error shape, a Bearer key."""

    name = "mcp"
    prefixes = ("/mcp",)
    scheme = "Bearer"


def default_dialects() -> tuple[Face, ...]:
    """The dialects a server speaks unless told otherwise: Mem0's platform API and MemoryPlugin's."""
    from .dialects.mem0 import Mem0Dialect
    from .dialects.memoryplugin import MemoryPluginDialect

    return Mem0Dialect(), MemoryPluginDialect()


def faces_of(scope: Scope) -> Faces:
    faces: Faces = scope["app"].state.faces
    return faces


def _face(request: Request) -> Face:
    return faces_of(request.scope).of(request.url.path)


def error_response(face: Face, status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(face.error_body(status, message), status_code=status, headers=headers)


def status_of(exc: MemvaultError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 400


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path"))
        if err.get("type") == "json_invalid":
            return "Malformed JSON body"
        parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
    return "; ".join(parts) or "Invalid request"


_REQUEST_ID = re.compile(r"[!-~]{1,128}")  # visible ASCII: nothing that could forge a log line


def request_id_of(scope: Scope, headers: Headers) -> str:
    """The request's id: the one the access log gave it when it runs first, else the client's `X-Request-ID` when
    it is 1 to 128 visible ASCII characters, else a new one."""
    note = scope.get("memvault.request")
    if isinstance(getattr(note, "id", None), str):
        return str(note.id)  # type: ignore[union-attr]
    given = headers.get("x-request-id")
    return given if given is not None and _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


class Door:
    """Every HTTP request passes here before any handler, in this order:

    1. framing: `Content-Length` together with `Transfer-Encoding`, or a `Content-Length` that is no single
       number, is a 400 (a request must have one unambiguous length);
    2. the key: on every path but the `public` ones, the `Authorization` header is checked once, off the
       event loop (401 in the face's error shape, naming its scheme), and the key's project is handed to the
       handlers in the ASGI scope (`auth.PROJECT_SCOPE_KEY`) — before a byte of the body is read; the request
       runs as the key's (`memvault.origin`: its id and name, never the key, and the request id), which the
       change log records with every change the request makes;
    3. the body: a declared `Content-Length` over `limit` is a 413 at once; then the body is read by the bytes
       actually received, whatever the framing, and a 413 answered as soon as they pass `limit` (at most
       `limit` plus one chunk is ever held). The handlers get the body whole.

    Malformed JSON is therefore answered (400, by the handlers) only after the key was accepted.
    """

    def __init__(self, app: ASGIApp, engine: Engine, limit: int, public: Collection[str]) -> None:
        self.app, self.engine, self.limit, self.public = app, engine, limit, frozenset(public)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = Headers(scope=scope)
        lengths = headers.getlist("content-length")
        if lengths and "transfer-encoding" in headers:
            await self._refuse(scope, receive, send, 400, "A request must not carry both Content-Length and Transfer-Encoding")
            return
        if lengths and (len(lengths) > 1 or not (lengths[0].isascii() and lengths[0].isdigit())):
            await self._refuse(scope, receive, send, 400, "Content-Length must be one number")
            return
        origin: Origin | None = None
        if path not in self.public:
            scheme = faces_of(scope).of(path).scheme
            try:
                key = await anyio.to_thread.run_sync(auth.api_key_from_header, self.engine,
                                                     headers.get("authorization"), scheme)
            except MemvaultError as exc:
                status = status_of(exc)
                extra = {"WWW-Authenticate": scheme} if status == 401 else None
                await self._refuse(scope, receive, send, status, exc.message, extra)
                return
            scope = {**scope, auth.PROJECT_SCOPE_KEY: key.project_id}
            origin = Origin("key", key.id, key.name, request_id_of(scope, headers))
        too_big = f"Request body is larger than {self.limit} bytes"
        if lengths and int(lengths[0]) > self.limit:
            await self._refuse(scope, receive, send, 413, too_big)
            return
        chunks: list[bytes] = []
        seen, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.limit:
                chunks.clear()
                await self._refuse(scope, receive, send, 413, too_big)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), False
        chunks.clear()

        async def replay() -> Message:
            nonlocal replayed, body
            if replayed:
                return await receive()  # after the body: the disconnect, when it comes
            replayed = True
            message: Message = {"type": "http.request", "body": body, "more_body": False}
            body = b""
            return message

        if origin is None:
            await self.app(scope, replay, send)
            return
        with acting(origin):  # the change log records the key (id and name) and the request of each change
            await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str,
                      headers: Mapping[str, str] | None = None) -> None:
        """Answer without reading (more of) the body; the server discards the rest or closes the connection."""
        await error_response(faces_of(scope).of(scope["path"]), status, message, headers)(scope, receive, send)


def create_app(engine: Engine, *, dialects: Sequence[Face] | None = None,
               max_body_bytes: int = 4 * 1024 * 1024, deliveries: DeliveryOptions | None = None) -> FastAPI:
    """The server over `engine`, speaking `dialects` (default: `default_dialects()`) beside MCP at /mcp. With
    `deliveries`, webhook deliveries run in the background while the app runs (`memvault.delivery`)."""
    from .mcp import http_transport

    dialects = default_dialects() if dialects is None else tuple(dialects)

    mcp_app, mcp_lifespan = http_transport(engine)  # MCP needs its session manager running: the app's lifespan

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with mcp_lifespan(), delivering(engine, deliveries):
            yield

    app = FastAPI(title="memvault", version="0.1.0", lifespan=lifespan,
                  description="A self-hosted memory layer: the Mem0 platform API and the MemoryPlugin API over one engine.")
    app.state.engine = engine
    app.state.faces = Faces([*dialects, McpFace()])

    @app.exception_handler(MemvaultError)
    async def _domain(request: Request, exc: MemvaultError) -> JSONResponse:
        face = _face(request)
        return error_response(face, status_of(exc), face.message(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(_face(request), 400, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(_face(request), exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(_face(request), 500, "Internal server error")

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Up. `vector_index` is "building" while a large project's vector graph is built after a start."""
        return {"status": "ok", "vector_index": engine.vector_index_state()}

    for dialect in dialects:
        if (router := dialect.router()) is not None:
            app.include_router(router)
    app.router.routes.append(Route("/mcp", mcp_app, include_in_schema=False))  # streamable-HTTP MCP, Bearer key
    public = {"/healthz", app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    app.add_middleware(Door, engine=engine, limit=max_body_bytes, public={p for p in public if p})
    return app
