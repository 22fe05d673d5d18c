"""The chat-history archive in the SQLite store (the `ChatStore` part of the protocol), as a mixin of SQLiteStore.

Chunk vectors are in `chat_chunks`; an in-memory index per (project, dimension) is fed from `chat_vector_log` the
way the memories' index is fed from `vector_log`, so writes by another handle on the file are seen at the next
search. A delete removes rows, keyword entries and (at the next sync) index entries in one transaction, and marks
the file for the compaction that takes the freed bytes out of it, as a memory's delete does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import numpy as np

from ...embed.base import Vectors
from ...errors import Conflict
from ...models import ChatChunk, ChatMessage, Conversation, ConversationPage, ConversationQuery
from .. import chat_sql as Q
from .. import keyword
from ..base import ChatWrite
from ..sql import SQLFlavor
from ..vector_index import ProjectVectors
from .connection import _one, _row, _rows, sqlite3

_REBUILD_PAGE = 10_000
_LOG_KEEP = 200_000  # chat_vector_log rows kept; an index further behind rebuilds from the table


class SQLiteChats:
    """ChatStore over the store's connection, transactions and vector-index lock (see SQLiteStore)."""

    _chat_indexes: dict[tuple[str, int], ProjectVectors]
    _chat_log_seq: int
    _index_lock: Any
    _graph: tuple[int, bool]

    if TYPE_CHECKING:  # provided by SQLiteStore
        _chat_flavor: SQLFlavor

        @staticmethod
        def _scope_token(project_id: str) -> str: ...
        def _conn(self) -> sqlite3.Connection: ...
        def _tx(self) -> AbstractContextManager[sqlite3.Connection]: ...
        def _forgotten(self, c: sqlite3.Connection) -> None: ...


    # reads ---------------------------------------------------------------------------
    def find_conversation(self, project_id: str, platform: str, platform_conversation_id: str) -> Conversation | None:
        row = _row(self._conn(), f"SELECT {Q.CONVERSATION_COLUMNS} FROM chat_conversations WHERE project_id = ? "
                   "AND platform = ? AND platform_conversation_id = ?", (project_id, platform, platform_conversation_id))
        return Q.conversation(self._chat_flavor, row) if row else None

    def get_conversation(self, project_id: str, conversation_id: str) -> Conversation | None:
        row = _row(self._conn(), f"SELECT {Q.CONVERSATION_COLUMNS} FROM chat_conversations WHERE project_id = ? AND id = ?",
                   (project_id, conversation_id))
        return Q.conversation(self._chat_flavor, row) if row else None

    def list_conversations(self, project_id: str, query: ConversationQuery, limit: int, offset: int) -> ConversationPage:
        where, args = Q.listing_where(self._chat_flavor, query)
        conn = self._conn()
        total = _one(conn, f"SELECT count(*) FROM chat_conversations WHERE project_id = ?{where}", (project_id, *args))
        rows = _rows(conn, f"SELECT {Q.CONVERSATION_COLUMNS} FROM chat_conversations WHERE project_id = ?{where} "
                     "ORDER BY updated_at DESC, seq DESC LIMIT ? OFFSET ?", (project_id, *args, limit, offset))
        return ConversationPage([Q.conversation(self._chat_flavor, r) for r in rows], int(total))

    def conversation_messages(self, project_id: str, conversation_id: str, first: int = 0,
                              last: int | None = None) -> list[ChatMessage]:
        rows = _rows(self._conn(), f"SELECT {Q.MESSAGE_COLUMNS} FROM chat_messages WHERE project_id = ? "
                     "AND conversation_id = ? AND position >= ? AND position <= ? ORDER BY position",
                     (project_id, conversation_id, first, 2**62 if last is None else last))
        return [Q.message(self._chat_flavor, r) for r in rows]

    def chunk_spans(self, project_id: str, conversation_id: str) -> list[tuple[int, int]]:
        rows = _rows(self._conn(), "SELECT first_position, last_position FROM chat_chunks WHERE project_id = ? "
                     "AND conversation_id = ? ORDER BY first_position", (project_id, conversation_id))
        return [(int(a), int(b)) for a, b in rows]

    def get_chunks(self, project_id: str, ids: Sequence[str]) -> list[ChatChunk]:
        if not ids:
            return []
        rows = _rows(self._conn(), f"SELECT {Q.CHUNK_COLUMNS} FROM chat_chunks WHERE project_id = ? "
                     "AND id IN (SELECT value FROM json_each(?))", (project_id, json.dumps(list(ids))))
        by_id = {r[0]: Q.chunk(r) for r in rows}
        return [by_id[i] for i in dict.fromkeys(ids) if i in by_id]

    # writes --------------------------------------------------------------------------
    def save_conversation(self, write: ChatWrite) -> Conversation:
        conv = write.conversation
        pid, flavor = conv.project_id, self._chat_flavor
        with self._tx() as c:
            row = _row(c, "SELECT message_count FROM chat_conversations WHERE project_id = ? AND id = ?", (pid, conv.id))
            if (int(row[0]) if row else 0) != write.expected_count:
                raise Conflict("the conversation changed meanwhile; try again")
            try:
                c.execute(Q.conversation_upsert(flavor), Q.conversation_values(flavor, conv))
            except sqlite3.IntegrityError:  # made meanwhile by another import under the same platform id
                raise Conflict("the conversation changed meanwhile; try again") from None
            c.executemany(Q.message_insert(flavor), [Q.message_values(flavor, pid, m) for m in write.messages])
            if write.drop_chunks:
                gone = _rows(c, "SELECT seq FROM chat_chunks WHERE project_id = ? AND conversation_id = ? AND "
                             "(first_position, last_position) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?))",
                             (pid, conv.id, json.dumps([list(s) for s in write.drop_chunks])))
                self._drop_chunks(c, pid, [int(r[0]) for r in gone])
            scope = self._scope_token(pid)
            for chunk, vector in zip(write.chunks, write.vectors if write.vectors is not None else [], strict=True):
                [(seq,)] = _rows(
                    c, "INSERT INTO chat_chunks(project_id, id, conversation_id, platform, first_position, "
                    "last_position, text, embedding) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
                    (pid, chunk.id, conv.id, conv.platform, chunk.first, chunk.last, chunk.text,
                     np.ascontiguousarray(vector, dtype=np.float32).tobytes()))
                c.execute("INSERT INTO chat_chunks_fts(rowid, text, scope) VALUES (?, ?, ?)", (seq, chunk.text, scope))
                c.execute("INSERT INTO chat_vector_log(project_id, chunk_seq, op) VALUES (?, ?, 'put')", (pid, seq))
            row = _row(c, f"SELECT {Q.CONVERSATION_COLUMNS} FROM chat_conversations WHERE project_id = ? AND id = ?",
                       (pid, conv.id))
        assert row is not None
        return Q.conversation(flavor, row)

    def _drop_chunks(self, c: sqlite3.Connection, project_id: str, seqs: list[int]) -> None:
        if not seqs:
            return
        listed = json.dumps(seqs)
        c.execute("DELETE FROM chat_chunks_fts WHERE rowid IN (SELECT value FROM json_each(?))", (listed,))
        c.execute("DELETE FROM chat_chunks WHERE seq IN (SELECT value FROM json_each(?))", (listed,))
        c.executemany("INSERT INTO chat_vector_log(project_id, chunk_seq, op) VALUES (?, ?, 'del')",
                      [(project_id, s) for s in seqs])

    def delete_conversations(self, project_id: str, ids: Sequence[str]) -> list[str]:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        listed = json.dumps(wanted)
        with self._tx() as c:
            found = {r[0] for r in _rows(c, "SELECT id FROM chat_conversations WHERE project_id = ? "
                                         "AND id IN (SELECT value FROM json_each(?))", (project_id, listed))}
            if not found:
                return []
            gone = json.dumps(sorted(found))
            seqs = [int(r[0]) for r in _rows(c, "SELECT seq FROM chat_chunks WHERE project_id = ? AND conversation_id "
                                             "IN (SELECT value FROM json_each(?))", (project_id, gone))]
            self._drop_chunks(c, project_id, seqs)
            c.execute("DELETE FROM chat_messages WHERE project_id = ? AND conversation_id IN "
                      "(SELECT value FROM json_each(?))", (project_id, gone))
            c.execute("DELETE FROM chat_conversations WHERE project_id = ? AND id IN (SELECT value FROM json_each(?))",
                      (project_id, gone))
            self._forgotten(c)
        return [i for i in wanted if i in found]

    # search --------------------------------------------------------------------------
    def chunk_vector_search(self, project_id: str, vector: Vectors, platform: str | None,
                            k: int) -> list[tuple[str, float]]:
        if k <= 0:
            return []
        conn = self._conn()
        admitted: dict[int, str] | None = None
        if platform is not None:
            admitted = {int(s): i for s, i in _rows(conn, "SELECT seq, id FROM chat_chunks WHERE project_id = ? "
                                                    "AND platform = ?", (project_id, platform))}
            if not admitted:
                return []
        with self._index_lock:
            self._sync_chat_index()
            index = self._chat_indexes.get((project_id, len(vector)))
            if index is None or index.size == 0:
                return []
            if admitted is not None:
                keys, scores = index.among(np.fromiter(admitted, dtype=np.int64, count=len(admitted)), vector, k)
            else:
                keys, scores = index.nearest(vector, k)
        if admitted is None:
            admitted = {int(s): i for s, i in _rows(
                conn, "SELECT seq, id FROM chat_chunks WHERE project_id = ? AND seq IN (SELECT value FROM json_each(?))",
                (project_id, json.dumps([int(x) for x in keys])))}
        return [(admitted[int(key)], float(s)) for key, s in zip(keys, scores, strict=True) if int(key) in admitted]

    def chunk_similarity(self, project_id: str, ids: Sequence[str], vector: Vectors) -> list[tuple[str, float]]:
        if not ids:
            return []
        seqs = {str(i): int(s) for s, i in _rows(
            self._conn(), "SELECT seq, id FROM chat_chunks WHERE project_id = ? AND id IN (SELECT value FROM json_each(?))",
            (project_id, json.dumps(list(dict.fromkeys(ids)))))}
        found = [i for i in dict.fromkeys(ids) if i in seqs]
        with self._index_lock:
            self._sync_chat_index()
            index = self._chat_indexes.get((project_id, len(vector)))
            keys = np.fromiter((seqs[i] for i in found), dtype=np.int64, count=len(found))
            sims = index.similarity(keys, vector) if index is not None else np.zeros(len(found), dtype=np.float32)
        return [(i, float(s)) for i, s in zip(found, sims, strict=True)]

    def chunk_keyword_search(self, project_id: str, terms: Sequence[str], platform: str | None,
                             k: int) -> list[tuple[str, float]]:
        if not terms or k <= 0:
            return []
        conn = self._conn()
        extra, args = ("AND c.platform = ?", [platform]) if platform is not None else ("", [])
        per_term = []
        for term in dict.fromkeys(terms):
            phrase = '"' + term.replace('"', '""') + '"'
            per_term.append(_rows(
                conn,
                "SELECT c.id, c.seq, length(c.text) FROM chat_chunks_fts CROSS JOIN chat_chunks c "
                f"ON c.seq = chat_chunks_fts.rowid WHERE chat_chunks_fts MATCH ? AND c.project_id = ? {extra} LIMIT ?",
                (f"text : {phrase} AND scope : {self._scope_token(project_id)}", project_id, *args, keyword.KEYWORD_BUDGET + 1),
            ))
        if not keyword.rankable(per_term):
            return []
        size = _one(conn, f"SELECT count(*) FROM (SELECT 1 FROM chat_chunks c WHERE c.project_id = ? {extra} LIMIT ?)",
                    (project_id, *args, keyword.SCOPE_COUNT_CAP))
        return keyword.bm25(per_term, int(size), k)

    # the in-memory index of chunk vectors ------------------------------------------------
    def _sync_chat_index(self) -> None:
        """Bring the chunk index up to the last committed change. Caller holds _index_lock."""
        conn = self._conn()
        [(low, high)] = _rows(conn, "SELECT coalesce((SELECT min(seq) FROM chat_vector_log), 0), "
                              "coalesce((SELECT max(seq) FROM chat_vector_log), 0)")
        low, high = int(low), int(high)
        if high == self._chat_log_seq:
            return
        if self._chat_log_seq < 0 or (low > self._chat_log_seq + 1 and self._chat_log_seq < high):
            for index in self._chat_indexes.values():  # never loaded, or the log was pruned past it: read it all
                index.close()
            self._chat_indexes = {}
            for seq, project_id, blob in _pages(conn):
                self._chat_index(project_id, len(blob) // 4).upsert(seq, np.frombuffer(blob, dtype=np.float32))
            self._chat_log_seq = high
            return
        changes = _rows(conn, "SELECT project_id, chunk_seq, op FROM chat_vector_log WHERE seq > ? AND seq <= ? "
                        "ORDER BY seq", (self._chat_log_seq, high))
        wanted = sorted({int(s) for _, s, op in changes if op == "put"})
        blobs: dict[int, bytes] = dict(_rows(
            conn, "SELECT seq, embedding FROM chat_chunks WHERE seq IN (SELECT value FROM json_each(?))",
            (json.dumps(wanted),))) if wanted else {}
        for project_id, seq, op in changes:
            found = blobs.get(int(seq)) if op == "put" else None
            if found is None:
                for (owner, _), index in self._chat_indexes.items():
                    if owner == project_id:
                        index.remove(int(seq))
            else:
                self._chat_index(project_id, len(found) // 4).upsert(int(seq), np.frombuffer(found, dtype=np.float32))
        self._chat_log_seq = high
        if high - low > 2 * _LOG_KEEP:
            conn.execute("DELETE FROM chat_vector_log WHERE seq <= ?", (high - _LOG_KEEP,))

    def _chat_index(self, project_id: str, dim: int) -> ProjectVectors:
        index = self._chat_indexes.get((project_id, dim))
        if index is None:
            index = self._chat_indexes[(project_id, dim)] = ProjectVectors(dim, *self._graph)
        return index


def _pages(conn: sqlite3.Connection) -> Iterator[tuple[int, str, bytes]]:
    after = -1
    while True:
        page = _rows(conn, "SELECT seq, project_id, embedding FROM chat_chunks WHERE seq > ? ORDER BY seq LIMIT ?",
                     (after, _REBUILD_PAGE))
        for seq, project_id, blob in page:
            yield int(seq), project_id, blob
        if len(page) < _REBUILD_PAGE:
            return
        after = int(page[-1][0])
