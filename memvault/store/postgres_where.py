"""Compile the filter tree (memvault.filters) to a PostgreSQL WHERE clause over `memories m`, with psycopg params.

Every value is a bound parameter (`%s`); no user text is ever written into the SQL. The semantics follow
sqlite_where.py: a NULL (missing) value never matches, except under `ne`/`nin`, which it satisfies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from psycopg.types.json import Jsonb

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
_TEXT_TIME = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
_CMP = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


class _Params(list[Any]):
    """Bound values, in the order their placeholders are written: `p(value)` appends and returns "%s"."""

    def __call__(self, value: Any) -> str:
        self.append(value)
        return "%s"


def compile_where(node: Node | None) -> tuple[str, list[Any]]:
    if node is None:
        return "TRUE", []
    p = _Params()
    return _node(node, p), list(p)


def _node(node: Node, p: _Params) -> str:
    if isinstance(node, And):
        return "(" + " AND ".join(_node(n, p) for n in node.items) + ")"
    if isinstance(node, Or):
        return "(" + " OR ".join(_node(n, p) for n in node.items) + ")"
    if isinstance(node, Not):
        return "(NOT coalesce(" + _node(node.item, p) + ", FALSE))"  # NULL (no value) is not a match
    return _cond(node, p)


def like(value: str) -> str:
    """An ILIKE pattern matching `value` anywhere, with its wildcards escaped (backslash is the default escape)."""
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _cond(c: Cond, p: _Params) -> str:
    if c.field == "categories":
        return _categories(c, p)
    if c.field == "bucket":
        return _bucket(c, p)
    if c.field == "metadata":
        return _metadata(c, p)
    if c.field not in _COLUMNS:
        raise ValueError(f"unknown filter field: {c.field}")
    col = _COLUMNS[c.field]
    if c.field in DATE_FIELDS and c.op in ("contains", "icontains"):
        col = _TEXT_TIME.format(col)  # a substring of the time as SQLite stores it
    return _scalar_op(lambda: col, c, p)


def _scalar_op(col: Callable[[], str], c: Cond, p: _Params) -> str:
    """`col()` writes the column expression (it may bind parameters, so it is called once per use, in order)."""
    op, value = c.op, c.value
    if op == "exists":
        return f"{col()} IS NOT NULL"
    if op == "in":
        return f"{col()} = ANY({p(list(value))})"
    if op == "nin":
        return f"({col()} IS NULL OR NOT {col()} = ANY({p(list(value))}))"
    if op == "contains":
        return f"strpos({col()}, {p(str(value))}) > 0"
    if op == "icontains":
        return f"{col()} ILIKE {p(like(str(value)))}"
    if op == "ne":
        return f"({col()} IS NULL OR {col()} <> {p(value)})"
    return f"{col()} {_CMP[op]} {p(value)}"


def _metadata(c: Cond, p: _Params) -> str:
    """A metadata value is a jsonb scalar, compared as jsonb: numbers as numbers, strings as strings, and a value
    of one type never orders against a value of another. contains/icontains look at the scalar as text."""
    op, value = c.op, c.value

    def col() -> str:
        return f"(m.metadata -> {p(c.key)}::text)"

    def text() -> str:
        return f"(m.metadata ->> {p(c.key)}::text)"

    if op == "exists":
        return f"coalesce(jsonb_typeof({col()}) <> 'null', FALSE)"
    if op in ("contains", "icontains"):
        return _scalar_op(text, c, p)
    if op == "in":
        return f"{col()} IN (SELECT jsonb_array_elements({p(Jsonb(list(value)))}::jsonb))"
    if op == "nin":
        return f"({col()} IS NULL OR {col()} NOT IN (SELECT jsonb_array_elements({p(Jsonb(list(value)))}::jsonb)))"
    if op == "eq":
        return f"{col()} = {p(Jsonb(value))}::jsonb"
    if op == "ne":
        return f"({col()} IS NULL OR {col()} <> {p(Jsonb(value))}::jsonb)"
    return (f"({col()} {_CMP[op]} {p(Jsonb(value))}::jsonb "
            f"AND jsonb_typeof({col()}) = jsonb_typeof({p(Jsonb(value))}::jsonb))")


def _categories(c: Cond, p: _Params) -> str:
    each = "SELECT 1 FROM jsonb_array_elements_text(m.categories) AS cat(v) WHERE "
    op, value = c.op, c.value
    if op == "exists":
        return "jsonb_array_length(m.categories) > 0"
    if op == "in":
        return f"EXISTS ({each}cat.v = ANY({p(list(value))}))"
    if op == "nin":
        return f"NOT EXISTS ({each}cat.v = ANY({p(list(value))}))"
    if op in ("eq", "contains"):
        return f"EXISTS ({each}cat.v = {p(value)})"
    if op == "icontains":
        return f"EXISTS ({each}cat.v ILIKE {p(like(value))})"
    if op == "ne":
        return f"NOT EXISTS ({each}cat.v = {p(value)})"
    return f"EXISTS ({each}cat.v {_CMP[op]} {p(value)})"


def _bucket(c: Cond, p: _Params) -> str:
    """A bucket is named by its id or by its name (ignoring case)."""
    if c.op == "exists":
        return "TRUE"
    names = [str(n) for n in (c.value if c.op in ("in", "nin") else [c.value])]
    sql = (
        "m.bucket_id IN (SELECT b.id FROM buckets b WHERE b.project_id = m.project_id AND "
        f"(lower(b.name) = ANY({p([n.lower() for n in names])}) OR b.id = ANY({p(names)})))"
    )
    return f"NOT {sql}" if c.op in ("ne", "nin") else sql
