"""What the two SQL stores share for the chat-history archive: column lists, the SQL both write, and the row
decoders, over a store's `SQLFlavor` (store/sql.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..models import ChatChunk, ChatMessage, Conversation, ConversationQuery
from .sql import SQLFlavor

CONVERSATION_COLUMNS = ("id, project_id, platform, platform_conversation_id, title, created_at, updated_at, "
                        "imported_at, import_id, message_count, token_count, status, status_reason, "
                        "platform_display_name, pinned")
MESSAGE_COLUMNS = "id, conversation_id, position, role, content, created_at"
CHUNK_COLUMNS = "id, conversation_id, first_position, last_position, text"
CHAT_TABLES = ("chat_conversations", "chat_messages", "chat_chunks")


def conversation(flavor: SQLFlavor, row: Sequence[Any]) -> Conversation:
    return Conversation(
        id=row[0], project_id=row[1], platform=row[2], platform_conversation_id=row[3], title=row[4],
        created_at=flavor.read_time(row[5]), updated_at=flavor.read_time(row[6]),
        imported_at=flavor.read_time(row[7]), import_id=row[8], message_count=int(row[9]),
        token_count=int(row[10]), status=row[11], status_reason=row[12], platform_display_name=row[13],
        pinned=bool(row[14]),
    )


def message(flavor: SQLFlavor, row: Sequence[Any]) -> ChatMessage:
    return ChatMessage(row[0], row[1], int(row[2]), row[3], row[4], flavor.read_time(row[5]) if row[5] else None)


def chunk(row: Sequence[Any]) -> ChatChunk:
    return ChatChunk(row[0], row[1], int(row[2]), int(row[3]), row[4])


def conversation_values(flavor: SQLFlavor, c: Conversation) -> tuple[Any, ...]:
    """The values of CONVERSATION_COLUMNS, in order."""
    t = flavor.write_time
    return (c.id, c.project_id, c.platform, c.platform_conversation_id, c.title, t(c.created_at), t(c.updated_at),
            t(c.imported_at), c.import_id, c.message_count, c.token_count, c.status, c.status_reason,
            c.platform_display_name, c.pinned)


def conversation_upsert(flavor: SQLFlavor) -> str:
    """Insert a conversation, or replace every column but its identity (parameters: `conversation_values`)."""
    p = flavor.param
    columns = [c.strip() for c in CONVERSATION_COLUMNS.split(",")]
    changed = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in ("id", "project_id", "platform",
                                                                             "platform_conversation_id", "created_at"))
    return (f"INSERT INTO chat_conversations({CONVERSATION_COLUMNS}) VALUES ({', '.join([p] * len(columns))}) "
            f"ON CONFLICT (project_id, id) DO UPDATE SET {changed}")


def message_insert(flavor: SQLFlavor) -> str:
    """Insert a message unless the conversation has its id (parameters: project id, then MESSAGE_COLUMNS)."""
    p = flavor.param
    return (f"INSERT INTO chat_messages(project_id, {MESSAGE_COLUMNS}) VALUES ({', '.join([p] * 7)}) "
            "ON CONFLICT (project_id, conversation_id, id) DO NOTHING")


def message_values(flavor: SQLFlavor, project_id: str, m: ChatMessage) -> tuple[Any, ...]:
    return (project_id, m.id, m.conversation_id, m.position, m.role, m.content,
            flavor.write_time(m.created_at) if m.created_at else None)


def listing_where(flavor: SQLFlavor, query: ConversationQuery) -> tuple[str, list[Any]]:
    """The conditions of a listing over `chat_conversations` (after `project_id = ?`), and their parameters."""
    p = flavor.param
    sql, args = [], []
    if query.platform is not None:
        sql.append(f"platform = {p}")
        args.append(query.platform)
    if query.title:
        sql.append(f"instr(lower(title), lower({p})) > 0" if p == "?" else f"strpos(lower(title), lower({p})) > 0")
        args.append(query.title)
    if query.created_from is not None:
        sql.append(f"created_at >= {p}")
        args.append(flavor.write_time(query.created_from))
    if query.created_to is not None:
        sql.append(f"created_at <= {p}")
        args.append(flavor.write_time(query.created_to))
    if query.pinned_only:
        sql.append("pinned")
    if query.import_id is not None:
        sql.append(f"import_id = {p}")
        args.append(query.import_id)
    return "".join(f" AND {s}" for s in sql), args
