"""The change log and the webhooks of the SQLite store (mixed into SQLiteStore). Writes are serialized by SQLite
(BEGIN IMMEDIATE), so the log's seq order is its commit order.

A log row (table `change_log`) is keyed by the seq of the history event it logs and holds only its origin
(migration 0014, and store/changelog.py): the event's id, memory and owners are read from the history row, met by
rowid. So the log has one index (by project in log order), and an event is found by id or by memory through the
history's indexes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ...models import ChangeEvent, DeliveryState, EventQuery, HistoryEvent, Webhook
from .. import changelog as L
from ..sql import SQLFlavor
from .connection import _one, _row, _rows, sqlite3
from .where import ts

_PROJECTS_PAGE = 1000
_SELECT = L.EVENT_SELECT_BY_SEQ
# The rows of one write in one statement (binding 10 values a row from Python cost 6 ms per 1,000 rows, this 1 ms):
# seq from the first history seq on, in the order given; per row its project, type and detail, the rest shared.
_LOG_INSERT = ("INSERT INTO change_log(seq, project_id, type, detail, actor, key_id, key_name, request_id, batch_id, "
               "created_at) SELECT ? + key, value ->> 0, value ->> 1, value ->> 2, ?, ?, ?, ?, ?, ? FROM json_each(?)")


class SQLiteEvents:
    _flavor: SQLFlavor
    if TYPE_CHECKING:
        def _conn(self) -> sqlite3.Connection: ...
        def _tx(self) -> AbstractContextManager[sqlite3.Connection]: ...

    # written by every memory write (from _insert_events, in its transaction) -------------------------------------
    def _log(self, c: sqlite3.Connection, events: Sequence[HistoryEvent], seq: int | None = None) -> None:
        """Right after `events` went into the history (one executemany, in this order): their rows there took
        consecutive seqs ending at the last rowid inserted (no other writer runs inside this transaction, and the
        history keeps every row, so a new rowid is the largest one plus one). Both ends are checked, since a log row
        on the wrong history row would tell another memory's story. `seq`: the rowid of a lone event, as its own
        INSERT answered it (the row that statement made: nothing to check)."""
        if seq is not None and len(events) == 1:
            first = seq
        else:
            last = int(_one(c, "SELECT last_insert_rowid()"))
            first = last - len(events) + 1
            ends = dict(_rows(c, "SELECT seq, id FROM history WHERE seq IN (?, ?)", (first, last)))
            if ends.get(first) != events[0].id or ends.get(last) != events[-1].id:
                raise RuntimeError("the history events just written are not where the change log expects them")
        shared, rows = L.origin_values(self._flavor, events)
        c.execute(_LOG_INSERT, (first, *shared, json.dumps(rows, ensure_ascii=False)))

    # reads ----------------------------------------------------------------------------------------------------------
    @staticmethod
    def _log_where(project_id: str, query: EventQuery) -> tuple[str, list[Any]]:
        """The WHERE of a project's log rows (`change_log e`) that `query` asks for, and its arguments."""
        where, args = ["e.project_id = ?"], list[Any]([project_id])
        if query.types:
            where.append("e.type IN (SELECT value FROM json_each(?))")
            args.append(json.dumps(list(query.types)))
        if query.memory_id is not None:  # through the history's index by memory, then the log by rowid
            where.append("e.seq IN (SELECT seq FROM history WHERE project_id = ? AND memory_id = ?)")
            args += [project_id, query.memory_id]
        if query.since is not None:
            where.append("e.created_at >= ?")
            args.append(ts(query.since))
        return " AND ".join(where), args

    def events(self, project_id: str, query: EventQuery, limit: int, offset: int = 0) -> tuple[list[ChangeEvent], int]:
        sql, args = self._log_where(project_id, query)
        conn = self._conn()
        total = _one(conn, f"SELECT count(*) FROM change_log e WHERE {sql}", args)
        rows = _rows(conn, f"{_SELECT} WHERE {sql} ORDER BY e.seq DESC LIMIT ? OFFSET ?", (*args, limit, offset))
        return [L.change_event(self._flavor, r) for r in rows], int(total)

    def event_batch(self, project_id: str, event_id: str) -> list[ChangeEvent]:
        conn = self._conn()

        def by_id(eid: str) -> ChangeEvent | None:  # through the history event of the same id (no index of its own)
            row = _row(conn, f"{_SELECT} WHERE e.project_id = ? AND e.seq = "
                       "(SELECT seq FROM history WHERE id = ? AND project_id = ?)", (project_id, eid, project_id))
            return L.change_event(self._flavor, row) if row else None

        def from_seq(seq: int) -> list[ChangeEvent]:
            rows = _rows(conn, f"{_SELECT} WHERE e.project_id = ? AND e.seq >= ? ORDER BY e.seq LIMIT ?",
                         (project_id, seq, L.MAX_BATCH_SHOWN))
            return [L.change_event(self._flavor, r) for r in rows]

        return L.batch_around(event_id, by_id, from_seq)

    def events_after(self, project_id: str, after: int, limit: int) -> list[ChangeEvent]:
        rows = _rows(self._conn(), f"{_SELECT} WHERE e.project_id = ? AND e.seq > ? ORDER BY e.seq LIMIT ?",
                     (project_id, after, limit))
        return [L.change_event(self._flavor, r) for r in rows]

    def trim_events(self, before: datetime, limit: int) -> int:
        with self._tx() as c:  # the oldest rows first, by seq (write times grow with it)
            cur = c.execute("DELETE FROM change_log WHERE seq IN (SELECT seq FROM change_log WHERE created_at < ? ORDER BY seq "
                            "LIMIT ?)", (ts(before), limit))
            return int(cur.rowcount)

    # webhooks --------------------------------------------------------------------------------------------------------
    def add_webhook(self, project_id: str, name: str, url: str, event_types: Sequence[str], secret: str,
                    at: datetime) -> Webhook:
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO webhooks(project_id, name, url, event_types, secret, cursor, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, max(coalesce((SELECT max(seq) FROM history), 0), "  # a new event's seq is above
                "coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'change_log'), 0)), ?, ?)",
                (project_id, name, url, json.dumps(list(event_types)), secret, ts(at), ts(at)),
            )
            row = _row(c, f"SELECT {L.WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?", (cur.lastrowid,))
        assert row is not None
        return L.webhook(self._flavor, row)

    def list_webhooks(self, project_id: str | None) -> list[Webhook]:
        sql, args = f"SELECT {L.WEBHOOK_COLUMNS} FROM webhooks", tuple[str, ...]()
        if project_id is not None:
            sql, args = sql + " WHERE project_id = ?", (project_id,)
        return [L.webhook(self._flavor, r) for r in _rows(self._conn(), sql + " ORDER BY id", args)]

    def get_webhook(self, project_id: str, webhook_id: int) -> Webhook | None:
        row = _row(self._conn(), f"SELECT {L.WEBHOOK_COLUMNS} FROM webhooks WHERE project_id = ? AND id = ?",
                   (project_id, webhook_id))
        return L.webhook(self._flavor, row) if row else None

    def update_webhook(self, project_id: str, webhook_id: int, at: datetime, *, name: str | None = None,
                       url: str | None = None, event_types: Sequence[str] | None = None) -> Webhook | None:
        sets, args = ["updated_at = ?", "is_active = 1", "attempts = 0", "failing_since = NULL",
                      "next_attempt_at = NULL", "last_error = NULL", "disabled_at = NULL"], list[Any]([ts(at)])
        for column, value in (("name", name), ("url", url),
                              ("event_types", json.dumps(list(event_types)) if event_types is not None else None)):
            if value is not None:
                sets.append(f"{column} = ?")
                args.append(value)
        with self._tx() as c:
            c.execute(f"UPDATE webhooks SET {', '.join(sets)} WHERE project_id = ? AND id = ?",
                      (*args, project_id, webhook_id))
        return self.get_webhook(project_id, webhook_id)

    def delete_webhook(self, project_id: str, webhook_id: int) -> bool:
        with self._tx() as c:
            cur = c.execute("DELETE FROM webhooks WHERE project_id = ? AND id = ?", (project_id, webhook_id))
            return bool(cur.rowcount)

    def claim_webhook(self, project_id: str, webhook_id: int, owner: str, until: datetime, now: datetime) -> bool:
        with self._tx() as c:
            cur = c.execute(
                "UPDATE webhooks SET lease_owner = ?, lease_until = ? WHERE project_id = ? AND id = ? AND is_active = 1 "
                "AND (lease_owner IS NULL OR lease_owner = ? OR lease_until < ?)",
                (owner, ts(until), project_id, webhook_id, owner, ts(now)),
            )
            return bool(cur.rowcount)

    def save_delivery(self, project_id: str, webhook_id: int, owner: str, state: DeliveryState, at: datetime) -> bool:
        def when(value: datetime | None) -> Any:
            return ts(value) if value is not None else None

        with self._tx() as c:
            cur = c.execute(
                "UPDATE webhooks SET cursor = ?, attempts = ?, failing_since = ?, next_attempt_at = ?, last_error = ?, "
                "is_active = ?, disabled_at = ?, lease_owner = CASE WHEN ? THEN NULL ELSE lease_owner END "
                "WHERE project_id = ? AND id = ? AND lease_owner = ?",
                (state.cursor, state.attempts, when(state.failing_since), when(state.next_attempt_at), state.last_error,
                 0 if state.disabled else 1, ts(at) if state.disabled else None, state.disabled,
                 project_id, webhook_id, owner),
            )
            return bool(cur.rowcount)
