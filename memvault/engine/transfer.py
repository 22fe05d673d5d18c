"""Export and import: every memory of a project with its history, and back again under the same ids and times."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from .. import validate as V
from ..embed.base import Vectors
from ..errors import InvalidInput
from ..models import (
    DEFAULT_BUCKET,
    Bucket,
    HistoryEvent,
    ImportEvent,
    ImportOutcome,
    ImportRecord,
    Memory,
    Owners,
    utcnow,
)
from .buckets import Buckets
from .core import check_uuid, text_hash
from .memories import own_input

_IMPORT_EMBED_CHUNK = 256  # texts an import embeds at once (progress is told after each chunk)


def _unit(vector: Any) -> Vectors:
    v = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


def _stack(vectors: Sequence[Vectors]) -> Vectors:
    return np.stack(vectors).astype(np.float32)


class Transfer(Buckets):
    def export(self, project_id: str, *, vectors: bool = False,
               page: int = 500) -> Iterator[tuple[Memory, Vectors | None, list[HistoryEvent]]]:
        """Every memory of the project (expired ones too) with its history, by id, one page in memory at a time."""
        after: str | None = None
        while True:
            rows = self.store.scan(project_id, after, page, vectors)
            for memory, vector in rows:
                yield memory, vector, self.store.history(project_id, memory.id)
            if len(rows) < page:
                return
            after = rows[-1][0].id

    def check_import(self, record: ImportRecord) -> None:
        """Raise InvalidInput when `import_memories` would refuse this record; reads and writes nothing."""
        self._imported(record, "", Bucket("", "", DEFAULT_BUCKET, "", utcnow()))

    def import_memories(self, project_id: str, records: Sequence[ImportRecord],
                        progress: Callable[[int], None] | None = None) -> list[ImportOutcome]:
        """Insert memories under their own ids, times and history, all in one transaction; one outcome per record.

        Every record is checked before anything is written (an InvalidInput names the first bad one, and an id
        given twice is refused): a bad record, or a failure while writing, commits nothing. Ids are the
        project's own: an id the project already has is left as it is ("exists"), whatever other projects
        hold, so an import neither reads nor reveals anything outside its project. A record's vector is kept
        when this engine's embedder made it (same name and dimension), else the text is embedded again;
        `progress` is told how many records were made ready (embedded or not), as it goes. A bucket named by
        a record is made when the project has none of that name (after every check, before the transaction).
        There is no batch limit: the caller holds the records, and the transaction holds them all.
        """
        ids: list[str] = []
        seen: set[str] = set()
        for number, r in enumerate(records, start=1):
            try:
                ids.append(mid := check_uuid(r.id, "id"))
                if mid in seen:
                    raise InvalidInput(f"id {mid} appears more than once")
                seen.add(mid)
                self.check_import(r)
            except InvalidInput as exc:
                raise InvalidInput(f"record {number}: {exc.message}") from None
        buckets: dict[str, Bucket] = {}
        for r in records:
            name = (r.bucket or DEFAULT_BUCKET).strip()
            if V.name_key(name) not in buckets:
                found = self.store.find_bucket(project_id, name) if r.bucket else self._bucket(project_id, None)
                buckets[V.name_key(name)] = found or self.create_bucket(project_id, name)
        existing = {m.id for m in self.store.get(project_id, ids)}
        kept = [r for r, mid in zip(records, ids, strict=True) if mid not in existing]
        todo = [self._imported(r, project_id, buckets[V.name_key((r.bucket or DEFAULT_BUCKET).strip())]) for r in kept]
        vectors: list[Vectors | None] = [
            _unit(r.vector) if r.vector is not None and r.embedder == self.embedder.name
            and len(r.vector) == self.embedder.dim else None
            for r in kept]
        if progress:
            progress(len(records) - len(kept) + sum(v is not None for v in vectors))
        again = [i for i, v in enumerate(vectors) if v is None]
        for lo in range(0, len(again), _IMPORT_EMBED_CHUNK):
            chunk = again[lo:lo + _IMPORT_EMBED_CHUNK]
            for i, v in zip(chunk, self.embedder.embed([todo[i][0].text for i in chunk]), strict=True):
                vectors[i] = v
            if progress:
                progress(len(chunk))
        added: set[str] = set()
        if todo:
            added = set(self.store.insert_new([m for m, _ in todo], _stack([v for v in vectors if v is not None]),
                                              [e for _, es in todo for e in es]))
            self.watchers.memories_added(len(added))
        return [ImportOutcome(i, "added" if i in added else "exists") for i in ids]

    def _imported(self, r: ImportRecord, project_id: str, bucket: Bucket) -> tuple[Memory, list[HistoryEvent]]:
        """The memory and history events a record stands for; InvalidInput names the first field that is wrong."""
        mid = check_uuid(r.id, "id")
        text = self._text(r.text)
        for what in ("created_at", "updated_at"):
            if not isinstance(getattr(r, what), datetime):
                raise InvalidInput(f"{what} must be a date")
        if r.expiration_date is not None and not isinstance(r.expiration_date, datetime):
            raise InvalidInput("expiration_date must be a date")
        if not isinstance(r.owners, Owners):
            raise InvalidInput("owners must be Owners")
        for what, value in (*r.owners.__dict__.items(), ("source", r.source)):
            if value is not None and not isinstance(value, str):
                raise InvalidInput(f"{what} must be a string")
        if isinstance(r.categories, str):
            raise InvalidInput("categories must be a list of strings")
        if r.bucket is not None:
            V.name(r.bucket, "bucket", V.MAX_BUCKET_NAME_CHARS)
        self._owners(r.owners)
        for at, what in ((r.created_at, "created_at"), (r.updated_at, "updated_at"),
                         (r.expiration_date, "expiration_date")):
            V.date(at, what)
        categories = V.categories(r.categories)
        source = V.optional_identifier(r.source, "source", V.MAX_SOURCE_CHARS)
        memory = Memory(id=mid, project_id=project_id, text=text, hash=text_hash(text), bucket_id=bucket.id,
                        bucket_name=bucket.name, created_at=r.created_at, updated_at=r.updated_at,
                        user_id=r.owners.user_id, agent_id=r.owners.agent_id, app_id=r.owners.app_id,
                        run_id=r.owners.run_id, metadata=dict(self._metadata(r.metadata)),
                        categories=categories, expiration_date=r.expiration_date, source=source)
        history = list(r.history) or [ImportEvent("ADD", None, text, r.created_at)]
        for e in history:  # the door for what history events hold (their shape is checked below and by transfer)
            if not isinstance(e, ImportEvent):
                raise InvalidInput("history events must be ImportEvents")
            V.json_value([e.old_text, e.new_text, e.input, e.metadata], "a history event")
        events = []
        for n, e in enumerate(history, start=1):
            try:
                events.append(self._imported_event(e, mid, memory))
            except InvalidInput as exc:
                raise InvalidInput(f"history event {n}: {exc.message}") from None
        if r.vector is not None and (getattr(r.vector, "ndim", 0) != 1 or not bool(np.isfinite(r.vector).all())):
            raise InvalidInput("embedding must be a list of finite numbers")
        return memory, events

    def _imported_event(self, e: ImportEvent, memory_id: str, memory: Memory) -> HistoryEvent:
        if not isinstance(e, ImportEvent):
            raise InvalidInput("must be an ImportEvent")
        if e.event not in ("ADD", "UPDATE", "DELETE"):
            raise InvalidInput("event must be ADD, UPDATE or DELETE")
        old = self._text(e.old_text, "old_memory") if e.old_text is not None else None
        new = self._text(e.new_text, "new_memory") if e.new_text is not None else None
        if not isinstance(e.created_at, datetime):
            raise InvalidInput("created_at must be a date")
        V.date(e.created_at, "created_at")
        if e.input is not None:
            if not isinstance(e.input, list) or len(e.input) > self.limits.max_messages:
                raise InvalidInput(f"input must be a list of at most {self.limits.max_messages} messages")
            for message in e.input:
                if not isinstance(message, dict) or not isinstance(message.get("role"), str) \
                        or not isinstance(message.get("content"), str):
                    raise InvalidInput("input must be a list of messages, each with a string role and content")
                V.identifier(message["role"], "an input message's role", V.MAX_ROLE_CHARS)
                if len(message["content"]) > self.limits.max_text_chars:
                    raise InvalidInput(f"an input message is longer than {self.limits.max_text_chars} characters")
        metadata = self._metadata(e.metadata) if e.metadata is not None else None
        return HistoryEvent(str(uuid.uuid4()), memory_id, memory.project_id, e.event, old, new,  # type: ignore[arg-type]
                            own_input(e.event, e.input, new), e.created_at, memory.user_id, memory.agent_id,
                            memory.app_id, memory.run_id, metadata or None)
