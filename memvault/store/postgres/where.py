"""Compile the filter tree (memvault.filters) to a PostgreSQL WHERE clause over `memories m`, with psycopg params.

Every value is a bound parameter (`%s`); no user text is ever written into the SQL. Only SQL is written here:
what a condition means is decided in filters.py, and store/sqlite/where.py writes the same meaning for SQLite. Text is
ordered with COLLATE "C" (by code point, as SQLite's BINARY), whatever the database's default collation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from psycopg.types.json import Jsonb

from ...filters import ORDERED, And, Cond, Node, Not, Or, kind

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
        return _not(_node(node.item, p))
    return _cond(node, p)


def _not(sql: str) -> str:
    return "(NOT coalesce(" + sql + ", FALSE))"  # NULL (no value) is not a match, so its negation is


_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_ASCII_LOWER = str.maketrans(_UPPER, _LOWER)


def _icontains(expr: str, value: str, p: _Params) -> str:
    """`value` in `expr`, ignoring the case of ASCII letters only, as SQLite's LIKE does: ILIKE would follow the
    database's locale (Unicode-aware under C.UTF-8, ASCII-only under C) and answer differently."""
    return f"strpos(translate({expr}, '{_UPPER}', '{_LOWER}'), {p(value.translate(_ASCII_LOWER))}) > 0"


def _cond(c: Cond, p: _Params) -> str:
    if c.field == "categories":
        return _categories(c, p)
    if c.field == "bucket":
        return _bucket(c, p)
    if c.field == "metadata":
        return _metadata(c, p)
    col = _COLUMNS[c.field]
    return _scalar_op(lambda: col, c, p)


def _scalar_op(col: Callable[[], str], c: Cond, p: _Params) -> str:
    """`col()` writes the column expression (it may bind parameters, so it is called once per use, in order)."""
    op, value = c.op, c.value
    if op == "exists":
        return f"{col()} IS NOT NULL"
    if op == "in":
        return f"{col()} = ANY({p(list(value))})"
    if op == "nin":
        return _not(f"{col()} = ANY({p(list(value))})")
    if op == "contains":
        return f"strpos({col()}, {p(str(value))}) > 0"
    if op == "icontains":
        return _icontains(col(), str(value), p)
    if op == "ne":
        return _not(f"{col()} = {p(value)}")
    collate = ' COLLATE "C"' if op in ORDERED and kind(value) == "string" else ""
    return f"{col()}{collate} {_CMP[op]} {p(value)}"


def _metadata(c: Cond, p: _Params) -> str:
    """A metadata value is a jsonb scalar: equality is jsonb equality (of one type only: 5 is not "5"); ordered
    comparisons only between values of one kind; contains/icontains look at string values as text."""
    op, value = c.op, c.value

    def col() -> str:
        return f"(m.metadata -> {p(c.key)}::text)"

    def text() -> str:
        return f"(m.metadata ->> {p(c.key)}::text)"

    def typ() -> str:
        return f"jsonb_typeof({col()})"

    if op == "exists":
        return f"coalesce({typ()} <> 'null', FALSE)"
    if op in ("contains", "icontains"):
        return f"({typ()} = 'string' AND {_scalar_op(text, c, p)})"
    if op in ("in", "nin"):
        sql = f"{col()} IN (SELECT jsonb_array_elements({p(Jsonb(list(value)))}::jsonb))"
        return sql if op == "in" else _not(sql)
    if op in ("eq", "ne"):
        sql = f"{col()} = {p(Jsonb(value))}::jsonb"
        return sql if op == "eq" else _not(sql)
    assert op in ORDERED
    if kind(value) == "string":
        return f"({typ()} = 'string' AND {text()} COLLATE \"C\" {_CMP[op]} {p(value)})"
    return f"({typ()} = 'number' AND {col()} {_CMP[op]} {p(Jsonb(value))}::jsonb)"


def _categories(c: Cond, p: _Params) -> str:
    each = "SELECT 1 FROM jsonb_array_elements_text(m.categories) AS cat(v) WHERE "
    op, value = c.op, c.value
    if op == "exists":
        return "jsonb_array_length(m.categories) > 0"
    if op == "in":
        return f"EXISTS ({each}cat.v = ANY({p(list(value))}))"
    if op == "nin":
        return f"NOT EXISTS ({each}cat.v = ANY({p(list(value))}))"
    if op == "icontains":
        return f"EXISTS ({each}{_icontains('cat.v', value, p)})"
    sql = f"EXISTS ({each}cat.v = {p(value)})"  # eq, contains: one of the categories is this one
    return f"NOT {sql}" if op == "ne" else sql


def _bucket(c: Cond, p: _Params) -> str:
    """The engine has named every bucket by its id (memvault.engine.Engine._where): only ids are compared."""
    return _scalar_op(lambda: "m.bucket_id", c, p)
