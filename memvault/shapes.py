"""Output shapes shared by the faces that answer in Mem0's platform format (the Mem0 dialect, MCP, the CLI's --json)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .models import AddResult, Bucket, DeleteOutcome, HistoryEvent, Memory, ProjectSettings, SearchHit


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def memory_out(m: Memory) -> dict[str, Any]:
    return {
        "id": m.id,
        "memory": m.text,
        "user_id": m.user_id,
        "agent_id": m.agent_id,
        "app_id": m.app_id,
        "run_id": m.run_id,
        "hash": m.hash,
        "metadata": m.metadata or None,
        "categories": m.categories,
        "bucket": m.bucket_name,
        "created_at": iso(m.created_at),
        "updated_at": iso(m.updated_at),
        "expiration_date": iso(m.expiration_date),
        "superseded_by": m.superseded_by,
        "superseded_at": iso(m.superseded_at),
        "immutable": False,
        "feedback": m.feedback,
    }


def effect_out(r: AddResult) -> dict[str, Any]:
    """One effect of an add: the memory's id, the event and its text; `previous_memory` (the text before) for an
    UPDATE; `superseded_by` and `superseded_at` for a SUPERSEDE (the memory no longer true; the one that replaced
    it is listed as an ADD just before)."""
    out: dict[str, Any] = {"id": r.memory.id, "event": r.event, "memory": r.memory.text}
    if r.event == "UPDATE":
        out["previous_memory"] = r.previous_memory
    if r.event == "SUPERSEDE":
        out["superseded_by"] = r.memory.superseded_by
        out["superseded_at"] = iso(r.memory.superseded_at)
    return out


def hit_out(h: SearchHit) -> dict[str, Any]:
    return {**memory_out(h.memory), "score": h.score, "score_breakdown": h.breakdown}


def event_out(e: HistoryEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "memory_id": e.memory_id,
        "old_memory": e.old_text,
        "new_memory": e.new_text,
        "event": e.event,
        "reason": e.reason,  # a DELETE by the purge sweep: "expired" or "superseded"; else null
        "input": e.input,
        "metadata": e.metadata,
        "user_id": e.user_id,
        "agent_id": e.agent_id,
        "app_id": e.app_id,
        "run_id": e.run_id,
        "created_at": iso(e.created_at),
        "updated_at": iso(e.created_at),
    }


def bucket_out(b: Bucket) -> dict[str, Any]:
    return {"id": b.id, "name": b.name, "description": b.description, "memory_count": b.memory_count,
            "created_at": iso(b.created_at)}


def deletes_out(outcomes: list[DeleteOutcome]) -> dict[str, Any]:
    """A bulk delete's totals and its per-id outcome."""
    return {
        "deleted": sum(o.deleted for o in outcomes),
        "failed": sum(not o.deleted for o in outcomes),
        "results": [{"id": o.id, "deleted": o.deleted, "reason": o.reason} for o in outcomes],
    }


def settings_out(s: ProjectSettings, categories: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """A project's settings as Mem0 shows them: `custom_categories` is null while the defaults apply; `categories`
    is the list memories are sorted into either way."""
    return {
        "id": s.project_id,
        "name": s.name,
        "custom_categories": [{n: d} for n, d in s.custom_categories] if s.custom_categories is not None else None,
        "custom_instructions": s.custom_instructions,
        "agent_custom_instructions": s.agent_custom_instructions,
        "categories": [{n: d} for n, d in categories],
        "updated_at": iso(s.updated_at),
    }
