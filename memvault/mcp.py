"""MCP: memory tools for models. Translation only: arguments → engine call → the Mem0 platform's shapes.

One set of tools serves both transports; only where the project comes from differs:
- stdio (`memvault mcp`): a local process is trusted and works in the data dir's default project;
- streamable HTTP at `/mcp` (mounted by `create_app`): `Authorization: Bearer <key>` is checked by the
  server's door (`memvault.http.Door`) before the MCP layer sees the request or its body (no key or a bad
  one: 401), and the key's project, which the door leaves in the ASGI scope, scopes every call.

Errors are mapped once, in `_tool`: a memvault error becomes an MCP tool error (`isError`) whose text says
what was wrong; arguments outside a tool's schema (a `top_k` over 100) are worded the same way, by `_Server`
("invalid argument: top_k: Input should be less than or equal to 100"); the server keeps running.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import ToolAnnotations
from pydantic import Field, StrictBool, ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from . import auth
from . import filters as F
from .engine import Engine, Owners, SearchOptions, UpdateItem, receipts
from .errors import InvalidInput, MemvaultError, NotFound, Unauthorized
from .extract.base import Message
from .models import ChatHit
from .shapes import bucket_out, deletes_out, effect_out, hit_out, memory_out

ProjectOf = Callable[[Context], str]
"""Where a tool call's project comes from: the transport decides."""

INSTRUCTIONS = (
    "Long-term memory. Before answering, search_memories for what you may already know about the user or "
    "the task; add_memory when the user tells you something worth remembering later (one fact per memory, "
    "written so it stands alone). Pass the same user_id on every call to keep each person's memories apart. "
    "search_chat_history and recall_chat_history read the user's archived conversations from other apps."
)

_KIND = {InvalidInput: "invalid argument", NotFound: "not found", Unauthorized: "unauthorized"}

_Fn = TypeVar("_Fn", bound=Callable[..., Any])


def _tool(fn: _Fn) -> _Fn:
    """Map memvault errors to MCP tool errors (the one place this face does it)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with receipts.receipting(f"mcp {fn.__name__}") as made:  # a delete's receipt names the tool
                answer = fn(*args, **kwargs)
            if made.issued and isinstance(answer, dict):
                answer = {**answer, "receipt_id": made.issued[-1]}
            return answer
        except MemvaultError as exc:
            kind = next((k for cls, k in _KIND.items() if isinstance(exc, cls)), type(exc).__name__.lower())
            raise ToolError(f"{kind}: {exc.message}") from exc

    return wrapper  # type: ignore[return-value]


UserId = Annotated[str | None, Field(description="Whose memories: an id of the person you talk with. "
                                                 "Use the same one on every call; omit for shared memories.")]
MemoryId = Annotated[str, Field(description="A memory's id (a UUID), as returned by the other tools.")]
Metadata = Annotated[dict[str, Any] | None, Field(description="Optional JSON object stored with the memory, "
                                                              "e.g. {\"topic\": \"travel\"}; usable in filters.")]
BucketName = Annotated[str | None, Field(description="A bucket (folder) by name or id; default: General.")]
LatestOnly = Annotated[bool, Field(strict=True, description="Only memories still true (the default); false shows "
                                                            "superseded ones too, with `superseded_by`.")]
ShowExpired = Annotated[StrictBool, Field(description="Also memories whose expiration date has passed.")]

READ = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
DELETE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)


class _Server(MCPServer):
    """Arguments that break a tool's schema are answered like any invalid argument: which argument and why,
    without the validator's internals (error types, input echo, links to its documentation)."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context | None = None) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(exc, UnexpectedToolError) or not isinstance(cause, ValidationError):
                raise
            reasons = "; ".join(f"{'.'.join(str(part) for part in error['loc']) or 'arguments'}: {error['msg']}"
                                for error in cause.errors(include_url=False, include_input=False)[:5])
            raise ToolError(f"Error executing tool {name}: invalid argument: {reasons}") from cause


