"""The Mem0 platform API (what the official `mem0ai` SDK calls): request → engine call → Mem0's shapes.

Errors are `{"error": msg, "detail": msg}`: the SDK reads `detail`, Mem0's pages show `error`.
Unknown body fields (org_id, project_id, version, ...) are ignored.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from types import MappingProxyType
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from .. import filters as F
from ..engine import Owners, SearchOptions, UpdateItem
from ..errors import EMPTY_BATCH, MEMORY_NOT_FOUND, InvalidInput
from ..extract.base import Message
from ..faces import EngineDep, Face, ProjectDep, own_project, receipted
from ..models import ENTITY_FIELDS, ENTITY_TYPES, AddResult, Entity
from ..shapes import effect_out, event_out, hit_out, iso, memory_out, settings_out
from ..store.base import SETTINGS_FIELDS

router = APIRouter(tags=["mem0"])


class Mem0Dialect(Face):
    """The Mem0 platform API under /v1, /v2, /v3: a `Token` key, errors as `{"error", "detail"}`, Mem0's words."""

    name = "mem0"
    prefixes = ("/v", "/api/v1/orgs/", "/api/v1/webhooks/")
    scheme = "Token"
    words = MappingProxyType({
        MEMORY_NOT_FOUND: "Memory not found!",  # what the mem0ai SDK and Mem0's pages show
        EMPTY_BATCH: "memories must not be empty",
    })
    # error_body: Face's own, {"error": msg, "detail": msg} (the SDK reads `detail`, Mem0's pages show `error`)
    # the adds and the searches (memvault.direct)
    direct = frozenset({("POST", "/v1/memories/"), ("POST", "/v3/memories/add/"), ("POST", "/v1/memories/search/"),
                        ("POST", "/v2/memories/search/"), ("POST", "/v3/memories/search/")})

    def router(self) -> APIRouter:
        from .mem0_events import router as events
        from .mem0_reports import router as reports

        both = APIRouter()
        both.include_router(router)
        both.include_router(reports)
        both.include_router(events)
        return both


DEFAULT_PAGE_SIZE = 100


# shapes (shared with MCP and the CLI: memvault/shapes.py) ----------------------------
_iso = iso


def entity_out(project_id: str, e: Entity) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"memvault:{project_id}:{e.type}:{e.name}")),
        "name": e.name,
        "type": e.type,
        "total_memories": e.total_memories,
        "created_at": _iso(e.created_at),
        "updated_at": _iso(e.updated_at),
        "owner": None,
        "metadata": None,
    }


# requests -------------------------------------------------------------------------
class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class MessageIn(_Open):
    role: str = "user"
    content: str
    name: str | None = None


class AddRequest(_Open):
    messages: list[MessageIn] | str
    user_id: str | None = None
    agent_id: str | None = None
    app_id: str | None = None
    run_id: str | None = None
    metadata: dict[str, Any] | None = None
    infer: bool = True
    categories: list[str] | None = None
    expiration_date: str | None = None
    output_format: str | None = None
    async_mode: Any = None  # true: answered at once (PENDING), run by the server's workers; unset: MEMVAULT_ASYNC_ADD


class ListRequest(_Open):
    filters: dict[str, Any] | None = None
    user_id: str | None = None
    agent_id: str | None = None
    app_id: str | None = None
    run_id: str | None = None
    page: Annotated[int | None, Field(ge=1)] = None  # 0 would otherwise read as "not given"
    page_size: Annotated[int | None, Field(ge=1)] = None
    latest_only: Any = True  # false: superseded memories too (the engine refuses what is not a boolean)
    show_expired: StrictBool | None = None  # expired memories too; anything but a JSON boolean (or null) is a 400


class SearchRequest(ListRequest):
    query: str
    top_k: int = Field(10, ge=1, le=1000)
    threshold: float | None = Field(None, ge=0, le=1)
    rerank: bool = True  # switches both the context signals and the reranker (SearchOptions.context and .rerank)
    keyword_search: bool = True
    limit: int | None = Field(None, ge=1, le=1000)


