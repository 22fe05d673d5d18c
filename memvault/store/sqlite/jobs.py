"""The queue of async adds in the SQLite store (the `JobStore` part of the protocol), as a mixin of SQLiteStore.
Every write is one BEGIN IMMEDIATE transaction, which SQLite serializes across threads and processes: two claims
never take one job, and a finish sees the lease as it is. A finished job's request is blanked; a failed one's old bytes
also leave the files at a compaction, as a delete's do (a successful one's text lives on in its memories, whose
delete does the same)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ...embed.base import Vectors
from ...models import ChangeEvent, EventQuery, HistoryEvent, Job, Memory
from .. import changelog as L
from ..base import AddWrite, MemoryChange, Supersession
from ..sql import SQLFlavor
from .connection import _one, _row, _rows, sqlite3
from .where import from_ts, ts

_JOB_COLUMNS = ("id, project_id, status, request, results, error, attempts, created_at, updated_at, lease_owner, "
                "lease_expires")
_FINISHED = "('SUCCEEDED', 'FAILED')"


def _job(row: Sequence[Any]) -> Job:
    return Job(row[0], row[1], row[2], json.loads(row[3]) if row[3] else None,
               json.loads(row[4]) if row[4] else None, row[5], int(row[6]), from_ts(row[7]), from_ts(row[8]),
               row[9], from_ts(row[10]) if row[10] else None)


class SQLiteJobs:
    """JobStore over the store's connection and transactions (see SQLiteStore)."""

    _flavor: SQLFlavor
    if TYPE_CHECKING:  # provided by SQLiteStore
        def _conn(self) -> sqlite3.Connection: ...
        def _forgotten(self, c: sqlite3.Connection) -> None: ...
        @staticmethod
        def _log_where(project_id: str, query: EventQuery) -> tuple[str, list[Any]]: ...
        def _tx(self) -> AbstractContextManager[sqlite3.Connection]: ...
        def _insert_in(self, c: sqlite3.Connection, memories: Sequence[Memory], vectors: Vectors,
                       events: Sequence[HistoryEvent], *, skip_taken: bool, supersede: Sequence[Supersession] = (),
                       changes: Sequence[MemoryChange] = ()) -> list[str]: ...
        def _update(self, c: sqlite3.Connection, project_id: str, changes: Sequence[MemoryChange]) -> list[Memory]: ...

    def enqueue_job(self, job_id: str, project_id: str, request: dict[str, Any], at: datetime) -> None:
        with self._tx() as c:
            c.execute("INSERT INTO jobs(id, project_id, status, request, created_at, updated_at) "
                      "VALUES (?, ?, 'PENDING', ?, ?, ?)", (job_id, project_id, json.dumps(request), ts(at), ts(at)))

    def claim_job(self, worker_id: str, now: datetime, lease_until: datetime) -> Job | None:
        if _row(self._conn(), "SELECT 1 FROM jobs WHERE status = 'PENDING' LIMIT 1") is None:
            return None  # an idle worker's look takes no write lock
        with self._tx() as c:
            row = _row(c, "SELECT id FROM jobs WHERE status = 'PENDING' ORDER BY rowid LIMIT 1")
            if row is None:
                return None
            c.execute("UPDATE jobs SET status = 'RUNNING', lease_owner = ?, lease_expires = ?, attempts = attempts + 1, "
                      "updated_at = ? WHERE id = ?", (worker_id, ts(lease_until), ts(now), row[0]))
            claimed = _row(c, f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (row[0],))
        assert claimed is not None
        return _job(claimed)

    def finish_job(self, project_id: str, job_id: str, worker_id: str, at: datetime, *,
                   results: list[dict[str, Any]] | None = None, error: str | None = None,
                   write: AddWrite | None = None) -> bool:
        with self._tx() as c:
            held = _row(c, "SELECT 1 FROM jobs WHERE project_id = ? AND id = ? AND status = 'RUNNING' AND lease_owner = ?",
                        (project_id, job_id, worker_id))
            if held is None:
                return False
            if write is not None and write.memories:
                self._insert_in(c, write.memories, write.vectors, write.events, skip_taken=False,
                                supersede=write.supersede, changes=write.changes)
            elif write is not None and write.changes:
                self._update(c, project_id, write.changes)
            c.execute("UPDATE jobs SET status = ?, request = NULL, results = ?, error = ?, lease_owner = NULL, "
                      "lease_expires = NULL, updated_at = ? WHERE project_id = ? AND id = ?",
                      ("FAILED" if error is not None else "SUCCEEDED", json.dumps(results or []), error, ts(at),
                       project_id, job_id))
            if error is not None:  # the messages of an add that was never made leave the files too
                self._forgotten(c)
        return True

    def renew_job(self, project_id: str, job_id: str, worker_id: str, lease_until: datetime) -> bool:
        with self._tx() as c:
            cur = c.execute("UPDATE jobs SET lease_expires = ? WHERE project_id = ? AND id = ? AND status = 'RUNNING' "
                            "AND lease_owner = ?", (ts(lease_until), project_id, job_id, worker_id))
            return cur.rowcount > 0

    def reclaim_jobs(self, now: datetime, max_attempts: int) -> int:
        if _row(self._conn(), "SELECT 1 FROM jobs WHERE status = 'RUNNING' AND lease_expires < ? LIMIT 1", (ts(now),)) is None:
            return 0
        with self._tx() as c:
            cur = c.execute(
                "UPDATE jobs SET status = 'FAILED', request = NULL, results = '[]', lease_owner = NULL, "
                "lease_expires = NULL, updated_at = ?, error = 'the job was interrupted ' || attempts || ' times' "
                "WHERE status = 'RUNNING' AND lease_expires < ? AND attempts >= ?", (ts(now), ts(now), max_attempts))
            if cur.rowcount:  # the messages of adds that were never made leave the files too
                self._forgotten(c)
            cur = c.execute("UPDATE jobs SET status = 'PENDING', lease_owner = NULL, lease_expires = NULL, updated_at = ? "
                            "WHERE status = 'RUNNING' AND lease_expires < ?", (ts(now), ts(now)))
            return int(cur.rowcount)

    def get_job(self, project_id: str, job_id: str) -> Job | None:
        rows = _rows(self._conn(), f"SELECT {_JOB_COLUMNS} FROM jobs WHERE project_id = ? AND id = ?", (project_id, job_id))
        return _job(rows[0]) if rows else None

    def trim_jobs(self, before: datetime, limit: int) -> int:
        with self._tx() as c:
            cur = c.execute(f"DELETE FROM jobs WHERE rowid IN (SELECT rowid FROM jobs WHERE status IN {_FINISHED} "
                            "AND updated_at < ? ORDER BY rowid LIMIT ?)", (ts(before), limit))
            return int(cur.rowcount)

    def feed(self, project_id: str, query: EventQuery, limit: int, offset: int = 0, *,
             job_statuses: Sequence[str] = (), changes: bool = True) -> tuple[list[ChangeEvent | Job], int]:
        jobs, jargs = ["project_id = ?", "status IN (SELECT value FROM json_each(?))"], \
            list[Any]([project_id, json.dumps(list(job_statuses))])
        events, eargs = self._log_where(project_id, query)
        if query.since is not None:
            jobs.append("created_at >= ?")
            jargs.append(ts(query.since))
        count_sql, count_args, keys_sql, args = L.feed_queries(
            "?", " AND ".join(jobs), jargs, "rowid", "change_log", events, eargs, changes=changes, limit=limit,
            offset=offset)
        conn = self._conn()
        total = _one(conn, count_sql, count_args)
        keys = _rows(conn, keys_sql, args)
        seqs, rowids = [n for k, n in keys if k == 0], [n for k, n in keys if k == 1]
        found: dict[tuple[int, int], ChangeEvent | Job] = {}
        if seqs:
            for r in _rows(conn, f"{L.EVENT_SELECT_BY_SEQ} WHERE e.project_id = ? AND e.seq IN (SELECT value FROM json_each(?))",
                           (project_id, json.dumps(seqs))):
                found[(0, int(r[0]))] = L.change_event(self._flavor, r)
        if rowids:
            for r in _rows(conn, f"SELECT rowid, {_JOB_COLUMNS} FROM jobs WHERE project_id = ? AND rowid IN "
                           "(SELECT value FROM json_each(?))", (project_id, json.dumps(rowids))):
                found[(1, int(r[0]))] = _job(r[1:])
        # a row trimmed between the page and its read is left out
        return [found[(k, n)] for k, n in keys if (k, n) in found], int(total)
