"""What the two SQL stores share: the SQL they both write, and the row encoders and decoders, written once.

A store describes its flavor of SQL in a `SQLFlavor` (placeholder, how it writes JSON, times and vectors, how it
reads them back); the pieces here take it. The SQL that differs (id lists, locking, keyword and vector search) stays in each
store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..embed.base import Vectors
from ..errors import MEMORY_NOT_FOUND, Conflict, NotFound
from ..models import DEFAULT_BUCKET, ApiKey, Bucket, Entity, HistoryEvent, Memory, Project, ProjectSettings
from .base import SETTINGS_FIELDS, MemoryChange, Neighbour, SettingsChange, Supersession

MEMORY_COLUMNS = (
    "m.id, m.project_id, m.text, m.hash, m.bucket_id, m.created_at, m.updated_at, m.user_id, m.agent_id, "
    "m.app_id, m.run_id, m.metadata, m.categories, m.expiration_date, m.source, b.name, m.superseded_by, m.superseded_at, "
    "m.feedback, m.feedback_reason, m.categories_auto"
)
FROM = "memories m LEFT JOIN buckets b ON b.project_id = m.project_id AND b.id = m.bucket_id"
HISTORY_COLUMNS = ("id, memory_id, project_id, event, old_text, new_text, input, user_id, agent_id, app_id, run_id, "
                   "metadata, created_at, reason")
KEY_COLUMNS = "id, project_id, name, prefix, created_at, revoked_at"
PROJECT_COLUMNS = "id, name, created_at"
SETTINGS_SELECT = ("SELECT p.id, coalesce(s.name, p.name), s.custom_categories, s.custom_instructions, "
                   "s.agent_custom_instructions, s.updated_at "
                   "FROM projects p LEFT JOIN project_settings s ON s.project_id = p.id WHERE p.id = ")
"""A project's settings (the store adds its placeholder for the project id): the defaults when it has no row."""
FORGET_HISTORY = "UPDATE history SET old_text = NULL, new_text = NULL, input = NULL, metadata = NULL"
"""Blanks the texts of a deleted memory's events (the store adds which ones): the history keeps events, ids, times."""

_MEMORY_INSERT = ("id", "project_id", "text", "hash", "user_id", "agent_id", "app_id", "run_id", "bucket_id",
                  "metadata", "categories", "source", "created_at", "updated_at", "expiration_date", "superseded_by",
                  "superseded_at", "categories_auto", "embedding")
_HISTORY_INSERT = ("id", "project_id", "memory_id", "event", "old_text", "new_text", "input", "user_id", "agent_id",
                   "app_id", "run_id", "metadata", "created_at", "reason")