class UpdateRequest(_Open):
    text: str | None = None
    memory: str | None = None
    metadata: dict[str, Any] | None = None
    categories: list[str] | None = None
    expiration_date: str | None = None
    superseded_by: Any = None  # the id of the memory that replaces this one (given alone)


class BatchUpdateItem(_Open):
    memory_id: str
    text: str | None = None
    metadata: dict[str, Any] | None = None


class BatchUpdateRequest(_Open):
    memories: list[BatchUpdateItem]


class ProjectUpdate(_Open):
    """Typed loosely on purpose: the engine checks each field (a bare string as custom_categories is its 400)."""

    name: Any = None
    custom_categories: Any = None
    custom_instructions: Any = None
    agent_custom_instructions: Any = None


class BatchDeleteItem(_Open):
    memory_id: str


class BatchDeleteRequest(_Open):
    memories: list[BatchDeleteItem]


# translation helpers ----------------------------------------------------------------
def _owners(body: AddRequest) -> Owners:
    owners = Owners(body.user_id, body.agent_id, body.app_id, body.run_id)
    if not owners.any():
        raise InvalidInput("At least one of user_id, agent_id, app_id or run_id is required")
    return owners


def _messages(raw: list[MessageIn] | str) -> list[Message]:
    if isinstance(raw, str):
        return [Message("user", raw)]
    return [Message(m.role, m.content, m.name) for m in raw]


def _where(body: ListRequest, *, require_entity: bool) -> F.Node | None:
    """The request's filters, with any top-level entity ids (1.0.x clients) folded in."""
    tops = [F.eq(f, v) if v != "*" else F.Cond(f, "exists") for f in ENTITY_FIELDS
            if (v := getattr(body, f)) is not None]
    where = F.all_of(F.parse(body.filters), *tops)
    if require_entity and not (F.fields_used(where) & {*ENTITY_FIELDS, "id"}):
        raise InvalidInput("filters must contain at least one of user_id, agent_id, app_id, run_id or memory_ids")
    return where


def _expiration(value: str | None) -> datetime | None:
    return F.parse_datetime(value, "expiration_date") if value else None


def _page_link(request: Request, page: int, size: int) -> str:
    return str(request.url.include_query_params(page=page, page_size=size))


def _paged(request: Request, engine: EngineDep, project: str, where: F.Node | None,
           page: int, size: int, latest_only: Any = True, *, show_expired: bool = False) -> dict[str, Any]:
    if page < 1:
        raise InvalidInput("page must be 1 or more")
    result = engine.list(project, where, limit=size, offset=(page - 1) * size, latest_only=latest_only,
                         show_expired=show_expired)
    return {
        "count": result.total,
        "next": _page_link(request, page + 1, size) if page * size < result.total else None,
        "previous": _page_link(request, page - 1, size) if page > 1 else None,
        "results": [memory_out(m) for m in result.items],
    }


def _search(engine: EngineDep, project: str, body: SearchRequest, *, require_entity: bool) -> list[dict[str, Any]]:
    options = SearchOptions(top_k=body.limit or body.top_k, threshold=body.threshold,
                            keyword=body.keyword_search, context=body.rerank, rerank=body.rerank,
                            show_expired=bool(body.show_expired))
    hits = engine.search(project, body.query, _where(body, require_entity=require_entity), options,
                         latest_only=body.latest_only)
    return [hit_out(h) for h in hits]


def _add(engine: EngineDep, project: str, body: AddRequest) -> list[AddResult]:
    return engine.add(
        project, _messages(body.messages), _owners(body), infer=body.infer, metadata=body.metadata,
        categories=body.categories, expiration_date=_expiration(body.expiration_date),
    )


