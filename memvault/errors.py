"""The one error hierarchy of memvault.

The engine raises these; every face (each HTTP dialect, MCP, CLI, library) maps them
to its own shape in one place.

    MemvaultError
     ├── InvalidInput      bad argument: wrong type, missing field, malformed id, empty query
     │    └── TooLarge     a batch or a body over its limit
     ├── NotFound          unknown id (or another tenant's: the two are indistinguishable)
     ├── Unauthorized      missing, unknown or revoked key
     ├── Conflict          a unique name taken, a protected object
     └── Unavailable       the database or a remote service is out of reach
"""

from __future__ import annotations


class MemvaultError(Exception):
    """Base of every error memvault raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(MemvaultError):
    pass


class TooLarge(InvalidInput):
    pass


class NotFound(MemvaultError):
    pass


class Unauthorized(MemvaultError):
    pass


class Conflict(MemvaultError):
    pass


class Unavailable(MemvaultError):
    pass