def build_server(engine: Engine, project_of: ProjectOf) -> MCPServer:
    """The MCP server with memvault's tools; `project_of` tells each call's project."""
    server: MCPServer = _Server("memvault", instructions=INSTRUCTIONS, version="0.1.0", log_level="WARNING")

    @server.tool(annotations=WRITE)
    @_tool
    def add_memory(
        ctx: Context,
        text: Annotated[str, Field(description="What to remember, as a standalone statement "
                                                "(\"Alice is vegetarian\"), or a conversation excerpt when infer is true.")],
        user_id: UserId = None,
        metadata: Metadata = None,
        bucket: BucketName = None,
        infer: Annotated[bool, Field(description="Extract standalone facts from `text` and skip facts already "
                                                 "known, instead of storing `text` as it is.")] = False,
    ) -> dict[str, Any]:
        """Store a memory. Returns {"results": [...]}: each memory the add touched, with its `id` and `event`:
        ADD (stored; one memory without infer), and with infer also UPDATE (its text replaced; `previous_memory`),
        SUPERSEDE (no longer true; `superseded_by` names the memory that replaced it) or NONE (already known)."""
        results = engine.add(project_of(ctx), [Message("user", text)], Owners(user_id=user_id), infer=infer,
                             metadata=metadata, bucket=bucket, source="mcp")
        return {"results": [{**memory_out(r.memory), **effect_out(r)} for r in results]}

    @server.tool(annotations=READ)
    @_tool
    def search_memories(
        ctx: Context,
        query: Annotated[str, Field(description="What you are looking for, in natural language.")],
        user_id: UserId = None,
        filters: Annotated[dict[str, Any] | None, Field(description=(
            "Optional Mem0-style filters, e.g. {\"metadata\": {\"topic\": \"travel\"}}, "
            "{\"created_at\": {\"gte\": \"2025-01-01\"}}, {\"bucket\": \"Work\"}, {\"OR\": [...]}."))] = None,
        top_k: Annotated[int, Field(ge=1, le=100, description="How many results at most.")] = 10,
        latest_only: LatestOnly = True,
        show_expired: ShowExpired = False,
    ) -> dict[str, Any]:
        """Find memories by meaning and keywords, best first. Returns {"results": [...]}, each with a `score` (0..1)."""
        where = F.all_of(F.parse(filters), F.owned_by(Owners(user_id=user_id)))
        hits = engine.search(project_of(ctx), query, where, SearchOptions(top_k=top_k, show_expired=show_expired),
                             latest_only=latest_only)
        return {"results": [hit_out(h) for h in hits]}

    @server.tool(annotations=READ)
    @_tool
    def list_memories(
        ctx: Context,
        user_id: UserId = None,
        bucket: BucketName = None,
        limit: Annotated[int, Field(ge=1, le=1000, description="How many memories at most, newest first.")] = 50,
        latest_only: LatestOnly = True,
        show_expired: ShowExpired = False,
    ) -> dict[str, Any]:
        """List memories, newest first. Returns {"results": [...], "total": how many match in all}."""
        bucket_filter = F.eq("bucket", bucket) if bucket is not None else None
        page = engine.list(project_of(ctx), F.all_of(F.owned_by(Owners(user_id=user_id)), bucket_filter), limit=limit,
                           latest_only=latest_only, show_expired=show_expired)
        return {"results": [memory_out(m) for m in page.items], "total": page.total}

    @server.tool(annotations=READ)
    @_tool
    def get_memory(ctx: Context, id: MemoryId) -> dict[str, Any]:
        """Read one memory by its id: text, owner ids, metadata, bucket and times."""
        return memory_out(engine.get(project_of(ctx), id))

    @server.tool(annotations=WRITE)
    @_tool
    def update_memory(
        ctx: Context,
        id: MemoryId,
        text: Annotated[str | None, Field(description="The new text; omit to keep it.")] = None,
        metadata: Annotated[dict[str, Any] | None, Field(description="New metadata; replaces the old object.")] = None,
        bucket: Annotated[str | None, Field(description="Move the memory to this bucket (name or id).")] = None,
    ) -> dict[str, Any]:
        """Change a memory's text, metadata or bucket; the old text stays in its history. Returns the memory."""
        changed = engine.batch_update(project_of(ctx), [UpdateItem(id, text=text, metadata=metadata, bucket=bucket)])
        return memory_out(changed[0])

    @server.tool(annotations=DELETE)
    @_tool
    def delete_memory(ctx: Context, id: MemoryId) -> dict[str, Any]:
        """Delete a memory for good (its text leaves the store and its history)."""
        engine.delete(project_of(ctx), id)
        return {"id": id, "deleted": True}

    @server.tool(annotations=DELETE)
    @_tool
    def delete_memories(
        ctx: Context,
        ids: Annotated[list[str], Field(max_length=1000, description="The memories' ids (at least one).")],
        dry_run: Annotated[bool, Field(description="Answer what would be deleted; delete nothing.")] = False,
    ) -> dict[str, Any]:
        """Delete several memories for good. Returns {"deleted": n, "failed": n, "results": [{id, deleted, reason}]};
        an unknown or malformed id fails alone (reason "not_found" or "invalid_id"). With dry_run, the same answer
        as it would be now (and "dry_run": true), and nothing is deleted."""
        outcome = deletes_out(engine.delete_many(project_of(ctx), ids, dry_run=dry_run))
        return {**outcome, "dry_run": True} if dry_run else outcome

    @server.tool(annotations=READ)
    @_tool
    def list_buckets(ctx: Context) -> dict[str, Any]:
        """The buckets (folders) memories are sorted into, with how many memories each holds."""
        return {"buckets": [bucket_out(b) for b in engine.list_buckets(project_of(ctx))]}

    @server.tool(annotations=WRITE)
    @_tool
    def create_bucket(
        ctx: Context,
        name: Annotated[str, Field(description="The new bucket's name (unique, ignoring case).")],
        description: Annotated[str | None, Field(description="What belongs in it.")] = None,
    ) -> dict[str, Any]:
        """Create a bucket to sort memories into. Returns the bucket."""
        return bucket_out(engine.create_bucket(project_of(ctx), name, description))

    @server.tool(annotations=READ)
    @_tool
    def search_chat_history(
        ctx: Context,
        query: Annotated[str, Field(description="What you are looking for in past conversations, in natural language.")],
        limit: Annotated[int, Field(ge=1, le=100, description="How many passages at most.")] = 10,
        platform: Annotated[str | None, Field(description="Only conversations imported from this platform "
                                                          "(e.g. chatgpt, claude); omit for all.")] = None,
        context_chunks: Annotated[int, Field(ge=0, le=5, description="Passages of context on either side.")] = 0,
    ) -> dict[str, Any]:
        """Search the user's archived conversations (imported from ChatGPT, Claude or other apps). Returns
        {"results": [...]}, best first: each a passage of a few messages with its conversation, the message that
        best matches (sender, time, id) and a `score` (0..1)."""
        hits = engine.search_chats(project_of(ctx), query, limit, platform, context_chunks)
        return {"results": [chat_hit_out(h) for h in hits]}

    @server.tool(annotations=READ)
    @_tool
    def recall_chat_history(
        ctx: Context,
        query: Annotated[str, Field(description="What to recall from past conversations.")],
        max_tokens: Annotated[int, Field(ge=1, le=32_000, description="Budget of the answer, in tokens.")] = 1000,
        platform: Annotated[str | None, Field(description="Only conversations from this platform; omit for all.")] = None,
    ) -> dict[str, Any]:
        """Recall what past conversations said about `query`: the best passages, in date order, each headed by its
        date and conversation title, within `max_tokens`. Returns {"content", "sources": [{conversation_id,
        conversation_title, message_id, date, relevance}], "token_count"}."""
        recall = engine.recall_chats(project_of(ctx), [(query, max_tokens)], platform)
        return {"content": recall.content, "token_count": recall.token_count, "model": recall.model,
                "sources": [{"conversation_id": s.conversation_id, "conversation_title": s.conversation_title,
                             "message_id": s.message_id, "date": s.date.isoformat(), "relevance": s.relevance}
                            for s in recall.sources]}

    return server


