"""The chat-history archive in the PostgreSQL store (the `ChatStore` part of the protocol), as a mixin of
PostgresStore: pgvector for the chunks' vectors (one partial HNSW index per dimension, made on first sight, as
for memories), a generated english tsvector under GIN for their words. A delete removes the rows (text, vector
and keyword entry are in them) in one transaction; `compact` vacuums these tables too."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from psycopg import errors as pg_errors

from ...embed.base import Vectors
from ...errors import Conflict
from ...models import ChatChunk, ChatMessage, Conversation, ConversationPage, ConversationQuery
from .. import chat_sql as Q
from .. import keyword
from ..base import ChatWrite
from ..sql import SQLFlavor
from . import schema

T = TypeVar("T")
_HNSW_MAX_DIM = 2000


def _rows(c: psycopg.Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with c.execute(sql, params or None) as cur:  # type: ignore[arg-type]  # SQL built here, never from input
        return cur.fetchall()


def _row(c: psycopg.Connection, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
    rows = _rows(c, sql, params)
    return rows[0] if rows else None


class PostgresChats:
    """ChatStore over the store's pool (see PostgresStore)."""

    _chat_dims: set[int]

    if TYPE_CHECKING:  # provided by PostgresStore
        _chat_flavor: SQLFlavor

        @staticmethod
        def _vector_text(vector: Vectors) -> str: ...
        @staticmethod
        def _similarity(distance: float | None) -> float: ...
        def _read(self, fn: Callable[[psycopg.Connection], T]) -> T: ...
        def _write(self, fn: Callable[[psycopg.Connection], T]) -> T: ...


    # reads ---------------------------------------------------------------------------
    def find_conversation(self, project_id: str, platform: str, platform_conversation_id: str) -> Conversation | None:
        row = self._read(lambda c: _row(
            c, f"SELECT {Q.CONVERSATION_COLUMNS} FROM chat_conversations WHERE project_id = %s AND platform = %s "
            "AND platform_conversation_id = %s", (project_id, platform, platform_conversation_id)))
        return Q.conversation(self._chat_flavor, row) if row else None

    def get_conversation(self, project_id: str, conversation_id: str) -> Conversation | None:
        row = self._read(lambda c: _row(
            c, f"SELECT {Q.CONVERSATION_COLUMNS} FROM chat_conversations WHERE project_id = %s AND id = %s",
            (project_id, conversation_id)))
        return Q.conversation(self._chat_flavor, row) if row else None

    def list_conversations(self, project_id: str, query: ConversationQuery, limit: int, offset: int) -> ConversationPage:
        where, args = Q.listing_where(self._chat_flavor, query)

        def fn(c: psycopg.Connection) -> tuple[Any, list[tuple[Any, ...]]]:
            with c.transaction():
                total = _row(c, f"SELECT count(*) FROM chat_conversations WHERE project_id = %s{where}",
                             (project_id, *args))
                rows = _rows(c, f"SELECT {Q.CONVERSATION_COLUMNS} FROM chat_conversations WHERE project_id = %s{where} "
                             "ORDER BY updated_at DESC, seq DESC LIMIT %s OFFSET %s", (project_id, *args, limit, offset))
            return total, rows

        total, rows = self._read(fn)
        return ConversationPage([Q.conversation(self._chat_flavor, r) for r in rows], int(total[0]) if total else 0)

    def conversation_messages(self, project_id: str, conversation_id: str, first: int = 0,
                              last: int | None = None) -> list[ChatMessage]:
        rows = self._read(lambda c: _rows(
            c, f"SELECT {Q.MESSAGE_COLUMNS} FROM chat_messages WHERE project_id = %s AND conversation_id = %s "
            "AND position >= %s AND position <= %s ORDER BY position",
            (project_id, conversation_id, first, 2**31 - 1 if last is None else last)))
        return [Q.message(self._chat_flavor, r) for r in rows]

    def chunk_spans(self, project_id: str, conversation_id: str) -> list[tuple[int, int]]:
        rows = self._read(lambda c: _rows(
            c, "SELECT first_position, last_position FROM chat_chunks WHERE project_id = %s AND conversation_id = %s "
            "ORDER BY first_position", (project_id, conversation_id)))
        return [(int(a), int(b)) for a, b in rows]

    def get_chunks(self, project_id: str, ids: Sequence[str]) -> list[ChatChunk]:
        if not ids:
            return []
        rows = self._read(lambda c: _rows(
            c, f"SELECT {Q.CHUNK_COLUMNS} FROM chat_chunks WHERE project_id = %s AND id = ANY(%s)", (project_id, list(ids))))
        by_id = {r[0]: Q.chunk(r) for r in rows}
        return [by_id[i] for i in dict.fromkeys(ids) if i in by_id]

    # writes --------------------------------------------------------------------------
    def save_conversation(self, write: ChatWrite) -> Conversation:
        conv = write.conversation
        pid, flavor = conv.project_id, self._chat_flavor
        vectors: Sequence[Vectors] = list(write.vectors) if write.vectors is not None else []
        self._ensure_chat_dims({len(v) for v in vectors})

        def fn(c: psycopg.Connection) -> tuple[Any, ...] | None:
            # The conversation's row is the lock every import of it takes first (a new one: its platform id's).
            c.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                      (f"{pid}\n{conv.platform}\n{conv.platform_conversation_id}",))
            row = _row(c, "SELECT message_count FROM chat_conversations WHERE project_id = %s AND id = %s",
                       (pid, conv.id))
            if (int(row[0]) if row else 0) != write.expected_count:
                raise Conflict("the conversation changed meanwhile; try again")
            c.execute(Q.conversation_upsert(flavor), Q.conversation_values(flavor, conv))  # type: ignore[arg-type]
            with c.cursor() as cur:
                cur.executemany(Q.message_insert(flavor), [Q.message_values(flavor, pid, m) for m in write.messages])  # type: ignore[arg-type]
            for first, last in write.drop_chunks:
                c.execute("DELETE FROM chat_chunks WHERE project_id = %s AND conversation_id = %s "
                          "AND first_position = %s AND last_position = %s", (pid, conv.id, first, last))
            with c.cursor() as cur:
                cur.executemany(
                    "INSERT INTO chat_chunks(project_id, id, conversation_id, platform, first_position, last_position, "
                    "text, embedding) VALUES (%s, %s, %s, %s, %s, %s, %s, %s::vector)",
                    [(pid, ch.id, conv.id, conv.platform, ch.first, ch.last, ch.text, self._vector_text(v))
                     for ch, v in zip(write.chunks, vectors, strict=True)])
            return _row(c, f"SELECT {Q.CONVERSATION_COLUMNS} FROM chat_conversations WHERE project_id = %s AND id = %s",
                        (pid, conv.id))

        try:
            row = self._write(fn)
        except pg_errors.UniqueViolation:
            raise Conflict("the conversation changed meanwhile; try again") from None
        assert row is not None
        return Q.conversation(flavor, row)

    def _ensure_chat_dims(self, dims: set[int]) -> None:
        for dim in sorted(dims - self._chat_dims):
            if 0 < dim <= _HNSW_MAX_DIM:
                self._write(functools.partial(self._create_chat_index, dim=int(dim)))
            self._chat_dims.add(dim)

    @staticmethod
    def _create_chat_index(c: psycopg.Connection, dim: int) -> None:
        c.execute("SELECT pg_advisory_xact_lock(%s)", (schema.LOCK,))
        c.execute(f"CREATE INDEX IF NOT EXISTS chat_chunks_hnsw_{dim} ON chat_chunks USING hnsw "
                  f"((embedding::vector({dim})) vector_cosine_ops) WHERE dim = {dim}")

    def delete_conversations(self, project_id: str, ids: Sequence[str]) -> list[str]:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []

        def fn(c: psycopg.Connection) -> set[str]:
            found = {r[0] for r in _rows(c, "SELECT id FROM chat_conversations WHERE project_id = %s AND id = ANY(%s) "
                                         "ORDER BY id FOR UPDATE", (project_id, wanted))}
            gone = sorted(found)
            c.execute("DELETE FROM chat_chunks WHERE project_id = %s AND conversation_id = ANY(%s)", (project_id, gone))
            c.execute("DELETE FROM chat_messages WHERE project_id = %s AND conversation_id = ANY(%s)", (project_id, gone))
            c.execute("DELETE FROM chat_conversations WHERE project_id = %s AND id = ANY(%s)", (project_id, gone))
            return found

        found = self._write(fn)
        return [i for i in wanted if i in found]

    # search --------------------------------------------------------------------------
    def chunk_vector_search(self, project_id: str, vector: Vectors, platform: str | None,
                            k: int) -> list[tuple[str, float]]:
        if k <= 0:
            return []
        dim = int(len(vector))
        q = self._vector_text(vector)
        distance = f"((c.embedding::vector({dim})) <=> %s::vector({dim}))"
        extra, args = ("AND c.platform = %s", [platform]) if platform is not None else ("", [])
        base = f"SELECT c.id, {distance} FROM chat_chunks c WHERE c.project_id = %s AND c.dim = {dim} {extra} "

        def fn(c: psycopg.Connection) -> list[tuple[Any, ...]]:
            with c.transaction():
                c.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
                rows = _rows(c, base + f"ORDER BY {distance} LIMIT %s", (q, project_id, *args, q, k))
                if len(rows) < k:  # fewer from the approximate index: score every admitted chunk exactly
                    rows = _rows(c, base + f"ORDER BY {distance} + 0, c.id LIMIT %s", (q, project_id, *args, q, k))
            return rows

        hits = [(r[0], self._similarity(r[1])) for r in self._read(fn)]
        hits.sort(key=lambda h: -h[1])
        return hits

    def chunk_similarity(self, project_id: str, ids: Sequence[str], vector: Vectors) -> list[tuple[str, float]]:
        if not ids:
            return []
        dim = int(len(vector))
        rows = self._read(lambda c: _rows(
            c, f"SELECT c.id, (c.embedding::vector({dim})) <=> %s::vector({dim}) FROM chat_chunks c "
            f"WHERE c.project_id = %s AND c.dim = {dim} AND c.id = ANY(%s)",
            (self._vector_text(vector), project_id, list(dict.fromkeys(ids)))))
        found = {r[0]: self._similarity(r[1]) for r in rows}
        return [(i, found[i]) for i in dict.fromkeys(ids) if i in found]

    def chunk_keyword_search(self, project_id: str, terms: Sequence[str], platform: str | None,
                             k: int) -> list[tuple[str, float]]:
        if not terms or k <= 0:
            return []
        extra, args = ("AND c.platform = %s", [platform]) if platform is not None else ("", [])

        def fn(c: psycopg.Connection) -> list[tuple[str, float]]:
            per_term = [_rows(
                c, "SELECT c.id, c.seq, length(c.text) FROM chat_chunks c WHERE c.project_id = %s "
                f"AND c.tsv @@ plainto_tsquery('english', %s) {extra} LIMIT %s",
                (project_id, term, *args, keyword.KEYWORD_BUDGET + 1)) for term in dict.fromkeys(terms)]
            if not keyword.rankable(per_term):
                return []
            size = _row(c, f"SELECT count(*) FROM (SELECT 1 FROM chat_chunks c WHERE c.project_id = %s {extra} LIMIT %s) f",
                        (project_id, *args, keyword.SCOPE_COUNT_CAP))
            return keyword.bm25(per_term, int(size[0]) if size else 0, k)

        return self._read(fn)
