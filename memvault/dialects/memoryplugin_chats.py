"""MemoryPlugin's chat-history API under /api/chat-history/: request → engine call → MemoryPlugin's shapes.

Included by the MemoryPlugin dialect (same Bearer key, same `{"error": msg}` errors). The rules are the engine's
(memvault/engine/chats.py); choices where MemoryPlugin's pages leave room:
- an ingest is processed before it is answered (validated, chunked, embedded and written in one transaction),
  so the answer keeps MemoryPlugin's `queued: true` but its `conversation.status` is already "completed" — or
  "rejected" with `statusReason` when the conversation would pass 100,000 tokens (nothing of that import is
  stored; the conversation and the reason are visible in the listing). Its body may be up to 50 MB
  (`INGEST_BODY_LIMIT`), the one route above the server's default body limit.
- `provider` ("all" by default) is the platform an import named (`platform`, "custom" by default).
- `dateFrom` / `dateTo` bound the conversation's `createdAt` (inclusive).
- `DELETE /chats` answers the ids that existed and are now gone; unknown ids and other projects' ids are left
  out alike. An empty `ids` is a 400.
- search answers passages (chunks of a few consecutive messages): `text` is the passage, `sender` and
  `timestamp` are those of its message that best matches the query, `messageId` is that message's id,
  `firstMessageIndex` / `lastMessageIndex` the passage's messages (`message_index` in the conversation), and
  `context` the messages of `contextChunks` chunks on either side (0 by default).
- inject (recall): offline, `content` is the best passages themselves, in date order, each headed by its
  date and conversation title, within `maxTokens` (`model` is "offline"); with a model configured, `content` is
  the model's synthesis of those passages and `model` its name; `sources` are the same either way.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field, StrictInt, StrictStr

from ..engine.chats import Recall
from ..errors import InvalidInput
from ..faces import EngineDep, ProjectDep, receipted
from ..models import ChatHit, ChatImport, ChatMessage, ChatMessageIn, Conversation, ConversationQuery

INGEST_PATH = "/api/chat-history/ingest/custom-online"
INGEST_BODY_LIMIT = 50 * 1024 * 1024

router = APIRouter(prefix="/chat-history", tags=["memoryplugin chat history"])

Id = StrictStr | StrictInt  # apps give ids as strings or numbers


# requests -------------------------------------------------------------------------
class MessageIn(BaseModel):
    id: Id | None = None
    role: StrictStr = Field(description='Who said it: "human", "assistant", "user", "system"...')
    content: StrictStr
    createdAt: datetime | None = None


class ConversationIn(BaseModel):
    id: Id = Field(description="The conversation's id in the importing app; the same id again adds to it.")
    title: StrictStr | None = None
    createdAt: datetime | None = None
    updatedAt: datetime | None = None
    messages: list[MessageIn]


class Ingest(BaseModel):
    conversation: ConversationIn
    platform: StrictStr | None = Field(None, description='^[a-zA-Z0-9._-]{1,100}$; default "custom".')
    platformDisplayName: StrictStr | None = Field(None, description="At most 200 characters.")


class DeleteChats(BaseModel):
    ids: list[StrictStr] = Field(description="Conversation ids (memvault's, as listed), at least one.")


class SearchChats(BaseModel):
    query: StrictStr
    limit: StrictInt = Field(20, description="1 to 100.")
    provider: StrictStr = Field("all", description='A platform, or "all".')
    contextChunks: StrictInt = Field(0, description="Chunks of context on either side of each passage, 0 to 5.")
    skipRerank: bool = Field(False, description="Skip the reranker (when one is configured).")


class RecallQuery(BaseModel):
    query: StrictStr
    maxTokens: StrictInt = 1000


class Inject(BaseModel):
    query: StrictStr | None = None
    maxTokens: StrictInt = Field(1000, description="Budget of `content`, in tokens (1 to 32,000).")
    platform: StrictStr | None = None
    conversationContext: Any = Field(None, description="Accepted; not used offline.")
    conversationHistory: Any = Field(None, description="Accepted; not used offline.")
    queries: list[RecallQuery] | None = Field(None, description="Several queries, each with its own budget.")


# shapes ---------------------------------------------------------------------------
def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def conversation_out(c: Conversation) -> dict[str, Any]:
    return {"id": c.id, "title": c.title, "platform": c.platform, "platformConversationId": c.platform_conversation_id,
            "messageCount": c.message_count, "tokenCount": c.token_count, "createdAt": _iso(c.created_at),
            "updatedAt": _iso(c.updated_at), "pinned": c.pinned, "status": c.status, "statusReason": c.status_reason,
            "importId": c.import_id}


def message_out(m: ChatMessage) -> dict[str, Any]:
    return {"message_index": m.position, "id": m.id, "role": m.role, "text": m.content, "timestamp": _iso(m.created_at)}


def context_out(m: ChatMessage) -> dict[str, Any]:
    return {"text": m.content, "sender": m.role, "timestamp": _iso(m.created_at)}


def hit_out(h: ChatHit) -> dict[str, Any]:
    return {"conversationId": h.conversation.id, "title": h.conversation.title, "text": h.chunk.text,
            "score": h.score, "timestamp": _iso(h.message.created_at or h.conversation.created_at),
            "sender": h.message.role, "messageId": h.message.id, "platform": h.conversation.platform,
            "firstMessageIndex": h.chunk.first, "lastMessageIndex": h.chunk.last,
            "context": [context_out(m) for m in h.context]}


def recall_out(r: Recall, started: float) -> dict[str, Any]:
    return {"content": r.content, "tokenCount": r.token_count, "model": r.model,
            "processingTime": round((time.perf_counter() - started) * 1000),
            "sources": [{"conversationId": s.conversation_id, "conversationTitle": s.conversation_title,
                         "messageId": s.message_id, "date": s.date.isoformat(), "relevanceScore": s.relevance}
                        for s in r.sources]}


def _provider(value: str | None) -> str | None:
    return None if value is None or value == "all" else value


# routes ---------------------------------------------------------------------------
@router.post("/ingest/custom-online", summary="Import a conversation")
def ingest(body: Ingest, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    """Imports one conversation into the chat-history archive; the same `conversation.id` (on the same platform)
    again adds only the messages it does not hold yet. Answers `{queued: true, importId, conversationId, platform,
    conversation: {id, platformConversationId, title, updatedAt, messageCount, status, statusReason}}`: the import
    is done when answered (`status` "completed"), or `rejected` with its reason when the conversation would pass
    100,000 tokens. The body may be up to 50 MB."""
    c = body.conversation
    item = ChatImport(
        conversation_id=str(c.id), title=c.title, created_at=c.createdAt, updated_at=c.updatedAt,
        messages=[ChatMessageIn(m.role, m.content, None if m.id is None else str(m.id), m.createdAt) for m in c.messages],
        platform=body.platform if body.platform is not None else "custom", platform_display_name=body.platformDisplayName,
    )
    conv = engine.ingest_chat(project, item)
    return {"queued": True, "importId": conv.import_id, "conversationId": conv.id, "platform": conv.platform,
            "conversation": {"id": conv.id, "platformConversationId": conv.platform_conversation_id,
                             "title": conv.title, "updatedAt": _iso(conv.updated_at),
                             "messageCount": conv.message_count, "status": conv.status,
                             "statusReason": conv.status_reason}}


@router.get("/chats", summary="List archived conversations")
def list_chats(
    engine: EngineDep, project: ProjectDep,
    page: int = 1,
    pageSize: Annotated[int, Query(description="1 to 100.")] = 25,
    provider: Annotated[str, Query(description='A platform, or "all".')] = "all",
    title: Annotated[str | None, Query(description="A part of the title, ignoring case.")] = None,
    dateFrom: Annotated[datetime | None, Query(description="Conversations created at or after.")] = None,
    dateTo: Annotated[datetime | None, Query(description="Conversations created at or before.")] = None,
    pinnedOnly: bool = False,
    importId: str | None = None,
) -> dict[str, Any]:
    """The project's conversations, newest first (by `updatedAt`), a page at a time, filtered by platform
    (`provider`), a part of the title, creation dates, pinned state or the import that last touched them."""
    query = ConversationQuery(_provider(provider), title, dateFrom, dateTo, pinnedOnly, importId)
    found = engine.list_conversations(project, query, page, pageSize)
    return {"items": [conversation_out(c) for c in found.items], "page": page, "pageSize": pageSize,
            "total": found.total, "totalPages": -(-found.total // pageSize)}


@router.get("/conversation", summary="Read a conversation")
def get_conversation(conversationId: str, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    """A conversation with all its messages in order (`message_index`, `text`, `timestamp`, `role`, `id`); 404 for
    an unknown id or another project's."""
    conv, messages = engine.conversation(project, conversationId)
    return {"id": conv.id, "title": conv.title, "messages": [message_out(m) for m in messages],
            "total": len(messages), "platformConversationId": conv.platform_conversation_id, "sourceId": conv.platform,
            "tokenCount": conv.token_count, "status": conv.status, "statusReason": conv.status_reason}


