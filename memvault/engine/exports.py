"""Memory exports (Mem0's `/v1/exports/`) and summaries (`/v1/summary/`).

An export is kept as its request only (the schema, the filter, the instructions) for EXPORT_DAYS: its data is read
when it is fetched, from the memories live then. So an export never holds a memory deleted since: forget means forget
applies to exports too. Offline, the memories go under the schema's one top-level array property when it has exactly
one, else under "memories"; each item keeps the fields its item schema names (all of them when it names none).

With a writer (memvault.write), the model fills the schema from the memories (their ids and texts) and the project's
and the export's instructions; the answer is checked with jsonschema, asked once more when it does not fit, and then
answered as {"id", "status": "FAILED", "error"} with the reason. A service failure is Unavailable (503).
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


def _misfit(value: object, schema: dict[str, Any]) -> str | None:
    """Why `value` does not fit `schema`, or None when it does."""
    error = jsonschema.exceptions.best_match(jsonschema.validators.validator_for(schema)(schema).iter_errors(value))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{error.message[:200]}" + (f" (at {where})" if where else "")


def written_item(m: Memory) -> dict[str, Any]:
    """A memory as the writer reads it."""
    return {"id": m.id, "memory": m.text, "categories": m.categories, "created_at": m.created_at.isoformat()}


class Exports(EngineCore):
    def _written(self, project_id: str, schema: dict[str, Any], memories: list[Memory],
                 instructions: str | None = None) -> tuple[Any, str | None]:
        """The writer's filling of `schema` from `memories`, checked; asked once more when it does not fit. Returns
        (value, None), or (None, the reason) when the second answer does not fit either."""
        assert self.writer is not None
        guidance = [self._writer_guidance(project_id), instructions or ""]
        items = [written_item(m) for m in memories]
        mistake: str | None = None
        for _ in range(2):
            try:
                value = self.writer.fill(schema, items, guidance, mistake)
            except ValueError as exc:
                mistake = f"the answer is not JSON ({exc})"
                continue
            mistake = _misfit(value, schema)
            if mistake is None:
                return value, None
        return None, f"the model's answer does not fit the schema after a retry: {mistake}"


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
        if self.writer is None:
            return fill(record["schema"], memories)
        value, reason = self._written(project_id, record["schema"], memories, record.get("instructions"))
        if reason is not None:
            return {"id": record["id"], "status": "FAILED", "error": reason}
        return value  # type: ignore[no-any-return]

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
        text = "\n".join(lines)
        if self.writer is not None and memories:
            text = self.writer.summary([written_item(m) for m in reversed(memories)],
                                       [self._writer_guidance(project_id)])
        return {"summary": text, "memory_count": len(memories),
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
