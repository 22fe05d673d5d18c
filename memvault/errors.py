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

Each error carries a machine `code` beside its message: the class's own (`invalid_input`, `not_found`, ...)
unless the raiser names a finer one (`memory_not_found`, `bucket_not_found`, `entity_not_found`,
`empty_batch`). The engine's messages are neutral English; a face that has its own words for a code (Mem0's
"Memory not found!") looks the code up, never the message (see `memvault.faces.Face.words`).
"""

from __future__ import annotations


class MemvaultError(Exception):
    """Base of every error memvault raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidInput(MemvaultError):
    code = "invalid_input"


class TooLarge(InvalidInput):
    code = "too_large"


class NotFound(MemvaultError):
    code = "not_found"


class Unauthorized(MemvaultError):
    code = "unauthorized"


class Conflict(MemvaultError):
    code = "conflict"


class Unavailable(MemvaultError):
    code = "unavailable"


# The finer codes the engine raises (a face words them by these names).
MEMORY_NOT_FOUND = "memory_not_found"
BUCKET_NOT_FOUND = "bucket_not_found"
ENTITY_NOT_FOUND = "entity_not_found"
EMPTY_BATCH = "empty_batch"
CONVERSATION_NOT_FOUND = "conversation_not_found"
MODEL_ANSWER_UNUSABLE = "model_answer_unusable"  # a model answered, but not with what was asked (an Unavailable)
