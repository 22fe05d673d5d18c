"""The server store: PostgreSQL with pgvector (HNSW, cosine) and a generated english `tsvector` (GIN).

One pool of connections (psycopg_pool) serves every thread. Each method is one transaction; writes that lock
memories lock them in id order, so concurrent bulk operations cannot deadlock one another, and a deadlock or
serialization failure that still happens is retried. A connection failure, a pool timeout or a database
shutting down becomes `Unavailable` (HTTP 503); the pool checks each connection before lending it, so the
store recovers by itself when the database comes back.

Vectors: `memories.embedding` is an untyped `vector`; the first time the store sees a dimension it creates a
partial HNSW index for it (see migrations/0001_init.sql). Searches use pgvector's iterative index scans
(relaxed order, re-sorted here), so a filtered search still finds k results; when the index yields fewer than
k, the store scores every row the filter admits, exactly, as the SQLite store does.

Deleting removes the row (its text, vector and keyword entry are all in it) and blanks the texts of its history
events in one transaction. PostgreSQL keeps dead row versions until (auto)vacuum reclaims them; see
docs/SCALING.md for the settings that bound how long deleted text stays in the data files.
"""

from __future__ import annotations

import contextvars
import functools
import math
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np
import psycopg
from psycopg import errors as pg_errors
from psycopg.types.json import Json, Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from ...embed.base import Vectors
from ...errors import BUCKET_NOT_FOUND, MEMORY_NOT_FOUND, Conflict, InvalidInput, NotFound, Unavailable
from ...filters import Node
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
from . import schema
from .chats import PostgresChats
from .events import PostgresEvents
from .jobs import PostgresJobs
from .where import compile_where

T = TypeVar("T")

_HNSW_MAX_DIM = 2000  # pgvector's HNSW limit for `vector`; larger vectors are searched exactly
EF_SEARCH_BASE = 100  # HNSW candidate list of a search in an index of up to EF_SEARCH_ROWS vectors
EF_SEARCH_ROWS = 100_000
_EF_SEARCH_MAX = 1_000  # pgvector's limit


def ef_search_for(rows: float, k: int) -> int:
    """The HNSW candidate list of a search for k in an index of about `rows` vectors: EF_SEARCH_BASE up to
    EF_SEARCH_ROWS vectors, then growing with the square root of the size (at 1,000,000: 316), never below k
    nor above pgvector's 1,000. A graph walk must visit more nodes to find the same share of the true nearest
    as the graph grows (bench/bench_million.py, BENCHMARKS.md "A million memories")."""
    grown = EF_SEARCH_BASE * math.sqrt(max(rows, 0.0) / EF_SEARCH_ROWS)
    return int(min(_EF_SEARCH_MAX, max(EF_SEARCH_BASE, k, round(grown))))
_RETRIES = 5


def _rows(c: psycopg.Connection, sql: str, params: Sequence[Any] = (), *,
          prepare: bool | None = None) -> list[tuple[Any, ...]]:
    """Every read of this store goes through here (or `_row`): the rows are fetched whole and the cursor closed
    before anything decodes them, so a row that fails to decode fails that one call and the connection goes back
    to the pool clean (tests/store/test_reads.py checks that no read bypasses it). `prepare=False`: planned for
    these values every time (psycopg prepares a statement run 5 times on a connection, and PostgreSQL then may
    keep one generic plan for every value, blind to how many rows a word or a filter selects)."""
    with c.execute(sql, params or None, prepare=prepare) as cur:  # type: ignore[arg-type]  # SQL built here
        return cur.fetchall()


def _row(c: psycopg.Connection, sql: str, params: Sequence[Any] = (), *,
         prepare: bool | None = None) -> tuple[Any, ...] | None:
    rows = _rows(c, sql, params, prepare=prepare)
    return rows[0] if rows else None


def vector_text(vector: Vectors) -> str:
    """pgvector's text form: '[x,y,...]' (float32 values, written exactly)."""
    return "[" + ",".join(map(repr, np.asarray(vector, dtype=np.float32).tolist())) + "]"


def _utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC)


POSTGRES = SQLFlavor(param="%s", vector_param="%s::vector", write_json=Jsonb, write_event_json=Json,
                   write_time=lambda at: at, write_vector=vector_text, read_time=_utc)
_memory = POSTGRES.memory
_BUCKETS = POSTGRES.bucket_select()
_BUCKETS_UNCOUNTED = POSTGRES.bucket_select(counted=False)
_INSERT, _INSERT_NEW = POSTGRES.memory_insert(None), POSTGRES.memory_insert("project_id, id")


def _parse_vector(text: str) -> Vectors:
    return np.array(text[1:-1].split(","), dtype=np.float32)


def _distance(dim: int) -> str:
    """A memory's cosine distance to the query (its one parameter), in the form the dimension's HNSW index orders by
    (`_create_index`)."""
    return f"((m.embedding::vector({dim})) <=> %s::vector({dim}))"


def _similarity(distance: float | None) -> float:
    """Cosine similarity from pgvector's cosine distance; a zero vector (NaN distance) is similar to nothing."""
    if distance is None or math.isnan(distance):
        return 0.0
    return 1.0 - float(distance)


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the configured database"
    info.pop("password", None)
    return " ".join(f"{k}={v}" for k, v in info.items()) or "the default database"


