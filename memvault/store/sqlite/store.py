"""The embedded store: one SQLite file (WAL), an FTS5 keyword index and an exact in-memory vector index.

Vectors live in the `memories` table; `vector_log` records every vector change in commit order and
the in-memory index replays it before each search, so writes by other threads or other processes
on the same file are seen without a restart.
"""

from __future__ import annotations

import contextvars
import json
import math
import re
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ...embed.base import Vectors
from ...errors import BUCKET_NOT_FOUND, MEMORY_NOT_FOUND, Conflict, NotFound
from ...filters import Node, required_equalities
from ...ids import time_ordered_ids
from ...models import (
    DEFAULT_BUCKET,
    ApiKey,
    Bucket,
    Entity,
    HistoryEvent,
    Memory,
    Page,
    Project,
    ProjectSettings,
    PurgeReason,
    utcnow,
)
from ...validate import name_key
from .. import keyword
from ..base import AddWrite, MemoryChange, Neighbour, PurgeField, SettingsChange, Supersession
from ..sql import _HISTORY_INSERT as HISTORY_INSERT
from ..sql import (
    FORGET_HISTORY,
    FROM,
    HISTORY_COLUMNS,
    KEY_COLUMNS,
    MEMORY_COLUMNS,
    PROJECT_COLUMNS,
    SETTINGS_SELECT,
    SQLFlavor,
    check_supersessions,
    one_project,
    regroup_neighbours,
)
from ..vector_index import GRAPH_MIN, ProjectVectors
from . import schema
from .chats import SQLiteChats
from .connection import _one, _row, _rows, connect, sqlite3
from .events import SQLiteEvents
from .fts import OWNER_FIELDS, fts_scope, owner_token, scope_token
from .jobs import SQLiteJobs
from .where import compile_where, from_ts, ts

# Lookups by a list of ids write `+m.project_id = ?`: the unary plus keeps the planner (no ANALYZE stats)
# from scanning the whole project through a (project_id, ...) index instead of probing the id index.
COMPACT_DELAY = 2.0  # seconds from a delete to the compaction that drops its bytes from the files
CHECKPOINT_DELAY = 1.0  # seconds from a write to the checkpoint that copies it from the WAL into the main file
_LOG_KEEP = 200_000  # vector_log rows kept; an index further behind than that rebuilds from scratch
_COMPACT_MARK = "compact_pending"  # meta key: set by a delete's transaction, cleared by the compaction after it
_REBUILD_PAGE = 10_000  # vectors read per query when the in-memory index is rebuilt
# A filtered vector search: a filter admitting at most EXACT_BELOW rows (and at most 5% of the project) has them
# scored exactly; any other makes the graph look wider per round (`_wider`), up to WIDEST candidates.
EXACT_BELOW = 20_000
VECTOR_WIDEN = 4
WIDEST = 16_384
# Candidates checked against the filter in one statement: at least / at most (the share that passed, re-estimated
# after each part, sizes the next).
_CHECK_LEAST, _CHECK_MOST = 32, 256
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # how json.dumps writes a surrogate (half of a pair, or lone)


def _wider(want: int, walked: int, passed: int, k: int) -> int:
    """The next graph walk's breadth after one of `walked` candidates in which `passed` met the filter: wide enough
    for k at the share that passed (with a quarter more, as the share is estimated from one walk), at least twice
    the last and at most VECTOR_WIDEN² times it (a share of one or two in a hundred says little: such a walk goes
    no wider than two rounds of VECTOR_WIDEN would); VECTOR_WIDEN times the last when none passed."""
    if passed == 0:
        return want * VECTOR_WIDEN
    return min(VECTOR_WIDEN**2 * want, max(2 * want, math.ceil(1.25 * k * walked / passed)))


def _json(text: str) -> Any:
    """JSON as stored. Older versions stored lone UTF-16 surrogates (escaped, as json.dumps writes them), which no
    face can send back: they read as U+FFFD."""
    value = json.loads(text)
    return _no_surrogates(value) if _SURROGATE_ESCAPE.search(text) else value


def _no_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_no_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_no_surrogates(k): _no_surrogates(v) for k, v in value.items()}
    return value


def _metadata(text: str) -> dict[str, Any]:
    return _json(text) if text and text != "{}" else {}


def _blob(vector: Vectors) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


SQLITE = SQLFlavor(param="?", vector_param="?", write_json=json.dumps, write_event_json=json.dumps, write_time=ts,
                 write_vector=_blob, read_time=from_ts, read_json=_json)
_memory = SQLITE.memory
_BUCKETS = SQLITE.bucket_select()
_BUCKETS_UNCOUNTED = SQLITE.bucket_select(counted=False)
_INSERT, _INSERT_NEW = SQLITE.memory_insert(None), SQLITE.memory_insert("id, project_id")
_HISTORY_BULK = (f"INSERT INTO history({', '.join(HISTORY_INSERT)}) "  # rows in the order given: consecutive seqs
                 f"SELECT {', '.join(f'value ->> {i}' for i in range(len(HISTORY_INSERT)))} FROM json_each(?)")


