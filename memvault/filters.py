"""One filter tree, parsed once from either dialect; each store compiles it to its own SQL.

Grammar (Mem0's v2/v3 `filters`):
    root      := {"AND": [root...]} | {"OR": [root...]} | {"NOT": [root...] | root} | {field: value, ...}
    value     := scalar (eq) | "*" (any non-null) | [scalar...] (in) | {op: scalar, ...} (all must hold)
    op        := eq ne in nin gt gte lt lte contains icontains
    metadata  := {"metadata": {key: value, ...}}
    fields    := user_id agent_id app_id run_id created_at updated_at expiration_date categories
                 metadata memory_ids keywords bucket id
Several keys in one object are joined by AND.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import InvalidInput
from .models import ENTITY_FIELDS

OPS = frozenset({"eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "contains", "icontains", "exists"})
DATE_FIELDS = frozenset({"created_at", "updated_at", "expiration_date"})
TEXT_FIELDS = frozenset({*ENTITY_FIELDS, "bucket", "id"})


@dataclass(frozen=True)
class Cond:
    """`field op value`. For field "metadata", `key` names the metadata key. op "exists" means non-null."""

    field: str
    op: str
    value: Any = None
    key: str | None = None


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Cond | And | Or | Not


def all_of(*nodes: Node | None) -> Node | None:
    items = tuple(n for n in nodes if n is not None)
    if not items:
        return None
    return items[0] if len(items) == 1 else And(items)


def eq(field: str, value: Any) -> Cond:
    return Cond(field, "eq", value)


def parse(raw: Any) -> Node | None:
    """Parse a Mem0-style filter object. Raises InvalidInput with a readable message."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidInput("filters must be an object")
    return _parse_obj(raw, depth=0)


def _parse_obj(raw: dict[str, Any], depth: int) -> Node | None:
    if depth > 16:
        raise InvalidInput("filters are nested too deeply")
    parts: list[Node] = []
    for key, value in raw.items():
        node = _parse_key(key, value, depth)
        if node is not None:
            parts.append(node)
    return all_of(*parts)


def _parse_list(key: str, value: Any, depth: int) -> list[Node]:
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InvalidInput(f"filters.{key} must be a list of objects")
    out = []
    for item in value:
        node = _parse_obj(item, depth + 1)
        if node is not None:
            out.append(node)
    return out


def _parse_key(key: str, value: Any, depth: int) -> Node | None:
    upper = key.upper()
    if upper in ("AND", "OR", "NOT") and key in ("AND", "OR", "NOT", "and", "or", "not"):
        items = _parse_list(key, value, depth)
        if not items:
            return None
        if upper == "AND":
            return all_of(*items)
        if upper == "OR":
            return items[0] if len(items) == 1 else Or(tuple(items))
        inner = all_of(*items)
        return Not(inner) if inner is not None else None
    if key == "metadata":
        if not isinstance(value, dict):
            raise InvalidInput("filters.metadata must be an object")
        return all_of(*(_parse_value("metadata", v, mkey=str(k)) for k, v in value.items()))
    if key in ("memory_ids", "ids"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidInput(f"filters.{key} must be a list of strings")
        return Cond("id", "in", tuple(value))
    if key == "keywords":
        if isinstance(value, str):
            return Cond("text", "icontains", value)
        return _parse_value("text", value)
    if key in TEXT_FIELDS or key in DATE_FIELDS or key == "categories":
        return _parse_value(key, value)
    raise InvalidInput(f"unknown filter field: {key}")


def _parse_value(field: str, value: Any, mkey: str | None = None) -> Node:
    where = f"filters.{'metadata.' + mkey if mkey else field}"
    if value == "*":
        return Cond(field, "exists", None, mkey)
    if isinstance(value, dict):
        if not value:
            raise InvalidInput(f"{where} must not be an empty object")
        conds: list[Node] = []
        for op, operand in value.items():
            if op not in OPS:
                raise InvalidInput(f"{where}: unknown operator {op!r}")
            conds.append(_cond(field, op, operand, mkey, where))
        return all_of(*conds)  # type: ignore[return-value]
    if isinstance(value, list):
        return _cond(field, "in", value, mkey, where)
    if field == "categories":
        return _cond(field, "contains", value, mkey, where)
    return _cond(field, "eq", value, mkey, where)


def _cond(field: str, op: str, operand: Any, mkey: str | None, where: str) -> Cond:
    if op in ("in", "nin"):
        if not isinstance(operand, list) or not operand:
            raise InvalidInput(f"{where}: '{op}' needs a non-empty list")
        return Cond(field, op, tuple(_scalar(field, v, where) for v in operand), mkey)
    if op == "exists":
        return Cond(field, "exists", None, mkey)
    if op in ("contains", "icontains"):
        if not isinstance(operand, str) or not operand:
            raise InvalidInput(f"{where}: '{op}' needs a non-empty string")
        return Cond(field, op, operand, mkey)
    if operand == "*" and op == "eq":
        return Cond(field, "exists", None, mkey)
    if operand is None and op in ("eq", "ne"):
        return Cond(field, "exists", None, mkey) if op == "ne" else Not(Cond(field, "exists", None, mkey))  # type: ignore[return-value]
    return Cond(field, op, _scalar(field, operand, where), mkey)


def _scalar(field: str, value: Any, where: str) -> Any:
    if field in DATE_FIELDS:
        return parse_datetime(value, where)
    if field == "metadata":
        if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
            raise InvalidInput(f"{where}: {value} is out of the range of 64-bit integers")
        if isinstance(value, (str, int, float, bool)):
            return value
        raise InvalidInput(f"{where}: values must be strings, numbers or booleans")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidInput(f"{where}: values must be strings")
    return str(value)


def parse_datetime(value: Any, where: str = "date") -> datetime:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            dt = datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise InvalidInput(f"{where}: {value!r} is out of the range of dates") from None
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(f"{where}: {value!r} is not an ISO 8601 date") from None
    else:
        raise InvalidInput(f"{where}: expected an ISO 8601 date")
    try:
        return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is past the last representable UTC date
        raise InvalidInput(f"{where}: {value!r} is out of the range of dates") from None


def fields_used(node: Node | None) -> set[str]:
    if node is None:
        return set()
    if isinstance(node, Cond):
        return {node.field}
    if isinstance(node, Not):
        return fields_used(node.item)
    out: set[str] = set()
    for item in node.items:
        out |= fields_used(item)
    return out
