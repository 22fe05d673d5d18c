"""The Mem0 platform API (what the official `mem0ai` SDK calls): request → engine call → Mem0's shapes.

Errors are `{"error": msg, "detail": msg}`: the SDK reads `detail`, Mem0's pages show `error`.
Unknown body fields (org_id, project_id, async_mode, output_format, version, ...) are ignored.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from types import MappingProxyType
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from .. import filters as F
from ..engine import Owners, SearchOptions, UpdateItem
from ..errors import EMPTY_BATCH, MEMORY_NOT_FOUND, InvalidInput
from ..extract.base import Message
from ..faces import EngineDep, Face, ProjectDep
from ..models import ENTITY_FIELDS, ENTITY_TYPES, AddResult, Entity
from ..shapes import event_out, hit_out, iso, memory_out

router = APIRouter(tags=["mem0"])


class Mem0Dialect(Face):
    """The Mem0 platform API under /v1, /v2, /v3: a `Token` key, errors as `{"error", "detail"}`, Mem0's words."""

    name = "mem0"
    prefixes = ("/v", "/api/v1/webhooks/")
    scheme = "Token"
    words = MappingProxyType({
        MEMORY_NOT_FOUND: "Memory not found!",  # what the mem0ai SDK and Mem0's pages show
        EMPTY_BATCH: "memories must not be empty",
    })
    # error_body: Face's own, {"error": msg, "detail": msg} (the SDK reads `detail`, Mem0's pages show `error`)

    def router(self) -> APIRouter:
        from .mem0_events import router as events

        both = APIRouter()
        both.include_router(router)
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


class ListRequest(_Open):
    filters: dict[str, Any] | None = None
    user_id: str | None = None
    agent_id: str | None = None
    app_id: str | None = None
    run_id: str | None = None
    page: Annotated[int | None, Field(ge=1)] = None  # 0 would otherwise read as "not given"
    page_size: Annotated[int | None, Field(ge=1)] = None


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


class BatchUpdateItem(_Open):
    memory_id: str
    text: str | None = None
    metadata: dict[str, Any] | None = None


class BatchUpdateRequest(_Open):
    memories: list[BatchUpdateItem]


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
           page: int, size: int) -> dict[str, Any]:
    if page < 1:
        raise InvalidInput("page must be 1 or more")
    result = engine.list(project, where, limit=size, offset=(page - 1) * size)
    return {
        "count": result.total,
        "next": _page_link(request, page + 1, size) if page * size < result.total else None,
        "previous": _page_link(request, page - 1, size) if page > 1 else None,
        "results": [memory_out(m) for m in result.items],
    }


def _search(engine: EngineDep, project: str, body: SearchRequest, *, require_entity: bool) -> list[dict[str, Any]]:
    options = SearchOptions(top_k=body.limit or body.top_k, threshold=body.threshold,
                            keyword=body.keyword_search, context=body.rerank, rerank=body.rerank)
    hits = engine.search(project, body.query, _where(body, require_entity=require_entity), options)
    return [hit_out(h) for h in hits]


def _add(engine: EngineDep, project: str, body: AddRequest) -> list[AddResult]:
    return engine.add(
        project, _messages(body.messages), _owners(body), infer=body.infer, metadata=body.metadata,
        categories=body.categories, expiration_date=_expiration(body.expiration_date),
    )


def _added(results: list[AddResult]) -> list[dict[str, Any]]:
    return [{"id": r.memory.id, "event": r.event, "memory": r.memory.text, "data": {"memory": r.memory.text}}
            for r in results]


# routes ------------------------------------------------------------------------------
@router.get("/v1/ping/")
def ping(project: ProjectDep) -> dict[str, Any]:
    return {"status": "ok", "org_id": project, "project_id": project, "user_email": None}


