"""Deletion receipts: every delete request leaves one record anyone with the project's key can show, and that holds
no text and no metadata: `{id, at, actor, route, count, memory_ids}`.

The engine writes the receipt right after the delete commits (a process killed between the two leaves the delete
done without its receipt: the receipt is proof, never a condition of forgetting). The faces learn the receipt of
their request from `issued()`: a face opens `receipting(route)` around a request, the engine adds the receipt ids it
writes to it, and the face answers the last one (`receipt_id`, and the `X-Memvault-Receipt` header over HTTP).
Kept for RECEIPTS_DAYS (MEMVAULT_RECEIPTS_RETENTION_DAYS).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from .. import filters as F
from .. import validate as V
from ..errors import InvalidInput, NotFound
from ..models import utcnow
from ..origin import current
from .core import EngineCore

RECEIPTS_DAYS = 365
RECEIPT_HEADER = "X-Memvault-Receipt"
_KIND = "receipt"


@dataclass
class Receipting:
    """What one request's receipts need from its face: the route it came by, and where its receipt ids go."""

    route: str
    issued: list[str] = field(default_factory=list)


_current: ContextVar[Receipting | None] = ContextVar("memvault_receipting", default=None)


@contextmanager
def receipting(route: str) -> Iterator[Receipting]:
    """The deletes inside the block are receipted as coming by `route` (e.g. "DELETE /v1/memories/{memory_id}/",
    "mcp delete_memories", "cli delete"); the block's `issued` lists the receipts written."""
    made = Receipting(route)
    token = _current.set(made)
    try:
        yield made
    finally:
        _current.reset(token)


def begin(route: str) -> Receipting:
    """Like `receipting`, for a face that cannot wrap its request in a block (an HTTP dependency: the context
    variable lives as long as the request's context)."""
    made = Receipting(route)
    _current.set(made)
    return made


def issued() -> str | None:
    """The last receipt written in this request, if any."""
    current = _current.get()
    return current.issued[-1] if current is not None and current.issued else None


def _actor() -> str:
    """Who deleted: the API key's id (never the key), or cli, mcp, library, system (`memvault.origin`)."""
    return current().actor


class Receipts(EngineCore):
    receipt_days: int = RECEIPTS_DAYS

    def _receipt(self, project_id: str, memory_ids: Sequence[str], *,
                 conversation_ids: Sequence[str] = ()) -> str | None:
        """Record the receipt of a delete that removed `memory_ids` (or archived conversations: their ids in
        `conversation_ids`, counted in `count`); ids only, never a text. A delete that removed nothing has none."""
        if not memory_ids and not conversation_ids:
            return None
        current = _current.get()
        now = utcnow()
        receipt_id = str(uuid.uuid4())
        receipt: dict[str, Any] = {"id": receipt_id, "at": now.isoformat(), "actor": _actor(),
                   "route": current.route if current is not None else "library",
                   "count": len(memory_ids) + len(conversation_ids), "memory_ids": list(memory_ids)}
        if conversation_ids:
            receipt["conversation_ids"] = list(conversation_ids)
        self.store.put_record(project_id, _KIND, receipt_id, receipt, now, now + timedelta(days=self.receipt_days))
        if current is not None:
            current.issued.append(receipt_id)
        return receipt_id

    def _ids_where(self, project_id: str, where: F.Node) -> list[str]:
        """The ids of every memory `where` selects (expired and superseded ones too), a page at a time."""
        out: list[str] = []
        size = self.limits.max_page_size
        while True:
            page = self.store.list(project_id, where, size, len(out)).items
            out += [m.id for m in page]
            if len(page) < size:
                return out

    def receipt(self, project_id: str, receipt_id: Any) -> dict[str, Any]:
        if not isinstance(receipt_id, str):
            raise InvalidInput("receipt id must be a string")
        found = self.store.get_record(project_id, _KIND, V.string(receipt_id, "receipt id", 100), utcnow())
        if found is None:
            raise NotFound("Receipt not found")
        return found

    def receipts(self, project_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """The project's receipts, newest first."""
        if not 1 <= limit <= self.limits.max_page_size:
            raise InvalidInput(f"limit must be between 1 and {self.limits.max_page_size}")
        return self.store.list_records(project_id, _KIND, utcnow(), limit)
