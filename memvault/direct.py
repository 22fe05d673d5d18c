"""Direct routes: a face's hot operations (its adds, Mem0's searches) answered in one worker thread, past FastAPI's router.

A face names some of its routes as direct (`Face.direct`: method and path). Their handlers take exactly
`(body: <a pydantic model>, engine: EngineDep, project: ProjectDep)` and return what FastAPI would turn into JSON.
For such a request, `DirectRoutes` (inside the door: the key is checked, the body read) does in ONE worker thread
what FastAPI does on the event loop and in two worker threads: parse the JSON body (`json.loads`, as FastAPI does)
and validate it with the handler's own model, call the handler, and render its answer as pydantic renders it for
FastAPI (`pydantic_core.to_json`: the same bytes). The event loop only reads the body and sends the answer.

Measured (bench/bench_ab.py, the ASGI app in process, 8 clients adding one memory per call, hashing embedder): FastAPI's
routing, dependencies and validation for an add cost ~0.2 ms of CPU on the event loop, and each thread hand-off
~0.05 ms (FastAPI makes two for a plain handler: the handler, then the validation of its answer).

Whatever is not a plain valid request goes on to FastAPI untouched, which answers it as for any route (the same
400 and its words): a Content-Type other than `application/json`, a body that does not parse or validate. A domain
error of the handler is answered by the app's one error mapping (`on_error`), an unexpected one goes up to the app's
500 hook, as from FastAPI. The route stays FastAPI's for the documentation, and the access log and the metrics name
it as before (`scope["route"]`).
"""

from __future__ import annotations

import inspect
import json
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from fastapi.datastructures import DefaultPlaceholder
from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic_core import to_json
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import auth
from .engine import Engine
from .errors import MemvaultError
from .faces import EngineDep, ProjectDep, begin_receipt

ErrorAnswer = Callable[[Scope, MemvaultError], Response]


@dataclass(frozen=True)
class DirectRoute:
    """One direct route: its FastAPI route (documentation, access log), the path it answers at, the model its body
    validates with, and its handler."""

    route: APIRoute
    path: str
    model: type[BaseModel]
    handler: Callable[[Any, Engine, str], Any]

    @classmethod
    def of(cls, route: APIRoute, path: str) -> DirectRoute:
        """The direct form of `route`; TypeError when its handler does not take (body: a model, engine, project) or
        it does not answer a plain 200 with JSON."""
        endpoint = route.endpoint
        hints = typing.get_type_hints(endpoint, include_extras=True)
        names = list(inspect.signature(endpoint).parameters)
        model = hints.get(names[0]) if names else None
        if (len(names) != 3 or not (isinstance(model, type) and issubclass(model, BaseModel))
                or hints.get(names[1]) != EngineDep or hints.get(names[2]) != ProjectDep
                or inspect.iscoroutinefunction(endpoint) or route.status_code not in (None, 200) or route.dependencies
                or not isinstance(route.response_class, DefaultPlaceholder)):
            raise TypeError(f"{route.path}: a direct route's handler takes (body: a model, engine: EngineDep, "
                            "project: ProjectDep), runs in a thread, and answers 200 with JSON")
        return cls(route, path, model, endpoint)

    def run(self, method: str, body: bytes, engine: Engine, project: str) -> bytes | None:
        """The answer's JSON, or None when the body is no valid request (FastAPI answers it). In a worker thread."""
        try:
            value = self.model.model_validate(json.loads(body))
        except Exception:  # not JSON, too deep, not valid: FastAPI's own answer (its 400 and its words) follows
            return None
        begin_receipt(method, self.path)
        return to_json(self.handler(value, engine, project))


def _is_json(content_type: str | None) -> bool:
    return content_type is not None and content_type.partition(";")[0].strip().lower() == "application/json"


class DirectRoutes:
    """ASGI: the direct routes answered at once (see the module); every other request passes to `app`."""

    def __init__(self, app: ASGIApp, engine: Engine, routes: Iterable[DirectRoute], on_error: ErrorAnswer) -> None:
        self.app, self.engine, self.on_error = app, engine, on_error
        self.routes: Mapping[tuple[str, str], DirectRoute] = {
            (method, r.path): r for r in routes for method in r.route.methods or ()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        direct = self.routes.get((scope.get("method", ""), scope.get("path", ""))) if scope["type"] == "http" else None
        project: str | None = scope.get(auth.PROJECT_SCOPE_KEY)
        if direct is None or project is None or not _is_json(Headers(scope=scope).get("content-type")):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        scope["route"] = direct.route  # the access log and the metrics name the route's template
        try:
            answer = await anyio.to_thread.run_sync(direct.run, scope["method"], body, self.engine, project)
        except MemvaultError as exc:
            await self.on_error(scope, exc)(scope, receive, send)
            return
        if answer is None:
            await self.app(scope, _replay(body, receive), send)
            return
        await Response(answer, media_type="application/json")(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    replayed = False

    async def again() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again
