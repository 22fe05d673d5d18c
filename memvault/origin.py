"""Who made a change, and in which request: the origin the change log records with every event.

A context variable holds the origin of the work in progress. Each face sets it once: the HTTP door per request
(the key's id and name — never the key — and the request id), the CLI (`cli`), the stdio MCP server (`mcp`), the
background loops (`system`); a program that uses the library directly keeps the default (`library`). The stores
read it where they write the change log (`_insert_events`), so no engine or store signature carries it. Starlette
runs sync endpoints in a thread pool with the request's context copied, so it reaches them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

ActorKind = Literal["key", "cli", "mcp", "library", "system"]


@dataclass(frozen=True)
class Origin:
    actor_kind: ActorKind = "library"
    key_id: str | None = None
    key_name: str | None = None
    request_id: str | None = None

    @property
    def actor(self) -> str:
        """`key:<key id>` for a request made with an API key, else the kind (`cli`, `mcp`, `library`, `system`)."""
        return f"key:{self.key_id}" if self.actor_kind == "key" else self.actor_kind


LIBRARY = Origin()
_current: ContextVar[Origin] = ContextVar("memvault_origin", default=LIBRARY)


def current() -> Origin:
    return _current.get()


def set_origin(origin: Origin) -> None:
    """For a whole process or thread that acts as one origin (the CLI, the stdio MCP server)."""
    _current.set(origin)


@contextmanager
def acting(origin: Origin) -> Iterator[Origin]:
    """Work done inside the block is recorded as `origin`'s."""
    token = _current.set(origin)
    try:
        yield origin
    finally:
        _current.reset(token)