@router.post("/v3/memories/add/")
def add_v3(body: AddRequest, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    """`event_id` names the add's first change-log event: `GET /v1/event/{event_id}/` shows every memory the add
    made. An add that changed nothing wrote no event: its `event_id` is null."""
    results = _add(engine, project, body)
    return {"event_id": results[0].event_id if results else None, "status": "SUCCEEDED", "results": _added(results)}


@router.post("/v1/memories/")
def add_v1(body: AddRequest, engine: EngineDep, project: ProjectDep) -> Any:
    results = _added(_add(engine, project, body))
    return results if body.output_format == "v1.0" else {"results": results}


@router.get("/v1/memories/")
def list_v1(
    request: Request, engine: EngineDep, project: ProjectDep,
    user_id: str | None = None, agent_id: str | None = None, app_id: str | None = None, run_id: str | None = None,
    page: Annotated[int | None, Query(ge=1)] = None, page_size: Annotated[int | None, Query(ge=1, le=1000)] = None,
) -> Any:
    where = _where(ListRequest(user_id=user_id, agent_id=agent_id, app_id=app_id, run_id=run_id), require_entity=False)
    if page and page_size:
        return _paged(request, engine, project, where, page, page_size)
    return [memory_out(m) for m in engine.list(project, where, limit=page_size or 1000).items]


@router.post("/v3/memories/")
def list_v3(
    request: Request, body: ListRequest, engine: EngineDep, project: ProjectDep,
    page: Annotated[int, Query(ge=1)] = 1, page_size: Annotated[int, Query(ge=1, le=1000)] = DEFAULT_PAGE_SIZE,
) -> dict[str, Any]:
    where = _where(body, require_entity=True)
    return _paged(request, engine, project, where, body.page or page, body.page_size or page_size)


@router.post("/v2/memories/")
def list_v2(
    request: Request, body: ListRequest, engine: EngineDep, project: ProjectDep,
    page: Annotated[int | None, Query(ge=1)] = None, page_size: Annotated[int | None, Query(ge=1, le=1000)] = None,
) -> Any:
    where = _where(body, require_entity=False)
    page, page_size = page or body.page, page_size or body.page_size
    if page and page_size:
        return _paged(request, engine, project, where, page, page_size)
    return [memory_out(m) for m in engine.list(project, where, limit=page_size or 1000).items]


@router.post("/v3/memories/search/")
def search_v3(body: SearchRequest, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    return {"results": _search(engine, project, body, require_entity=True)}


@router.post("/v2/memories/search/")
def search_v2(body: SearchRequest, engine: EngineDep, project: ProjectDep) -> list[dict[str, Any]]:
    return _search(engine, project, body, require_entity=False)


@router.post("/v1/memories/search/")
def search_v1(body: SearchRequest, engine: EngineDep, project: ProjectDep) -> list[dict[str, Any]]:
    return _search(engine, project, body, require_entity=False)


@router.get("/v1/memories/{memory_id}/")
def get_memory(memory_id: str, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    return memory_out(engine.get(project, memory_id))


@router.put("/v1/memories/{memory_id}/")
def update_memory(memory_id: str, body: UpdateRequest, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    sent = body.model_fields_set
    memory = engine.update(
        project, memory_id,
        text=body.text if body.text is not None else body.memory,
        metadata=body.metadata,
        categories=body.categories,
        expiration_date=_expiration(body.expiration_date),
        clear_expiration="expiration_date" in sent and body.expiration_date is None,
    )
    return memory_out(memory)


@router.delete("/v1/memories/{memory_id}/")
def delete_memory(memory_id: str, engine: EngineDep, project: ProjectDep) -> dict[str, str]:
    engine.delete(project, memory_id)
    return {"message": "Memory deleted successfully!"}


@router.delete("/v1/memories/")
def delete_memories(
    engine: EngineDep, project: ProjectDep,
    user_id: str | None = None, agent_id: str | None = None, app_id: str | None = None, run_id: str | None = None,
) -> dict[str, str]:
    where = _where(ListRequest(user_id=user_id, agent_id=agent_id, app_id=app_id, run_id=run_id), require_entity=False)
    engine.delete_where(project, where)
    return {"message": "Memories deleted successfully!"}


@router.get("/v1/memories/{memory_id}/history/")
def history(memory_id: str, engine: EngineDep, project: ProjectDep) -> list[dict[str, Any]]:
    return [event_out(e) for e in engine.history(project, memory_id)]


@router.get("/v1/entities/")
def entities(engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    found = engine.entities(project)
    totals = {f"total_{kind}s": sum(1 for e in found if e.type == kind) for kind in ENTITY_TYPES}
    return {"count": len(found), "next": None, "previous": None,
            "results": [entity_out(project, e) for e in found], **totals}


@router.delete("/v2/entities/{entity_type}/{name}/")
def delete_entity(entity_type: Literal["user", "agent", "app", "run"], name: str,
                  engine: EngineDep, project: ProjectDep) -> dict[str, str]:
    engine.delete_entity(project, entity_type, name)
    return {"message": "Entity deleted successfully!"}


@router.put("/v1/batch/")
def batch_update(body: BatchUpdateRequest, engine: EngineDep, project: ProjectDep) -> dict[str, str]:
    items = [UpdateItem(i.memory_id, text=i.text, metadata=i.metadata) for i in body.memories]
    done = engine.batch_update(project, items)
    return {"message": f"Successfully updated {len(done)} memories"}


@router.delete("/v1/batch/")
def batch_delete(engine: EngineDep, project: ProjectDep,
                 body: Annotated[BatchDeleteRequest, Body()]) -> dict[str, str]:
    outcomes = engine.delete_many(project, [i.memory_id for i in body.memories], all_or_nothing=True)
    return {"message": f"Successfully deleted {sum(o.deleted for o in outcomes)} memories"}
