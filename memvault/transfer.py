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

Import reads and checks the whole file first (JSON, every field of every line and of every history event,
limits, an id given twice) and reports the first bad line by number; only then does it write, everything in
one transaction: a bad file or a failure while writing commits nothing. The file's memories are held in
memory meanwhile (a few KB each). It is idempotent by id: an id the project has is left as it is. Ids are
each project's own, so an import neither reads nor reveals what other projects hold.

History events keep their texts; an event's `input` is kept only when it is the memory's own message (see
`engine.own_input`), so an older export's conversations are not brought back.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
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

    @property
    def total(self) -> int:
        return self.added + self.exists


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


def _event(raw: Any, number: int) -> ImportEvent:
    if not isinstance(raw, dict):
        raise InvalidInput(f"history event {number} must be an object")
    if not isinstance(raw.get("event"), str):
        raise InvalidInput(f"history event {number}: event must be a string")
    return ImportEvent(raw["event"], raw.get("old_memory"), raw.get("new_memory"),
                       _date(raw.get("created_at"), f"history event {number}: created_at", required=True),
                       raw.get("input"), raw.get("metadata"))


def parse_line(raw: Any, embedder: str | None) -> ImportRecord:
    """One memory line of an export (already JSON-decoded) as the engine's ImportRecord (which the engine checks)."""
    if not isinstance(raw, dict):
        raise InvalidInput("expected a JSON object")
    history = raw.get("history") or []
    if not isinstance(history, list):
        raise InvalidInput("history must be a list of objects")
    events = [_event(e, n) for n, e in enumerate(history, start=1)]
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
        superseded_by=_optional_str(raw, "superseded_by"),
        superseded_at=_date(raw.get("superseded_at"), "superseded_at", required=False),
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
        except (InvalidInput, RecursionError) as exc:
            message = exc.message if isinstance(exc, InvalidInput) else "nested too deep"
            raise InvalidInput(f"line {number}: {message}") from None
        yield number, record


def read(path: Path, engine: Engine) -> list[ImportRecord]:
    """Every memory of an export file, each checked as the engine would import it (reads the store nothing, writes
    nothing); InvalidInput names the line of the first bad one, or of an id seen on an earlier line."""
    records: list[ImportRecord] = []
    first: dict[str, int] = {}
    with path.open(encoding="utf-8", errors="strict") as lines:
        try:
            for number, record in _records(lines):
                try:
                    engine.check_import(record)
                    mid = check_uuid(record.id, "id")
                except InvalidInput as exc:
                    raise InvalidInput(f"line {number}: {exc.message}") from None
                if mid in first:
                    raise InvalidInput(f"line {number}: id {mid} appears more than once (first on line {first[mid]})")
                first[mid] = number
                records.append(record)
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"the file is not UTF-8 text ({exc.reason})") from None
    return records


def validate(path: Path, engine: Engine) -> int:
    """Check every line of an export file without writing; returns how many memories it holds."""
    return len(read(path, engine))


def import_from(path: Path, engine: Engine, project_id: str, *, progress: Progress | None = None) -> ImportReport:
    """Check the whole file, then import it in one transaction. See the module docstring."""
    report = ImportReport()
    for outcome in engine.import_memories(project_id, read(path, engine), progress=progress):
        if outcome.status == "added":
            report.added += 1
        else:
            report.exists += 1
    return report