def _added(results: list[AddResult]) -> list[dict[str, Any]]:
    return [{**effect_out(r), "data": {"memory": r.memory.text}} for r in results]


ASYNC_MESSAGE = "Memory processing has been queued for background execution"


def _submit(engine: EngineDep, project: str, body: AddRequest) -> dict[str, Any] | None:
    """An async add's answer, `{event_id, status: PENDING, message}` (None: the add runs now). Its progress is at
    `GET /v1/event/{event_id}/`."""
    if not engine.add_is_async(body.infer, body.async_mode):
        return None
    job = engine.submit_add(
        project, _messages(body.messages), _owners(body), infer=body.infer, metadata=body.metadata,
        categories=body.categories, expiration_date=_expiration(body.expiration_date),
    )
    return {"event_id": job.id, "status": job.status, "message": ASYNC_MESSAGE}


# documentation of the seed endpoint (DELETE /v1/memories/{memory_id}/) ------------------
_MEMORY_ID_EXAMPLE = "8c6c1e4a-2f0b-4a8e-9d7e-3b1f5c2a9e10"
MemoryId = Annotated[str, Path(description="The memory's id (a UUID).",
                               openapi_examples={"a memory": {"value": _MEMORY_ID_EXAMPLE}})]


def _error(description: str, message: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"example": {"error": message, "detail": message}}}}


_DELETE_ONE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Deleted.", "content": {"application/json": {"example": {"message": "Memory deleted successfully!"}}}},
    400: _error("The id is not a UUID.", "memory_id should be a valid UUID"),
    401: _error("No key, or a key memvault does not know.", "Invalid API key"),
    404: _error("No memory of the key's project has this id.", "Memory not found!"),
}


# routes ------------------------------------------------------------------------------
@router.get("/v1/ping/", summary="Check the key")
def ping(project: ProjectDep) -> dict[str, Any]:
    """Answers `{"status": "ok"}` with the key's project as `org_id` and `project_id`. The Mem0 SDK calls it when a
    client is made, so a wrong key fails at once (401)."""
    return {"status": "ok", "org_id": project, "project_id": project, "user_email": None}


