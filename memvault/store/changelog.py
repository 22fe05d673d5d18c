"""The change log's SQL, written once for both SQL stores (see migrations 0008 / 0005 for the tables).

Each store's `_insert_events` — the one place every change to a memory writes its history — also writes the log
rows built here, in the same transaction, with the origin of the work in progress (`memvault.origin`), and blanks
the text of the earlier log events of every memory the write deletes (forget means forget, for the log too).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..models import (
    ChangeEvent,
    HistoryEvent,
    Webhook,
    event_detail_of,
    event_text_of,
    event_type_of,
    utcnow,
)
from ..origin import current
from .sql import SQLFlavor

EVENT_COLUMNS = ("seq, id, project_id, type, memory_id, created_at, text, user_id, agent_id, app_id, run_id, actor, "
                 "key_id, key_name, request_id, detail, batch_id")
WEBHOOK_COLUMNS = ("id, project_id, name, url, event_types, secret, is_active, cursor, created_at, updated_at, "
                   "attempts, failing_since, next_attempt_at, last_error, disabled_at")
_LOG_INSERT = ("id", "project_id", "type", "memory_id", "user_id", "agent_id", "app_id", "run_id", "actor", "key_id",
               "key_name", "request_id", "text", "detail", "batch_id", "created_at")
FORGET_LOG = "UPDATE events SET text = NULL"
"""Blanks the texts of a deleted memory's earlier log events (the store adds which ones)."""
GONE_KINDS = frozenset({"DELETE", "PURGE"})


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
                     origin.actor, origin.key_id, origin.key_name, origin.request_id, event_text_of(e),
                     flavor.write_json(detail) if detail is not None else None, batch, at))
    return rows


def gone(events: Sequence[HistoryEvent]) -> dict[str, list[str]]:
    """The memories these events delete, by project: their earlier log events lose their text."""
    found: dict[str, list[str]] = {}
    for e in events:
        if e.event in GONE_KINDS:
            found.setdefault(e.project_id, []).append(e.memory_id)
    return found


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
