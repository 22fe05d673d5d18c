"""The change log's SQL, written once for both SQL stores (see the migrations SQLite 0012 and 0014 / PostgreSQL 0009
for the tables).

Each store's `_insert_events` — the one place every change to a memory writes its history — also writes the log
rows built here, in the same transaction, with the origin of the work in progress (`memvault.origin`).

A log row copies no text: an add or update event is read with the text of the history event of the same id (the
memory's text after that change), and a delete blanks those texts in its own transaction (FORGET_HISTORY). So a
deleted memory's words leave the log, its feed and every delivery not yet made, as they leave its history, and the
delete writes nothing more to forget them.

On SQLite the log row goes further (0014, table `change_log`): it is keyed by the `seq` of its history event and
holds only what the history does not (type, origin, detail, batch, write time); the event's id, memory and owners
are read from the history row, which the log row meets by rowid. So the log has one index (by project in log
order) and an event is found by id or by memory through the history's own indexes. PostgreSQL keeps a full row
with its own identity (its history seq is taken before the log's per-project lock, so it is not in commit order
there).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..models import (
    TEXT_TYPES,
    ChangeEvent,
    HistoryEvent,
    Webhook,
    event_detail_of,
    event_type_of,
    utcnow,
)
from ..origin import current
from .sql import SQLFlavor

EVENT_SELECT = (
    "SELECT e.seq, e.id, e.project_id, e.type, e.memory_id, e.created_at, "
    f"CASE WHEN e.type IN ({', '.join(repr(t) for t in TEXT_TYPES)}) THEN h.new_text END, "
    "e.user_id, e.agent_id, e.app_id, e.run_id, e.actor, e.key_id, e.key_name, e.request_id, e.detail, e.batch_id "
    "FROM events e LEFT JOIN history h ON h.project_id = e.project_id AND h.id = e.id"
)
"""Log events with their text (the caller adds WHERE e.project_id = ... and the rest): PostgreSQL."""
EVENT_SELECT_BY_SEQ = (
    "SELECT e.seq, h.id, e.project_id, e.type, h.memory_id, e.created_at, "
    f"CASE WHEN e.type IN ({', '.join(repr(t) for t in TEXT_TYPES)}) THEN h.new_text END, "
    "h.user_id, h.agent_id, h.app_id, h.run_id, e.actor, e.key_id, e.key_name, e.request_id, e.detail, e.batch_id "
    "FROM change_log e JOIN history h ON h.seq = e.seq"
)
"""The same, where a log row is keyed by its history event's seq and holds only the origin: SQLite."""
WEBHOOK_COLUMNS = ("id, project_id, name, url, event_types, secret, is_active, cursor, created_at, updated_at, "
                   "attempts, failing_since, next_attempt_at, last_error, disabled_at")
_LOG_INSERT = ("id", "project_id", "type", "memory_id", "user_id", "agent_id", "app_id", "run_id", "actor", "key_id",
               "key_name", "request_id", "detail", "batch_id", "created_at")
MAX_BATCH_SHOWN = 1000  # events of one write an event's lookup answers (a delete by filter may make many more)


def log_insert(flavor: SQLFlavor) -> str:
    return f"INSERT INTO events({', '.join(_LOG_INSERT)}) VALUES ({', '.join([flavor.param] * len(_LOG_INSERT))})"


def log_values(flavor: SQLFlavor, events: Sequence[HistoryEvent]) -> list[tuple[Any, ...]]:
    """The log rows of history events written together: their time is the write's, their origin the current one,
    and when they are several they share a batch (the id of the first)."""
    origin, at = current(), flavor.write_time(utcnow())
    batch = events[0].id if len(events) > 1 else None
    rows = []
    for e in events:
        detail = event_detail_of(e)
        rows.append((e.id, e.project_id, event_type_of(e), e.memory_id, e.user_id, e.agent_id, e.app_id, e.run_id,
                     origin.actor, origin.key_id, origin.key_name, origin.request_id,
                     flavor.write_json(detail) if detail is not None else None, batch, at))
    return rows


