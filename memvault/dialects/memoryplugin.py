"""The MemoryPlugin API (browser extension, GPT actions, curl): request → engine call → MemoryPlugin's shapes.

Errors are `{"error": msg}` for every path under /api/. Auth is `Authorization: Bearer <key>`; a memory
belongs to the key's project (MemoryPlugin memories carry no user/agent/app/run ids) and sits in a bucket,
"General" unless one is named.

Choices where MemoryPlugin's pages leave room:
- `source` is stored on add; on reads it identifies the calling client (as MemoryPlugin documents it) and
  does not filter, so a ChatGPT action still sees memories saved from the browser.
- `GET /api/memory`'s `count` in the answer is the total number of matching memories (every page), so a
  client can page with `skip`; with `query` it is the number of hits returned.
- `all=true` answers every memory from `skip` up to the engine's page size (1,000 by default), newest first:
  one answer stays bounded however large the project. To read more, ask again with `skip` raised by the
  number received, until `count` (the total) is reached, or, on `/api/v2/memory`, until fewer come back.
- Memory ids are opaque strings to a MemoryPlugin client. `DELETE /api/memories/{id}` answers 404
  "Memory not found" alike for an unknown id, another project's id and a string that is no id at all,
  just as bulk delete counts all three as `failed`. (`POST /api/v2/memory/update` with a malformed
  `memoryId` is a 400 from the engine's id check.)
- Bulk delete deletes what exists in one transaction and reports one outcome per distinct id in
  `results`; `reason` is "not_found" for unknown and other projects' ids alike, "invalid_id" for a
  string that cannot be an id. Repeats of an id count once. More than 1,000 ids (repeats included) is a 400.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from .. import filters as F
from ..engine import Engine, SearchOptions
from ..errors import BUCKET_NOT_FOUND, CONVERSATION_NOT_FOUND, EMPTY_BATCH, MEMORY_NOT_FOUND, InvalidInput, NotFound
from ..faces import EngineDep, Face, ProjectDep, receipted
from ..models import Bucket, Memory
from . import memoryplugin_chats

router = APIRouter(prefix="/api", tags=["memoryplugin"])


class MemoryPluginDialect(Face):
    """The MemoryPlugin API under /api/: a `Bearer` key, errors as `{"error": msg}`, MemoryPlugin's words."""

    name = "memoryplugin"
    prefixes = ("/api/",)
    scheme = "Bearer"
    words = MappingProxyType({
        MEMORY_NOT_FOUND: "Memory not found",
        BUCKET_NOT_FOUND: "Bucket not found",
        EMPTY_BATCH: "memoryIds must not be empty",
        CONVERSATION_NOT_FOUND: "Conversation not found",
    })
    body_limits = MappingProxyType({memoryplugin_chats.INGEST_PATH: memoryplugin_chats.INGEST_BODY_LIMIT})
    direct = frozenset({("POST", "/api/memory")})  # the add (memvault.direct)

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return {"error": message}

    def router(self) -> APIRouter:
        return router


SEARCH_TOP = 5  # GET /api/memory?query= answers the five most relevant memories
MOVE_MAX = 100  # ids in one move request

BucketRef = StrictInt | StrictStr  # MemoryPlugin's bucket ids are numbers; memvault's are strings


# shapes ---------------------------------------------------------------------------
def memory_out(m: Memory) -> dict[str, Any]:
    metadata: dict[str, Any] = {"text": m.text, "createdAt": m.created_at.isoformat(),
                                "bucketId": m.bucket_id, "bucketName": m.bucket_name}
    if m.source:
        metadata["source"] = m.source
    return {"id": m.id, "text": m.text, "metadata": metadata}


def bucket_out(b: Bucket) -> dict[str, Any]:
    return {"id": b.id, "name": b.name, "description": b.description, "memoryCount": b.memory_count}


# requests -------------------------------------------------------------------------
class AddMemory(BaseModel):
    text: str = Field(description="The memory to store.")
    bucketId: BucketRef | None = Field(None, description='Bucket id (or name); the "General" bucket when omitted.')
    source: str | None = Field(None, description="Client source identifier, e.g. 'chatgpt'.")


class UpdateMemory(BaseModel):
    """Either edit one memory (`memoryId` with `text`, `bucketId` or `bucketName`) or move several
    (`memoryIds` with `bucketId`)."""

    memoryId: StrictStr | None = None
    text: str | None = None
    bucketId: BucketRef | None = None
    bucketName: str | None = Field(None, description="Move the memory to the bucket of this name.")
    memoryIds: list[StrictStr] | None = Field(None, max_length=MOVE_MAX, description=f"At most {MOVE_MAX} ids.")


class BulkDelete(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"memoryIds": [
        "0b8f6d9e-5c3a-4f1e-9a77-2d4c8e1b6f20", "5e2a9c41-7d3b-4e8f-b1a6-9f0c3d7e2a58", "not-an-id"]}]})

    memoryIds: list[StrictStr] = Field(description="Ids of the memories to delete (at least one, at most 1,000).")
    dryRun: StrictBool = Field(False, description="Answer what would be deleted, with the same counts and "
                                                 "per-id results; delete nothing.")


