"""The change log and the webhooks of the PostgreSQL store (mixed into PostgresStore).

Seq values come from an identity, handed out when a row is inserted, not when it commits: two writers of one
project could commit their log rows out of seq order, and a reader that moved past the later one would never see
the earlier. So a writer takes a transaction-scoped advisory lock on its project before it writes log rows, held to
its commit: within a project, seq order is commit order (writers of other projects do not wait)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg

from ...models import ChangeEvent, DeliveryState, EventQuery, HistoryEvent, Webhook, event_detail_of, event_type_of
from .. import changelog as L
from ..sql import SQLFlavor

T = TypeVar("T")
_LOG_MANY = (
    "INSERT INTO events(actor, key_id, key_name, request_id, batch_id, created_at, id, project_id, type, memory_id, "
    "user_id, agent_id, app_id, run_id, detail) SELECT %s, %s, %s, %s, %s, %s, e.id, e.project_id, e.type, e.memory_id, "
    "e.user_id, e.agent_id, e.app_id, e.run_id, e.detail::jsonb FROM unnest(%s::text[], %s::text[], %s::text[], "
    "%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[]) WITH ORDINALITY "
    "AS e(id, project_id, type, memory_id, user_id, agent_id, app_id, run_id, detail, n) ORDER BY e.n")
LOG_LOCK = 0x6D76  # "mv": the advisory lock class of the change log (its key: the project id's hash)


def _rows(c: psycopg.Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """The rows fetched whole and the cursor closed before anything decodes them (as the store's own `_rows`)."""
    with c.execute(sql, params or None) as cur:  # type: ignore[arg-type]  # SQL built here, never from input
        return cur.fetchall()


def _row(c: psycopg.Connection, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
    rows = _rows(c, sql, params)
    return rows[0] if rows else None


class PostgresEvents:
    _flavor: SQLFlavor
    if TYPE_CHECKING:
        def _read(self, fn: Callable[[psycopg.Connection], T]) -> T: ...
        def _write(self, fn: Callable[[psycopg.Connection], T]) -> T: ...

    # written by every memory write (from _insert_events, in its transaction) -------------------------------------
    def _log(self, c: psycopg.Connection, events: Sequence[HistoryEvent]) -> None:
        for project_id in sorted({e.project_id for e in events}):  # in one order everywhere: no deadlock between them
            c.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (LOG_LOCK, project_id))
        if len(events) == 1:
            c.execute(L.log_insert(self._flavor), L.log_values(self._flavor, events)[0])
            return
        # Many rows (a bulk delete's) in one statement, in their order (statement by statement they cost a delete of
        # 100 memories ~1.5 ms, an eighth of it): each event's own values as arrays, the write's shared ones once.
        shared, _ = L.origin_values(self._flavor, events)
        columns = list(zip(*((e.id, e.project_id, event_type_of(e), e.memory_id, e.user_id, e.agent_id, e.app_id,
                              e.run_id, json.dumps(d) if (d := event_detail_of(e)) is not None else None)
                             for e in events), strict=True))
        c.execute(_LOG_MANY, (*shared, *(list(col) for col in columns)))

    # reads ----------------------------------------------------------------------------------------------------------
    @staticmethod
    def _log_where(project_id: str, query: EventQuery) -> tuple[str, list[Any]]:
        """The WHERE of a project's log rows (`events e`) that `query` asks for, and its arguments."""
        where, args = ["e.project_id = %s"], list[Any]([project_id])
        if query.types:
            where.append("e.type = ANY(%s)")
            args.append(list(query.types))
        if query.memory_id is not None:
            where.append("e.memory_id = %s")
            args.append(query.memory_id)
        if query.since is not None:
            where.append("e.created_at >= %s")
            args.append(query.since)
        return " AND ".join(where), args

    def events(self, project_id: str, query: EventQuery, limit: int, offset: int = 0) -> tuple[list[ChangeEvent], int]:
        sql, args = self._log_where(project_id, query)

        def fn(c: psycopg.Connection) -> tuple[list[tuple[Any, ...]], int]:
            with c.transaction():
                total = _row(c, f"SELECT count(*) FROM events e WHERE {sql}", args)
                rows = _rows(c, f"{L.EVENT_SELECT} WHERE {sql} ORDER BY e.seq DESC LIMIT %s OFFSET %s",
                             (*args, limit, offset))
            return rows, int(total[0]) if total else 0

        rows, total = self._read(fn)
        return [L.change_event(self._flavor, r) for r in rows], total

    def event_batch(self, project_id: str, event_id: str) -> list[ChangeEvent]:
        def fn(c: psycopg.Connection) -> list[ChangeEvent]:
            def by_id(eid: str) -> ChangeEvent | None:  # through the history event of the same id (no index of its own)
                row = _row(c, f"{L.EVENT_SELECT} WHERE e.project_id = %s AND e.memory_id = "
                           "(SELECT memory_id FROM history WHERE project_id = %s AND id = %s) AND e.id = %s",
                           (project_id, project_id, eid, eid))
                return L.change_event(self._flavor, row) if row else None

            def from_seq(seq: int) -> list[ChangeEvent]:
                rows = _rows(c, f"{L.EVENT_SELECT} WHERE e.project_id = %s AND e.seq >= %s ORDER BY e.seq LIMIT %s",
                             (project_id, seq, L.MAX_BATCH_SHOWN))
                return [L.change_event(self._flavor, r) for r in rows]

            return L.batch_around(event_id, by_id, from_seq)

        return self._read(fn)

    def events_after(self, project_id: str, after: int, limit: int) -> list[ChangeEvent]:
        rows = self._read(lambda c: _rows(
            c, f"{L.EVENT_SELECT} WHERE e.project_id = %s AND e.seq > %s ORDER BY e.seq LIMIT %s", (project_id, after, limit)))
        return [L.change_event(self._flavor, r) for r in rows]

    def trim_events(self, before: datetime, limit: int) -> int:
        def fn(c: psycopg.Connection) -> int:
            done = 0
            for (project_id,) in _rows(c, "SELECT id FROM projects ORDER BY id"):
                if done >= limit:
                    break
                cur = c.execute(  # the oldest rows first, by the tenant-first primary key
                    "DELETE FROM events WHERE project_id = %s AND seq IN (SELECT seq FROM events WHERE project_id = %s "
                    "AND created_at < %s ORDER BY seq LIMIT %s)", (project_id, project_id, before, limit - done))
                done += cur.rowcount
            return done

        return self._write(fn)

    # webhooks --------------------------------------------------------------------------------------------------------
    def add_webhook(self, project_id: str, name: str, url: str, event_types: Sequence[str], secret: str,
                    at: datetime) -> Webhook:
        row = self._write(lambda c: _row(
            c, "INSERT INTO webhooks(project_id, name, url, event_types, secret, cursor, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, coalesce((SELECT max(seq) FROM events WHERE project_id = %s), 0), %s, %s) "
            f"RETURNING {L.WEBHOOK_COLUMNS}",
            (project_id, name, url, self._flavor.write_json(list(event_types)), secret, project_id, at, at)))
        assert row is not None
        return L.webhook(self._flavor, row)

    def list_webhooks(self, project_id: str | None) -> list[Webhook]:
        if project_id is None:
            rows = self._read(lambda c: _rows(c, f"SELECT {L.WEBHOOK_COLUMNS} FROM webhooks ORDER BY id"))
        else:
            rows = self._read(lambda c: _rows(
                c, f"SELECT {L.WEBHOOK_COLUMNS} FROM webhooks WHERE project_id = %s ORDER BY id", (project_id,)))
        return [L.webhook(self._flavor, r) for r in rows]

    def get_webhook(self, project_id: str, webhook_id: int) -> Webhook | None:
        row = self._read(lambda c: _row(
            c, f"SELECT {L.WEBHOOK_COLUMNS} FROM webhooks WHERE project_id = %s AND id = %s", (project_id, webhook_id)))
        return L.webhook(self._flavor, row) if row else None

    def update_webhook(self, project_id: str, webhook_id: int, at: datetime, *, name: str | None = None,
                       url: str | None = None, event_types: Sequence[str] | None = None) -> Webhook | None:
        sets, args = ["updated_at = %s", "is_active = true", "attempts = 0", "failing_since = NULL",
                      "next_attempt_at = NULL", "last_error = NULL", "disabled_at = NULL"], list[Any]([at])
        for column, value in (("name", name), ("url", url), ("event_types", self._flavor.write_json(list(event_types))
                                                             if event_types is not None else None)):
            if value is not None:
                sets.append(f"{column} = %s")
                args.append(value)
        row = self._write(lambda c: _row(
            c, f"UPDATE webhooks SET {', '.join(sets)} WHERE project_id = %s AND id = %s RETURNING {L.WEBHOOK_COLUMNS}",
            (*args, project_id, webhook_id)))
        return L.webhook(self._flavor, row) if row else None

    def delete_webhook(self, project_id: str, webhook_id: int) -> bool:
        row = self._write(lambda c: _row(c, "DELETE FROM webhooks WHERE project_id = %s AND id = %s RETURNING id",
                                         (project_id, webhook_id)))
        return row is not None

    def claim_webhook(self, project_id: str, webhook_id: int, owner: str, until: datetime, now: datetime) -> bool:
        row = self._write(lambda c: _row(
            c, "UPDATE webhooks SET lease_owner = %s, lease_until = %s WHERE project_id = %s AND id = %s AND is_active "
            "AND (lease_owner IS NULL OR lease_owner = %s OR lease_until < %s) RETURNING id",
            (owner, until, project_id, webhook_id, owner, now)))
        return row is not None

    def save_delivery(self, project_id: str, webhook_id: int, owner: str, state: DeliveryState, at: datetime) -> bool:
        row = self._write(lambda c: _row(
            c, "UPDATE webhooks SET cursor = %s, attempts = %s, failing_since = %s, next_attempt_at = %s, "
            "last_error = %s, is_active = %s, disabled_at = %s, "
            "lease_owner = CASE WHEN %s THEN NULL ELSE lease_owner END "
            "WHERE project_id = %s AND id = %s AND lease_owner = %s RETURNING id",
            (state.cursor, state.attempts, state.failing_since, state.next_attempt_at, state.last_error,
             not state.disabled, at if state.disabled else None, state.disabled, project_id, webhook_id, owner)))
        return row is not None