def origin_values(flavor: SQLFlavor, events: Sequence[HistoryEvent]) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    """`log_values` for log rows keyed by history seq, which hold only what the history row does not: the values
    the events of one write share (actor, key id, key name, request id, batch, write time) and, per event, its
    project, type and detail."""
    origin = current()
    shared = (origin.actor, origin.key_id, origin.key_name, origin.request_id,
              events[0].id if len(events) > 1 else None, flavor.write_time(utcnow()))
    rows = []
    for e in events:
        detail = event_detail_of(e)
        rows.append((e.project_id, event_type_of(e), flavor.write_json(detail) if detail is not None else None))
    return shared, rows


def feed_queries(p: str, jobs: str, jargs: Sequence[Any], job_key: str, log: str, events: str, eargs: Sequence[Any], *,
                 changes: bool, limit: int, offset: int) -> tuple[str, list[Any], str, list[Any]]:
    """The two queries of a feed page that merges a project's async adds (`jobs` WHERE, keyed by `job_key`) with its
    log (`log e` WHERE `events`, keyed by seq), newest first: the count, and the page's keys as (k, n) rows (k 0 for a
    log event, 1 for a job). Each side gives at most the rows up to the page's end (the log in seq order, its
    index's), so a first page costs a page whatever the log's length. `p` is the flavor's placeholder."""
    top = offset + limit
    parts = [(f"SELECT * FROM (SELECT 1 AS k, {job_key} AS n, created_at AS at FROM jobs WHERE {jobs} "
              f"ORDER BY created_at DESC, {job_key} DESC LIMIT {p}) j", [*jargs, top])]
    count_sql, count_args = f"SELECT count(*) FROM jobs WHERE {jobs}", list(jargs)
    if changes:
        parts.append((f"SELECT * FROM (SELECT 0 AS k, e.seq AS n, e.created_at AS at FROM {log} e WHERE {events} "
                      f"ORDER BY e.seq DESC LIMIT {p}) e", [*eargs, top]))
        count_sql = f"SELECT ({count_sql}) + (SELECT count(*) FROM {log} e WHERE {events})"
        count_args += eargs
    union = " UNION ALL ".join(sql for sql, _ in parts)
    keys_sql = f"SELECT k, n FROM ({union}) u ORDER BY at DESC, k, n DESC LIMIT {p} OFFSET {p}"
    return count_sql, count_args, keys_sql, [*(a for _, part in parts for a in part), limit, offset]


def change_event(flavor: SQLFlavor, row: Sequence[Any]) -> ChangeEvent:
    return ChangeEvent(
        seq=int(row[0]), id=row[1], project_id=row[2], type=row[3], memory_id=row[4],
        created_at=flavor.read_time(row[5]), text=row[6], user_id=row[7], agent_id=row[8], app_id=row[9],
        run_id=row[10], actor=row[11], key_id=row[12], key_name=row[13], request_id=row[14],
        detail=flavor.read_json(row[15]) if row[15] is not None else None, batch_id=row[16],
    )


def webhook(flavor: SQLFlavor, row: Sequence[Any]) -> Webhook:
    def when(value: Any) -> Any:
        return flavor.read_time(value) if value is not None else None

    return Webhook(
        id=int(row[0]), project_id=row[1], name=row[2], url=row[3], event_types=tuple(flavor.read_json(row[4])),
        secret=row[5], is_active=bool(row[6]), cursor=int(row[7]), created_at=flavor.read_time(row[8]),
        updated_at=flavor.read_time(row[9]), attempts=int(row[10]), failing_since=when(row[11]),
        next_attempt_at=when(row[12]), last_error=row[13], disabled_at=when(row[14]),
    )


def batch_around(event_id: str, by_id: Callable[[str], ChangeEvent | None],
                 from_seq: Callable[[int], Sequence[ChangeEvent]]) -> list[ChangeEvent]:
    """The events of the write that made `event_id` (just it when it was alone; none when it is unknown), with a
    store's lookup of one event by id and of its project's events from a seq on (in log order, `MAX_BATCH_SHOWN`)."""
    event = by_id(event_id)
    if event is None or event.batch_id is None:
        return [event] if event else []
    leader = event if event.batch_id == event.id else by_id(event.batch_id)
    if leader is None:  # trimmed
        return [event]
    return batch_of(from_seq(leader.seq), leader.id)


def batch_of(rows: Sequence[ChangeEvent], leader: str) -> list[ChangeEvent]:
    """The events of the write `leader` heads, from its project's events from the leader on (in log order, where
    the events of one write are consecutive)."""
    out = []
    for e in rows:
        if e.batch_id != leader:
            break
        out.append(e)
    return out