class PostgresStore(PostgresChats, PostgresEvents, PostgresJobs):
    """Store protocol over PostgreSQL + pgvector. Thread-safe.

    `migrate`: apply pending schema migrations at start-up. An empty database is always set up; a database
    behind this version is refused unless `migrate` (run `memvault migrate`); a newer one is always refused.
    `ef_search`: HNSW candidate list size per search (at least k); higher finds more of the true nearest
    neighbours and costs more (see bench/bench_million.py). None (the default): `ef_search_for` the size of the
    table, as the planner last counted it (pg_class.reltuples, read in the search's own transaction).
    `exact_below`: a filtered search that admits at most this many rows, and few of the project's, scores them
    all exactly instead of walking the HNSW graph (which must visit many non-matching nodes per match under a
    selective filter). `timeout`: seconds to wait for a connection before answering Unavailable.
    """

    _chat_flavor = POSTGRES  # what the chat-history part (chats.py) writes and reads with
    _vector_text = staticmethod(vector_text)
    _similarity = staticmethod(_similarity)
    _flavor = POSTGRES  # what the change log (events.py) writes and reads with
    local_reads = False  # a round trip to the server, maybe a wait for a pooled connection

    def __init__(self, url: str, *, migrate: bool = False, min_size: int = 1, max_size: int = 16,
                 timeout: float = 3.0, ef_search: int | None = None, exact_below: int = 20_000) -> None:
        self.url = url
        self.ef_search = ef_search
        self.exact_below = exact_below
        self._pool = ConnectionPool(
            url, min_size=min_size, max_size=max_size, timeout=timeout, open=False, name="memvault",
            kwargs={"autocommit": True}, configure=self._configure, check=ConnectionPool.check_connection,
        )
        try:
            self._pool.open(wait=True, timeout=timeout)
        except PoolTimeout:
            self._pool.close()
            try:  # the pool only says it timed out: one direct attempt gives the reason (no such database, auth...)
                psycopg.connect(url, connect_timeout=max(1, int(timeout))).close()
                reason = f"no connection within {timeout:g} s"
            except psycopg.Error as exc:
                reason = str(exc).strip()
            raise Unavailable(f"cannot reach PostgreSQL ({redact(url)}): {reason}") from None
        try:
            with self._errors(), self._pool.connection() as conn:
                self.schema_version = schema.check(conn, migrate=migrate)[1]
                self._dims = {
                    int(r[0].rsplit("_", 1)[1]) for r in _rows(
                        conn,
                        "SELECT indexname FROM pg_indexes WHERE tablename = 'memories' "
                        "AND schemaname = current_schema() AND indexname LIKE 'memories\\_hnsw\\_%'",
                    )
                }
                self._chat_dims = {
                    int(r[0].rsplit("_", 1)[1]) for r in _rows(
                        conn,
                        "SELECT indexname FROM pg_indexes WHERE tablename = 'chat_chunks' "
                        "AND schemaname = current_schema() AND indexname LIKE 'chat\\_chunks\\_hnsw\\_%'",
                    )
                }
        except BaseException:
            self._pool.close()
            raise

    @staticmethod
    def _configure(conn: psycopg.Connection) -> None:
        conn.execute("SET TIME ZONE 'UTC'")

    def close(self) -> None:
        self._pool.close()

    def vector_index_state(self) -> str:
        return "ready"  # pgvector's HNSW indexes are kept by the server as rows change

    def warm_up(self) -> None:
        pass  # nothing is held in this process

    def compact(self, rewrite: bool = False) -> None:
        """VACUUM the tables that hold text: dead row versions of deleted memories leave the data files
        (autovacuum does the same on its own schedule; see docs/SCALING.md)."""
        with self._errors(), self._pool.connection() as conn:
            conn.autocommit = True
            try:
                for table in ("memories", "history", "events", "chat_conversations", "chat_messages", "chat_chunks",
                              "jobs"):
                    conn.execute(f"VACUUM {'FULL ' if rewrite else ''}{table}")
            finally:
                conn.autocommit = False

    # transactions ------------------------------------------------------------
    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except pg_errors.ProgramLimitExceeded as exc:  # e.g. a value too long for an index entry
            raise InvalidInput(f"a value is too large to store: {exc.diag.message_primary or exc}") from None
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise Unavailable("the database is unavailable; try again shortly") from exc
        except psycopg.DataError as exc:  # e.g. a NUL character, which PostgreSQL text cannot hold
            raise InvalidInput(f"a value cannot be stored: {exc.diag.message_primary or exc}") from None

    def _read(self, fn: Callable[[psycopg.Connection], T]) -> T:
        with self._errors(), self._pool.connection() as conn:
            return fn(conn)

    def _write(self, fn: Callable[[psycopg.Connection], T]) -> T:
        """Run `fn` in one transaction; retried when PostgreSQL aborts it for a deadlock or a serialization failure."""
        for attempt in range(_RETRIES):
            try:
                with self._errors(), self._pool.connection() as conn, conn.transaction():
                    return fn(conn)
            except Unavailable as exc:
                cause = exc.__cause__
                retry = isinstance(cause, (pg_errors.DeadlockDetected, pg_errors.SerializationFailure))
                if not retry or attempt == _RETRIES - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    # projects and keys -------------------------------------------------------
    def ensure_project(self, name: str) -> Project:
        def fn(c: psycopg.Connection) -> Project:
            new = Project(str(uuid.uuid4()), name, utcnow())
            made = _row(
                c, "INSERT INTO projects(id, name, created_at) VALUES (%s, %s, %s) ON CONFLICT (name) DO NOTHING "
                "RETURNING id", (new.id, new.name, new.created_at),
            )
            if made:
                c.execute(
                    "INSERT INTO buckets(project_id, id, name, name_key, description, created_at) "
                    "VALUES (%s, %s, %s, %s, %s, %s)",
                    (new.id, str(uuid.uuid4()), DEFAULT_BUCKET, name_key(DEFAULT_BUCKET), "Default bucket",
                     new.created_at),
                )
                return new
            row = _row(c, f"SELECT {PROJECT_COLUMNS} FROM projects WHERE name = %s", (name,))
            assert row is not None
            return POSTGRES.project(row)

        return self._write(fn)

    def get_project(self, project_id: str) -> Project | None:
        row = self._read(lambda c: _row(c, f"SELECT {PROJECT_COLUMNS} FROM projects WHERE id = %s", (project_id,)))
        return POSTGRES.project(row) if row else None

    def project_settings(self, project_id: str) -> ProjectSettings | None:
        row = self._read(lambda c: _row(c, SETTINGS_SELECT + "%s", (project_id,)))
        return POSTGRES.settings(row) if row else None

    def update_project_settings(self, project_id: str, change: SettingsChange) -> ProjectSettings | None:
        def fn(c: psycopg.Connection) -> tuple[Any, ...] | None:
            if not _row(c, "SELECT 1 FROM projects WHERE id = %s FOR SHARE", (project_id,)):
                return None
            sql, args = POSTGRES.settings_upsert(project_id, change)
            c.execute(sql, args)
            return _row(c, SETTINGS_SELECT + "%s", (project_id,))

        row = self._write(fn)
        return POSTGRES.settings(row) if row else None

    def add_key(self, project_id: str, key_hash: str, name: str, prefix: str) -> ApiKey:
        key = ApiKey(str(uuid.uuid4()), project_id, name, prefix, utcnow())
        self._write(lambda c: c.execute(
            "INSERT INTO api_keys(id, project_id, name, prefix, key_hash, created_at) VALUES (%s, %s, %s, %s, %s, %s)",
            (key.id, project_id, name, prefix, key_hash, key.created_at),
        ))
        return key

    def find_key(self, key_hash: str) -> ApiKey | None:
        row = self._read(lambda c: _row(c, f"SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = %s", (key_hash,)))
        return POSTGRES.key(row) if row else None

    def list_keys(self, project_id: str | None = None) -> list[ApiKey]:
        if project_id is None:
            rows = self._read(lambda c: _rows(c, f"SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at"))
        else:
            rows = self._read(lambda c: _rows(
                c, f"SELECT {KEY_COLUMNS} FROM api_keys WHERE project_id = %s ORDER BY created_at", (project_id,)))
        return [POSTGRES.key(r) for r in rows]

    def revoke_key(self, key_id: str, at: datetime) -> ApiKey | None:
        def fn(c: psycopg.Connection) -> Any:
            c.execute("UPDATE api_keys SET revoked_at = %s WHERE (id = %s OR prefix = %s) AND revoked_at IS NULL",
                      (at, key_id, key_id))
            return _row(c, f"SELECT {KEY_COLUMNS} FROM api_keys WHERE id = %s OR prefix = %s", (key_id, key_id))

        row = self._write(fn)
        return POSTGRES.key(row) if row else None

    # buckets -----------------------------------------------------------------
    def list_buckets(self, project_id: str) -> list[Bucket]:
        rows = self._read(lambda c: _rows(c, _BUCKETS + " ORDER BY b.created_at, b.name", (project_id,)))
        return [POSTGRES.bucket(r) for r in rows]

    def get_bucket(self, project_id: str, bucket_id: str, *, counted: bool = True) -> Bucket | None:
        select = _BUCKETS if counted else _BUCKETS_UNCOUNTED
        row = self._read(lambda c: _row(c, select + " AND b.id = %s", (project_id, bucket_id)))
        return POSTGRES.bucket(row) if row else None

    def find_bucket(self, project_id: str, name: str, *, counted: bool = True) -> Bucket | None:
        select = _BUCKETS if counted else _BUCKETS_UNCOUNTED
        row = self._read(lambda c: _row(c, select + " AND b.name_key = %s", (project_id, name_key(name))))
        return POSTGRES.bucket(row) if row else None

    def create_bucket(self, bucket: Bucket) -> Bucket:
        try:
            self._write(lambda c: c.execute(
                "INSERT INTO buckets(project_id, id, name, name_key, description, created_at) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (bucket.project_id, bucket.id, bucket.name, name_key(bucket.name), bucket.description,
                 bucket.created_at),
            ))
        except pg_errors.UniqueViolation:
            raise Conflict(f"a bucket named {bucket.name!r} already exists") from None
        return bucket

    def rename_bucket(self, project_id: str, bucket_id: str, name: str, description: str | None) -> Bucket:
        def fn(c: psycopg.Connection) -> None:
            cur = c.execute(
                "UPDATE buckets SET name = %s, name_key = %s, description = coalesce(%s, description) "
                "WHERE project_id = %s AND id = %s",
                (name, name_key(name), description, project_id, bucket_id),
            )
            if cur.rowcount == 0:
                raise NotFound("Bucket not found", code=BUCKET_NOT_FOUND)

        try:
            self._write(fn)
        except pg_errors.UniqueViolation:
            raise Conflict(f"a bucket named {name!r} already exists") from None
        found = self.get_bucket(project_id, bucket_id)
        assert found is not None
        return found

    def delete_bucket(self, project_id: str, bucket_id: str, move_to: str | None, at: datetime) -> int:
        def fn(c: psycopg.Connection) -> int:
            # The bucket row first: adds, moves and updates into it hold it FOR KEY SHARE until they commit, so
            # this waits for them, and sees their memories below; the ones that come after find no bucket.
            c.execute("SELECT 1 FROM buckets WHERE project_id = %s AND id = %s FOR UPDATE", (project_id, bucket_id))
            ids = [r[0] for r in _rows(
                c, "SELECT id FROM memories WHERE project_id = %s AND bucket_id = %s ORDER BY id FOR UPDATE",
                (project_id, bucket_id),
            )]
            if move_to is not None:
                self._move(c, project_id, ids, move_to, at)
            else:
                self._delete_ids(c, project_id, ids, at)
            c.execute("DELETE FROM buckets WHERE project_id = %s AND id = %s", (project_id, bucket_id))
            return len(ids)

        return self._write(fn)

    def move_memories(self, project_id: str, ids: Sequence[str], bucket_id: str, at: datetime) -> list[str]:
        return self._write(lambda c: self._move(c, project_id, ids, bucket_id, at))

    @staticmethod
    def _lock_buckets(c: psycopg.Connection, project_id: str, bucket_ids: Iterable[str]) -> None:
        """A memory's bucket exists when its row commits: a writer holds its bucket rows FOR KEY SHARE until it
        commits (renames go on; delete_bucket, which takes the row FOR UPDATE, waits). NotFound when one is gone.
        Buckets are locked before memories, everywhere, so the two kinds of lock cannot deadlock."""
        wanted = sorted(set(bucket_ids))
        if wanted and len(_rows(c, "SELECT id FROM buckets WHERE project_id = %s AND id = ANY(%s) ORDER BY id FOR KEY SHARE",
                                (project_id, wanted))) < len(wanted):
            raise NotFound("Bucket not found", code=BUCKET_NOT_FOUND)

    @classmethod
    def _move(cls, c: psycopg.Connection, project_id: str, ids: Sequence[str], bucket_id: str, at: datetime) -> list[str]:
        cls._lock_buckets(c, project_id, [bucket_id])
        wanted = list(dict.fromkeys(ids))
        found = {r[0] for r in _rows(
            c, "SELECT id FROM memories WHERE project_id = %s AND id = ANY(%s) ORDER BY id FOR UPDATE", (project_id, wanted)
        )}
        moved = [i for i in wanted if i in found]
        c.execute("UPDATE memories SET bucket_id = %s, updated_at = %s WHERE project_id = %s AND id = ANY(%s)",
                  (bucket_id, at, project_id, moved))
        return moved

    # memories ----------------------------------------------------------------
    def insert(self, memories: Sequence[Memory], vectors: Vectors, events: Sequence[HistoryEvent],
               supersede: Sequence[Supersession] = (), changes: Sequence[MemoryChange] = ()) -> None:
        self._insert(memories, vectors, events, skip_taken=False, supersede=supersede, changes=changes)

    def insert_group(self, writes: Sequence[AddWrite],
                     contexts: Sequence[contextvars.Context] | None = None) -> list[Exception | None]:
        if any(len(w.memories) != len(w.vectors) for w in writes):
            raise ValueError("one vector per memory")
        self._ensure_dims({len(v) for w in writes for v in w.vectors}
                          | {len(ch.vector) for w in writes for ch in w.changes if ch.vector is not None})

        def fn(c: psycopg.Connection) -> list[Exception | None]:
            errors: list[Exception | None] = []
            for n, w in enumerate(writes):
                try:
                    with self._errors(), c.transaction():  # a savepoint: a failing write is rolled back alone
                        (contexts[n] if contexts is not None else contextvars.copy_context()).run(
                            self._insert_in, c, w.memories, w.vectors, w.events, skip_taken=False,
                            supersede=w.supersede, changes=w.changes)
                except Unavailable as exc:
                    if isinstance(exc.__cause__, (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)):
                        raise  # the whole group again (`_write`), as a lone insert would be
                    errors.append(exc)
                except Exception as exc:
                    errors.append(exc)
                else:
                    errors.append(None)
            return errors

        return self._write(fn)

    def supersede(self, project_id: str, marks: Sequence[Supersession]) -> list[Memory]:
        return self._write(functools.partial(self._supersede, project_id=project_id, marks=marks))

    def _supersede(self, c: psycopg.Connection, project_id: str, marks: Sequence[Supersession]) -> list[Memory]:
        """The rows are locked FOR UPDATE (in id order) before they are checked, so two racing marks of one memory
        cannot both pass the checks."""
        if not marks:
            return []
        ids = sorted({i for m in marks for i in (m.old_id, m.new_id)})
        _rows(c, "SELECT id FROM memories WHERE project_id = %s AND id = ANY(%s) ORDER BY id FOR UPDATE",
              (project_id, ids))
        read = f"SELECT {MEMORY_COLUMNS} FROM {FROM} WHERE m.project_id = %s AND m.id = ANY(%s)"
        found = {r[0]: _memory(r) for r in _rows(c, read, (project_id, ids))}
        check_supersessions(marks, found)
        with c.cursor() as cur:
            cur.executemany("UPDATE memories SET superseded_by = %s, superseded_at = %s WHERE project_id = %s AND id = %s",
                            [(m.new_id, POSTGRES.write_time(m.at), project_id, m.old_id) for m in marks])
        self._insert_events(c, [m.event(found[m.old_id]) for m in marks])
        after = {r[0]: _memory(r) for r in _rows(c, read, (project_id, [m.old_id for m in marks]))}
        return [after[m.old_id] for m in marks]

    def insert_new(self, memories: Sequence[Memory], vectors: Vectors, events: Sequence[HistoryEvent]) -> list[str]:
        return self._insert(memories, vectors, events, skip_taken=True)

    def _insert(self, memories: Sequence[Memory], vectors: Vectors, events: Sequence[HistoryEvent],
                *, skip_taken: bool, supersede: Sequence[Supersession] = (),
                changes: Sequence[MemoryChange] = ()) -> list[str]:
        if len(memories) != len(vectors):
            raise ValueError("one vector per memory")
        self._ensure_dims({len(v) for v in vectors} | {len(ch.vector) for ch in changes if ch.vector is not None})

        return self._write(functools.partial(self._insert_in, memories=memories, vectors=vectors, events=events,
                                             skip_taken=skip_taken, supersede=supersede, changes=changes))

    def _insert_in(self, c: psycopg.Connection, memories: Sequence[Memory], vectors: Vectors,
                   events: Sequence[HistoryEvent], *, skip_taken: bool, supersede: Sequence[Supersession] = (),
                   changes: Sequence[MemoryChange] = ()) -> list[str]:
        """`_insert` inside the caller's transaction (an async add's job finishes in the same one: jobs.py); the
        vector indexes must exist already (`_ensure_dims`)."""
        for project_id in sorted({m.project_id for m in memories}):
            self._lock_buckets(c, project_id, [m.bucket_id for m in memories if m.project_id == project_id])
        done: list[str] = []
        for memory, vector in zip(memories, vectors, strict=True):
            row = _row(c, (_INSERT_NEW if skip_taken else _INSERT) + " RETURNING id",
                       POSTGRES.memory_values(memory, vector))
            if row is not None:
                done.append(memory.id)
        inserted = set(done)
        self._insert_events(c, [e for e in events if e.memory_id in inserted])
        if changes:
            self._update(c, one_project(memories), changes)
        if supersede:
            self._supersede(c, one_project(memories), supersede)
        return done

    def _ensure_dims(self, dims: set[int]) -> None:
        """Create the HNSW index of each dimension not seen before (once per database, under an advisory lock)."""
        for dim in sorted(dims - self._dims):
            if 0 < dim <= _HNSW_MAX_DIM:
                self._write(functools.partial(self._create_index, dim=int(dim)))
            self._dims.add(dim)

    @staticmethod
    def _create_index(c: psycopg.Connection, dim: int) -> None:
        c.execute("SELECT pg_advisory_xact_lock(%s)", (schema.LOCK,))
        c.execute(f"CREATE INDEX IF NOT EXISTS memories_hnsw_{dim} ON memories USING hnsw "
                  f"((embedding::vector({dim})) vector_cosine_ops) WHERE dim = {dim}")

    def _insert_events(self, c: psycopg.Connection, events: Sequence[HistoryEvent]) -> None:
        """The one place a change to a memory is recorded: its history events and, with them, the change log."""
        if not events:
            return
        with c.cursor() as cur:
            cur.executemany(POSTGRES.event_insert(), POSTGRES.event_values(events))
        self._log(c, events)

    def scan(self, project_id: str, after: str | None, limit: int,
             vectors: bool = False) -> list[tuple[Memory, Vectors | None]]:
        rows = self._read(lambda c: _rows(
            c,
            f"SELECT {MEMORY_COLUMNS}, {'m.embedding::text' if vectors else 'NULL'} FROM {FROM} "
            "WHERE m.project_id = %s AND m.id > %s ORDER BY m.id LIMIT %s",
            (project_id, after or "", limit),
        ))
        return [(_memory(r), _parse_vector(r[-1]) if r[-1] is not None else None) for r in rows]

    def get(self, project_id: str, ids: Sequence[str]) -> list[Memory]:
        if not ids:
            return []
        rows = self._read(lambda c: _rows(
            c, f"SELECT {MEMORY_COLUMNS} FROM {FROM} WHERE m.project_id = %s AND m.id = ANY(%s)", (project_id, list(ids))
        ))
        by_id = {r[0]: _memory(r) for r in rows}
        return [by_id[i] for i in dict.fromkeys(ids) if i in by_id]

    def update(self, project_id: str, changes: Sequence[MemoryChange]) -> list[Memory]:
        """Each patch writes only its own fields, on rows locked FOR UPDATE (in id order) and read inside the same
        transaction, so a concurrent patch of other fields, or a delete, is never undone."""
        self._ensure_dims({len(ch.vector) for ch in changes if ch.vector is not None})
        return self._write(functools.partial(self._update, project_id=project_id, changes=changes))

    def _update(self, c: psycopg.Connection, project_id: str, changes: Sequence[MemoryChange]) -> list[Memory]:
        ids = [ch.id for ch in changes]
        self._lock_buckets(c, project_id, [ch.bucket_id for ch in changes if ch.bucket_id is not None])
        before: dict[str, str] = {r[0]: r[1] for r in _rows(
            c, "SELECT id, text FROM memories WHERE project_id = %s AND id = ANY(%s) ORDER BY id FOR UPDATE",
            (project_id, sorted(set(ids))),
        )}
        if any(i not in before for i in ids):
            raise NotFound("Memory not found", code=MEMORY_NOT_FOUND)
        for ch in changes:  # the keyword index (a generated tsvector) and the vector follow the text written here
            sets, args = POSTGRES.patch(ch)
            c.execute(f"UPDATE memories SET {', '.join(sets)} WHERE project_id = %s AND id = %s",  # type: ignore[arg-type]
                      (*args, project_id, ch.id))
        after = {r[0]: _memory(r) for r in _rows(
            c, f"SELECT {MEMORY_COLUMNS} FROM {FROM} WHERE m.project_id = %s AND m.id = ANY(%s)", (project_id, ids)
        )}
        self._insert_events(c, [ch.event(before[ch.id], after[ch.id]) for ch in changes])
        return [after[i] for i in ids]

    def delete(self, project_id: str, ids: Sequence[str], at: datetime, *, all_or_nothing: bool = False) -> list[str]:
        return self._write(lambda c: self._delete_ids(c, project_id, ids, at, all_or_nothing=all_or_nothing))

    def delete_where(self, project_id: str, where: Node, at: datetime, reason: PurgeReason | None = None) -> list[str]:
        sql, params = compile_where(where)

        def fn(c: psycopg.Connection) -> list[str]:
            # Locked as they are read: a row changed meanwhile is read again, and deleted only if `where` still admits it.
            ids = [r[0] for r in _rows(c, f"SELECT m.id FROM memories m WHERE m.project_id = %s AND {sql} "
                                       "ORDER BY m.id FOR UPDATE", (project_id, *params))]
            return self._delete_ids(c, project_id, ids, at, reason)

        return self._write(fn)

    def purge_candidates(self, field: PurgeField, before: datetime, after: tuple[str, str] | None,
                         limit: int) -> list[tuple[str, str]]:
        due = {"expiration_date": "expiration_date < %s",
               "superseded_at": "superseded_by IS NOT NULL AND superseded_at < %s"}[field]
        rows = self._read(lambda c: _rows(
            c, f"SELECT project_id, id FROM memories WHERE {due} AND (project_id, id) > (%s, %s) "
            "ORDER BY project_id, id LIMIT %s", (before, *(after or ("", "")), limit),
        ))
        return [(r[0], r[1]) for r in rows]

    def _delete_ids(self, c: psycopg.Connection, project_id: str, ids: Sequence[str], at: datetime,
                    reason: PurgeReason | None = None, *, all_or_nothing: bool = False) -> list[str]:
        """Delete the row (text, vector and keyword entry together) and blank its history texts, in the caller's
        transaction. Rows are locked in id order first, so concurrent deletes of overlapping sets cannot deadlock."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        rows = _rows(
            c, "SELECT id, user_id, agent_id, app_id, run_id FROM memories WHERE project_id = %s AND id = ANY(%s) "
            "ORDER BY id FOR UPDATE",
            (project_id, wanted),
        )
        if all_or_nothing and len(rows) < len(wanted):
            raise NotFound("Memory not found", code=MEMORY_NOT_FOUND)  # the transaction rolls back: nothing deleted
        if not rows:
            return []
        owners = {r[0]: r for r in rows}
        gone = [i for i in wanted if i in owners]
        c.execute("DELETE FROM memories WHERE project_id = %s AND id = ANY(%s)", (project_id, gone))
        c.execute(
            f"{FORGET_HISTORY} WHERE project_id = %s AND memory_id = ANY(%s)",
            (project_id, gone),
        )
        self._insert_events(c, [
            HistoryEvent(event_id, i, project_id, "DELETE", None, None, None, at, user_id=owners[i][1],
                         agent_id=owners[i][2], app_id=owners[i][3], run_id=owners[i][4], reason=reason)
            for event_id, i in zip(time_ordered_ids(len(gone)), gone, strict=True)
        ])
        return gone

    def history(self, project_id: str, memory_id: str) -> list[HistoryEvent]:
        rows = self._read(lambda c: _rows(
            c, f"SELECT {HISTORY_COLUMNS} FROM history WHERE project_id = %s AND memory_id = %s ORDER BY seq",
            (project_id, memory_id),
        ))
        return [POSTGRES.event(r) for r in rows]

    def entities(self, project_id: str) -> list[Entity]:
        rows = self._read(lambda c: _rows(c, POSTGRES.entities_select(), (project_id,) * 4))
        return [POSTGRES.entity(r) for r in rows]

    # search ------------------------------------------------------------------
    def vector_search(self, project_id: str, vector: Vectors, where: Node | None, k: int) -> list[tuple[str, float]]:
        if k <= 0:
            return []
        dim = int(len(vector))
        sql, params = compile_where(where)
        q = vector_text(vector)
        distance = _distance(dim)
        base = f"SELECT m.id, {distance} FROM memories m WHERE m.project_id = %s AND m.dim = {dim} AND {sql} "
        exact_sql = base + f"ORDER BY {distance} + 0, m.id LIMIT %s"

        def fn(c: psycopg.Connection) -> list[tuple[str, float]]:
            with c.transaction():
                few = self._exact_if_few(c, project_id, dim, sql, params, q, k) if where is not None else None
                if few is not None:
                    return sorted(((r[0], _similarity(r[1])) for r in few), key=lambda h: -h[1])
                size = _row(c, "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), reltuples "
                               "FROM pg_class WHERE oid = 'memories'::regclass")
                ef = self.ef_search if self.ef_search is not None else ef_search_for(float(size[1]) if size else 0, k)
                ef = int(min(max(ef, k), _EF_SEARCH_MAX))
                c.execute(f"SET LOCAL hnsw.ef_search = {ef}")
                rows = _rows(c, base + f"ORDER BY {distance} LIMIT %s", (q, project_id, *params, q, k))
                if len(rows) < k:
                    # Fewer than k from the approximate index: score every row the filter admits. `+ 0` keeps the
                    # planner off the HNSW index, whose ordering operator matches only the bare distance.
                    rows = _rows(c, exact_sql, (q, project_id, *params, q, k))
            hits = [(r[0], _similarity(r[1])) for r in rows]
            hits.sort(key=lambda h: -h[1])  # relaxed order: the index may return near-ties slightly out of order
            return hits

        return self._read(fn)

    def _exact_if_few(self, c: psycopg.Connection, project_id: str, dim: int, sql: str, params: Sequence[Any],
                      q: str, k: int) -> list[tuple[Any, ...]] | None:
        """The k nearest the filter admits, scored exactly, when it admits at most `exact_below` rows and at most 5%
        of the project's (a graph walk visits about k / selectivity nodes, an exact scan reads every admitted row:
        at 100k rows a 10% filter is faster through the graph, at 1M a 1% filter is faster exactly); else None.
        The planner's estimates first (planning only, no scan); it cannot see inside metadata, so a low estimate is
        checked: one statement reads the admitted rows (stopping at `exact_below` + 1), counts them and ranks them,
        so the rows a selective filter admits are read once."""

        def estimate(where: str, args: Sequence[Any]) -> float:
            plan = _row(c, f"EXPLAIN (FORMAT JSON) SELECT 1 FROM memories m WHERE {where}", args)
            try:
                return float(plan[0][0]["Plan"]["Plan Rows"]) if plan else float("inf")
            except (KeyError, IndexError, TypeError, ValueError):
                return float("inf")

        admitted = estimate(f"m.project_id = %s AND {sql}", (project_id, *params))
        if admitted > self.exact_below or admitted > 0.05 * estimate("m.project_id = %s", (project_id,)):
            return None
        rows = _rows(c, f"WITH a AS MATERIALIZED (SELECT m.id, {_distance(dim)} AS d FROM memories m "
                        f"WHERE m.project_id = %s AND m.dim = {dim} AND {sql} LIMIT %s) "
                        "SELECT a.id, a.d, (SELECT count(*) FROM a) FROM a ORDER BY a.d, a.id LIMIT %s",
                     (q, project_id, *params, self.exact_below + 1, k))
        if rows and int(rows[0][2]) > self.exact_below:
            return None
        return [(r[0], r[1]) for r in rows]

    def keyword_search(self, project_id: str, terms: Sequence[str], where: Node | None, k: int) -> list[tuple[str, float]]:
        """BM25 with the statistics of the scope `where` admits (see store/keyword.py), english stemming and stop
        words. One read of the scope's first SCOPE_COUNT_CAP memories counts the scope and each term's matches
        among them; a term the sample settles is not looked up (`keyword.needs_lookup`: at 1,000,000 memories a
        word held by 4% of them costs 20-60 ms through the GIN index, which answers with every match before a
        filter or LIMIT applies). The others: one full-text query each through the GIN index on (project_id,
        tsv). Every statement is planned for its values (a generic plan reads every match of a word under a
        selective filter)."""
        if not terms or k <= 0:
            return []
        sql, params = compile_where(where)
        unique = list(dict.fromkeys(terms))
        held = ", ".join("count(*) FILTER (WHERE s.tsv @@ plainto_tsquery('english', %s))" for _ in unique)
        sample = (f"SELECT count(*), {held} FROM (SELECT m.tsv FROM memories m WHERE m.project_id = %s AND {sql} "
                  "LIMIT %s) s")
        lookup = ("SELECT m.id, m.seq, length(m.text) FROM memories m WHERE m.project_id = %s "
                  f"AND m.tsv @@ plainto_tsquery('english', %s) AND {sql} LIMIT %s")

        def fn(c: psycopg.Connection) -> list[tuple[str, float]]:
            counts = _row(c, sample, (*unique, project_id, *params, keyword.SCOPE_COUNT_CAP), prepare=False)
            assert counts is not None  # an aggregate always answers one row
            sampled = int(counts[0])
            per_term = [_rows(c, lookup, (project_id, term, *params, keyword.KEYWORD_BUDGET + 1), prepare=False)
                        if keyword.needs_lookup(int(seen), sampled) else []
                        for term, seen in zip(unique, counts[1:], strict=True)]
            return keyword.bm25(per_term, sampled, k)

        return self._read(fn)

    def neighbours(self, project_id: str, ids: Sequence[str], vector: Vectors, where: Node | None,
                   radius: int) -> list[Neighbour]:
        if not ids:
            return []
        sql, params = compile_where(where)
        dim = int(len(vector))
        args: list[Any] = [project_id, list(dict.fromkeys(ids)), *params]
        parts = ["SELECT a.id AS anchor, a.id, 0 AS side, a.created_at, a.seq FROM a"]
        if radius > 0:
            for side, cmp, order in ((-1, "<", "DESC"), (1, ">", "ASC")):
                # A run is (owners, run_id); runs are read through the (project_id, run_id) index.
                parts.append(
                    f"SELECT a.id, n.id, {side}, n.created_at, n.seq FROM a CROSS JOIN LATERAL ("
                    "SELECT m.id, m.created_at, m.seq FROM memories m WHERE m.project_id = %s AND m.run_id = a.run_id "
                    "AND m.user_id IS NOT DISTINCT FROM a.user_id AND m.agent_id IS NOT DISTINCT FROM a.agent_id "
                    "AND m.app_id IS NOT DISTINCT FROM a.app_id "
                    f"AND (m.created_at, m.seq) {cmp} (a.created_at, a.seq) AND {sql} "
                    f"ORDER BY m.created_at {order}, m.seq {order} LIMIT %s) n WHERE a.run_id IS NOT NULL"
                )
                args += [project_id, *params, radius]
        args += [vector_text(vector), project_id]
        query = (
            "WITH a AS (SELECT m.seq, m.id, m.user_id, m.agent_id, m.app_id, m.run_id, m.created_at FROM memories m "
            f"WHERE m.project_id = %s AND m.id = ANY(%s) AND {sql}), n AS ({' UNION ALL '.join(parts)}) "
            f"SELECT n.anchor, n.id, n.side, n.created_at, n.seq, CASE WHEN m.dim = {dim} "
            f"THEN (m.embedding::vector({dim})) <=> %s::vector({dim}) END "
            ", m.text, m.metadata FROM n JOIN memories m ON m.project_id = %s AND m.id = n.id"
        )
        rows = self._read(lambda c: _rows(c, query, args))
        return regroup_neighbours((anchor, nid, side, created, seq, _similarity(distance), text, metadata or {})
                                  for anchor, nid, side, created, seq, distance, text, metadata in rows)

    # feedback and records ------------------------------------------------------
    def set_feedback(self, project_id: str, memory_id: str, feedback: str | None, reason: str | None) -> Memory | None:
        def fn(c: psycopg.Connection) -> tuple[Any, ...] | None:
            c.execute("UPDATE memories SET feedback = %s, feedback_reason = %s WHERE project_id = %s AND id = %s",
                      (feedback, reason, project_id, memory_id))
            return _row(c, f"SELECT {MEMORY_COLUMNS} FROM {FROM} WHERE m.project_id = %s AND m.id = %s",
                        (project_id, memory_id))

        row = self._write(fn)
        return _memory(row) if row else None

    def put_record(self, project_id: str, kind: str, record_id: str, body: dict[str, Any], at: datetime,
                   expires_at: datetime | None = None) -> None:
        def fn(c: psycopg.Connection) -> None:
            c.execute("DELETE FROM records WHERE project_id = %s AND expires_at <= %s", (project_id, at))
            c.execute(
                "INSERT INTO records(project_id, kind, id, body, created_at, updated_at, expires_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (project_id, kind, id) DO UPDATE SET "
                "body = excluded.body, updated_at = excluded.updated_at, expires_at = excluded.expires_at",
                (project_id, kind, record_id, Jsonb(body), at, at, expires_at),
            )

        self._write(fn)

    def get_record(self, project_id: str, kind: str, record_id: str, now: datetime) -> dict[str, Any] | None:
        row = self._read(lambda c: _row(
            c, "SELECT body FROM records WHERE project_id = %s AND kind = %s AND id = %s "
            "AND (expires_at IS NULL OR expires_at > %s)", (project_id, kind, record_id, now)))
        return dict(row[0]) if row else None

    def list_records(self, project_id: str, kind: str, now: datetime, limit: int) -> list[dict[str, Any]]:
        rows = self._read(lambda c: _rows(
            c, "SELECT body FROM records WHERE project_id = %s AND kind = %s "
            "AND (expires_at IS NULL OR expires_at > %s) ORDER BY updated_at DESC, id LIMIT %s",
            (project_id, kind, now, limit)))
        return [dict(r[0]) for r in rows]

    # `list` comes last: a method named list would shadow the builtin in annotations below it.
    def list(self, project_id: str, where: Node | None, limit: int, offset: int = 0) -> Page:
        sql, params = compile_where(where)

        def fn(c: psycopg.Connection) -> tuple[tuple[Any, ...] | None, list[tuple[Any, ...]]]:
            with c.transaction():
                count = _row(c, f"SELECT count(*) FROM memories m WHERE m.project_id = %s AND {sql}", (project_id, *params))
                rows = _rows(
                    c,
                    f"SELECT {MEMORY_COLUMNS} FROM {FROM} WHERE m.project_id = %s AND {sql} "
                    "ORDER BY m.created_at DESC, m.seq DESC LIMIT %s OFFSET %s",
                    (project_id, *params, limit, offset),
                )
            return count, rows

        count, rows = self._read(fn)
        return Page([_memory(r) for r in rows], int(count[0]) if count else 0)
