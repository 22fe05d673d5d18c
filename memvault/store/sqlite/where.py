"""Compile the filter tree (memvault.filters) to an SQLite WHERE clause over `memories m`.

Only SQL is written here: what a condition means (kinds, null, missing) is decided in filters.py, and
store/postgres/where.py writes the same meaning for PostgreSQL. SQLite compares text by code point (BINARY).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ...filters import DATE_FIELDS, ORDERED, And, Cond, Node, Not, Or, kind

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
    "superseded_by": "m.superseded_by",
    "superseded_at": "m.superseded_at",
    "feedback": "m.feedback",
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
        return _not(_node(node.item, params))
    return _cond(node, params)


def _not(sql: str) -> str:
    return "(NOT coalesce(" + sql + ", 0))"  # NULL (no value) is not a match, so its negation is


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
        return _metadata(c, params)
    return _scalar_op(_COLUMNS[c.field], c, params)


def _scalar_op(col: str, c: Cond, params: list[Any]) -> str:
    op, value = c.op, c.value
    if op == "exists":
        return f"{col} IS NOT NULL"
    if op in ("in", "nin"):
        params.append(json.dumps([_value(c.field, v) for v in value]))
        sql = f"{col} IN (SELECT value FROM json_each(?))"
        return sql if op == "in" else _not(sql)
    if op == "contains":
        params.append(value)
        return f"instr({col}, ?) > 0"
    if op == "icontains":
        params.append(_like(value))
        return f"{col} LIKE ? ESCAPE '\\'"
    params.append(_value(c.field, value))
    if op == "ne":
        return _not(f"{col} = ?")
    return f"{col} {_CMP[op]} ?"


# The JSON types (json_type) a metadata value of each kind has: a value only meets values of its own kind.
_JSON_TYPES = {"string": "('text')", "number": "('integer', 'real')"}


def _metadata(c: Cond, params: list[Any]) -> str:
    # The path is a quoted literal, not a parameter: a condition uses it more than once but binds it nowhere.
    path = ("$." + json.dumps(c.key)).replace("'", "''")
    col = f"json_extract(m.metadata, '{path}')"
    typ = f"json_type(m.metadata, '{path}')"
    op, value = c.op, c.value
    if op == "exists":
        return f"coalesce({typ} <> 'null', 0)"
    if op in ("eq", "ne") and kind(value) != "bool":
        params.append(value)
        sql = f"({typ} IN {_JSON_TYPES[kind(value)]} AND {col} = ?)"
        return sql if op == "eq" else _not(sql)
    if op in ("in", "nin", "eq", "ne"):
        values = list(value) if op in ("in", "nin") else [value]
        parts = []
        for k in ("string", "number"):
            same = [v for v in values if kind(v) == k]
            if same:
                params.append(json.dumps(same))
                parts.append(f"({typ} IN {_JSON_TYPES[k]} AND {col} IN (SELECT value FROM json_each(?)))")
        parts += [f"{typ} = '{b}'" for b in ("true", "false") if any(v is (b == "true") for v in values)]
        sql = "(" + " OR ".join(parts) + ")"
        return sql if op in ("in", "eq") else _not(sql)
    if op in ("contains", "icontains"):
        params.append(value if op == "contains" else _like(value))
        test = f"instr({col}, ?) > 0" if op == "contains" else f"{col} LIKE ? ESCAPE '\\'"
        return f"({typ} = 'text' AND {test})"
    assert op in ORDERED
    params.append(value)
    return f"({typ} IN {_JSON_TYPES[kind(value)]} AND {col} {_CMP[op]} ?)"


def _categories(c: Cond, params: list[Any]) -> str:
    each = "SELECT 1 FROM json_each(m.categories) cat WHERE "
    if c.op == "exists":
        return "json_array_length(m.categories) > 0"
    if c.op in ("in", "nin"):
        params.append(json.dumps(list(c.value)))
        sql = f"EXISTS ({each}cat.value IN (SELECT value FROM json_each(?)))"
        return sql if c.op == "in" else f"NOT {sql}"
    if c.op == "icontains":
        params.append(_like(c.value))
        return f"EXISTS ({each}cat.value LIKE ? ESCAPE '\\')"
    params.append(c.value)
    sql = f"EXISTS ({each}cat.value = ?)"  # eq, contains: one of the categories is this one
    return f"NOT {sql}" if c.op == "ne" else sql


def _bucket(c: Cond, params: list[Any]) -> str:
    """The engine has named every bucket by its id (memvault.engine.Engine._where): only ids are compared."""
    return _scalar_op("m.bucket_id", c, params)
