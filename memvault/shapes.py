"""Output shapes shared by the faces that answer in Mem0's platform format (the Mem0 dialect, MCP, the CLI's --json)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .models import AddResult, Bucket, ChangeEvent, DeleteOutcome, HistoryEvent, Memory, ProjectSettings, SearchHit, Webhook


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


# the change log and webhooks (Mem0's event and webhook shapes) ---------------------------------------------------
CHANGE_WORDS = {"memory_add": "ADD", "memory_update": "UPDATE", "memory_delete": "DELETE", "memory_purge": "DELETE",
                "memory_supersede": "SUPERSEDE", "memory_categorize": "CATEGORIZE"}


def change_out(e: ChangeEvent) -> dict[str, Any]:
    """A log event's effect on its memory, as Mem0 writes an event's results and a webhook's `event_details`: the
    text for an add or an update (until the memory is deleted), none for anything else."""
    return {"id": e.memory_id, "event": CHANGE_WORDS.get(e.type, e.type.removeprefix("memory_").upper()),
            "data": {"memory": e.text}, **e.owners()}


def feed_out(e: ChangeEvent, batch: list[ChangeEvent] | None = None) -> dict[str, Any]:
    """`GET /v1/event/{id}/` (with the events of its write as `results`) and each item of `GET /v1/events/`. A
    log event is written with its change: it SUCCEEDED, at once."""
    return {
        "id": e.id,
        "kind": "change",  # an async add's entry is "async_add" (memvault/engine/events.py `job_view`)
        "event_type": e.type,
        "status": "SUCCEEDED",
        "results": [change_out(x) for x in (batch if batch is not None else [e])],
        "error": None,
        "latency": None,
        "memory_id": e.memory_id,
        "actor": e.actor,
        "request_id": e.request_id,
        "created_at": iso(e.created_at),
        "updated_at": iso(e.created_at),
    }


def webhook_payload(e: ChangeEvent) -> dict[str, Any]:
    """What a webhook receives for one log event, as Mem0 sends it (a delete carries no text)."""
    return {"event_details": change_out(e), "event_id": e.id, "event_type": e.type,
            "created_at": iso(e.created_at), **e.owners()}


def webhook_out(w: Webhook, *, secret: bool = False) -> dict[str, Any]:
    """A webhook as Mem0 answers it; the signing secret only when asked (once: at creation)."""
    out = {
        "webhook_id": w.id,
        "name": w.name,
        "url": w.url,
        "event_types": list(w.event_types),
        "is_active": w.is_active,
        "project": w.project_id,
        "created_at": iso(w.created_at),
        "updated_at": iso(w.updated_at),
        "failing_since": iso(w.failing_since),
        "last_error": w.last_error,
        "disabled_at": iso(w.disabled_at),
    }
    return {**out, "secret": w.secret} if secret else out
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


def job_out(job: dict[str, Any]) -> dict[str, Any]:
    """An async add as `GET /v1/event/{id}/` shows it (memvault/engine/jobs.py `Engine.job`)."""
    return {**job, "created_at": iso(job["created_at"]), "updated_at": iso(job["updated_at"])}
