"""Conversation files for `memvault chats import`: a ChatGPT export (`conversations.json`) or the MemoryPlugin
ingest API's own JSON, read into `ChatImport`s. Translation only: the engine checks and stores them.

ChatGPT's export is a list of conversations, each `{id | conversation_id, title, create_time, update_time,
current_node, mapping}`; `mapping` is a tree of nodes `{id, parent, children, message}` whose message is
`{id, author: {role}, content: {parts: [...]}, create_time}` (times in seconds since 1970). A conversation edited
in ChatGPT has branches: the branch read is the one ending at `current_node` (what ChatGPT shows), else the one
that always follows the last child. System messages, and messages without text parts (images, tool calls), are
left out.

The API's JSON is one ingest body `{conversation: {id, title, createdAt, updatedAt, messages: [{id, role,
content, createdAt}]}, platform?, platformDisplayName?}`, a list of them, or a bare `conversation` object or list.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import InvalidInput
from .models import ChatImport, ChatMessageIn

CHATGPT = "chatgpt"
_MAX_DEPTH = 1_000_000  # nodes followed in one conversation's tree (a loop in a damaged file ends here)


def read(path: Path, platform: str | None = None) -> list[ChatImport]:
    """Every conversation of the file, in file order. InvalidInput when it is no JSON or no known format."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{path.name} is not a JSON file: {exc}") from None
    items = data if isinstance(data, list) else [data]
    out = []
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise InvalidInput(f"conversation {n}: not a JSON object")
        if "mapping" in item:
            out.append(chatgpt_conversation(item, platform or CHATGPT, n))
        else:
            out.append(api_conversation(item, platform, n))
    return out


def _time(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidInput(f"{where}: not a time")
    if isinstance(value, (int, float)):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            raise InvalidInput(f"{where}: not a time") from None
    if isinstance(value, str):
        try:
            at = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(f"{where}: not a time: {value[:40]!r}") from None
        return at if at.tzinfo else at.replace(tzinfo=UTC)
    raise InvalidInput(f"{where}: not a time")


def _branch(mapping: dict[str, Any], current: Any) -> Iterator[dict[str, Any]]:
    """The nodes of the branch ChatGPT shows, root first."""
    if isinstance(current, str) and current in mapping:
        path: list[dict[str, Any]] = []
        at: Any = current
        named: set[str] = set()
        while isinstance(at, str) and isinstance(mapping.get(at), dict) and at not in named and len(named) < _MAX_DEPTH:
            named.add(at)
            path.append(mapping[at])
            at = mapping[at].get("parent")
        yield from reversed(path)
        return
    roots = [n for n in mapping.values() if isinstance(n, dict) and n.get("parent") not in mapping]
    node: Any = roots[0] if roots else None
    seen: set[int] = set()
    while isinstance(node, dict) and id(node) not in seen and len(seen) < _MAX_DEPTH:
        seen.add(id(node))
        yield node
        children = [c for c in node.get("children") or [] if isinstance(c, str) and c in mapping]
        node = mapping[children[-1]] if children else None


def chatgpt_conversation(item: dict[str, Any], platform: str, n: int) -> ChatImport:
    where = f"conversation {n}"
    mapping = item.get("mapping")
    if not isinstance(mapping, dict):
        raise InvalidInput(f"{where}: mapping must be an object")
    messages = []
    for node in _branch(mapping, item.get("current_node")):
        message = node.get("message") if isinstance(node, dict) else None
        if not isinstance(message, dict):
            continue
        role = (message.get("author") or {}).get("role") if isinstance(message.get("author"), dict) else None
        content = message.get("content") if isinstance(message.get("content"), dict) else {}
        parts = [p for p in content.get("parts") or [] if isinstance(p, str)] if isinstance(content, dict) else []
        text = "\n".join(parts).strip()
        if not isinstance(role, str) or role == "system" or not text:
            continue
        mid = message.get("id") or node.get("id")
        messages.append(ChatMessageIn(role, text, str(mid) if mid is not None else None,
                                      _time(message.get("create_time"), f"{where}: a message's create_time")))
    cid = item.get("conversation_id") or item.get("id")
    if not isinstance(cid, str) or not cid:
        raise InvalidInput(f"{where}: no id")
    title = item.get("title")
    return ChatImport(cid, messages, title if isinstance(title, str) else None,
                      _time(item.get("create_time"), f"{where}: create_time"),
                      _time(item.get("update_time"), f"{where}: update_time"), platform, "ChatGPT")


def api_conversation(item: dict[str, Any], platform: str | None, n: int) -> ChatImport:
    where = f"conversation {n}"
    conv = item.get("conversation", item)
    if not isinstance(conv, dict):
        raise InvalidInput(f"{where}: conversation must be an object")
    raw = conv.get("messages")
    if not isinstance(raw, list):
        raise InvalidInput(f"{where}: messages must be a list")
    messages = []
    for k, m in enumerate(raw):
        if not isinstance(m, dict):
            raise InvalidInput(f"{where}: message {k} is not an object")
        mid = m.get("id")
        messages.append(ChatMessageIn(m.get("role"), m.get("content"),  # type: ignore[arg-type]  # the engine checks
                                      None if mid is None else str(mid), _time(m.get("createdAt"), f"{where}: message {k}")))
    cid: Any = conv.get("id")
    if isinstance(cid, int) and not isinstance(cid, bool):
        cid = str(cid)
    given: dict[str, Any] = {  # as the file has them: the engine checks every field
        "title": conv.get("title"), "platform": platform or item.get("platform") or "custom",
        "platform_display_name": item.get("platformDisplayName"),
    }
    return ChatImport(cid, messages, created_at=_time(conv.get("createdAt"), f"{where}: createdAt"),
                      updated_at=_time(conv.get("updatedAt"), f"{where}: updatedAt"), **given)
