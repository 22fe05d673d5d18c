"""One filter tree, parsed once from either dialect; each store only compiles it to its own SQL.

Grammar (Mem0's v2/v3 `filters`):
    root      := {"AND": [root...]} | {"OR": [root...]} | {"NOT": [root...] | root} | {field: value, ...}
    value     := scalar (eq) | "*" (any non-null) | null (missing) | [scalar...] (in) | {op: operand, ...} (all hold)
    op        := eq ne in nin gt gte lt lte contains icontains exists
    metadata  := {"metadata": {key: value, ...}}
    fields    := user_id agent_id app_id run_id created_at updated_at expiration_date categories
                 metadata memory_ids keywords bucket id superseded_by superseded_at feedback
Several keys in one object are joined by AND; `NOT [a, b]` is NOT (a AND b). An AND, OR or NOT must hold at
least one condition (an empty one is refused, never read as "everything").

What each condition means is decided here, once, and every store gives the same answer:
  * a value has a kind: string, number, bool or date. A metadata value only ever equals or orders against a
    value of its own kind (5 never equals "5"; {"lt": "5"} never matches a number); bools do not order, and
    contains / icontains look at string values only;
  * `exists: true` (or "*") means present and not null, `exists: false` its opposite; a metadata key whose
    value is null is the same as a missing key, so {"k": null} matches both and {"k": {"ne": null}} neither;
  * ne / nin are matched by a missing (or null) value; every other operator is not;
  * strings order by code point (the same on SQLite and PostgreSQL, whatever the database's collation);
  * at most MAX_FILTER_CONDITIONS conditions in one filter, MAX_FILTER_VALUES values in one list.
Every Cond checks itself when it is made (field, operator, operand kind, bounds), so a tree built by code obeys
the same rules as one parsed from a request, and the compilers never see an unknown field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from . import validate as V
from .errors import InvalidInput
from .models import ENTITY_FIELDS, Owners

OPS = frozenset({"eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "contains", "icontains", "exists"})
ORDERED = frozenset({"gt", "gte", "lt", "lte"})
DATE_FIELDS = frozenset({"created_at", "updated_at", "expiration_date", "superseded_at"})
TEXT_FIELDS = frozenset({*ENTITY_FIELDS, "bucket", "id", "superseded_by", "feedback"})
_EQUALITY = frozenset({"eq", "ne", "in", "nin", "exists"})
FIELD_OPS: dict[str, frozenset[str]] = {
    **{f: OPS for f in (*ENTITY_FIELDS, "id")},
    "superseded_by": _EQUALITY,  # the id of the memory that replaced this one
    "feedback": _EQUALITY,  # POSITIVE | NEGATIVE | VERY_NEGATIVE
    **{f: _EQUALITY | ORDERED for f in DATE_FIELDS},
    "bucket": _EQUALITY,  # a bucket's id or name
    "categories": _EQUALITY | {"contains", "icontains"},  # eq / contains: one of the categories is this one
    "text": frozenset({"contains", "icontains"}),  # `keywords`
    "metadata": OPS,
}
FIELDS = frozenset(FIELD_OPS)


def kind(value: Any) -> str:
    """The kind of a filter operand: "bool", "number", "string" or "date"."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, datetime):
        return "date"
    return "string"


@dataclass(frozen=True)
class Cond:
    """`field op value`. For field "metadata", `key` names the metadata key. op "exists": present and not null
    (its value is None). Checked when made: InvalidInput for anything a store could not compile the same way."""

    field: str
    op: str
    value: Any = None
    key: str | None = None

    def __post_init__(self) -> None:
        if self.field not in FIELDS:
            raise InvalidInput(f"unknown filter field: {V.shown(V.identifier(self.field, 'a filter field'))}")
        where = f"filters.{self.field}"
        if self.field == "metadata":
            V.identifier(self.key, "a metadata filter key", V.MAX_KEY_CHARS)
            assert self.key is not None
            where = f"filters.metadata.{V.shown(self.key)}"
        elif self.key is not None:
            raise InvalidInput(f"{where}: only metadata conditions name a key")
        if self.op not in FIELD_OPS[self.field]:
            raise InvalidInput(f"{where}: the operator {V.shown(str(self.op))} does not apply to this field")
        if self.op == "exists":
            if self.value is not None:
                raise InvalidInput(f"{where}: 'exists' takes no operand here")
        elif self.op in ("in", "nin"):
            if not isinstance(self.value, tuple) or not self.value:
                raise InvalidInput(f"{where}: '{self.op}' needs a non-empty list")
            if len(self.value) > V.MAX_FILTER_VALUES:
                raise InvalidInput(f"{where}: '{self.op}' takes at most {V.MAX_FILTER_VALUES} values")
            for v in self.value:
                self._operand(v, where)
        elif self.op in ("contains", "icontains"):
            if not isinstance(self.value, str) or not self.value:
                raise InvalidInput(f"{where}: '{self.op}' needs a non-empty string")
            self._operand(self.value, where)
        else:
            self._operand(self.value, where)
            if self.op in ORDERED and kind(self.value) == "bool":
                raise InvalidInput(f"{where}: '{self.op}' needs a number, a string or a date, not a bool")

    def _operand(self, value: Any, where: str) -> None:
        if self.field in DATE_FIELDS:
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise InvalidInput(f"{where}: expected a date")
            V.date(value, where)
        elif self.field == "metadata":
            if isinstance(value, str):
                V.string(value, f"{where}: a value", V.MAX_FILTER_VALUE_CHARS)
            elif isinstance(value, (bool, int, float)):
                V.number(value, where)
            else:
                raise InvalidInput(f"{where}: values must be strings, numbers or booleans")
        else:
            V.string(value, f"{where}: a value", V.MAX_FILTER_VALUE_CHARS)


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


