"""Key → tenant. The HTTP faces call `project_from_header`; the engine checks the key."""

from __future__ import annotations

from .engine import Engine
from .errors import Unauthorized

SCHEMES = ("token", "bearer")


def key_from_header(value: str | None) -> str:
    """The key in an `Authorization: Token <key>` or `Authorization: Bearer <key>` header."""
    if not value or not value.strip():
        raise Unauthorized("Missing API key: send 'Authorization: Token <key>'")
    parts = value.strip().split(None, 1)
    if len(parts) != 2 or parts[0].lower() not in SCHEMES:
        raise Unauthorized("Malformed Authorization header: expected 'Token <key>' or 'Bearer <key>'")
    return parts[1].strip()


def project_from_header(engine: Engine, value: str | None) -> str:
    return engine.authenticate(key_from_header(value))
