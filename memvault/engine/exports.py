"""Memory exports (Mem0's `/v1/exports/`) and summaries (`/v1/summary/`).

An export is kept as its request only (the schema, the filter, the instructions) for EXPORT_DAYS: its data is read
when it is fetched, from the memories live then. So an export never holds a memory deleted since: forget means forget
applies to exports too. Offline, the memories go under the schema's one top-level array property when it has exactly
one, else under "memories"; each item keeps the fields its item schema names (all of them when it names none).
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import jsonschema

from .. import filters as F
from .. import validate as V
from ..errors import InvalidInput, NotFound
from ..models import Memory, utcnow
from .core import EngineCore

EXPORT_DAYS = 7
MAX_EXPORT_MEMORIES = 10_000
MAX_SCHEMA_BYTES = 65_536
MAX_INSTRUCTIONS_CHARS = 10_000
SUMMARY_LINES_PER_CATEGORY = 50
_EXPORT = "export"


def memory_item(m: Memory) -> dict[str, Any]:
    """A memory as an export or a summary lists it."""
    return {"id": m.id, "memory": m.text, "user_id": m.user_id, "agent_id": m.agent_id, "app_id": m.app_id,
            "run_id": m.run_id, "categories": m.categories, "metadata": m.metadata or None,
            "created_at": m.created_at.isoformat(), "updated_at": m.updated_at.isoformat()}


def check_schema(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        V.string(raw, "schema", MAX_SCHEMA_BYTES)
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError):
            raise InvalidInput("schema must be a JSON Schema (an object, or a string holding one)") from None
    if not isinstance(raw, dict):
        raise InvalidInput("schema must be a JSON Schema object")
    V.json_value(raw, "schema")  # depth and strings first: nothing below walks an unbounded tree
    if len(json.dumps(raw)) > MAX_SCHEMA_BYTES:
        raise InvalidInput(f"schema is larger than {MAX_SCHEMA_BYTES} bytes")
    try:
        jsonschema.validators.validator_for(raw).check_schema(raw)
    except jsonschema.SchemaError as exc:
        raise InvalidInput(f"schema is not a valid JSON Schema: {exc.message[:200]}") from None
    return raw


def fill(schema: dict[str, Any], memories: list[Memory]) -> dict[str, Any]:
    """The offline export: the memories under the schema's one top-level array property, else under "memories"."""
    props: dict[str, Any] = schema["properties"] if isinstance(schema.get("properties"), dict) else {}
    arrays = [name for name, p in props.items() if isinstance(p, dict) and p.get("type") == "array"]
    key = arrays[0] if len(arrays) == 1 else "memories"
    item_schema = props[key].get("items", {}) if key in props else {}
    wanted = item_schema.get("properties") if isinstance(item_schema, dict) else None
    items = [memory_item(m) for m in memories]
    if isinstance(wanted, dict) and wanted:
        items = [{k: v for k, v in item.items() if k in wanted} for item in items]
    return {key: items}


class Exports(EngineCore):
    def create_export(self, project_id: str, schema: Any, filters: Any, instructions: Any = None) -> dict[str, Any]:
        """Record an export request; returns its record (id, status, created_at)."""
        checked = check_schema(schema)
        self._export_where(project_id, filters)  # refused now, not when fetched
        if instructions is not None:
            V.string(instructions, "export_instructions", MAX_INSTRUCTIONS_CHARS)
        now = utcnow()
        record = {"id": str(uuid.uuid4()), "status": "SUCCEEDED", "created_at": now.isoformat(),
                  "schema": checked, "filters": filters, "instructions": instructions}
        self.store.put_record(project_id, _EXPORT, record["id"], record, now, now + timedelta(days=EXPORT_DAYS))
        return record

    def get_export(self, project_id: str, export_id: Any = None, filters: Any = None) -> dict[str, Any]:
        """The export's data, read now: by its id, or the newest export made with the same filters."""
        now = utcnow()
        if export_id is not None:
            if not isinstance(export_id, str):
                raise InvalidInput("memory_export_id must be a string")
            record = self.store.get_record(project_id, _EXPORT, V.string(export_id, "memory_export_id", 100), now)
        else:
            self._export_where(project_id, filters)
            record = next((r for r in self.store.list_records(project_id, _EXPORT, now, 1000)
                           if r.get("filters") == filters), None)
        if record is None:
            raise NotFound("Export not found")
        memories = self._live_memories(project_id, self._export_where(project_id, record["filters"]),
                                       MAX_EXPORT_MEMORIES)
        return fill(record["schema"], memories)

    def summary(self, project_id: str, filters: Any) -> dict[str, Any]:
        """The live memories a filter selects, grouped by category (the first of each memory's) as bullet lines."""
        where = self._export_where(project_id, filters)
        memories = self._live_memories(project_id, where, MAX_EXPORT_MEMORIES)
        groups: dict[str, list[Memory]] = {}
        for m in reversed(memories):  # oldest first
            groups.setdefault(m.categories[0] if m.categories else "misc", []).append(m)
        lines = []
        for name in sorted(groups):
            lines.append(f"{name.replace('_', ' ').capitalize()}:")
            lines += [f"- {m.text}" for m in groups[name][:SUMMARY_LINES_PER_CATEGORY]]
        updated = max((m.updated_at for m in memories), default=None)
        return {"summary": "\n".join(lines), "memory_count": len(memories),
                "categories": {name: len(ms) for name, ms in sorted(groups.items())},
                "updated_at": updated.isoformat() if updated else None}

    def _live_memories(self, project_id: str, where: F.Node, cap: int) -> list[Memory]:
        """Up to `cap` live memories the filter selects, newest first, read a page at a time."""
        out: list[Memory] = []
        size = self.limits.max_page_size
        while len(out) < cap:
            page = self.store.list(project_id, self._live(where), min(size, cap - len(out)), len(out)).items
            out += page
            if len(page) < size:
                break
        return out

    def _export_where(self, project_id: str, filters: Any) -> F.Node:
        if filters is not None and not isinstance(filters, dict):
            raise InvalidInput("filters must be an object")
        where = self._where(project_id, F.parse(filters) if filters else None)
        if where is None:
            raise InvalidInput("filters must name at least one of user_id, agent_id, app_id or run_id")
        return where
