"""create_app(engine, dialects=...): the HTTP server. Mounts the faces it is handed and turns every error into a
response in one place, in the shape and words of the face whose path it is (`memvault.faces`).

Every request passes `memvault.access.AccessLog` (its id, its access-log line, its count in the metrics), then the
`Door` (framing, key, body), then its route: a face's direct routes (its adds, Mem0's searches) in one worker
thread past FastAPI's router (`memvault.direct`), every other through FastAPI. `/docs` and `/redoc` are served with
local assets (`memvault.docs`), `/metrics` when asked for (`memvault.metrics`).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup, TaskStatus
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import auth
from .access import REQUEST_ID_HEADER, AccessLog, note_of, request_id
from .delivery import DeliveryOptions, delivering
from .direct import DirectRoute, DirectRoutes
from .docs import add_docs
from .engine import Engine
from .errors import Conflict, InvalidInput, MemvaultError, NotFound, TooLarge, Unauthorized, Unavailable
from .faces import Face, Faces
from .origin import Origin, acting
from .workers import JobWorkerOptions, running_jobs

WORKER_HEADER = "X-Memvault-Worker"
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


class LazyMcp:
    """The ASGI app at /mcp, built on its first request: the MCP SDK (and what it imports, ~21 MB of a server's RSS)
    is imported then, off the event loop, and its session manager runs from then on in the app's lifespan
    (`running`), which stops it with the app. A server nobody speaks MCP to never loads it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._app: ASGIApp | None = None
        self._tasks: TaskGroup | None = None
        self._lock = anyio.Lock()
        self._stop = anyio.Event()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self._stop = anyio.Event()
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            try:
                yield
            finally:
                self._tasks, self._app = None, None  # a session manager runs once: the next lifespan builds another
                self._stop.set()  # the session manager, if it started, stops

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            async with self._lock:
                if self._app is None:
                    self._app = await self._start()
        await self._app(scope, receive, send)

    async def _start(self) -> ASGIApp:
        if self._tasks is None:
            raise RuntimeError("MCP over HTTP runs only while the app's lifespan runs")
        app, lifespan = await anyio.to_thread.run_sync(_mcp_transport, self.engine)

        async def serve(*, task_status: TaskStatus[None]) -> None:
            async with lifespan():
                task_status.started()
                await self._stop.wait()

        await self._tasks.start(serve)
        return app


def _mcp_transport(engine: Engine) -> tuple[ASGIApp, Callable[[], AbstractAsyncContextManager[None]]]:
    from .mcp import http_transport

    return http_transport(engine)


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


def domain_error(scope: Scope, exc: MemvaultError) -> JSONResponse:
    """The answer to a domain error, in the shape and words of the face whose path it is: the one mapping."""
    face = faces_of(scope).of(scope["path"])
    return error_response(face, status_of(exc), face.message(exc))


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path"))
        if err.get("type") == "json_invalid":
            return "Malformed JSON body"
        parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
    return "; ".join(parts) or "Invalid request"


class Door:
    """Every HTTP request passes here before any handler, in this order:

    1. framing: `Content-Length` together with `Transfer-Encoding`, or a `Content-Length` that is no single
       number, is a 400 (a request must have one unambiguous length);
    2. the key: on every path but the `public` ones, the `Authorization` header is checked once, against the
       store on every request (401 in the face's error shape, naming its scheme): on the event loop when the store
       reads a local file (`Engine.authenticates_locally`: SQLite, microseconds), else in a worker thread (a
       network round trip must not hold the loop); the key's project is handed to the
       handlers (and the access log) in the ASGI scope (`auth.PROJECT_SCOPE_KEY`) — before a byte of the body is
       read; a refusal's reason (never the key) is noted for the access log; the request runs as the key's
       (`memvault.origin`: its id and name, never the key, and the request id), which the change log records
       with every change the request makes;
    3. the body: a declared `Content-Length` over `limit` is a 413 at once; then the body is read by the bytes
       actually received, whatever the framing, and a 413 answered as soon as they pass `limit` (at most
       `limit` plus one chunk is ever held). The handlers get the body whole.

    Malformed JSON is therefore answered (400, by the handlers) only after the key was accepted. A path in
    `limits` (a face's `body_limits`, e.g. a chat-history import) has that limit instead of `limit`.
    """

    def __init__(self, app: ASGIApp, engine: Engine, limit: int, public: Collection[str],
                 limits: Mapping[str, int] | None = None) -> None:
        self.app, self.engine, self.limit, self.public = app, engine, limit, frozenset(public)
        self.limits = dict(limits or {})

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
            given = headers.get("authorization")
            try:
                if self.engine.authenticates_locally:  # ~10 µs: less than a thread hand-off (~50 µs of CPU)
                    key = auth.api_key_from_header(self.engine, given, scheme)
                else:
                    key = await anyio.to_thread.run_sync(auth.api_key_from_header, self.engine, given, scheme)
            except MemvaultError as exc:
                status = status_of(exc)
                extra = {"WWW-Authenticate": scheme} if status == 401 else None
                await self._refuse(scope, receive, send, status, exc.message, extra)
                return
            scope[auth.PROJECT_SCOPE_KEY] = key.project_id  # in place: the access log reads it, and the route too
            note = note_of(scope)  # the access log's id of the request (it runs first), else the client's or a new one
            origin = Origin("key", key.id, key.name, note.id if note is not None else request_id(headers))
        limit = self.limits.get(path, self.limit)
        too_big = f"Request body is larger than {limit} bytes"
        if lengths and int(lengths[0]) > limit:
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
            if seen > limit:
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
        if (note := note_of(scope)) is not None:
            note.refusal = message  # the door's own words: never the key
        await error_response(faces_of(scope).of(scope["path"]), status, message, headers)(scope, receive, send)


def direct_routes(app: FastAPI, faces: Sequence[Face]) -> list[DirectRoute]:
    """The app's routes its faces name as direct (`Face.direct`); ValueError for a name no route has."""
    wanted = {pair for face in faces for pair in face.direct}
    found = [(context.original_route, context.path,
              {(m, context.path) for m in context.original_route.methods or ()} & wanted)
             for context in iter_route_contexts(app.routes) if isinstance(context.original_route, APIRoute)]
    missing = wanted - {pair for _, _, pairs in found for pair in pairs}
    if missing:
        raise ValueError(f"no route for the direct {sorted(missing)}")
    return [DirectRoute.of(route, path) for route, path, pairs in found if pairs and path is not None]


def create_app(engine: Engine, *, dialects: Sequence[Face] | None = None,
               max_body_bytes: int = 4 * 1024 * 1024, metrics: bool = False,
               deliveries: DeliveryOptions | None = None, job_workers: JobWorkerOptions | None = None,
               close_engine: bool = False) -> FastAPI:
    """The server over `engine`, speaking `dialects` (default: `default_dialects()`) beside MCP at /mcp.
    `metrics` adds `GET /metrics` (no key asked: `memvault serve` turns it on for loopback binds only, see
    `memvault.metrics.metrics_enabled`). With `deliveries`, webhook deliveries run in the background while the app
    runs (`memvault.delivery`); with `job_workers`, threads run the queue of async adds (`memvault.workers`).
    `close_engine`: the app owns the engine and closes it when it stops, after those (a worker of `serve --workers`)."""
    from .metrics import Metrics
    from .ui import Dashboard

    dialects = default_dialects() if dialects is None else tuple(dialects)
    meter = Metrics(engine) if metrics else None

    mcp = LazyMcp(engine)  # MCP needs its session manager running, once started: the app's lifespan

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if meter is not None:
            engine.watchers.add(meter)  # counts what the engine does while this app runs
        engine.warm_up()  # SQLite reads its vectors now, not in the first search
        try:
            async with mcp.running(), delivering(engine, deliveries), running_jobs(engine, job_workers):
                yield
        finally:
            if meter is not None:
                engine.watchers.remove(meter)
            if close_engine:
                engine.close()

    app = FastAPI(title="memvault", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="A self-hosted memory layer: the Mem0 platform API and the MemoryPlugin API over one engine.")
    app.state.engine = engine
    dashboard = Dashboard()  # the web dashboard at /ui (memvault/ui)
    app.state.faces = Faces([*dialects, McpFace(), dashboard])

    @app.exception_handler(MemvaultError)
    async def _domain(request: Request, exc: MemvaultError) -> JSONResponse:
        return domain_error(request.scope, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(_face(request), 400, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(_face(request), exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        # logged on its request's access-log line (memvault.access), which this answer is sent outside of
        note = note_of(request.scope)
        return error_response(_face(request), 500, "Internal server error",
                              {REQUEST_ID_HEADER: note.id} if note is not None else None)

    @app.get("/healthz", tags=["health"], summary="Health check")
    def healthz(response: Response) -> dict[str, str]:
        """Up. `vector_index` is "building" while a large project's vector graph is built after a start. No key.
        The `X-Memvault-Worker` header is the id of the process that answered (one of them with `serve --workers`)."""
        response.headers[WORKER_HEADER] = str(os.getpid())
        return {"status": "ok", "vector_index": engine.vector_index_state()}

    for dialect in (*dialects, dashboard):
        if (router := dialect.router()) is not None:
            app.include_router(router)
    app.router.routes.append(Route("/mcp", mcp, include_in_schema=False))  # streamable-HTTP MCP, Bearer key
    public = {"/healthz", app.openapi_url, *add_docs(app), *dashboard.public}
    if meter is not None:
        app.include_router(meter.router())
        public.add("/metrics")
    limits = {path: size for face in dialects for path, size in face.body_limits.items()}
    app.add_middleware(DirectRoutes, engine=engine, routes=direct_routes(app, dialects), on_error=domain_error)
    app.add_middleware(Door, engine=engine, limit=max_body_bytes, public={p for p in public if p}, limits=limits)
    app.add_middleware(AccessLog, observer=meter)  # outermost: sees the door's answers
    return app