class NewBucket(BaseModel):
    name: str
    description: str | None = None


class BucketChange(BaseModel):
    name: str | None = None
    description: str | None = None


# translation helpers ----------------------------------------------------------------
def _ref(value: BucketRef | None) -> str | None:
    return None if value is None else str(value)


def _read(engine: Engine, project: str, where: F.Node | None, *, query: str | None, count: int, skip: int,
          every: bool) -> tuple[list[Memory], int]:
    """The memories a read asks for and the total it reports: search hits, every memory, or a page, newest first."""
    if query:
        hits = engine.search(project, query, where, SearchOptions(top_k=skip + count))[skip:]
        return [h.memory for h in hits], len(hits)
    if not every:
        page = engine.list(project, where, limit=count, offset=skip)
        return page.items, page.total
    page = engine.list(project, where, limit=engine.limits.max_page_size, offset=skip)  # bounded: see the docstring
    return page.items, page.total


# documentation of the seed endpoint (POST /api/memories/bulk-delete) --------------------
def _error(description: str, message: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"example": {"error": message}}}}


_BULK_DELETE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "What was deleted and what was not, one result per distinct id.",
          "content": {"application/json": {"example": {
              "deleted": 1, "failed": 2, "results": [
                  {"id": "0b8f6d9e-5c3a-4f1e-9a77-2d4c8e1b6f20", "status": "deleted"},
                  {"id": "5e2a9c41-7d3b-4e8f-b1a6-9f0c3d7e2a58", "status": "failed", "reason": "not_found"},
                  {"id": "not-an-id", "status": "failed", "reason": "invalid_id"}]}}}},
    400: _error("No ids, more than 1,000, or a body that is not `{memoryIds: [string]}`.", "memoryIds must not be empty"),
    401: _error("No key, or a key memvault does not know.", "Invalid API key"),
}


# memories ---------------------------------------------------------------------------
@router.post("/memory", summary="Add a memory")
def add_memory(body: AddMemory, engine: EngineDep, project: ProjectDep) -> dict[str, str]:
    """Stores `text` as it is, in the bucket `bucketId` (an id or a name; "General" when omitted). Answers
    `{"done": "ok", "memoryId"}`."""
    memory = engine.add_text(project, body.text, bucket=_ref(body.bucketId), source=body.source)
    return {"done": "ok", "memoryId": memory.id}


@router.get("/memory", summary="List or search memories")
def get_memories(
    engine: EngineDep, project: ProjectDep,
    query: Annotated[str | None, Query(description="Search; answers the 5 most relevant memories.")] = None,
    all: Annotated[bool, Query(description="Every memory from `skip`, at most the page size (1,000) per answer; "
                                           "page with `skip` until `count`.")] = False,
    latest: Annotated[bool, Query(description="Newest first: the default order.")] = False,
    count: Annotated[int, Query(description="How many memories (newest first).")] = 10,
    skip: Annotated[int, Query(description="How many to skip, for paging.")] = 0,
    source: Annotated[str | None, Query(description="Client source identifier; does not filter.")] = None,
) -> dict[str, Any]:
    """Memories newest first, `count` of them after `skip`; `all=true` for every one (at most 1,000 an answer).
    With `query`, the 5 most relevant by hybrid search. `count` in the answer is the number of memories that match
    (every page), or of hits for a search."""
    items, total = _read(engine, project, None, query=query, count=SEARCH_TOP if query else count,
                         skip=skip, every=all)
    return {"data": [memory_out(m) for m in items], "count": total}


@router.get("/v2/memory", summary="List memories with the buckets")
def get_memories_v2(
    engine: EngineDep, project: ProjectDep,
    bucketId: Annotated[str | None, Query(description="Only this bucket's memories (id or name).")] = None,
    query: str | None = None,
    all: Annotated[bool, Query(description="Every memory from `skip`, at most the page size (1,000) per answer; "
                                           "page with `skip` until fewer come back.")] = False,
    latest: bool = False, count: int = 10, skip: int = 0,
    includeIds: Annotated[bool, Query(description="Memories as {id, text, metadata} instead of text.")] = False,
    source: Annotated[str | None, Query(description="Client source identifier; does not filter.")] = None,
) -> dict[str, Any]:
    """As `GET /api/memory`, within `bucketId` when given: the memories (their texts, or `{id, text, metadata}`
    with `includeIds=true`) and every bucket of the project with its number of memories."""
    where = F.eq("bucket", bucketId) if bucketId else None
    items, _ = _read(engine, project, where, query=query, count=count, skip=skip, every=all)
    return {
        "memories": [memory_out(m) if includeIds else m.text for m in items],
        "buckets": [bucket_out(b) for b in engine.list_buckets(project)],
    }