@router.post("/v3/memories/add/", summary="Add memories")
def add_v3(body: AddRequest, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    """Stores memories for the owners given (at least one of `user_id`, `agent_id`, `app_id`, `run_id`). With
    `infer` (the default) facts are extracted from the messages and a fact that repeats a stored memory of the same
    owners is skipped; with `infer: false` every non-system message is stored as it is. The add is done when the
    answer comes (`status: SUCCEEDED`), with one result per memory added. `event_id` names the add's first
    change-log event: `GET /v1/event/{event_id}/` shows every memory the add made; an add that changed nothing wrote
    no event, and its `event_id` is null. With `async_mode: true` (or, when it is not sent, as MEMVAULT_ASYNC_ADD
    says) the answer comes at once, `{event_id, status: PENDING, message}`, and the add runs in the background:
    `GET /v1/event/{event_id}/` shows its progress and results."""
    if (queued := _submit(engine, project, body)) is not None:
        return queued
    results = _add(engine, project, body)
    first = next((r.event_id for r in results if r.event_id is not None), None)
    return {"event_id": first, "status": "SUCCEEDED", "results": _added(results)}


@router.post("/v1/memories/", summary="Add memories (v1)")
def add_v1(body: AddRequest, engine: EngineDep, project: ProjectDep) -> Any:
    """The 1.0.x SDK's add: as `POST /v3/memories/add/`. The results come as a list when `output_format` is
    "v1.0", else as `{"results": [...]}`; an async add answers `{event_id, status: PENDING, message}`."""
    if (queued := _submit(engine, project, body)) is not None:
        return queued
    results = _added(_add(engine, project, body))
    return results if body.output_format == "v1.0" else {"results": results}


@router.get("/v1/memories/", summary="List memories by owner")
def list_v1(
    request: Request, engine: EngineDep, project: ProjectDep,
    user_id: str | None = None, agent_id: str | None = None, app_id: str | None = None, run_id: str | None = None,
    page: Annotated[int | None, Query(ge=1)] = None, page_size: Annotated[int | None, Query(ge=1, le=1000)] = None,
) -> Any:
    """The memories of the owners given as query parameters (`*`: any value), newest first. With `page` and
    `page_size`, one page `{count, next, previous, results}`; otherwise a list of up to `page_size` (1,000)."""
    where = _where(ListRequest(user_id=user_id, agent_id=agent_id, app_id=app_id, run_id=run_id), require_entity=False)
    if page and page_size:
        return _paged(request, engine, project, where, page, page_size)
    return [memory_out(m) for m in engine.list(project, where, limit=page_size or 1000).items]


@router.post("/v3/memories/", summary="List memories")
def list_v3(
    request: Request, body: ListRequest, engine: EngineDep, project: ProjectDep,
    page: Annotated[int, Query(ge=1)] = 1, page_size: Annotated[int, Query(ge=1, le=1000)] = DEFAULT_PAGE_SIZE,
) -> dict[str, Any]:
    """The memories matching `filters` (AND / OR / NOT of conditions on owner ids, dates, categories, metadata,
    `memory_ids`, `keywords`), newest first, one page at a time: `{count, next, previous, results}`. `filters` must
    name an owner id or `memory_ids`. Expired memories are left out unless `show_expired` is true."""
    where = _where(body, require_entity=True)
    return _paged(request, engine, project, where, body.page or page, body.page_size or page_size, body.latest_only,
                  show_expired=bool(body.show_expired))


@router.post("/v2/memories/", summary="List memories (v2)")
def list_v2(
    request: Request, body: ListRequest, engine: EngineDep, project: ProjectDep,
    page: Annotated[int | None, Query(ge=1)] = None, page_size: Annotated[int | None, Query(ge=1, le=1000)] = None,
) -> Any:
    """The 1.0.x SDK's get_all: as `POST /v3/memories/` without the owner requirement. A list, or a page
    `{count, next, previous, results}` when `page` and `page_size` are given."""
    where = _where(body, require_entity=False)
    page, page_size = page or body.page, page_size or body.page_size
    show_expired = bool(body.show_expired)
    if page and page_size:
        return _paged(request, engine, project, where, page, page_size, body.latest_only, show_expired=show_expired)
    return [memory_out(m) for m in engine.list(project, where, limit=page_size or 1000, latest_only=body.latest_only,
                                               show_expired=show_expired).items]


@router.post("/v3/memories/search/", summary="Search memories")
def search_v3(body: SearchRequest, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    """Hybrid search (by meaning and by keywords) among the memories matching `filters`, which must name an owner
    id or `memory_ids`: `{"results": [memory + score]}`, best first. At most `top_k` (or `limit`) hits, none below
    `threshold` (0–1); `rerank` (default on) adds the context signals and a configured rerank model;
    `keyword_search: false` searches by meaning alone."""
    return {"results": _search(engine, project, body, require_entity=True)}


@router.post("/v2/memories/search/", summary="Search memories (v2)")
def search_v2(body: SearchRequest, engine: EngineDep, project: ProjectDep) -> list[dict[str, Any]]:
    """The 1.0.x SDK's search: as `POST /v3/memories/search/` without the owner requirement; a list of hits."""
    return _search(engine, project, body, require_entity=False)


@router.post("/v1/memories/search/", summary="Search memories (v1)")
def search_v1(body: SearchRequest, engine: EngineDep, project: ProjectDep) -> list[dict[str, Any]]:
    """The oldest search path: as `POST /v2/memories/search/`."""
    return _search(engine, project, body, require_entity=False)


@router.get("/v1/memories/{memory_id}/", summary="Get a memory")
def get_memory(memory_id: MemoryId, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    """One memory of the key's project. 404 "Memory not found!" for an unknown id and for another project's alike;
    400 for an id that is not a UUID."""
    return memory_out(engine.get(project, memory_id))


@router.put("/v1/memories/{memory_id}/", summary="Update a memory")
def update_memory(memory_id: MemoryId, body: UpdateRequest, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    """Changes only the fields given: `text` (or `memory`), `metadata`, `categories`, `expiration_date` (null
    clears it); a new text is kept in the memory's history. Answers the updated memory."""
    sent = body.model_fields_set
    if "superseded_by" in sent:  # an explicit supersede: this memory is no longer true, the one named replaces it
        if sent & {"text", "memory", "metadata", "categories", "expiration_date"}:
            raise InvalidInput("superseded_by is given alone, without other changes")
        return memory_out(engine.supersede(project, memory_id, body.superseded_by))
    memory = engine.update(
        project, memory_id,
        text=body.text if body.text is not None else body.memory,
        metadata=body.metadata,
        categories=body.categories,
        expiration_date=_expiration(body.expiration_date),
        clear_expiration="expiration_date" in sent and body.expiration_date is None,
    )
    return memory_out(memory)


@router.delete("/v1/memories/{memory_id}/", summary="Delete a memory", responses=_DELETE_ONE_RESPONSES)
def delete_memory(memory_id: MemoryId, engine: EngineDep, project: ProjectDep, response: Response) -> dict[str, Any]:
    """Deletes one memory for good: it leaves every read path (get, list, search, entities) at once, and its text
    leaves its history in the same transaction. Answers 200 `{"message": "Memory deleted successfully!"}` (a JSON
    body: the SDK reads it). 404 "Memory not found!" for an unknown id and for another project's alike; 400 for an
    id that is not a UUID.

    `curl -X DELETE http://127.0.0.1:8000/v1/memories/<memory_id>/ -H "Authorization: Token <key>"`, or
    `MemoryClient(api_key=key, host="http://127.0.0.1:8000").delete(memory_id)`."""
    engine.delete(project, memory_id)
    return receipted({"message": "Memory deleted successfully!"}, response)


@router.delete("/v1/memories/", summary="Delete memories by owner")
def delete_memories(
    engine: EngineDep, project: ProjectDep, response: Response,
    user_id: str | None = None, agent_id: str | None = None, app_id: str | None = None, run_id: str | None = None,
    dry_run: Annotated[bool, Query(description="Count what would be deleted; delete nothing.")] = False,
) -> dict[str, Any]:
    """Deletes every memory of the owners given as query parameters (`*`: any value). At least one owner is
    required (400): a call without a filter never deletes a whole project. With `dry_run=true`, nothing is deleted:
    the answer is `{"dry_run": true, "would_delete": n, "memory_ids": [the first 1,000]}`."""
    where = _where(ListRequest(user_id=user_id, agent_id=agent_id, app_id=app_id, run_id=run_id), require_entity=False)
    if dry_run:
        count, ids = engine.would_delete_where(project, where)
        return {"dry_run": True, "would_delete": count, "memory_ids": ids}
    engine.delete_where(project, where)
    return receipted({"message": "Memories deleted successfully!"}, response)


@router.get("/v1/memories/{memory_id}/history/", summary="A memory's history")
def history(memory_id: MemoryId, engine: EngineDep, project: ProjectDep) -> list[dict[str, Any]]:
    """The memory's events, oldest first (ADD, UPDATE with the old and the new text, DELETE). 404 for an unknown
    id and for another project's alike."""
    return [event_out(e) for e in engine.history(project, memory_id)]


@router.get("/v1/entities/", summary="List users, agents, apps and runs")
def entities(engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    """Every owner id of the project (user, agent, app, run) with its number of memories, and a total per type."""
    found = engine.entities(project)
    totals = {f"total_{kind}s": sum(1 for e in found if e.type == kind) for kind in ENTITY_TYPES}
    return {"count": len(found), "next": None, "previous": None,
            "results": [entity_out(project, e) for e in found], **totals}


@router.delete("/v2/entities/{entity_type}/{name}/", summary="Delete an owner's memories")
def delete_entity(entity_type: Literal["user", "agent", "app", "run"], name: str,
                  engine: EngineDep, project: ProjectDep, response: Response) -> dict[str, Any]:
    """Deletes every memory of one user, agent, app or run (the SDK's delete_users). 404 when it has none."""
    engine.delete_entity(project, entity_type, name)
    return receipted({"message": "Entity deleted successfully!"}, response)


@router.put("/v1/batch/", summary="Update memories in a batch")
def batch_update(body: BatchUpdateRequest, engine: EngineDep, project: ProjectDep) -> dict[str, str]:
    """Up to 1,000 `{memory_id, text?, metadata?}` in one transaction, all or nothing: one unknown id changes
    nothing (404)."""
    items = [UpdateItem(i.memory_id, text=i.text, metadata=i.metadata) for i in body.memories]
    done = engine.batch_update(project, items)
    return {"message": f"Successfully updated {len(done)} memories"}


@router.delete("/v1/batch/", summary="Delete memories in a batch")
def batch_delete(engine: EngineDep, project: ProjectDep, response: Response,
                 body: Annotated[BatchDeleteRequest, Body()]) -> dict[str, Any]:
    """Up to 1,000 `{memory_id}` (a JSON body on a DELETE) in one transaction, all or nothing: one unknown or
    malformed id deletes nothing (404 / 400)."""
    outcomes = engine.delete_many(project, [i.memory_id for i in body.memories], all_or_nothing=True)
    return receipted({"message": f"Successfully deleted {sum(o.deleted for o in outcomes)} memories"}, response)


# project settings (the ids are the ones /v1/ping/ answers: the key's project is both its org and its project) -------
@router.get("/api/v1/orgs/organizations/{org_id}/projects/{project_id}/", summary="Show the project's settings")
def get_project(org_id: str, project_id: str, engine: EngineDep, project: ProjectDep,
                fields: Annotated[list[str] | None, Query()] = None) -> dict[str, Any]:
    """The key's project (both ids are the ones `/v1/ping/` answers; any other is a 404): its `name`,
    `custom_categories` (a list of `{name: description}`, null while Mem0's 15 defaults apply), `custom_instructions`,
    `agent_custom_instructions`, and `categories`, the list memories are sorted into either way. `fields` (repeated)
    keeps only the fields named; an unknown one is a 400."""
    own_project(project, org_id, project_id)
    shown = settings_out(engine.project_settings(project), engine.project_categories(project))
    if not fields:
        return shown
    unknown = [f for f in fields if f not in shown]
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0][:40]!r}: the fields are {', '.join(shown)}")
    return {f: shown[f] for f in fields}


@router.patch("/api/v1/orgs/organizations/{org_id}/projects/{project_id}/", summary="Change the project's settings")
def update_project(org_id: str, project_id: str, body: ProjectUpdate, engine: EngineDep,
                   project: ProjectDep) -> dict[str, Any]:
    """Changes the fields given, leaves the others: `custom_categories` (at most 50 `{name: description}` objects; it
    replaces the defaults for the memories added from now on; `[]` or null goes back to them), `custom_instructions`
    and `agent_custom_instructions` (what the LLM extractor is told; "" or null clears), `name` (a display name; null
    goes back to the project's own). A malformed value is a 400 and changes nothing; other fields the SDK sends
    (`multilingual`, `decay`, ...) are ignored. Answers the settings as they are now."""
    own_project(project, org_id, project_id)
    changes = {f: getattr(body, f) for f in SETTINGS_FIELDS if f in body.model_fields_set}
    done = engine.update_project_settings(project, **changes)
    return {"message": "Project updated successfully", **settings_out(done, engine.project_categories(project))}