def owned_by(owners: Owners) -> Node | None:
    """The memories of these owners (every field given must match); None when no owner is given."""
    return all_of(*(eq(k, v) for k, v in owners.__dict__.items() if v is not None))


def conditions(node: Node | None) -> int:
    """How many conditions the tree holds."""
    if node is None:
        return 0
    if isinstance(node, Cond):
        return 1
    if isinstance(node, Not):
        return conditions(node.item)
    return sum(conditions(n) for n in node.items)


def check(node: Node | None) -> Node | None:
    """The tree, if it is within the bounds of one filter (its conditions check themselves when made)."""
    count = conditions(node)
    if count > V.MAX_FILTER_CONDITIONS:
        raise InvalidInput(f"filters: at most {V.MAX_FILTER_CONDITIONS} conditions, got {count}")
    return node


def parse(raw: Any) -> Node | None:
    """Parse a Mem0-style filter object. Raises InvalidInput with a readable message."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidInput("filters must be an object")
    return check(_Parser().obj(raw, depth=0, top=True))


class _Parser:
    def __init__(self) -> None:
        self.count = 0  # conditions made so far: a huge filter stops at the bound, not after it is built

    def made(self, node: Node) -> Node:
        self.count += 1
        if self.count > V.MAX_FILTER_CONDITIONS:
            raise InvalidInput(f"filters: at most {V.MAX_FILTER_CONDITIONS} conditions")
        return node

    def obj(self, raw: dict[Any, Any], depth: int, top: bool = False) -> Node | None:
        if depth > 16:
            raise InvalidInput("filters are nested too deeply")
        if not raw and not top:
            raise InvalidInput("filters: an empty object inside AND, OR or NOT is not a condition")
        parts: list[Node] = []
        for key, value in raw.items():
            V.identifier(key, "a filter field", V.MAX_KEY_CHARS)
            node = self.key(key, value, depth)
            if node is not None:
                parts.append(node)
        return all_of(*parts)

    def items(self, key: str, value: Any, depth: int) -> list[Node]:
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise InvalidInput(f"filters.{key} must be a list of objects")
        if not value:
            raise InvalidInput(f"filters.{key} must hold at least one condition")
        out = []
        for item in value:
            node = self.obj(item, depth + 1)
            assert node is not None  # a non-empty object makes at least one condition
            out.append(node)
        return out

    def key(self, key: str, value: Any, depth: int) -> Node | None:
        upper = key.upper()
        if upper in ("AND", "OR", "NOT") and key in ("AND", "OR", "NOT", "and", "or", "not"):
            items = self.items(key, value, depth)
            if upper == "AND":
                return all_of(*items)
            if upper == "OR":
                return items[0] if len(items) == 1 else Or(tuple(items))
            inner = all_of(*items)
            assert inner is not None
            return Not(inner)
        if key == "metadata":
            if not isinstance(value, dict):
                raise InvalidInput("filters.metadata must be an object")
            for mkey in value:
                V.identifier(mkey, "a metadata filter key", V.MAX_KEY_CHARS)
            return all_of(*(self.value("metadata", v, mkey=k) for k, v in value.items()))
        if key in ("memory_ids", "ids"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidInput(f"filters.{key} must be a list of strings")
            return self.made(Cond("id", "in", tuple(value)))
        if key == "keywords":
            if isinstance(value, str):
                return self.made(Cond("text", "icontains", value))
            return self.value("text", value)
        if key in TEXT_FIELDS or key in DATE_FIELDS or key == "categories":
            return self.value(key, value)
        raise InvalidInput(f"unknown filter field: {V.shown(key)}")

    def value(self, field: str, value: Any, mkey: str | None = None) -> Node:
        where = f"filters.{'metadata.' + V.shown(mkey) if mkey is not None else field}"
        if isinstance(value, dict):
            if not value:
                raise InvalidInput(f"{where} must not be an empty object")
            conds: list[Node] = []
            for op, operand in value.items():
                V.identifier(op, "a filter operator", V.MAX_KEY_CHARS)
                if op not in OPS:
                    raise InvalidInput(f"{where}: unknown operator {V.shown(op)}")
                conds.append(self.made(_cond(field, op, operand, mkey, where)))
            node = all_of(*conds)
            assert node is not None
            return node
        if isinstance(value, list):
            return self.made(_cond(field, "in", value, mkey, where))
        if field == "categories" and value is not None and value != "*":
            return self.made(_cond(field, "contains", value, mkey, where))
        return self.made(_cond(field, "eq", value, mkey, where))


def _cond(field: str, op: str, operand: Any, mkey: str | None, where: str) -> Node:
    if op in ("in", "nin"):
        if not isinstance(operand, list) or not operand:
            raise InvalidInput(f"{where}: '{op}' needs a non-empty list")
        if len(operand) > V.MAX_FILTER_VALUES:
            raise InvalidInput(f"{where}: '{op}' takes at most {V.MAX_FILTER_VALUES} values")
        return Cond(field, op, tuple(_scalar(field, v, where) for v in operand), mkey)
    if op == "exists":
        if not isinstance(operand, bool):
            raise InvalidInput(f"{where}: 'exists' needs true or false")
        present = Cond(field, "exists", None, mkey)
        return present if operand else Not(present)
    if op in ("contains", "icontains"):
        if not isinstance(operand, str) or not operand:
            raise InvalidInput(f"{where}: '{op}' needs a non-empty string")
        return Cond(field, op, operand, mkey)
    if operand == "*" and op == "eq":
        return Cond(field, "exists", None, mkey)
    if operand is None and op in ("eq", "ne"):  # null: missing (or, in metadata, null)
        present = Cond(field, "exists", None, mkey)
        return present if op == "ne" else Not(present)
    if operand is None:
        raise InvalidInput(f"{where}: '{op}' needs a value, not null")
    return Cond(field, op, _scalar(field, operand, where), mkey)


def _scalar(field: str, value: Any, where: str) -> Any:
    if field in DATE_FIELDS:
        return parse_datetime(value, where)
    if field == "metadata":
        if isinstance(value, str):
            return V.text(value, f"{where}: a value")
        if isinstance(value, (int, float)):  # bool too
            return V.number(value, where)
        raise InvalidInput(f"{where}: values must be strings, numbers or booleans")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidInput(f"{where}: values must be strings")
    if isinstance(value, int):
        V.number(value, where)  # an integer within 64 bits before it is written out
    return V.text(str(value), f"{where}: a value")


def parse_datetime(value: Any, where: str = "date") -> datetime:
    """An ISO 8601 date (or a Unix time) in UTC, within the years validate.MIN_YEAR..MAX_YEAR."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            V.number(value, where)  # finite, and an integer within 64 bits (no 4,300-digit repr below)
            dt = datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError, InvalidInput):
            raise InvalidInput(f"{where}: a Unix time out of the range of dates") from None
    elif isinstance(value, str):
        V.text(value, where)
        try:
            dt = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(f"{where}: {V.shown(value)} is not an ISO 8601 date") from None
    else:
        raise InvalidInput(f"{where}: expected an ISO 8601 date")
    try:
        dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is past the last representable UTC date
        raise InvalidInput(f"{where}: {V.shown(str(value))} is out of the range of dates") from None
    V.date(dt, where)
    return dt


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


def required_equalities(node: Node | None, fields: frozenset[str]) -> list[tuple[str, str]]:
    """The (field, value) pairs of `fields` a match must equal: eq conditions joined to the top by AND only (a
    condition under OR or NOT constrains nothing alone, so it is not taken). A store may narrow its candidates with
    them before it applies the whole filter; they never replace it."""
    if isinstance(node, And):
        return [pair for item in node.items for pair in required_equalities(item, fields)]
    if isinstance(node, Cond) and node.op == "eq" and node.field in fields and isinstance(node.value, str):
        return [(node.field, node.value)]
    return []