_OWNERS = (("user", "user_id"), ("agent", "agent_id"), ("app", "app_id"), ("run", "run_id"))


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class SQLFlavor:
    """How one SQL store writes and reads values."""

    param: str  # the placeholder: "?" or "%s"
    vector_param: str  # the placeholder of a vector: "?" or "%s::vector"
    write_json: Callable[[Any], Any]  # a memory's metadata and categories
    write_event_json: Callable[[Any], Any]  # an event's input and metadata
    write_time: Callable[[datetime], Any]
    write_vector: Callable[[Vectors], Any]
    read_time: Callable[[Any], datetime]
    read_json: Callable[[Any], Any] = _same

    # SQL -----------------------------------------------------------------------
    def bucket_select(self, counted: bool = True) -> str:
        """Buckets of a project (the first parameter) with their memory counts (0 unless `counted`: the count reads
        every index entry of the bucket); the caller adds conditions."""
        count = ("(SELECT count(*) FROM memories m WHERE m.project_id = b.project_id AND m.bucket_id = b.id)"
                 if counted else "0")
        return (f"SELECT b.id, b.project_id, b.name, b.description, b.created_at, {count} "
                f"FROM buckets b WHERE b.project_id = {self.param}")

    def entities_select(self) -> str:
        """Each user, agent, app and run of a project, with counts and times (parameters: the project id, 4 times)."""
        return " UNION ALL ".join(
            f"SELECT '{kind}', {col}, count(*), min(created_at), max(updated_at) FROM memories "
            f"WHERE project_id = {self.param} AND {col} IS NOT NULL GROUP BY {col}" for kind, col in _OWNERS
        ) + " ORDER BY 5 DESC"

    def memory_insert(self, conflict: str | None) -> str:
        """Insert one memory (parameters: `memory_values`); with `conflict` (the unique columns), a memory whose id
        the project already has is skipped."""
        marks = [self.param] * (len(_MEMORY_INSERT) - 1) + [self.vector_param]
        return (f"INSERT INTO memories({', '.join(_MEMORY_INSERT)}) VALUES ({', '.join(marks)})"
                + (f" ON CONFLICT ({conflict}) DO NOTHING" if conflict else ""))

    def event_insert(self) -> str:
        """Insert one history event (parameters: `event_values`)."""
        return (f"INSERT INTO history({', '.join(_HISTORY_INSERT)}) "
                f"VALUES ({', '.join([self.param] * len(_HISTORY_INSERT))})")

    def patch(self, ch: MemoryChange) -> tuple[list[str], list[Any]]:
        """The SET clauses of a patch: only the fields it gives."""
        p = self.param
        sets, args = [f"updated_at = {p}"], [self.write_time(ch.updated_at)]
        fields: dict[str, tuple[str, Any]] = {
            "text": (p, ch.text), "hash": (p, ch.hash),
            "embedding": (self.vector_param, self.write_vector(ch.vector) if ch.vector is not None else None),
            "metadata": (p, self.write_json(ch.metadata) if ch.metadata is not None else None),
            "categories": (p, self.write_json(ch.categories) if ch.categories is not None else None),
            "categories_auto": (p, ch.categories_auto),
            "bucket_id": (p, ch.bucket_id),
            "expiration_date": (p, self.write_time(ch.expiration_date) if ch.expiration_date is not None else None),
        }
        for column, (placeholder, value) in fields.items():
            if value is not None:
                sets.append(f"{column} = {placeholder}")
                args.append(value)
        if ch.clear_expiration:
            sets.append("expiration_date = NULL")
        return sets, args

    def settings_upsert(self, project_id: str, ch: SettingsChange) -> tuple[str, list[Any]]:
        """One statement that writes a settings patch: a row made for the project if it has none, else only the
        fields the patch gives or clears change (parameters in order; the project must exist)."""
        p = self.param
        values: dict[str, Any] = {
            "name": ch.name,
            "custom_categories": self.write_json([{n: d} for n, d in ch.custom_categories])
            if ch.custom_categories is not None else None,
            "custom_instructions": ch.custom_instructions,
            "agent_custom_instructions": ch.agent_custom_instructions,
        }
        changed = [f for f in SETTINGS_FIELDS if values[f] is not None or f in ch.clear]
        columns = ["project_id", *changed, "updated_at"]
        args = [project_id, *(None if f in ch.clear else values[f] for f in changed), self.write_time(ch.updated_at)]
        sets = ", ".join(f"{c} = excluded.{c}" for c in [*changed, "updated_at"])
        return (f"INSERT INTO project_settings({', '.join(columns)}) VALUES ({', '.join([p] * len(columns))}) "
                f"ON CONFLICT (project_id) DO UPDATE SET {sets}"), args

    # rows written --------------------------------------------------------------
    def memory_values(self, m: Memory, vector: Vectors) -> tuple[Any, ...]:
        return (m.id, m.project_id, m.text, m.hash, m.user_id, m.agent_id, m.app_id, m.run_id, m.bucket_id,
                self.write_json(m.metadata), self.write_json(m.categories), m.source, self.write_time(m.created_at),
                self.write_time(m.updated_at), self.write_time(m.expiration_date) if m.expiration_date else None,
                m.superseded_by, self.write_time(m.superseded_at) if m.superseded_at else None,
                m.categories_auto, self.write_vector(vector))

    def event_values(self, events: Iterable[HistoryEvent]) -> list[tuple[Any, ...]]:
        j = self.write_event_json
        return [(e.id, e.project_id, e.memory_id, e.event, e.old_text, e.new_text,
                 j(e.input) if e.input is not None else None, e.user_id, e.agent_id, e.app_id, e.run_id,
                 j(e.metadata) if e.metadata is not None else None, self.write_time(e.created_at), e.reason)
                for e in events]

    # rows read (each decoder takes a row of the matching column list above) ---------
    def memory(self, row: Sequence[Any]) -> Memory:
        return Memory(
            id=row[0], project_id=row[1], text=row[2], hash=row[3], bucket_id=row[4],
            created_at=self.read_time(row[5]), updated_at=self.read_time(row[6]),
            user_id=row[7], agent_id=row[8], app_id=row[9], run_id=row[10],
            metadata=self.read_json(row[11]), categories=self.read_json(row[12]),
            expiration_date=self.read_time(row[13]) if row[13] else None, source=row[14],
            bucket_name=row[15] or DEFAULT_BUCKET,
            superseded_by=row[16], superseded_at=self.read_time(row[17]) if row[17] else None,
            feedback=row[18], feedback_reason=row[19],
            categories_auto=bool(row[20]),
        )

    def event(self, row: Sequence[Any]) -> HistoryEvent:
        return HistoryEvent(
            id=row[0], memory_id=row[1], project_id=row[2], event=row[3], old_text=row[4], new_text=row[5],
            input=self.read_json(row[6]) if row[6] is not None else None, user_id=row[7], agent_id=row[8],
            app_id=row[9], run_id=row[10], metadata=self.read_json(row[11]) if row[11] is not None else None,
            created_at=self.read_time(row[12]), reason=row[13],
        )

    def key(self, row: Sequence[Any]) -> ApiKey:
        return ApiKey(row[0], row[1], row[2], row[3], self.read_time(row[4]),
                      self.read_time(row[5]) if row[5] else None)

    def bucket(self, row: Sequence[Any]) -> Bucket:
        return Bucket(row[0], row[1], row[2], row[3], self.read_time(row[4]), int(row[5]))

    def settings(self, row: Sequence[Any]) -> ProjectSettings:
        """A row of `SETTINGS_SELECT`."""
        categories = self.read_json(row[2]) if row[2] is not None else None
        return ProjectSettings(
            project_id=row[0], name=row[1],
            custom_categories=tuple((n, d) for entry in categories for n, d in entry.items())
            if categories is not None else None,
            custom_instructions=row[3], agent_custom_instructions=row[4],
            updated_at=self.read_time(row[5]) if row[5] else None,
        )

    def project(self, row: Sequence[Any]) -> Project:
        return Project(row[0], row[1], self.read_time(row[2]))

    def entity(self, row: Sequence[Any]) -> Entity:
        return Entity(row[0], row[1], int(row[2]), self.read_time(row[3]), self.read_time(row[4]))


