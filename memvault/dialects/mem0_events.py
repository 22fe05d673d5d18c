"""Mem0's event feed and webhooks: `GET /v1/event/{id}/`, `GET /v1/events/`, and `api/v1/webhooks/...` as the
mem0ai SDK's `create_webhook`, `get_webhooks`, `update_webhook` and `delete_webhook` call them. Translation only:
the rules are in memvault/engine/events.py, the deliveries in memvault/delivery.py."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict

from .. import filters as F
from ..errors import NotFound
from ..faces import EngineDep, ProjectDep, own_project
from ..shapes import feed_out, job_out, webhook_out

router = APIRouter(tags=["mem0 events"])
DEFAULT_PAGE_SIZE = 100


class WebhookIn(BaseModel):
    """Checked by the engine (which names what is wrong); a missing field reads as None."""

    model_config = ConfigDict(extra="allow")
    url: Any = None
    name: Any = None
    event_types: Any = None


@router.get("/v1/event/{event_id}/", summary="Get an event")
def get_event(event_id: str, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    """An async add (the `event_id` an `async_mode` add answered): `status` PENDING, RUNNING, SUCCEEDED or FAILED,
    its `results` once it ran, its `error` if it failed, `latency` in milliseconds. Else a change-log event of the
    project (`status` SUCCEEDED: it was written with its change), with `results`: the effect on its memory of every
    event of the same write (the `event_id` of a v3 add shows every memory it made). Another project's or an unknown
    id is a 404."""
    try:
        return job_out(engine.job(project, event_id))
    except NotFound:
        asked, batch = engine.event(project, event_id)
        return feed_out(asked, batch)


@router.get("/v1/events/", summary="List the project's events")
def list_events(
    request: Request, engine: EngineDep, project: ProjectDep,
    page: Annotated[int, Query(ge=1)] = 1, page_size: Annotated[int, Query(ge=1, le=1000)] = DEFAULT_PAGE_SIZE,
    status: str | None = None, event_type: Annotated[list[str] | None, Query()] = None,
    memory_id: str | None = None, since: str | None = None,
) -> dict[str, Any]:
    """The project's feed, newest first, paged (`page`, `page_size`) and filtered by `status` (PENDING, RUNNING,
    SUCCEEDED, FAILED), `event_type` (repeated or comma-separated), `memory_id` and `since` (an ISO date). Two kinds
    of entries, one shape: the change log (`kind` "change": one per change to one memory, SUCCEEDED; an add or update
    shows the memory's text until the memory is deleted, a delete none) and the async adds (`kind` "async_add",
    `event_type` memory_add, `memory_id` null: one per request, with its status, results and error, as
    `GET /v1/event/{id}/` shows it). A status other than SUCCEEDED lists async adds only; `memory_id` lists changes
    only. An unknown status or event type is a 400 naming the valid ones."""
    types = [t.strip() for given in event_type or () for t in given.split(",") if t.strip()] or None
    found, total = engine.feed(project, status=status, event_types=types, memory_id=memory_id,
                               since=F.parse_datetime(since, "since") if since is not None else None,
                               limit=page_size, offset=(page - 1) * page_size)

    def link(to: int) -> str:
        return str(request.url.include_query_params(page=to, page_size=page_size))

    return {"count": total, "next": link(page + 1) if page * page_size < total else None,
            "previous": link(page - 1) if page > 1 else None,
            "results": [job_out(e) if isinstance(e, dict) else feed_out(e) for e in found]}


@router.get("/api/v1/webhooks/projects/{project_id}/", summary="List webhooks")
def get_webhooks(project_id: str, engine: EngineDep, project: ProjectDep) -> list[dict[str, Any]]:
    """The project's webhooks (never their secrets): `is_active` false once one failed for too long, with
    `failing_since`, `last_error` and `disabled_at`."""
    own_project(project, project_id)
    return [webhook_out(w) for w in engine.list_webhooks(project)]


@router.post("/api/v1/webhooks/projects/{project_id}/", summary="Create a webhook")
def create_webhook(project_id: str, body: WebhookIn, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    """`url` (http or https, at most 2,000 characters), `name`, `event_types` (memory_add, memory_update,
    memory_delete, memory_supersede, memory_purge, memory_categorize). The answer holds the signing `secret`: it is
    shown this once. Deliveries start with the project's next change."""
    own_project(project, project_id)
    return webhook_out(engine.create_webhook(project, body.url, body.name, body.event_types), secret=True)


@router.put("/api/v1/webhooks/{webhook_id}/", summary="Update a webhook")
def update_webhook(webhook_id: str, body: WebhookIn, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    """Changes the fields given; a disabled webhook is active again and resumes where its deliveries stopped."""
    return webhook_out(engine.update_webhook(project, webhook_id, url=body.url, name=body.name,
                                             event_types=body.event_types))


@router.delete("/api/v1/webhooks/{webhook_id}/", summary="Delete a webhook")
def delete_webhook(webhook_id: str, engine: EngineDep, project: ProjectDep) -> dict[str, str]:
    """Nothing more is delivered to it."""
    engine.delete_webhook(project, webhook_id)
    return {"message": "Webhook deleted successfully"}