def scope_size_query(project_id: str, sql: str, params: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
    """How many memories a compiled filter admits in a project, up to SCOPE_COUNT_CAP (a keyword search's IDF).
    With a user filter (and the expiry check every read adds) the user index answers it alone."""
    return (f"SELECT count(*) FROM (SELECT 1 FROM memories m WHERE m.project_id = ? AND {sql} LIMIT ?)",
            (project_id, *params, keyword.SCOPE_COUNT_CAP))


class SQLiteStore(SQLiteChats, SQLiteEvents, SQLiteJobs):
    """Store protocol over one SQLite file. Thread-safe: one connection per thread."""

    _chat_flavor = SQLITE  # what the chat-history part (chats.py) writes and reads with
    _scope_token = staticmethod(scope_token)
    _flavor = SQLITE  # what the change log (events.py) writes and reads with
    local_reads = True  # a key's read: ~8 µs, on the reading thread's own connection

    def __init__(self, path: str | Path, graph_min: int = GRAPH_MIN, graph_background: bool = True, *,
                 migrate: bool = False) -> None:
        """graph_min: vectors of one project from which searches read an HNSW graph, built in the background
        unless graph_background is False (vector_index.py). `migrate`: apply pending schema migrations (an empty
        file is always set up; one behind this version is refused unless `migrate`: see store/migrations.py)."""
        self.path = str(path)
        self._graph = (graph_min, graph_background)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._index_lock = threading.Lock()
        # One index per (project, dimension): vectors made by another embedder are kept, not compared.
        self._indexes: dict[tuple[str, int], ProjectVectors] = {}
        self._log_seq = -1  # last vector_log seq applied; -1: not loaded
        self._loader: threading.Thread | None = None  # warm_up's reading of the vectors
        self._stop_loading = threading.Event()
        self._chat_indexes: dict[tuple[str, int], ProjectVectors] = {}  # chat-history chunks (chats.py)
        self._chat_log_seq = -1  # last chat_vector_log seq applied; -1: not loaded
        self._compact_lock = threading.Lock()
        self._compacting = threading.Lock()  # held while a timer's compaction runs: close() waits for it to end
        self._compact_timer: threading.Timer | None = None
        self._compact_pending = False  # a delete waits for its compaction
        self._closed = False
        self._migrate(migrate)
        # A delete whose compaction did not run (the process died): compact now.
        if _row(self._conn(), "SELECT value FROM meta WHERE key = ?", (_COMPACT_MARK,)) is not None:
            try:
                self.compact()
            except sqlite3.Error:  # busy: another process holds the file; try again in the background
                self._schedule_compaction(True)

    # connections -------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path)
            self._local.conn = conn
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            self._local.forget = False
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        forget, self._local.forget = getattr(self._local, "forget", False), False
        self._schedule_compaction(forget)

    # compaction --------------------------------------------------------------
    def _schedule_compaction(self, forget: bool) -> None:
        """After every write, a checkpoint; after a delete, a compaction (which checkpoints too). A delete is
        final at its commit for every read; its bytes leave the files at the compaction."""
        with self._compact_lock:
            if self._closed:
                return
            self._compact_pending = self._compact_pending or forget
            if self._compact_timer is None:
                self._compact_timer = threading.Timer(COMPACT_DELAY if forget else CHECKPOINT_DELAY,
                                                      self._compact_later)
                self._compact_timer.daemon = True
                self._compact_timer.start()

    def _compact_later(self) -> None:
        with self._compacting:
            with self._compact_lock:
                if self._closed:
                    return  # close() settles what is pending
                self._compact_timer = None
                forget, self._compact_pending = self._compact_pending, False
            try:
                self._settle(forget, "PASSIVE")
            except sqlite3.Error:
                self._schedule_compaction(forget)  # busy or closing: try again later
            finally:
                self._release_thread_conn()  # each timer is a new thread: do not leave its connection open

    def _settle(self, forget: bool, checkpoint: str) -> None:
        """What a write leaves to do: after a delete, a compaction; else a checkpoint (PASSIVE or TRUNCATE)."""
        if forget:
            self.compact()
        else:
            self._conn().execute(f"PRAGMA wal_checkpoint({checkpoint})")

    def _release_thread_conn(self) -> None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            return
        self._local.conn = None
        with self._conns_lock:
            if conn in self._conns:
                self._conns.remove(conn)
        conn.close()

    def compact(self, rewrite: bool = False) -> None:
        """Physically drop what deletes left behind: merge the keyword index into one segment (FTS5 keeps a
        deleted row's terms in older segments until a merge), then copy the write-ahead log back into the main
        file and truncate it (secure_delete has zeroed freed pages there). Run by itself COMPACT_DELAY seconds
        after a delete, at close, and when the store opens on a file whose last delete was never compacted: each
        delete sets a mark in its own transaction, cleared here once the log is truncated, so a crash between
        a delete and its compaction (kill -9) leaves the mark for the next open."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            mark = _row(conn, "SELECT value FROM meta WHERE key = ?", (_COMPACT_MARK,))
            conn.execute("INSERT INTO memories_fts(memories_fts) VALUES('optimize')")
            conn.execute("INSERT INTO chat_chunks_fts(chat_chunks_fts) VALUES('optimize')")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        if rewrite:  # rows that moved between pages while alive can leave fragments in a page's free space
            conn.execute("VACUUM")
        busy = _row(conn, "PRAGMA wal_checkpoint(TRUNCATE)")
        if mark is None:
            return
        if busy is not None and busy[0]:  # a reader kept the log (a background poller, another process): the mark
            self._schedule_compaction(True)  # stays, and the compaction tries again shortly rather than at a delete
            return
        # Clear the mark unless a delete committed since (it set a new value and has its own compaction coming).
        conn.execute("DELETE FROM meta WHERE key = ? AND value = ?", (_COMPACT_MARK, mark[0]))
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def vector_index_state(self) -> str:
        loader = self._loader
        if loader is not None and loader.is_alive():
            return "building"  # the vectors are being read (warm_up)
        with self._index_lock:
            return "building" if any(index.building for index in self._indexes.values()) else "ready"

    def warm_up(self) -> None:
        """Read the vectors into memory in a thread of its own, and start the graphs of large projects after, so
        that the first search does not (a server calls this at start). Searches meanwhile wait for it."""
        with self._index_lock:
            if self._log_seq >= 0 or self._loader is not None or self._closed:
                return
            self._loader = threading.Thread(target=self._load, name="memvault-vector-load", daemon=True)
            self._loader.start()

    def _load(self) -> None:
        """warm_up's thread: the indexes are filled apart (no lock held: /healthz and writes go on), then put in
        place; the changes committed meanwhile are in the log after `high`, replayed by the next search."""
        indexes: dict[tuple[str, int], ProjectVectors] = {}
        try:
            conn = self._conn()
            high = int(_one(conn, "SELECT coalesce(max(seq), 0) FROM vector_log"))
            if not self._read_vectors(conn, indexes, self._stop_loading):
                return
            with self._index_lock:
                if self._log_seq < 0 and not self._closed:
                    self._indexes, self._log_seq, indexes = indexes, high, {}
                    for index in self._indexes.values():
                        index.prepare()
        except sqlite3.Error:
            pass  # the first search reads them itself
        finally:
            for index in indexes.values():
                index.close()
            self._release_thread_conn()

    def _await_load(self) -> None:
        loader = self._loader
        if loader is not None and loader is not threading.current_thread():
            loader.join()

    def close(self) -> None:
        with self._compact_lock:
            self._closed = True
            timer, self._compact_timer = self._compact_timer, None
            forget, self._compact_pending = self._compact_pending, False
        if timer is not None:
            timer.cancel()
            timer.join()
        with self._compacting:  # a compaction whose timer fired before: it ends with its connection open
            pass
        if timer is not None:
            try:
                self._settle(forget, "TRUNCATE")
            except sqlite3.Error:
                pass  # another process holds the file: its own close compacts
        self._stop_loading.set()
        self._await_load()
        with self._index_lock:
            for index in [*self._indexes.values(), *self._chat_indexes.values()]:
                index.close()
        with self._conns_lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()
        self._local = threading.local()

    def _migrate(self, migrate: bool) -> None:
        self.schema_version = schema.check(self._conn(), migrate=migrate)[1]

    # projects and keys -------------------------------------------------------
    def ensure_project(self, name: str) -> Project:
        with self._tx() as c:
            row = _row(c, f"SELECT {PROJECT_COLUMNS} FROM projects WHERE name = ?", (name,))
            if row:
                return SQLITE.project(row)
            project = Project(str(uuid.uuid4()), name, utcnow())
            c.execute("INSERT INTO projects VALUES (?, ?, ?)", (project.id, project.name, ts(project.created_at)))
            c.execute(
                "INSERT INTO buckets(project_id, id, name, name_key, description, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (project.id, str(uuid.uuid4()), DEFAULT_BUCKET, name_key(DEFAULT_BUCKET), "Default bucket",
                 ts(project.created_at)),
            )
            return project

    def get_project(self, project_id: str) -> Project | None:
        row = _row(self._conn(), f"SELECT {PROJECT_COLUMNS} FROM projects WHERE id = ?", (project_id,))
        return SQLITE.project(row) if row else None

    def project_settings(self, project_id: str) -> ProjectSettings | None:
        row = _row(self._conn(), SETTINGS_SELECT + "?", (project_id,))
        return SQLITE.settings(row) if row else None

    def update_project_settings(self, project_id: str, change: SettingsChange) -> ProjectSettings | None:
        with self._tx() as c:
            if not _row(c, "SELECT 1 FROM projects WHERE id = ?", (project_id,)):
                return None
            sql, args = SQLITE.settings_upsert(project_id, change)
            c.execute(sql, args)
            row = _row(c, SETTINGS_SELECT + "?", (project_id,))
        return SQLITE.settings(row) if row else None

    def add_key(self, project_id: str, key_hash: str, name: str, prefix: str) -> ApiKey:
        key = ApiKey(str(uuid.uuid4()), project_id, name, prefix, utcnow())
        with self._tx() as c:
            c.execute(
                "INSERT INTO api_keys(id, project_id, name, prefix, key_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (key.id, project_id, name, prefix, key_hash, ts(key.created_at)),
            )
        return key

    def find_key(self, key_hash: str) -> ApiKey | None:
        row = _row(self._conn(), f"SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = ?", (key_hash,))
        return SQLITE.key(row) if row else None

    def list_keys(self, project_id: str | None = None) -> list[ApiKey]:
        sql = f"SELECT {KEY_COLUMNS} FROM api_keys"
        args: tuple[Any, ...] = ()
        if project_id is not None:
            sql, args = sql + " WHERE project_id = ?", (project_id,)
        return [SQLITE.key(r) for r in _rows(self._conn(), sql + " ORDER BY created_at", args)]

    def revoke_key(self, key_id: str, at: datetime) -> ApiKey | None:
        with self._tx() as c:
            c.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE (id = ? OR prefix = ?) AND revoked_at IS NULL",
                (ts(at), key_id, key_id),
            )
            row = _row(c, f"SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ? OR prefix = ?", (key_id, key_id))
        return SQLITE.key(row) if row else None

    # buckets -----------------------------------------------------------------
    def list_buckets(self, project_id: str) -> list[Bucket]:
        rows = _rows(self._conn(), _BUCKETS + " ORDER BY b.created_at, b.name", (project_id,))
        return [SQLITE.bucket(r) for r in rows]

    def get_bucket(self, project_id: str, bucket_id: str, *, counted: bool = True) -> Bucket | None:
        select = _BUCKETS if counted else _BUCKETS_UNCOUNTED
        row = _row(self._conn(), select + " AND b.id = ?", (project_id, bucket_id))
        return SQLITE.bucket(row) if row else None

    def find_bucket(self, project_id: str, name: str, *, counted: bool = True) -> Bucket | None:
        select = _BUCKETS if counted else _BUCKETS_UNCOUNTED
        row = _row(self._conn(), select + " AND b.name_key = ?", (project_id, name_key(name)))
        return SQLITE.bucket(row) if row else None

    def create_bucket(self, bucket: Bucket) -> Bucket:
        try:
            with self._tx() as c:
                c.execute(
                    "INSERT INTO buckets(project_id, id, name, name_key, description, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (bucket.project_id, bucket.id, bucket.name, name_key(bucket.name), bucket.description,
                     ts(bucket.created_at)),
                )
        except sqlite3.IntegrityError:
            raise Conflict(f"a bucket named {bucket.name!r} already exists") from None
        return bucket

    def rename_bucket(self, project_id: str, bucket_id: str, name: str, description: str | None) -> Bucket:
        try:
            with self._tx() as c:
                cur = c.execute(
                    "UPDATE buckets SET name = ?, name_key = ?, description = coalesce(?, description) "
                    "WHERE project_id = ? AND id = ?",
                    (name, name_key(name), description, project_id, bucket_id),
                )
                if cur.rowcount == 0:
                    raise NotFound("Bucket not found", code=BUCKET_NOT_FOUND)
        except sqlite3.IntegrityError:
            raise Conflict(f"a bucket named {name!r} already exists") from None
        found = self.get_bucket(project_id, bucket_id)
        assert found is not None
        return found

    def delete_bucket(self, project_id: str, bucket_id: str, move_to: str | None, at: datetime) -> int:
        with self._tx() as c:
            ids = [r[0] for r in _rows(c, "SELECT id FROM memories WHERE project_id = ? AND bucket_id = ?",
                                       (project_id, bucket_id))]
            if move_to is not None:
                self._move(c, project_id, ids, move_to, at)
            else:
                self._delete_ids(c, project_id, ids, at)
            c.execute("DELETE FROM buckets WHERE project_id = ? AND id = ?", (project_id, bucket_id))
        return len(ids)

    def move_memories(self, project_id: str, ids: Sequence[str], bucket_id: str, at: datetime) -> list[str]:
        with self._tx() as c:
            return self._move(c, project_id, ids, bucket_id, at)

    def _move(self, c: sqlite3.Connection, project_id: str, ids: Sequence[str], bucket_id: str, at: datetime) -> list[str]:
        self._check_buckets(c, project_id, [bucket_id])
        here = {r[0] for r in _rows(
            c, "SELECT id FROM memories WHERE +project_id = ? AND id IN (SELECT value FROM json_each(?))",
            (project_id, json.dumps(list(ids))),
        )}
        found = [i for i in dict.fromkeys(ids) if i in here]  # in the order given, as the PostgreSQL store answers
        c.execute(
            "UPDATE memories SET bucket_id = ?, updated_at = ? WHERE +project_id = ? AND id IN (SELECT value FROM json_each(?))",
            (bucket_id, ts(at), project_id, json.dumps(found)),
        )
        return found

    @staticmethod
    def _check_buckets(c: sqlite3.Connection, project_id: str, bucket_ids: Iterable[str]) -> None:
        """A memory's bucket exists when its row commits: checked inside the writing transaction, which BEGIN
        IMMEDIATE serializes with delete_bucket's. NotFound when one is gone (or never was)."""
        wanted = sorted(set(bucket_ids))
        if len(wanted) == 1:  # an add's one bucket: by its key, without a JSON array to decode
            found = _one(c, "SELECT count(*) FROM buckets WHERE project_id = ? AND id = ?", (project_id, wanted[0]))
        else:
            found = _one(c, "SELECT count(*) FROM buckets WHERE project_id = ? AND id IN (SELECT value FROM json_each(?))",
                         (project_id, json.dumps(wanted))) if wanted else 0
        if found < len(wanted):
            raise NotFound("Bucket not found", code=BUCKET_NOT_FOUND)

    # memories ----------------------------------------------------------------
    def insert(self, memories: Sequence[Memory], vectors: Vectors, events: Sequence[HistoryEvent],
               supersede: Sequence[Supersession] = (), changes: Sequence[MemoryChange] = ()) -> None:
        self._insert(memories, vectors, events, skip_taken=False, supersede=supersede, changes=changes)

    def insert_group(self, writes: Sequence[AddWrite],
                     contexts: Sequence[contextvars.Context] | None = None) -> list[Exception | None]:
        errors: list[Exception | None] = []
        with self._tx() as c:
            for n, w in enumerate(writes):
                c.execute("SAVEPOINT add_write")
                try:
                    (contexts[n] if contexts is not None else contextvars.copy_context()).run(
                        self._insert_in, c, w.memories, w.vectors, w.events, skip_taken=False, supersede=w.supersede,
                        changes=w.changes)
                except Exception as exc:
                    c.execute("ROLLBACK TO add_write")
                    errors.append(exc)
                else:
                    errors.append(None)
                c.execute("RELEASE add_write")
        return errors

    def supersede(self, project_id: str, marks: Sequence[Supersession]) -> list[Memory]:
        with self._tx() as c:
            return self._supersede(c, project_id, marks)

    def _supersede(self, c: sqlite3.Connection, project_id: str, marks: Sequence[Supersession]) -> list[Memory]:
        if not marks:
            return []
        ids = list({i: None for m in marks for i in (m.old_id, m.new_id)})
        read = f"SELECT {MEMORY_COLUMNS} FROM {FROM} WHERE +m.project_id = ? AND m.id IN (SELECT value FROM json_each(?))"
        found = {r[0]: _memory(r) for r in _rows(c, read, (project_id, json.dumps(ids)))}
        check_supersessions(marks, found)
        c.executemany("UPDATE memories SET superseded_by = ?, superseded_at = ? WHERE +project_id = ? AND id = ?",
                      [(m.new_id, SQLITE.write_time(m.at), project_id, m.old_id) for m in marks])
        self._insert_events(c, [m.event(found[m.old_id]) for m in marks])
        after = {r[0]: _memory(r) for r in _rows(c, read, (project_id, json.dumps([m.old_id for m in marks])))}
        return [after[m.old_id] for m in marks]

    def insert_new(self, memories: Sequence[Memory], vectors: Vectors, events: Sequence[HistoryEvent]) -> list[str]:
        return self._insert(memories, vectors, events, skip_taken=True)

    def _insert(self, memories: Sequence[Memory], vectors: Vectors, events: Sequence[HistoryEvent],
                *, skip_taken: bool, supersede: Sequence[Supersession] = (),
                changes: Sequence[MemoryChange] = ()) -> list[str]:
        with self._tx() as c:
            return self._insert_in(c, memories, vectors, events, skip_taken=skip_taken, supersede=supersede,
                                   changes=changes)

    def _insert_in(self, c: sqlite3.Connection, memories: Sequence[Memory], vectors: Vectors,
                   events: Sequence[HistoryEvent], *, skip_taken: bool, supersede: Sequence[Supersession] = (),
                   changes: Sequence[MemoryChange] = ()) -> list[str]:
        """`_insert` inside the caller's transaction (an async add's job finishes in the same one: jobs.py)."""
        done: list[str] = []
        for project_id in {m.project_id for m in memories}:
            self._check_buckets(c, project_id, [m.bucket_id for m in memories if m.project_id == project_id])
        for memory, vector in zip(memories, vectors, strict=True):
            cur = c.execute(_INSERT_NEW if skip_taken else _INSERT, SQLITE.memory_values(memory, vector))
            if cur.rowcount == 0:
                continue  # skip_taken: the project has this id
            seq = cur.lastrowid
            c.execute("INSERT INTO memories_fts(rowid, text, scope) VALUES (?, ?, ?)",
                      (seq, memory.text, fts_scope(memory.project_id, memory.user_id, memory.agent_id,
                                                   memory.app_id, memory.run_id)))
            c.execute("INSERT INTO vector_log(project_id, mem_seq, op) VALUES (?, ?, 'put')", (memory.project_id, seq))
            done.append(memory.id)
        inserted = set(done)
        self._insert_events(c, [e for e in events if e.memory_id in inserted])
        if changes:
            self._update(c, one_project(memories), changes)
        if supersede:
            self._supersede(c, one_project(memories), supersede)
        return done

    def scan(self, project_id: str, after: str | None, limit: int,
             vectors: bool = False) -> list[tuple[Memory, Vectors | None]]:
        rows = _rows(
            self._conn(),
            f"SELECT {MEMORY_COLUMNS}, {'m.embedding' if vectors else 'NULL'} FROM {FROM} "
            "WHERE m.project_id = ? AND m.id > ? ORDER BY m.id LIMIT ?",
            (project_id, after or "", limit),
        )
        return [(_memory(r), np.frombuffer(r[-1], dtype=np.float32).copy() if r[-1] is not None else None)
                for r in rows]

    def _insert_events(self, c: sqlite3.Connection, events: Sequence[HistoryEvent]) -> None:
        """The one place a change to a memory is recorded: its history events and, with them, the change log."""
        if not events:
            return
        values = SQLITE.event_values(events)
        if len(values) == 1:  # one event (a single add): its rowid comes with the insert, no statement to ask it
            cur = c.execute(SQLITE.event_insert(), values[0])
            self._log(c, events, cur.lastrowid)
            return
        if any(e.old_text is not None or e.new_text is not None or e.input is not None or e.metadata is not None
               for e in events):
            c.executemany(SQLITE.event_insert(), values)
        else:  # a delete's events (no text): one statement, as the rows are many (6 ms -> 1 ms per 1,000 rows)
            c.execute(_HISTORY_BULK, (json.dumps(values, ensure_ascii=False),))
        self._log(c, events)

    def get(self, project_id: str, ids: Sequence[str]) -> list[Memory]:
        if not ids:
            return []
        rows = _rows(
            self._conn(),
            f"SELECT {MEMORY_COLUMNS} FROM {FROM} WHERE +m.project_id = ? AND m.id IN (SELECT value FROM json_each(?))",
            (project_id, json.dumps(list(ids))),
        )
        by_id = {r[0]: _memory(r) for r in rows}
        return [by_id[i] for i in dict.fromkeys(ids) if i in by_id]

    def update(self, project_id: str, changes: Sequence[MemoryChange]) -> list[Memory]:
        """Each patch writes only its own fields, inside the write transaction (BEGIN IMMEDIATE serializes it with
        every other write), so a concurrent patch of other fields, or a delete, is never undone."""
        with self._tx() as c:
            return self._update(c, project_id, changes)

    def _update(self, c: sqlite3.Connection, project_id: str, changes: Sequence[MemoryChange]) -> list[Memory]:
        ids = [ch.id for ch in changes]
        self._check_buckets(c, project_id, [ch.bucket_id for ch in changes if ch.bucket_id is not None])
        before = {r[0]: r for r in _rows(
            c, "SELECT id, seq, text, user_id, agent_id, app_id, run_id FROM memories "
            "WHERE +project_id = ? AND id IN (SELECT value FROM json_each(?))",
            (project_id, json.dumps(ids)),
        )}
        if any(i not in before for i in ids):
            raise NotFound("Memory not found", code=MEMORY_NOT_FOUND)
        for ch in changes:
            seq = before[ch.id][1]
            sets, args = SQLITE.patch(ch)
            c.execute(f"UPDATE memories SET {', '.join(sets)} WHERE seq = ?", (*args, seq))
            if ch.text is not None:  # the keyword index follows the text written here, in the same transaction
                c.execute("DELETE FROM memories_fts WHERE rowid = ?", (seq,))
                c.execute("INSERT INTO memories_fts(rowid, text, scope) VALUES (?, ?, ?)",
                          (seq, ch.text, fts_scope(project_id, *before[ch.id][3:7])))
            if ch.vector is not None:
                c.execute("INSERT INTO vector_log(project_id, mem_seq, op) VALUES (?, ?, 'put')", (project_id, seq))
        after = {r[0]: _memory(r) for r in _rows(
            c, f"SELECT {MEMORY_COLUMNS} FROM {FROM} WHERE +m.project_id = ? AND m.id IN (SELECT value FROM json_each(?))",
            (project_id, json.dumps(ids)),
        )}
        self._insert_events(c, [ch.event(before[ch.id][2], after[ch.id]) for ch in changes])
        return [after[i] for i in ids]

    def delete(self, project_id: str, ids: Sequence[str], at: datetime, *, all_or_nothing: bool = False) -> list[str]:
        with self._tx() as c:
            return self._delete_ids(c, project_id, ids, at, all_or_nothing=all_or_nothing)

    def delete_where(self, project_id: str, where: Node, at: datetime, reason: PurgeReason | None = None) -> list[str]:
        sql, params = compile_where(where)
        with self._tx() as c:
            ids = [r[0] for r in _rows(c, f"SELECT m.id FROM memories m WHERE m.project_id = ? AND {sql}",
                                       (project_id, *params))]
            return self._delete_ids(c, project_id, ids, at, reason)

    def purge_candidates(self, field: PurgeField, before: datetime, after: tuple[str, str] | None,
                         limit: int) -> list[tuple[str, str]]:
        due = {"expiration_date": "expiration_date < ?",
               "superseded_at": "superseded_by IS NOT NULL AND superseded_at < ?"}[field]
        rows = _rows(self._conn(), f"SELECT project_id, id FROM memories WHERE {due} AND (project_id, id) > (?, ?) "
                     "ORDER BY project_id, id LIMIT ?", (ts(before), *(after or ("", "")), limit))
        return [(r[0], r[1]) for r in rows]

    def _delete_ids(self, c: sqlite3.Connection, project_id: str, ids: Sequence[str], at: datetime,
                    reason: PurgeReason | None = None, *, all_or_nothing: bool = False) -> list[str]:
        if not ids:
            return []
        wanted = list(dict.fromkeys(ids))
        rows = _rows(
            c, "SELECT seq, id, user_id, agent_id, app_id, run_id FROM memories "
            "WHERE +project_id = ? AND id IN (SELECT value FROM json_each(?))",
            (project_id, json.dumps(wanted)),
        )
        if all_or_nothing and len(rows) < len(wanted):
            raise NotFound("Memory not found", code=MEMORY_NOT_FOUND)  # the transaction rolls back: nothing deleted
        if not rows:
            return []
        seqs = json.dumps([r[0] for r in rows])
        gone = [r[1] for r in rows]
        c.execute("DELETE FROM memories_fts WHERE rowid IN (SELECT value FROM json_each(?))", (seqs,))
        c.execute("DELETE FROM memories WHERE seq IN (SELECT value FROM json_each(?))", (seqs,))
        c.execute(
            f"{FORGET_HISTORY} WHERE project_id = ? AND memory_id IN (SELECT value FROM json_each(?))",
            (project_id, json.dumps(gone)),
        )
        self._insert_events(c, [
            HistoryEvent(event_id, r[1], project_id, "DELETE", None, None, None, at, r[2], r[3], r[4], r[5],
                         reason=reason)
            for event_id, r in zip(time_ordered_ids(len(rows)), rows, strict=True)
        ])
        c.executemany(
            "INSERT INTO vector_log(project_id, mem_seq, op) VALUES (?, ?, 'del')", [(project_id, r[0]) for r in rows]
        )
        self._forgotten(c)
        return gone

    def _forgotten(self, c: sqlite3.Connection) -> None:
        """A delete in transaction `c` leaves text to take out of the files: mark it for the compaction."""
        c.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                  (_COMPACT_MARK, uuid.uuid4().hex))
        self._local.forget = True

    def history(self, project_id: str, memory_id: str) -> list[HistoryEvent]:
        rows = _rows(
            self._conn(),
            f"SELECT {HISTORY_COLUMNS} FROM history WHERE project_id = ? AND memory_id = ? ORDER BY seq",
            (project_id, memory_id),
        )
        return [SQLITE.event(r) for r in rows]

    def entities(self, project_id: str) -> list[Entity]:
        return [SQLITE.entity(r) for r in _rows(self._conn(), SQLITE.entities_select(), (project_id,) * 4)]

    # search ------------------------------------------------------------------
    def vector_search(self, project_id: str, vector: Vectors, where: Node | None, k: int) -> list[tuple[str, float]]:
        """The k nearest the filter admits. The graph's (or the scan's) first candidates are checked against the
        filter; when they hold fewer than k, a count of the admitted rows, stopped at EXACT_BELOW (or 5% of the
        project), decides (unless the share of candidates that passed already shows the filter admits many): a
        selective filter's rows are scored exactly, any other makes the graph look wider, as wide as the share that
        passed says k need (`_wider`), until k pass. A filter admitting many rows far from the query thus costs a
        few wider graph walks, not an exact scan of every row it admits."""
        if k <= 0:
            return []
        sql, params = compile_where(where)
        conn = self._conn()
        self._await_load()
        with self._index_lock:
            self._sync_index()
            index = self._indexes.get((project_id, len(vector)))
            if index is None or index.size == 0:
                return []
            n = index.size
        verdict: dict[int, str | None] = {}  # key -> id if the filter admits it, None if not (checked once)
        want, counted = min(n, max(2 * k, 64)), False
        while True:
            with self._index_lock:
                index = self._indexes.get((project_id, len(vector)))
                if index is None:
                    return []
                keys, scores = index.nearest(vector, want)
            hits = self._admitted(conn, project_id, keys, scores, verdict, k, sql, params)
            if len(hits) >= k or len(keys) >= n or want >= n:
                return hits[:k]
            cap = min(EXACT_BELOW, n // 20)
            if not counted and len(hits) * n <= 4 * cap * len(keys):  # else the share that passed says it admits many
                counted = True
                admits = int(_one(conn, f"SELECT count(*) FROM (SELECT 1 FROM memories m WHERE m.project_id = ? AND "
                                        f"{sql} LIMIT ?)", (project_id, *params, cap + 1)))
                if admits <= cap:
                    break  # selective: its few rows are scored exactly
            if want >= WIDEST:
                break  # the widest walk still found too few: the rows it admits lie far from the query
            want = min(n, WIDEST, _wider(want, len(keys), len(hits), k))
        return self._exact_among_admitted(conn, project_id, vector, sql, params, k)

    def _admitted(self, conn: sqlite3.Connection, project_id: str, keys: npt.NDArray[np.int64],
                  scores: npt.NDArray[np.float32], verdict: dict[int, str | None], k: int, sql: str,
                  params: list[Any]) -> list[tuple[str, float]]:
        """The candidates (best first) the filter admits, up to the first k: the unchecked ones are checked in
        score order, a part at a time (at most _CHECK_MOST), each as large as the share admitted so far says the
        missing hits need, and no further once the first k are known. Fewer than k: every candidate was checked
        (the share of `keys` that passed is then exact, as `_wider` needs it)."""
        order = [int(key) for key in keys]
        unchecked = [key for key in order if key not in verdict]
        passed = sum(v is not None for v in verdict.values())
        start = known = have = 0  # unchecked[:start] checked; order[:known] all checked, `have` of them admitted
        while start < len(unchecked):
            while known < len(order) and order[known] in verdict:
                have += verdict[order[known]] is not None
                known += 1
            if have >= k:
                break
            size = (min(_CHECK_MOST, max(_CHECK_LEAST, math.ceil(1.25 * (k - have) * len(verdict) / passed)))
                    if passed else _CHECK_MOST)
            part = unchecked[start:start + size]
            start += len(part)
            found = self._allowed(conn, project_id, part, sql, params)
            for key in part:
                verdict[key] = mid = found.get(key)
                passed += mid is not None
        hits: list[tuple[str, float]] = []
        for key, score in zip(order, scores, strict=True):
            if key not in verdict or len(hits) >= k:
                break
            if (mid := verdict[key]) is not None:
                hits.append((mid, float(score)))
        return hits

    def _exact_among_admitted(self, conn: sqlite3.Connection, project_id: str, vector: Vectors, sql: str,
                              params: list[Any], k: int) -> list[tuple[str, float]]:
        """Every row the filter admits scored exactly; only the row numbers are read (a user filter's index holds
        them), the ids of the k best after."""
        seqs = [int(r[0]) for r in _rows(conn, f"SELECT m.seq FROM memories m WHERE m.project_id = ? AND {sql}",
                                         (project_id, *params))]
        if not seqs:
            return []
        with self._index_lock:
            index = self._indexes.get((project_id, len(vector)))
            if index is None:
                return []
            keys, scores = index.among(np.array(seqs, dtype=np.int64), vector, k)
        ids = self._allowed(conn, project_id, [int(key) for key in keys], sql, params)
        return [(ids[int(key)], float(score)) for key, score in zip(keys, scores, strict=True) if int(key) in ids]

    @staticmethod
    def _allowed(conn: sqlite3.Connection, project_id: str, keys: Sequence[int], sql: str,
                 params: list[Any]) -> dict[int, str]:
        return dict(_rows(
            conn,
            f"SELECT m.seq, m.id FROM memories m WHERE +m.project_id = ? AND m.seq IN (SELECT value FROM json_each(?)) "
            f"AND {sql}",
            (project_id, json.dumps(list(keys)), *params),
        ))

    def keyword_search(self, project_id: str, terms: Sequence[str], where: Node | None, k: int) -> list[tuple[str, float]]:
        """BM25 with the statistics of the scope `where` admits (see store/keyword.py). One FTS5 query per term:
        the index holds the project's token and the memory's owners' (`fts_scope`), so FTS5 intersects the term with
        every owner `where` requires (an owner equality ANDed at its top; an owner's token is bound to its project),
        else with the project; the whole `where` and the project then check each match in the memories table
        (tokens are hashes: they only narrow). At 1,000,000 memories ANDing the project's token too (a million rows)
        cost a term 0.6-4 ms more at the median, 6-8 ms at p95, and excludes nothing the owner's does not."""
        if not terms or k <= 0:
            return []
        conn = self._conn()
        owners = dict.fromkeys(owner_token(project_id, f, v) for f, v in required_equalities(where, OWNER_FIELDS))
        scope = " AND scope : ".join(owners or [scope_token(project_id)])
        sql, params = compile_where(where)
        per_term = []
        for term in dict.fromkeys(terms):
            phrase = '"' + term.replace('"', '""') + '"'
            per_term.append(_rows(  # CROSS JOIN: the keyword index drives, the table is probed by rowid
                conn,
                "SELECT m.id, m.seq, length(m.text) FROM memories_fts CROSS JOIN memories m ON m.seq = memories_fts.rowid "
                f"WHERE memories_fts MATCH ? AND m.project_id = ? AND {sql} LIMIT ?",
                (f"text : {phrase} AND scope : {scope}", project_id, *params, keyword.KEYWORD_BUDGET + 1),
            ))
        if not keyword.rankable(per_term):
            return []
        size = _one(conn, *scope_size_query(project_id, sql, params))
        return keyword.bm25(per_term, int(size), k)

    def neighbours(self, project_id: str, ids: Sequence[str], vector: Vectors, where: Node | None,
                   radius: int) -> list[Neighbour]:
        if not ids:
            return []
        sql, params = compile_where(where)
        anchors = (
            "WITH a AS (SELECT m.seq, m.id, m.user_id, m.agent_id, m.app_id, m.run_id, m.created_at, m.text, m.metadata "
            "FROM memories m "
            f"WHERE +m.project_id = ? AND m.id IN (SELECT value FROM json_each(?)) AND {sql}) "
        )
        args: list[Any] = [project_id, json.dumps(list(dict.fromkeys(ids))), *params]
        parts = ["SELECT a.id, a.id, a.seq, a.created_at, 0, a.text, a.metadata FROM a"]
        if radius > 0:
            for side, cmp, order in ((-1, "<", "DESC"), (1, ">", "ASC")):
                # A run is (owners, run_id); runs are read through the (project_id, run_id) index.
                parts.append(
                    f"SELECT a.id, n.id, n.seq, n.created_at, {side}, n.text, n.metadata FROM a JOIN memories n ON n.seq IN ("
                    "SELECT m.seq FROM memories m WHERE m.project_id = ? AND m.run_id = a.run_id "
                    "AND m.user_id IS a.user_id AND m.agent_id IS a.agent_id AND m.app_id IS a.app_id "
                    f"AND (m.created_at, m.seq) {cmp} (a.created_at, a.seq) AND {sql} "
                    f"ORDER BY m.created_at {order}, m.seq {order} LIMIT ?) WHERE a.run_id IS NOT NULL"
                )
                args += [project_id, *params, radius]
        rows = _rows(self._conn(), anchors + " UNION ALL ".join(parts), args)
        self._await_load()
        with self._index_lock:
            self._sync_index()
            index = self._indexes.get((project_id, len(vector)))
            keys = np.fromiter((int(r[2]) for r in rows), dtype=np.int64, count=len(rows))
            sims = index.similarity(keys, vector) if index is not None else np.zeros(len(rows), dtype=np.float32)
        return regroup_neighbours((r[0], r[1], r[4], r[3], r[2], float(sim), r[5], _metadata(r[6]))
                                  for r, sim in zip(rows, sims, strict=True))

    # the in-memory vector index ------------------------------------------------
    def _sync_index(self) -> None:
        """Bring the in-memory index up to the last committed vector change. Caller holds _index_lock."""
        conn = self._conn()
        # Two subqueries: SQLite answers a lone min() or max() from the rowid b-tree, but scans for both at once.
        [(low, high)] = _rows(
            conn, "SELECT coalesce((SELECT min(seq) FROM vector_log), 0), coalesce((SELECT max(seq) FROM vector_log), 0)"
        )
        low, high = int(low), int(high)
        if high == self._log_seq:
            return
        if self._log_seq < 0 or (low > self._log_seq + 1 and self._log_seq < high):
            self._rebuild(conn, high)
            return
        changes = _rows(conn, "SELECT project_id, mem_seq, op FROM vector_log WHERE seq > ? AND seq <= ? ORDER BY seq",
                        (self._log_seq, high))
        wanted = {int(mem_seq) for _, mem_seq, op in changes if op == "put"}
        vectors: dict[int, bytes] = {}
        if wanted:
            vectors = dict(_rows(conn, "SELECT seq, embedding FROM memories WHERE seq IN (SELECT value FROM json_each(?))",
                                 (json.dumps(sorted(wanted)),)))
        for project_id, mem_seq, op in changes:
            blob = vectors.get(int(mem_seq)) if op == "put" else None
            if blob is None:
                for (owner, _), index in self._indexes.items():
                    if owner == project_id:
                        index.remove(int(mem_seq))
                continue
            vec = np.frombuffer(blob, dtype=np.float32)
            for (owner, dim), index in self._indexes.items():
                if owner == project_id and dim != len(vec):
                    index.remove(int(mem_seq))  # re-embedded by another model: it leaves the old dimension's index
            self._project_index(project_id, len(vec)).upsert(int(mem_seq), vec)
        self._log_seq = high
        if high - low > 2 * _LOG_KEEP:
            conn.execute("DELETE FROM vector_log WHERE seq <= ?", (high - _LOG_KEEP,))

    def _rebuild(self, conn: sqlite3.Connection, high: int) -> None:
        for index in self._indexes.values():
            index.close()
        self._indexes = {}
        self._read_vectors(conn, self._indexes)
        self._log_seq = high  # a change made while paging is in the log after `high`: the next sync replays it

    def _read_vectors(self, conn: sqlite3.Connection, indexes: dict[tuple[str, int], ProjectVectors],
                      stop: threading.Event | None = None) -> bool:
        """Every stored vector into `indexes`; False if `stop` was set meanwhile."""
        after = -1
        while True:  # a page at a time: the vectors are read whole without holding them all at once
            if stop is not None and stop.is_set():
                return False
            page = _rows(conn, "SELECT project_id, seq, embedding FROM memories WHERE seq > ? ORDER BY seq LIMIT ?",
                         (after, _REBUILD_PAGE))
            for project_id, seq, blob in page:
                vec = np.frombuffer(blob, dtype=np.float32)
                self._project_index(project_id, len(vec), indexes).upsert(int(seq), vec)
            if len(page) < _REBUILD_PAGE:
                return True
            after = page[-1][1]

    def _project_index(self, project_id: str, dim: int,
                       indexes: dict[tuple[str, int], ProjectVectors] | None = None) -> ProjectVectors:
        indexes = self._indexes if indexes is None else indexes
        index = indexes.get((project_id, dim))
        if index is None:
            index = indexes[(project_id, dim)] = ProjectVectors(dim, *self._graph)
        return index

    # feedback and records ------------------------------------------------------
    def set_feedback(self, project_id: str, memory_id: str, feedback: str | None, reason: str | None) -> Memory | None:
        with self._tx() as c:
            c.execute("UPDATE memories SET feedback = ?, feedback_reason = ? WHERE +project_id = ? AND id = ?",
                      (feedback, reason, project_id, memory_id))
            row = _row(c, f"SELECT {MEMORY_COLUMNS} FROM {FROM} WHERE +m.project_id = ? AND m.id = ?",
                       (project_id, memory_id))
        return _memory(row) if row else None

    def put_record(self, project_id: str, kind: str, record_id: str, body: dict[str, Any], at: datetime,
                   expires_at: datetime | None = None) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM records WHERE project_id = ? AND expires_at <= ?", (project_id, ts(at)))
            c.execute(
                "INSERT INTO records(project_id, kind, id, body, created_at, updated_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (project_id, kind, id) DO UPDATE SET body = excluded.body, "
                "updated_at = excluded.updated_at, expires_at = excluded.expires_at",
                (project_id, kind, record_id, json.dumps(body), ts(at), ts(at), ts(expires_at) if expires_at else None),
            )

    def get_record(self, project_id: str, kind: str, record_id: str, now: datetime) -> dict[str, Any] | None:
        row = _row(self._conn(), "SELECT body FROM records WHERE project_id = ? AND kind = ? AND id = ? "
                   "AND (expires_at IS NULL OR expires_at > ?)", (project_id, kind, record_id, ts(now)))
        return json.loads(row[0]) if row else None

    def list_records(self, project_id: str, kind: str, now: datetime, limit: int) -> list[dict[str, Any]]:
        rows = _rows(self._conn(), "SELECT body FROM records WHERE project_id = ? AND kind = ? "
                     "AND (expires_at IS NULL OR expires_at > ?) ORDER BY updated_at DESC, id LIMIT ?",
                     (project_id, kind, ts(now), limit))
        return [json.loads(r[0]) for r in rows]

    # `list` comes last: a method named list would shadow the builtin in annotations below it.
    def list(self, project_id: str, where: Node | None, limit: int, offset: int = 0) -> Page:
        sql, params = compile_where(where)
        conn = self._conn()
        total = _one(conn, f"SELECT count(*) FROM memories m WHERE m.project_id = ? AND {sql}", (project_id, *params))
        rows = _rows(
            conn,
            f"SELECT {MEMORY_COLUMNS} FROM {FROM} WHERE m.project_id = ? AND {sql} "
            "ORDER BY m.created_at DESC, m.seq DESC LIMIT ? OFFSET ?",
            (project_id, *params, limit, offset),
        )
        return Page([_memory(r) for r in rows], total)