def one_project(memories: Sequence[Memory]) -> str:
    """The project of memories inserted with marks (`Store.insert(..., supersede=...)`): they must share one."""
    projects = {m.project_id for m in memories}
    if len(projects) != 1:
        raise ValueError("memories inserted with supersede marks belong to one project")
    return projects.pop()


def check_supersessions(marks: Sequence[Supersession], found: dict[str, Memory]) -> None:
    """The checks a store makes inside the transaction that marks (see `Store.supersede`), given the old and new
    memories of `marks` as the transaction reads them (by id; missing ones are not in the project)."""
    olds = [m.old_id for m in marks]
    if len(set(olds)) != len(olds):
        raise Conflict("a memory can be superseded only once")
    for mark in marks:
        if mark.old_id == mark.new_id:
            raise Conflict("a memory cannot supersede itself")
        old, new = found.get(mark.old_id), found.get(mark.new_id)
        if old is None or new is None:
            raise NotFound("Memory not found", code=MEMORY_NOT_FOUND)
        if old.superseded_by is not None:
            raise Conflict("the memory is already superseded")
        if new.superseded_by is not None or new.id in olds:
            raise Conflict("a superseded memory cannot supersede another")


def regroup_neighbours(rows: Iterable[tuple[str, str, int, Any, int, float, str, dict[str, Any]]]) -> list[Neighbour]:
    """`Store.neighbours`' answer from rows (anchor, id, side -1/0/1, created_at, seq, similarity, text, metadata):
    on each side of an anchor, its neighbours numbered from the nearest (offset ±1) outwards."""
    by_anchor: dict[tuple[str, int], list[tuple[Any, int, str, float, str, dict[str, Any]]]] = {}
    for anchor, nid, side, created, seq, sim, text, metadata in rows:
        by_anchor.setdefault((anchor, side), []).append((created, int(seq), nid, sim, text, metadata))
    out = []
    for (anchor, side), found in by_anchor.items():
        found.sort(key=lambda f: (f[0], f[1]), reverse=side < 0)  # nearest first on either side
        out += [Neighbour(anchor, nid, side * (i + 1) if side else 0, sim, text, metadata)
                for i, (_, _, nid, sim, text, metadata) in enumerate(found)]
    return out
