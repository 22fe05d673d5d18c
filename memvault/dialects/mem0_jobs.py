"""Mem0's `GET /v1/event/{event_id}/` for async adds: where an `async_mode` add (`POST /v1/memories/`,
`POST /v3/memories/add/`) shows its progress. Translation only: the rules are in memvault/engine/jobs.py."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..faces import EngineDep, ProjectDep
from ..shapes import iso

router = APIRouter(tags=["mem0"])


@router.get("/v1/event/{event_id}/", summary="Get an async add's progress")
def get_event(event_id: str, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    """`{id, status: PENDING|RUNNING|SUCCEEDED|FAILED, results, error, latency, created_at, updated_at}` of the async
    add that answered this `event_id`: its results (`{id, event, data: {memory}}`, the text while the memory exists)
    once SUCCEEDED, its reason once FAILED; `latency` in milliseconds from submission to the end. 404 for an unknown
    id or another project's."""
    job = engine.job(project, event_id)
    return {**job, "created_at": iso(job["created_at"]), "updated_at": iso(job["updated_at"])}