@router.post("/v2/memory/update", response_model=None, summary="Edit or move memories")
def update_memory(body: UpdateMemory, engine: EngineDep, project: ProjectDep) -> dict[str, Any] | JSONResponse:
    """Either edit one memory (`memoryId` with `text`, `bucketId` or `bucketName`) and get it back, or move up to 100
    (`memoryIds` with `bucketId`): `{done, moved, movedIds, rejectedIds}`, a 404 with `rejectedIds` when none moved."""
    if (body.memoryId is None) == (body.memoryIds is None):
        raise InvalidInput("give either memoryId (edit one memory) or memoryIds (move memories)")
    if body.bucketId is not None and body.bucketName is not None:
        raise InvalidInput("give bucketId or bucketName, not both")
    if body.memoryIds is not None:
        if body.bucketId is None:
            raise InvalidInput("bucketId is required to move memories")
        moved, rejected = engine.move_memories(project, body.memoryIds, str(body.bucketId))
        if not moved:
            return JSONResponse({"error": "No memories were moved", "rejectedIds": rejected}, status_code=404)
        return {"done": "ok", "moved": len(moved), "movedIds": moved, "rejectedIds": rejected}
    memory = engine.update(project, body.memoryId, text=body.text, bucket=_ref(body.bucketId) or body.bucketName)
    return memory_out(memory)


@router.delete("/memories/{memoryId}", summary="Delete a memory")
def delete_memory(memoryId: str, engine: EngineDep, project: ProjectDep, response: Response) -> dict[str, Any]:
    """Deletes one memory for good (gone from every read path and from its history's text). 404 "Memory not found"
    alike for an unknown id, another project's id and a string that is no id."""
    [outcome] = engine.delete_many(project, [memoryId])
    if not outcome.deleted:
        raise NotFound("Memory not found", code=MEMORY_NOT_FOUND)
    return receipted({"message": "Memory deleted"}, response)


@router.post("/memories/bulk-delete", summary="Bulk delete memories", responses=_BULK_DELETE_RESPONSES)
def bulk_delete(body: BulkDelete, engine: EngineDep, project: ProjectDep, response: Response) -> dict[str, Any]:
    """Deletes up to 1,000 memories in one transaction: those of the key's project that exist are deleted, the
    others are counted in `failed`. `results` has one outcome per distinct id, in the order given (`reason`:
    "not_found" for an unknown or another project's id, "invalid_id" for a string that cannot be an id); a repeated
    id counts once. An empty list or more than 1,000 ids is a 400.

    `curl -X POST http://127.0.0.1:8000/api/memories/bulk-delete -H "Authorization: Bearer <key>"
    -H "Content-Type: application/json" -d '{"memoryIds": ["<id>", "<id>"]}'`

    With `"dryRun": true`, nothing is deleted and the answer is the one the call would give now (with
    `"dryRun": true`)."""
    outcomes = engine.delete_many(project, body.memoryIds, dry_run=body.dryRun)
    deleted = sum(o.deleted for o in outcomes)
    return receipted({
        "deleted": deleted,
        "failed": len(outcomes) - deleted,
        "results": [{"id": o.id, "status": "deleted"} if o.deleted else {"id": o.id, "status": "failed", "reason": o.reason}
                    for o in outcomes],
        **({"dryRun": True} if body.dryRun else {}),
    }, response)


# buckets ------------------------------------------------------------------------------
@router.get("/buckets", summary="List buckets")
def list_buckets(engine: EngineDep, project: ProjectDep) -> list[dict[str, Any]]:
    """Every bucket of the project with its number of memories; "General" is always there."""
    return [bucket_out(b) for b in engine.list_buckets(project)]


@router.post("/buckets", summary="Create a bucket")
def create_bucket(body: NewBucket, engine: EngineDep, project: ProjectDep) -> dict[str, str]:
    """A new bucket; its `name` is unique in the project, ignoring case (409 when taken). Answers its `id`."""
    bucket = engine.create_bucket(project, body.name, body.description)
    return {"message": "Bucket created successfully", "id": bucket.id}


@router.patch("/buckets/{bucketId}", summary="Rename a bucket")
def change_bucket(bucketId: str, body: BucketChange, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    """Changes a bucket's `name` and/or `description` (the bucket given by id or name); answers the bucket.
    "General" keeps its name (409)."""
    return bucket_out(engine.rename_bucket(project, bucketId, body.name, body.description))


@router.delete("/buckets/{bucketId}", summary="Delete a bucket")
def delete_bucket(
    bucketId: str, engine: EngineDep, project: ProjectDep, response: Response,
    memories: Annotated[str | None, Query(description='What happens to its memories: "move" (to General) or "delete".')] = None,
) -> dict[str, Any]:
    """Deletes a bucket; `memories` says what happens to its memories: "move" (to General) or "delete" (required,
    400 otherwise). "General" cannot be deleted (409)."""
    count = engine.delete_bucket(project, bucketId, memories or "")
    return receipted({"message": "Bucket deleted successfully", "moved" if memories == "move" else "deleted": count},
                     response)


router.include_router(memoryplugin_chats.router)  # /api/chat-history/...
