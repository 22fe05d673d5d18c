"""The outermost frame of every HTTP request: its id, its line in the access log and its count in the metrics.

`AccessLog` runs before the door (memvault.http.Door) and sees every answer, the door's refusals included:

- the request id is the client's `X-Request-ID` when it is 1 to 128 visible ASCII characters, else a new one; it
  is returned in `X-Request-ID` on every answer (the error hook adds it to a 500, which is sent outside this frame);
- the route is the template of the route that took the request (`/v1/memories/{memory_id}/`), never the path:
  ids and words a client put in a path or a query string are neither logged nor made metric labels. A request no
  route took (no route matches it, or the door refused it first) has no route: `null` in the log, "unrouted" in
  the metrics;
- the project is the one the door found for the key (the key itself is never logged); when the door refuses a
  request it notes its reason (`RequestNote.refusal`, one of its fixed texts);
- one line per request on the `memvault.access` logger: info, warning for a 401 or 403, error for a 5xx. It is
  written before the last byte of the answer is sent, so a client that has its answer finds its line and its count.

An exception raised while answering is logged on its request's line as its type and its frames, not its message
(which may hold what a user sent); at the debug level the whole traceback follows. It then goes on to the app's
error hook, which answers the 500.
"""

from __future__ import annotations

import logging
import re
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import Protocol

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .auth import PROJECT_SCOPE_KEY
from .logs import fields

log = logging.getLogger("memvault.access")

REQUEST_SCOPE_KEY = "memvault.request"
"""Where `AccessLog` leaves the request's `RequestNote` in the ASGI scope."""
REQUEST_ID_HEADER = "X-Request-ID"
_GOOD_ID = re.compile(r"[!-~]{1,128}")  # visible ASCII: no spaces, no control characters, nothing to forge a line with
GONE = 499  # the status logged and counted when the client went away before an answer (as nginx does)


@dataclass
class RequestNote:
    id: str
    refusal: str | None = None  # the door's reason when it refuses the request


class Observer(Protocol):
    """Told of each request besides the log (memvault.metrics.Metrics is one)."""

    def request_done(self, method: str, route: str | None, status: int, seconds: float) -> None: ...


def request_id(headers: Headers) -> str:
    given = headers.get(REQUEST_ID_HEADER)
    return given if given is not None and _GOOD_ID.fullmatch(given) else uuid.uuid4().hex


def note_of(scope: Scope) -> RequestNote | None:
    note: RequestNote | None = scope.get(REQUEST_SCOPE_KEY)
    return note


def route_of(scope: Scope) -> str | None:
    """The template of the route the router chose for this request, from what routing left in the scope: FastAPI's
    routes name themselves (`route`); a plain Starlette route or mount of the app (MCP's) is found by its `endpoint`."""
    route = scope.get("route")
    if route is None and (endpoint := scope.get("endpoint")) is not None:
        route = next((r for r in scope["app"].router.routes
                      if endpoint is getattr(r, "endpoint", None) or endpoint is getattr(r, "app", None)), None)
    template = getattr(route, "path_format", None)
    return template if isinstance(template, str) else None


def _name(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}"


def _frames(exc: BaseException) -> str:
    """Where the exception was raised, without its message."""
    return "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__))) + _name(exc)


def _level(status: int) -> int:
    if status >= 500:
        return logging.ERROR
    if status in (401, 403):
        return logging.WARNING
    return logging.INFO


class AccessLog:
    def __init__(self, app: ASGIApp, observer: Observer | None = None) -> None:
        self.app, self.observer = app, observer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        note = RequestNote(request_id(Headers(scope=scope)))
        scope[REQUEST_SCOPE_KEY] = note  # in place: the door and the app's error hook (outside this frame) read it
        status: int | None = None
        done = False

        def finish(final: int, error: BaseException | None = None) -> None:
            nonlocal done
            done = True
            seconds, route = time.perf_counter() - started, route_of(scope)
            if self.observer is not None:
                self.observer.request_done(scope["method"], route, final, seconds)
            ms = round(seconds * 1000, 2)
            log.log(_level(final), "%s %s %s %.2fms", scope["method"], route or "(no route)", final, ms, extra=fields(
                request_id=note.id, method=scope["method"], route=route, status=final, duration_ms=ms,
                project_id=scope.get(PROJECT_SCOPE_KEY), refusal=note.refusal,
                error=None if error is None else _name(error), trace=None if error is None else _frames(error),
            ))
            if error is not None and log.isEnabledFor(logging.DEBUG):
                log.debug("unhandled error (its message may hold what a user sent)", exc_info=error,
                          extra=fields(request_id=note.id))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = note.id
            elif message["type"] == "http.response.body" and not message.get("more_body", False) and not done:
                finish(status if status is not None else 500)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if not done:
                finish(status if status is not None else 500, exc)
            raise
        finally:
            if not done:
                finish(status if status is not None else GONE)
