"""Compile the filter tree (memvault.filters) to an SQLite WHERE clause over `memories m`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ..filters import DATE_FIELDS, And, Cond, Node, Not, Or

_COLUMNS = {
    "id": "m.id",
    "user_id": "m.user_id",
    "agent_id": "m.agent_id",
    "app_id": "m.app_id",
    "run_id": "m.run_id",
    "text": "m.text",
    "created_at": "m.created_at",
    "updated_at": "m.updated_at",
    "expiration_date": "m.expiration_date",
}
_CMP = {"eq": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def ts(dt: datetime) -> str:
    """The one text form of a time in SQLite: UTC, a four-digit year, microseconds; sortable as text."""
    return dt.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def from_ts(text: str) -> datetime:
    """Reads ts()'s form (fromisoformat: ~50x faster than strptime), and the form older versions wrote for a year
    before 1000: strftime's %Y is not zero-padded on Linux ("999-06-01T...")."""
    if text.find("-") != 4:
        year, _, rest = text.partition("-")
        text = year.zfill(4) + "-" + rest
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def compile_where(node: Node | None) -> tuple[str, list[Any]]:
    if node is None:
        return "1", []
    params: list[Any] = []
    return _node(node, params), params


def _node(node: Node, params: list[Any]) -> str:
    if isinstance(node, And):
        return "(" + " AND ".join(_node(n, params) for n in node.items) + ")"
    if isinstance(node, Or):
        return "(" + " OR ".join(_node(n, params) for n in node.items) + ")"
    if isinstance(node, Not):
        return "(NOT coalesce(" + _node(node.item, params) + ", 0))"  # NULL (no value) is not a match
    return _cond(node, params)


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _value(field: str, value: Any) -> Any:
    if field in DATE_FIELDS and isinstance(value, datetime):
        return ts(value)
    return value


def _cond(c: Cond, params: list[Any]) -> str:
    if c.field == "categories":
        return _categories(c, params)
    if c.field == "bucket":
        return _bucket(c, params)
    if c.field == "metadata":
        # The path is a quoted literal, not a parameter: ne/nin use `col` twice but bind once.
        path = ("$." + json.dumps(c.key)).replace("'", "''")
        col = f"json_extract(m.metadata, '{path}')"
        return _scalar_op(col, c, params)
    col = _COLUMNS.get(c.field, "x_col")
    return _scalar_op(col, c, params)


def _scalar_op(col: str, c: Cond, params: list[Any]) -> str:
    op, value = c.op, c.value
    if op == "exists":
        return f"{col} IS NOT NULL"
    if op in ("in", "nin"):
        params.append(json.dumps([_value(c.field, v) for v in value]))
        sql = f"{col} IN (SELECT value FROM json_each(?))"
        return sql if op == "in" else f"({col} IS NULL OR NOT {sql})"
    if op == "contains":
        params.append(value)
        return f"instr({col}, ?) > 0"
    if op == "icontains":
        params.append(_like(value))
        return f"{col} LIKE ? ESCAPE '\\'"
    params.append(_value(c.field, value))
    if op == "ne":
        return f"({col} IS NULL OR {col} != ?)"
    return f"{col} {_CMP[op]} ?"


def _categories(c: Cond, params: list[Any]) -> str:
    each = "SELECT 1 FROM json_each(m.categories) cat WHERE "
    if c.op == "exists":
        return "json_array_length(m.categories) > 0"
    if c.op in ("in", "nin"):
        params.append(json.dumps(list(c.value)))
        sql = f"EXISTS ({each}cat.value IN (SELECT value FROM json_each(?)))"
        return sql if c.op == "in" else f"NOT {sql}"
    if c.op in ("eq", "contains"):
        params.append(c.value)
        return f"EXISTS ({each}cat.value = ?)"
    if c.op == "icontains":
        params.append(_like(c.value))
        return f"EXISTS ({each}cat.value LIKE ? ESCAPE '\\')"
    if c.op == "ne":
        params.append(c.value)
        return f"NOT EXISTS ({each}cat.value = ?)"
    params.append(c.value)
    return f"EXISTS ({each}cat.value {_CMP[c.op]} ?)"


def _bucket(c: Cond, params: list[Any]) -> str:
    """A bucket is named by its id or by its name (ignoring case)."""
    if c.op == "exists":
        return "1"
    names = list(c.value) if c.op in ("in", "nin") else [c.value]
    params.append(json.dumps([str(n).lower() for n in names]))
    params.append(json.dumps([str(n) for n in names]))
    sql = (
        "m.bucket_id IN (SELECT b.id FROM buckets b WHERE b.project_id = m.project_id AND "
        "(lower(b.name) IN (SELECT value FROM json_each(?)) OR b.id IN (SELECT value FROM json_each(?))))"
    )
    return f"NOT {sql}" if c.op in ("ne", "nin") else sql
