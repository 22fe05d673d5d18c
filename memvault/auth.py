"""Key → tenant. The HTTP door (`memvault.http.Door`) calls `project_from_header` once per request, before
the body is read, and leaves the project in the ASGI scope under `PROJECT_SCOPE_KEY` for the handlers."""

from __future__ import annotations

from .engine import Engine
from .errors import Unauthorized
from .models import ApiKey

SCHEMES = ("token", "bearer")
PROJECT_SCOPE_KEY = "memvault.project"
"""Where the door leaves the project of a request's key in the ASGI scope (a client cannot set scope keys)."""


def key_from_header(value: str | None, scheme: str = "Token") -> str:
    """The key in an `Authorization: Token <key>` or `Authorization: Bearer <key>` header (either scheme on
    every face); `scheme` is the one the face documents, named in the error."""
    if not value or not value.strip():
        raise Unauthorized(f"Missing API key: send 'Authorization: {scheme} <key>'")
    parts = value.strip().split(None, 1)
    if len(parts) != 2 or parts[0].lower() not in SCHEMES:
        raise Unauthorized(f"Malformed Authorization header: expected '{scheme} <key>'")
    return parts[1].strip()


def project_from_header(engine: Engine, value: str | None, scheme: str = "Token") -> str:
    return engine.authenticate(key_from_header(value, scheme))


def api_key_from_header(engine: Engine, value: str | None, scheme: str = "Token") -> ApiKey:
    """The stored key (id, name, project) of the header's key."""
    return engine.authenticate_key(key_from_header(value, scheme))