def chat_hit_out(h: ChatHit) -> dict[str, Any]:
    def when(at: datetime | None) -> str | None:
        return at.isoformat() if at else None

    return {"conversation_id": h.conversation.id, "title": h.conversation.title, "platform": h.conversation.platform,
            "text": h.chunk.text, "score": h.score, "sender": h.message.role, "message_id": h.message.id,
            "timestamp": when(h.message.created_at or h.conversation.created_at),
            "context": [{"text": m.content, "sender": m.role, "timestamp": when(m.created_at)} for m in h.context]}


# stdio -------------------------------------------------------------------------------
def run_stdio(engine: Engine, project: str | None = None) -> None:
    """Serve MCP over stdin/stdout for one project (default: the default project) until stdin closes."""
    from .origin import Origin, set_origin

    set_origin(Origin("mcp"))  # the change log records what the tools change as MCP's (over HTTP: the key's)
    project_id = engine.project(project).id
    build_server(engine, lambda ctx: project_id).run("stdio")


# streamable HTTP --------------------------------------------------------------------
def _project_from_request(ctx: Context) -> str:
    request = ctx.request_context.request
    project: str | None = getattr(request, "scope", {}).get(auth.PROJECT_SCOPE_KEY)
    if project is None:  # the server's door always sets it; a request that skipped it is refused
        raise Unauthorized("Missing API key")
    return project


def http_transport(engine: Engine) -> tuple[ASGIApp, Callable[[], AbstractAsyncContextManager[None]]]:
    """The ASGI app to mount at /mcp and the lifespan it needs (the MCP session manager's task group).

    Stateless and JSON: every request stands alone, so a key's project is checked on each one, and no
    session or stream outlives a request (servers shut down at once).
    """
    server = build_server(engine, _project_from_request)
    # The Bearer key is what protects this endpoint, so the SDK's Host/Origin check (DNS rebinding) is off:
    # it would refuse a server reached by any name but localhost.
    server.streamable_http_app(stateless_http=True, json_response=True,
                               transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False))
    manager = server.session_manager

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        async with manager.run():
            yield

    return _Transport(manager), lifespan


class _Transport:
    """The session manager as a plain ASGI app (a bound method would be mounted as a GET-only endpoint)."""

    def __init__(self, manager: StreamableHTTPSessionManager) -> None:
        self.manager = manager

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.manager.handle_request(scope, receive, send)
