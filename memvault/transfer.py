"""Export and import a project's memories as JSON Lines. Translation only: the rules are the engine's.

The file: a header line, then one memory per line::

    {"memvault": "export", "version": 1, "embedder": "minilm-l6-v2-int8", "dim": 384, "exported_at": "..."}
    {"id": "…", "memory": "…", "user_id": "…", …, "source": null, "history": [{"event": "ADD", …}],
     "embedding": "<base64 of little-endian float32>"}   ← only with embeddings

Every field of a memory is kept, with its history (the texts of each event); event ids are not kept
(an import gives its events new ids). A line without `embedding`, or a file whose header names another
embedder (or no header), is embedded again on import.

Export streams: the store is read one page at a time (keyset paging by id), so memory use stays flat
whatever the project's size.

Import validates the whole file first (JSON, fields, limits) and reports the first bad line by number; only
then does it write, in batches of `batch` memories, each batch one transaction. A failure while writing
(the database going away) leaves the batches before it written and nothing of the failed one; running the
same import again is safe: it is idempotent by id (an id the project has is left as it is).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from . import filters as F
from .engine import Engine, ImportEvent, ImportRecord, Owners, check_uuid
from .errors import InvalidInput
from .models import ENTITY_FIELDS, utcnow
from .shapes import event_out, memory_out

FORMAT = "export"
VERSION = 1
EVENT_FIELDS = ("event", "old_memory", "new_memory", "input", "metadata", "created_at")

Progress = Callable[[int], None]
"""Told how many more memories were handled."""


# export ----------------------------------------------------------------------------------
def header(engine: Engine, *, with_embeddings: bool) -> dict[str, Any]:
    return {"memvault": FORMAT, "version": VERSION, "embedder": engine.embedder.name, "dim": engine.embedder.dim,
            "with_embeddings": with_embeddings, "exported_at": utcnow().isoformat()}


def export_lines(engine: Engine, project_id: str, *, with_embeddings: bool = False) -> Iterator[str]:
    """The export file, line by line (each ends with a newline)."""
    yield json.dumps(header(engine, with_embeddings=with_embeddings)) + "\n"
    for memory, vector, history in engine.export(project_id, vectors=with_embeddings):
        line = memory_out(memory)
        line["source"] = memory.source
        line["history"] = [{k: v for k, v in event_out(e).items() if k in EVENT_FIELDS} for e in history]
        if vector is not None:
            line["embedding"] = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
        yield json.dumps(line, ensure_ascii=False) + "\n"


def export_to(out: IO[str], engine: Engine, project_id: str, *, with_embeddings: bool = False,
              progress: Progress | None = None) -> int:
    """Write the export to `out`; returns how many memories were written."""
    count = -1  # the header
    for line in export_lines(engine, project_id, with_embeddings=with_embeddings):
        out.write(line)
        count += 1
        if progress and count:
            progress(1)
    return count


# import ----------------------------------------------------------------------------------
@dataclass
class ImportReport:
    added: int = 0
    exists: int = 0  # already in the project: left as it is
    id_taken: int = 0  # the id is used outside the project: not imported
    taken_ids: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.added + self.exists + self.id_taken


def _date(value: Any, what: str, *, required: bool) -> Any:
    if value is None:
        if required:
            raise InvalidInput(f"{what} is required")
        return None
    return F.parse_datetime(value, what)


def _optional_str(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"{key} must be a string")
    return value


def parse_line(raw: Any, embedder: str | None) -> ImportRecord:
    """One memory line of an export (already JSON-decoded) as the engine's ImportRecord."""
    if not isinstance(raw, dict):
        raise InvalidInput("expected a JSON object")
    history = raw.get("history") or []
    if not isinstance(history, list) or not all(isinstance(e, dict) for e in history):
        raise InvalidInput("history must be a list of objects")
    events = [ImportEvent(str(e.get("event")), e.get("old_memory"), e.get("new_memory"),
                          _date(e.get("created_at"), "history created_at", required=True),
                          e.get("input"), e.get("metadata")) for e in history]
    categories = raw.get("categories") or []
    if not isinstance(categories, list):
        raise InvalidInput("categories must be a list")
    vector = None
    if raw.get("embedding") is not None:
        try:
            vector = np.frombuffer(base64.b64decode(raw["embedding"], validate=True), dtype="<f4").astype(np.float32)
        except (TypeError, ValueError):
            raise InvalidInput("embedding must be base64 of float32 values") from None
    created = _date(raw.get("created_at"), "created_at", required=True)
    return ImportRecord(
        id=raw.get("id"),  # type: ignore[arg-type]  # the engine checks it is a UUID
        text=raw.get("memory"),  # type: ignore[arg-type]  # the engine checks it is a non-empty string
        created_at=created,
        updated_at=_date(raw.get("updated_at"), "updated_at", required=False) or created,
        owners=Owners(*(_optional_str(raw, f) for f in ENTITY_FIELDS)),
        metadata=raw.get("metadata"),
        categories=categories,
        bucket=_optional_str(raw, "bucket"),
        expiration_date=_date(raw.get("expiration_date"), "expiration_date", required=False),
        source=_optional_str(raw, "source"),
        history=events,
        vector=vector,
        embedder=embedder,
    )


def _records(lines: Iterable[str]) -> Iterator[tuple[int, ImportRecord]]:
    """(line number, record) for each memory line; InvalidInput names the line of the first bad one."""
    embedder: str | None = None
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            raw = json.loads(text)
            if number == 1 and isinstance(raw, dict) and raw.get("memvault") == FORMAT:
                if raw.get("version") != VERSION:
                    raise InvalidInput(f"export version {raw.get('version')!r} is not supported (expected {VERSION})")
                embedder = raw.get("embedder") if isinstance(raw.get("embedder"), str) else None
                continue
            record = parse_line(raw, embedder)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"line {number}: not valid JSON ({exc.msg})") from None
        except InvalidInput as exc:
            raise InvalidInput(f"line {number}: {exc.message}") from None
        yield number, record


def validate(path: Path, engine: Engine) -> int:
    """Check every line of an export file without writing; returns how many memories it holds."""
    count = 0
    with path.open(encoding="utf-8") as lines:
        for number, record in _records(lines):
            try:
                engine.check_import(record)
            except InvalidInput as exc:
                raise InvalidInput(f"line {number}: {exc.message}") from None
            count += 1
    return count


def import_from(path: Path, engine: Engine, project_id: str, *, batch: int = 500,
                progress: Progress | None = None) -> ImportReport:
    """Validate the whole file, then import it in batches (one transaction each). See the module docstring."""
    validate(path, engine)
    report = ImportReport()
    pending: list[ImportRecord] = []
    pending_ids: set[str] = set()

    def flush() -> None:
        for outcome in engine.import_memories(project_id, pending):
            if outcome.status == "added":
                report.added += 1
            elif outcome.status == "exists":
                report.exists += 1
            else:
                report.id_taken += 1
                report.taken_ids.append(outcome.id)
        if progress:
            progress(len(pending))
        pending.clear()
        pending_ids.clear()

    with path.open(encoding="utf-8") as lines:
        for _, record in _records(lines):
            key = check_uuid(record.id, "id")
            if len(pending) >= batch or key in pending_ids:
                flush()  # a repeated id goes to the next batch, where it finds itself: "exists"
            pending.append(record)
            pending_ids.add(key)
    if pending:
        flush()
    return report