@router.delete("/chats", summary="Delete conversations")
def delete_chats(body: DeleteChats, engine: EngineDep, project: ProjectDep, response: Response) -> dict[str, Any]:
    """Deletes conversations for good: their messages, passages, vectors and keyword entries go in one transaction
    and leave the database files at the next compaction. Answers `{deleted: [ids], count}` (unknown ids and other
    projects' ids are left out alike)."""
    deleted = engine.delete_conversations(project, body.ids)
    return receipted({"deleted": deleted, "count": len(deleted)}, response)


@router.post("/search", summary="Search archived conversations")
def search_chats(body: SearchChats, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    """Hybrid search (meaning and keywords) over passages of a few consecutive messages, best first: each with its
    conversation, the message that best matches (`sender`, `timestamp`, `messageId`), its message range, a `score`
    in 0..1 and `context` around it."""
    started = time.perf_counter()
    hits = engine.search_chats(project, body.query, body.limit, _provider(body.provider), body.contextChunks,
                               rerank=not body.skipRerank)
    return {"results": [hit_out(h) for h in hits], "totalResults": len(hits), "query": body.query,
            "provider": body.provider, "processingTime": round((time.perf_counter() - started) * 1000)}


@router.post("/inject", summary="Recall from archived conversations")
def inject(body: Inject, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    """The best passages for `query` (or each of `queries`), in date order, each headed by its date and conversation,
    within `maxTokens`, with their `sources`; offline (`model` "offline"), else the configured model's synthesis of
    them (503 when its service fails)."""
    started = time.perf_counter()
    asked = [(q.query, q.maxTokens) for q in body.queries] if body.queries else []
    if body.query is not None:
        asked.insert(0, (body.query, body.maxTokens))
    if not asked:
        raise InvalidInput("query (or queries) is required")
    return recall_out(engine.recall_chats(project, asked, body.platform), started)
