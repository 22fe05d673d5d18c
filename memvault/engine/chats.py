"""The chat-history archive: whole conversations imported from ChatGPT, Claude or any app, searchable and
recallable, deleted for good (messages, chunks, vectors and keyword entries).

Rules (every face goes through them):
  * an import names its conversation by the importing app's id and a platform (`^[a-zA-Z0-9._-]{1,100}$`,
    "custom" by default); the same id on the same platform again is an **upsert**: the messages whose ids the
    conversation already has are left out, the others are appended, in the order given. A message without an id
    gets one made from its role, time and content, so the same message imported twice is one message.
  * a conversation holds at most MAX_CONVERSATION_TOKENS tokens, counted by `approx_tokens` (a cheap estimate, not
    the MiniLM tokenizer: the larger of the word count and a quarter of the characters, which English WordPiece
    text is close to). An import that would pass it is *rejected*: nothing of it is stored, and the conversation
    says so (`status` "rejected", `status_reason`) — a new one is made empty to carry the reason.
  * an import is done by the time it is answered: it is validated, counted, chunked and embedded, then written in
    one transaction (messages, chunks, vectors, keyword entries and the conversation's row together), so a failed
    import leaves the conversation as it was and a finished one is searchable at once. (MemoryPlugin answers
    `queued: true` and works in the background; memvault keeps that answer shape, with `status` "completed".)
  * messages are searched by chunks: CHUNK_TURNS consecutive messages, each chunk sharing CHUNK_OVERLAP with the
    one before, placed by position only, so an upsert re-indexes only the chunks its new messages touch. A chunk
    longer than EMBED_WINDOW_CHARS is indexed as several windows of it (each its own vector and keyword entry,
    the same messages): MiniLM reads about 1,000 characters of a text, and the end of a long answer counts too.
  * search is hybrid as memory search is (cosine and BM25 fused by `ranking.fuse`, the reranker when one is
    configured); recall answers the best passages in date order within a token budget, each attributed.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from .. import ranking
from .. import validate as V
from ..embed.batching import embed_query
from ..errors import CONVERSATION_NOT_FOUND, Conflict, InvalidInput, NotFound, Unavailable
from ..models import (
    ChatChunk,
    ChatHit,
    ChatImport,
    ChatMessage,
    ChatMessageIn,
    Conversation,
    ConversationPage,
    ConversationQuery,
    utcnow,
)
from ..store.base import ChatWrite
from .receipts import Receipts

MAX_CONVERSATION_TOKENS = 100_000
MAX_TITLE_CHARS = 1_000
MAX_DISPLAY_NAME_CHARS = 200
MAX_MESSAGE_ID_CHARS = 255
MAX_CHAT_PAGE_SIZE = 100
MAX_CHAT_RESULTS = 100
MAX_CONTEXT_CHUNKS = 5
MAX_RECALL_TOKENS = 32_000
MAX_RECALL_QUERIES = 10
CHUNK_TURNS = 4
CHUNK_OVERLAP = 1
EMBED_WINDOW_CHARS = 1_000  # a longer chunk is indexed as windows of about this many characters
DEFAULT_PLATFORM = "custom"
PLATFORM = re.compile(r"[a-zA-Z0-9._-]{1,100}")
_RETRIES = 10  # imports of one conversation that commit first, before this one gives up (Conflict, 409)
_WORD = re.compile(r"\w+", re.UNICODE)


def approx_tokens(text: str) -> int:
    """About how many tokens a text is: the larger of its words and a quarter of its characters."""
    return max(len(text.split()), math.ceil(len(text) / 4))


def chunk_spans(count: int, size: int = CHUNK_TURNS, overlap: int = CHUNK_OVERLAP) -> list[tuple[int, int]]:
    """(first, last) positions of the chunks of a conversation of `count` messages: `size` messages each, each
    sharing `overlap` with the one before; no chunk holds only messages the one before holds."""
    step = size - overlap
    return [(i, min(i + size, count) - 1) for i in range(0, count, step) if i == 0 or i + overlap < count]


def windows_of(text: str, size: int = EMBED_WINDOW_CHARS) -> list[str]:
    """The text in pieces of about `size` characters, cut at whitespace where there is some."""
    pieces, start = [], 0
    while len(text) - start > size:
        cut = text.rfind(" ", start + size // 2, start + size)
        cut = cut if cut > start else start + size
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    return [p for p in pieces if p.strip()] or [text]


def chunk_text(messages: Sequence[ChatMessage]) -> str:
    return "\n".join(f"{m.role}: {m.content}" for m in messages)


def message_id(role: str, content: str, created_at: datetime | None) -> str:
    """The id of a message imported without one: the same message imported again gets the same id."""
    digest = hashlib.sha256(f"{role}\n{created_at.isoformat() if created_at else ''}\n{content}".encode()).hexdigest()
    return "m-" + digest[:32]


def platform_of(value: Any, what: str = "platform") -> str:
    if value is None:
        return DEFAULT_PLATFORM
    if not isinstance(value, str) or not PLATFORM.fullmatch(value):
        raise InvalidInput(f"{what} must match ^[a-zA-Z0-9._-]{{1,100}}$")
    return value


@dataclass(frozen=True)
class RecallSource:
    conversation_id: str
    conversation_title: str
    message_id: str
    date: datetime
    relevance: float


@dataclass(frozen=True)
class Recall:
    content: str
    sources: list[RecallSource]
    token_count: int
    model: str


class Chats(Receipts):
    # import ------------------------------------------------------------------------------
    def ingest_chat(self, project_id: str, item: ChatImport, import_id: str | None = None) -> Conversation:
        """Import one conversation (see the module's rules); returns it as committed."""
        item = self._chat_import(item)
        import_id = import_id or str(uuid.uuid4())
        for attempt in range(_RETRIES):
            try:
                return self._ingest_once(project_id, item, import_id)
            except Conflict:  # another import of the same conversation committed first: read it again
                time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
        raise Conflict("the conversation is being imported by another request; try again")

    def _chat_import(self, item: ChatImport) -> ChatImport:
        """The import, checked at the door: every field bounded, every message with a role and some content."""
        V.identifier(item.conversation_id, "conversation.id")
        if not item.conversation_id.strip():
            raise InvalidInput("conversation.id must not be empty")
        platform = platform_of(item.platform)
        if item.platform_display_name is not None:
            V.string(item.platform_display_name, "platformDisplayName", MAX_DISPLAY_NAME_CHARS)
        title = None if item.title is None else V.string(item.title, "conversation.title", MAX_TITLE_CHARS).strip()
        created = V.date(item.created_at, "conversation.createdAt")
        updated = V.date(item.updated_at, "conversation.updatedAt")
        if not item.messages:
            raise InvalidInput("conversation.messages must not be empty")
        messages = []
        for n, m in enumerate(item.messages):
            where = f"conversation.messages[{n}]"
            V.identifier(m.role, f"{where}.role", V.MAX_ROLE_CHARS)
            if not m.role.strip():
                raise InvalidInput(f"{where}.role must not be empty")
            if not isinstance(m.content, str) or not V.text(m.content, f"{where}.content").strip():
                raise InvalidInput(f"{where}.content must be a non-empty string")
            if m.id is not None:
                V.identifier(m.id, f"{where}.id", MAX_MESSAGE_ID_CHARS)
            at = V.date(m.created_at, f"{where}.createdAt")
            messages.append(replace(m, created_at=at, id=m.id if m.id is not None else message_id(m.role, m.content, at)))
        return replace(item, platform=platform, title=title, created_at=created, updated_at=updated, messages=messages)

    def _ingest_once(self, project_id: str, item: ChatImport, import_id: str) -> Conversation:
        now = utcnow()
        old = self.store.find_conversation(project_id, item.platform, item.conversation_id)
        known = {m.id for m in self.store.conversation_messages(project_id, old.id)} if old else set()
        start = old.message_count if old else 0
        fresh: dict[str, ChatMessageIn] = {}
        for m in item.messages:  # every message has an id by now (`_chat_import`)
            if m.id is not None and m.id not in known and m.id not in fresh:
                fresh[m.id] = m
        times = [m.created_at for m in item.messages if m.created_at is not None]
        conv = Conversation(
            id=old.id if old else str(uuid.uuid4()), project_id=project_id, platform=item.platform,
            platform_conversation_id=item.conversation_id,
            title=item.title or (old.title if old else ""),
            created_at=old.created_at if old else (item.created_at or min(times, default=now)),
            updated_at=max([t for t in (item.updated_at, max(times, default=None), old.updated_at if old else None)
                            if t is not None], default=now),
            imported_at=now, import_id=import_id, message_count=start, token_count=old.token_count if old else 0,
            platform_display_name=item.platform_display_name or (old.platform_display_name if old else None),
            pinned=old.pinned if old else False,
        )
        tokens = conv.token_count + sum(approx_tokens(m.content) for m in fresh.values())
        if tokens > MAX_CONVERSATION_TOKENS:
            reason = (f"the conversation would hold about {tokens:,} tokens, more than the "
                      f"{MAX_CONVERSATION_TOKENS:,} allowed; nothing of this import was stored")
            rejected = replace(conv, status="rejected", status_reason=reason)
            return self.store.save_conversation(ChatWrite(rejected, start))
        added = [ChatMessage(mid, conv.id, start + n, m.role, m.content, m.created_at)
                 for n, (mid, m) in enumerate(fresh.items())]
        count = start + len(added)
        before = set(self.store.chunk_spans(project_id, conv.id)) if old else set()  # a span has one row per window
        after = chunk_spans(count)
        new_spans = [s for s in after if s not in before]
        chunks: list[ChatChunk] = []
        if new_spans:
            lowest = min(first for first, _ in new_spans)
            held = self.store.conversation_messages(project_id, conv.id, lowest, start - 1) if lowest < start else []
            by_position = {m.position: m for m in [*held, *added]}
            chunks = [ChatChunk(str(uuid.uuid4()), conv.id, a, b, piece) for a, b in new_spans
                      for piece in windows_of(chunk_text([by_position[p] for p in range(a, b + 1)]))]
        vectors = self.embedder.embed([c.text for c in chunks]) if chunks else None
        done = replace(conv, message_count=count, token_count=tokens, status="completed", status_reason=None)
        return self.store.save_conversation(ChatWrite(done, start, added, sorted(before - set(after)), chunks, vectors))

    # reads -----------------------------------------------------------------------------
    def list_conversations(self, project_id: str, query: ConversationQuery | None = None, page: int = 1,
                           page_size: int = 25) -> ConversationPage:
        query = query or ConversationQuery()
        if not isinstance(page, int) or page < 1 or page > 2**31:
            raise InvalidInput("page must be a positive number")
        if not isinstance(page_size, int) or not 1 <= page_size <= MAX_CHAT_PAGE_SIZE:
            raise InvalidInput(f"pageSize must be between 1 and {MAX_CHAT_PAGE_SIZE}")
        if query.platform is not None:
            platform_of(query.platform)
        if query.title is not None:
            V.string(query.title, "title", MAX_TITLE_CHARS)
        if query.import_id is not None:
            V.identifier(query.import_id, "importId")
        query = replace(query, created_from=V.date(query.created_from, "dateFrom"),
                        created_to=V.date(query.created_to, "dateTo"))
        return self.store.list_conversations(project_id, query, page_size, (page - 1) * page_size)

    def conversation(self, project_id: str, conversation_id: Any) -> tuple[Conversation, list[ChatMessage]]:
        """A conversation and its messages, by position. Unknown, malformed and other projects' ids alike: NotFound."""
        conv = self._conversation(project_id, conversation_id)
        return conv, self.store.conversation_messages(project_id, conv.id)

    def _conversation(self, project_id: str, conversation_id: Any) -> Conversation:
        if not isinstance(conversation_id, str) or not conversation_id.strip():
            raise InvalidInput("conversationId is required")
        V.identifier(conversation_id, "conversationId")
        conv = self.store.get_conversation(project_id, conversation_id)
        if conv is None:
            raise NotFound("Conversation not found", code=CONVERSATION_NOT_FOUND)
        return conv

    def delete_conversations(self, project_id: str, ids: Sequence[Any]) -> list[str]:
        """Delete conversations for good; returns the ids that existed (in the order given). Ids that are not
        this project's are left out of the answer, as unknown ones are."""
        if not ids:
            raise InvalidInput("ids must not be empty")
        self._batch(ids, "ids")
        for i in ids:
            V.identifier(i, "a conversation id")
        gone = self.store.delete_conversations(project_id, list(ids))
        self._receipt(project_id, [], conversation_ids=gone)
        return gone

    # search ------------------------------------------------------------------------------
    def search_chats(self, project_id: str, query: Any, limit: int = 20, platform: str | None = None,
                     context_chunks: int = 0, rerank: bool = True) -> list[ChatHit]:
        """The passages of the project's conversations that best answer `query`, best first."""
        query = self._text(query, "query")
        if not isinstance(limit, int) or not 1 <= limit <= MAX_CHAT_RESULTS:
            raise InvalidInput(f"limit must be between 1 and {MAX_CHAT_RESULTS}")
        if not isinstance(context_chunks, int) or not 0 <= context_chunks <= MAX_CONTEXT_CHUNKS:
            raise InvalidInput(f"contextChunks must be between 0 and {MAX_CONTEXT_CHUNKS}")
        if platform is not None:
            platform = platform_of(platform)
        pool = max(ranking.DEFAULT.candidates, 2 * limit)
        terms = ranking.query_terms(query)
        vector = embed_query(self.embedder, query)[0]
        dense = self.store.chunk_vector_search(project_id, vector, platform, pool)
        sparse = self.store.chunk_keyword_search(project_id, terms, platform, pool)
        # The exact cosine of the passages only the keyword half found: with every candidate's cosine known, fuse puts
        # the keyword part on the meaning's scale of this query, as memory search does.
        found = {i for i, _ in dense}
        dense += self.store.chunk_similarity(project_id, [i for i, _ in sparse if i not in found], vector)
        scored = ranking.fuse(dense, sparse, None, keyword=True, context=False)
        if rerank and self.reranker is not None:
            scored = self._chat_reranked(project_id, query, scored, max(limit, ranking.DEFAULT.depth))
        scored = scored[:limit]
        chunks = {c.id: c for c in self.store.get_chunks(project_id, [s.id for s in scored])}
        convs: dict[str, Conversation | None] = {}
        hits = []
        step = CHUNK_TURNS - CHUNK_OVERLAP
        for s in scored:
            chunk = chunks.get(s.id)
            if chunk is None:
                continue  # deleted meanwhile
            if chunk.conversation_id not in convs:
                convs[chunk.conversation_id] = self.store.get_conversation(project_id, chunk.conversation_id)
            conv = convs[chunk.conversation_id]
            if conv is None:
                continue
            around = self.store.conversation_messages(project_id, conv.id, max(0, chunk.first - context_chunks * step),
                                                      chunk.last + context_chunks * step)
            own = [m for m in around if chunk.first <= m.position <= chunk.last]
            if not own:
                continue
            context = [m for m in around if not chunk.first <= m.position <= chunk.last]
            hits.append(ChatHit(conv, chunk, best_message(own, terms), own, context, s.score))
        return hits

    def _chat_reranked(self, project_id: str, query: str, scored: list[ranking.Scored],
                       depth: int) -> list[ranking.Scored]:
        assert self.reranker is not None
        pool = scored[:depth]
        texts = {c.id: c.text for c in self.store.get_chunks(project_id, [s.id for s in pool])}
        pool = [s for s in pool if s.id in texts]
        try:
            relevance = self.reranker.rerank(query, [texts[s.id] for s in pool])
            if len(relevance) != len(pool):
                raise Unavailable(f"the reranker gave {len(relevance)} scores for {len(pool)} texts")
        except Unavailable:
            return scored
        return ranking.reranked(pool, relevance)

    def recall_chats(self, project_id: str, queries: Sequence[tuple[Any, Any]], platform: str | None = None) -> Recall:
        """For each (query, max_tokens): its best passages that fit in max_tokens (each passage once across the
        queries); answered together in date order, each headed by its date and conversation. Offline: no model
        writes `content`, it is the passages themselves (`model` says "offline"). With a writer (memvault.write),
        `content` is the model's synthesis of those same passages (numbered as `sources` are), `model` its name."""
        if not queries:
            raise InvalidInput("query is required")
        if len(queries) > MAX_RECALL_QUERIES:
            raise InvalidInput(f"queries: at most {MAX_RECALL_QUERIES}")
        for _, budget in queries:
            if not isinstance(budget, int) or isinstance(budget, bool) or not 1 <= budget <= MAX_RECALL_TOKENS:
                raise InvalidInput(f"maxTokens must be between 1 and {MAX_RECALL_TOKENS}")
        chosen: dict[str, tuple[ChatHit, str]] = {}
        for query, budget in queries:
            left = budget
            for hit in self.search_chats(project_id, query, limit=20, platform=platform):
                if hit.chunk.id in chosen:
                    continue
                text = hit.chunk.text
                cost = approx_tokens(text) + 20  # the heading
                if cost > left:
                    if left < budget:
                        continue  # a smaller passage further down may still fit
                    text = text[: max(0, (left - 20) * 4)].rstrip() + " …"  # the best alone is too long: cut it
                    cost = left
                chosen[hit.chunk.id] = (hit, text)
                left -= cost
                if left <= 20:
                    break
        order = sorted(chosen.values(), key=lambda ht: (_when(ht[0]), ht[0].conversation.id, ht[0].chunk.first))
        parts = [f"[{_when(h).date().isoformat()} · {h.conversation.title or 'Untitled conversation'}]\n{text}"
                 for h, text in order]
        content = "\n\n".join(parts)
        sources = [RecallSource(h.conversation.id, h.conversation.title, h.message.id, _when(h), h.score)
                   for h, _ in order]
        model = "offline"
        if self.writer is not None and parts:
            asked = " / ".join(str(q) for q, _ in queries)
            content = self.writer.synthesis(asked, parts, [self._writer_guidance(project_id)])
            model = self.writer.model
        return Recall(content, sources, approx_tokens(content) if content else 0, model)


def _when(hit: ChatHit) -> datetime:
    return hit.message.created_at or hit.conversation.created_at


def best_message(messages: Sequence[ChatMessage], terms: Sequence[str]) -> ChatMessage:
    """The message of a passage that holds the most of the query's words (compared by their first five letters, a
    cheap stemming: "hiking" meets "hikes"); ties go to the longer message, which says more."""
    wanted = {t[:5] for t in terms}

    def held(m: ChatMessage) -> tuple[int, int]:
        return len(wanted & {w.lower()[:5] for w in _WORD.findall(f"{m.role} {m.content}")}), len(m.content)

    return max(messages, key=held)


def elapsed_ms(since: float) -> int:
    return int((time.perf_counter() - since) * 1000)
