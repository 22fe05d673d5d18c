"""The queue of async adds in the PostgreSQL store (the `JobStore` part of the protocol), as a mixin of
PostgresStore. Every server on the database shares it: a claim takes the oldest PENDING job with
`FOR UPDATE SKIP LOCKED` (two claims never take one job, and neither waits for the other), and a finish locks the
job's row and checks the lease before it writes anything. A finished job's request is blanked; `compact` vacuums the
table, so the old row versions leave the files."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from psycopg.types.json import Jsonb

from ...embed.base import Vectors
from ...models import ChangeEvent, EventQuery, HistoryEvent, Job, Memory
from .. import changelog as L
from ..base import AddWrite, MemoryChange, Supersession
from ..sql import SQLFlavor

T = TypeVar("T")
_JOB_COLUMNS = ("id, project_id, status, request, results, error, attempts, created_at, updated_at, lease_owner, "
                "lease_expires")


def _job(row: Sequence[Any]) -> Job:
    return Job(row[0], row[1], row[2], row[3], row[4], row[5], int(row[6]), row[7], row[8], row[9], row[10])


def _rows(c: psycopg.Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with c.execute(sql, params or None) as cur:  # type: ignore[arg-type]  # SQL built here, never from input
        return cur.fetchall()


class PostgresJobs:
    """JobStore over the store's pool (see PostgresStore)."""

    _flavor: SQLFlavor
    if TYPE_CHECKING:  # provided by PostgresStore
        def _read(self, fn: Callable[[psycopg.Connection], T]) -> T: ...
        def _write(self, fn: Callable[[psycopg.Connection], T]) -> T: ...
        def _ensure_dims(self, dims: set[int]) -> None: ...
        @staticmethod
        def _log_where(project_id: str, query: EventQuery) -> tuple[str, list[Any]]: ...
        def _insert_in(self, c: psycopg.Connection, memories: Sequence[Memory], vectors: Vectors,
                       events: Sequence[HistoryEvent], *, skip_taken: bool, supersede: Sequence[Supersession] = (),
                       changes: Sequence[MemoryChange] = ()) -> list[str]: ...
        def _update(self, c: psycopg.Connection, project_id: str, changes: Sequence[MemoryChange]) -> list[Memory]: ...

    def enqueue_job(self, job_id: str, project_id: str, request: dict[str, Any], at: datetime) -> None:
        self._write(lambda c: c.execute(
            "INSERT INTO jobs(project_id, id, status, request, created_at, updated_at) "
            "VALUES (%s, %s, 'PENDING', %s, %s, %s)", (project_id, job_id, Jsonb(request), at, at)))

    def claim_job(self, worker_id: str, now: datetime, lease_until: datetime) -> Job | None:
        def fn(c: psycopg.Connection) -> Job | None:
            rows = _rows(c, f"UPDATE jobs SET status = 'RUNNING', lease_owner = %s, lease_expires = %s, "
                         "attempts = attempts + 1, updated_at = %s WHERE (project_id, id) = ("
                         "SELECT project_id, id FROM jobs WHERE status = 'PENDING' ORDER BY seq LIMIT 1 "
                         f"FOR UPDATE SKIP LOCKED) RETURNING {_JOB_COLUMNS}", (worker_id, lease_until, now))
            return _job(rows[0]) if rows else None

        return self._write(fn)

    def finish_job(self, project_id: str, job_id: str, worker_id: str, at: datetime, *,
                   results: list[dict[str, Any]] | None = None, error: str | None = None,
                   write: AddWrite | None = None) -> bool:
        if write is not None:
            self._ensure_dims({len(v) for v in write.vectors}
                              | {len(ch.vector) for ch in write.changes if ch.vector is not None})
        return self._write(functools.partial(self._finish, project_id=project_id, job_id=job_id, worker_id=worker_id,
                                             at=at, results=results, error=error, write=write))

    def _finish(self, c: psycopg.Connection, project_id: str, job_id: str, worker_id: str, at: datetime,
                results: list[dict[str, Any]] | None, error: str | None, write: AddWrite | None) -> bool:
        held = _rows(c, "SELECT 1 FROM jobs WHERE project_id = %s AND id = %s AND status = 'RUNNING' "
                     "AND lease_owner = %s FOR UPDATE", (project_id, job_id, worker_id))
        if not held:
            return False
        if write is not None and write.memories:
            self._insert_in(c, write.memories, write.vectors, write.events, skip_taken=False,
                            supersede=write.supersede, changes=write.changes)
        elif write is not None and write.changes:
            self._update(c, project_id, write.changes)
        c.execute("UPDATE jobs SET status = %s, request = NULL, results = %s, error = %s, lease_owner = NULL, "
                  "lease_expires = NULL, updated_at = %s WHERE project_id = %s AND id = %s",
                  ("FAILED" if error is not None else "SUCCEEDED", Jsonb(results or []), error, at, project_id, job_id))
        return True

    def renew_job(self, project_id: str, job_id: str, worker_id: str, lease_until: datetime) -> bool:
        return bool(self._write(lambda c: _rows(
            c, "UPDATE jobs SET lease_expires = %s WHERE project_id = %s AND id = %s AND status = 'RUNNING' "
            "AND lease_owner = %s RETURNING id", (lease_until, project_id, job_id, worker_id))))

    def reclaim_jobs(self, now: datetime, max_attempts: int) -> int:
        def fn(c: psycopg.Connection) -> int:
            c.execute("UPDATE jobs SET status = 'FAILED', request = NULL, results = '[]', lease_owner = NULL, "
                      "lease_expires = NULL, updated_at = %s, error = 'the job was interrupted ' || attempts || ' times' "
                      "WHERE status = 'RUNNING' AND lease_expires < %s AND attempts >= %s", (now, now, max_attempts))
            back = _rows(c, "UPDATE jobs SET status = 'PENDING', lease_owner = NULL, lease_expires = NULL, "
                         "updated_at = %s WHERE status = 'RUNNING' AND lease_expires < %s RETURNING id", (now, now))
            return len(back)

        return self._write(fn)

    def get_job(self, project_id: str, job_id: str) -> Job | None:
        rows = self._read(lambda c: _rows(c, f"SELECT {_JOB_COLUMNS} FROM jobs WHERE project_id = %s AND id = %s",
                                          (project_id, job_id)))
        return _job(rows[0]) if rows else None

    def trim_jobs(self, before: datetime, limit: int) -> int:
        return len(self._write(lambda c: _rows(
            c, "DELETE FROM jobs WHERE (project_id, id) IN (SELECT project_id, id FROM jobs WHERE status IN "
            "('SUCCEEDED', 'FAILED') AND updated_at < %s ORDER BY seq LIMIT %s) RETURNING id", (before, limit))))

    def feed(self, project_id: str, query: EventQuery, limit: int, offset: int = 0, *,
             job_statuses: Sequence[str] = (), changes: bool = True) -> tuple[list[ChangeEvent | Job], int]:
        jobs, jargs = ["project_id = %s", "status = ANY(%s)"], list[Any]([project_id, list(job_statuses)])
        events, eargs = self._log_where(project_id, query)
        if query.since is not None:
            jobs.append("created_at >= %s")
            jargs.append(query.since)
        count_sql, count_args, keys_sql, args = L.feed_queries(
            "%s", " AND ".join(jobs), jargs, "seq", "events", events, eargs, changes=changes, limit=limit, offset=offset)

        def fn(c: psycopg.Connection) -> tuple[list[ChangeEvent | Job], int]:
            with c.transaction():
                [(total,)] = _rows(c, count_sql, count_args)
                keys = _rows(c, keys_sql, args)
                found: dict[tuple[int, int], ChangeEvent | Job] = {}
                seqs, job_seqs = [n for k, n in keys if k == 0], [n for k, n in keys if k == 1]
                if seqs:
                    for r in _rows(c, f"{L.EVENT_SELECT} WHERE e.project_id = %s AND e.seq = ANY(%s)",
                                   (project_id, seqs)):
                        found[(0, int(r[0]))] = L.change_event(self._flavor, r)
                if job_seqs:
                    for r in _rows(c, f"SELECT seq, {_JOB_COLUMNS} FROM jobs WHERE project_id = %s AND seq = ANY(%s)",
                                   (project_id, job_seqs)):
                        found[(1, int(r[0]))] = _job(r[1:])
            # a row trimmed between the page and its read is left out
            return [found[(k, n)] for k, n in keys if (k, n) in found], int(total)

        return self._read(fn)
