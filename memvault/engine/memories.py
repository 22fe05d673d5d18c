"""Memories: add, get, list, update, delete, and the forget guarantee (a delete leaves its words in no read path,
no other memory's history and, once compacted, no file)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np

from .. import filters as F
from .. import validate as V
from ..errors import EMPTY_BATCH, ENTITY_NOT_FOUND, Conflict, InvalidInput, NotFound
from ..extract.base import Message
from ..ids import time_ordered_ids
from ..models import (
    ENTITY_TYPES,
    AddResult,
    Bucket,
    DeleteOutcome,
    Entity,
    HistoryEvent,
    Memory,
    Owners,
    Page,
    UpdateItem,
    utcnow,
)
from ..store.base import AddWrite, MemoryChange, Supersession
from .categories import Categories
from .core import check_uuid, memory_not_found, text_hash
from .lifecycle import Lifecycle, Planned
from .receipts import Receipts

MAX_OFFSET = 2**53  # beyond any real table; larger numbers overflow the databases' integers


def own_input(event: str, messages: Any, new_text: str | None) -> list[dict[str, Any]] | None:
    """The `input` a history event may keep: the one message its memory was made of (an ADD event whose input is
    a single message saying, once stripped, the event's new text), else None.

    This is what makes a delete forget: a memory's history holds that memory's own words only, so blanking its
    own events (in the delete's transaction) leaves its text in no other memory's history. A conversation that
    several facts were inferred from is not kept, nor an imported input that holds more than its memory said.
    """
    if event != "ADD" or new_text is None or not isinstance(messages, list) or len(messages) != 1:
        return None
    message = messages[0]
    if not isinstance(message, dict) or not isinstance(message.get("role"), str) \
            or not isinstance(message.get("content"), str) or message["content"].strip() != new_text:
        return None
    return [{"role": message["role"], "content": message["content"]}]  # nothing else a message may carry


@dataclass(frozen=True)
class CheckedAdd:
    """An add's arguments once checked (`Memories._check_add`), its bucket found."""

    project_id: str
    messages: list[Message]
    owners: Owners
    infer: bool
    metadata: dict[str, Any]
    categories: list[str]
    bucket: Bucket
    source: str | None
    expiration_date: datetime | None


@dataclass(frozen=True)
class PreparedAdd:
    """What an add writes (`write`, one transaction) and how its results read once written."""

    plans: list[Planned]
    new_of: dict[int, Memory]  # the new memory of the i-th plan (ADD, SUPERSEDE)
    at: datetime
    write: AddWrite

    def results(self, updated: Sequence[Memory] | None = None) -> list[AddResult]:
        """One result per plan that did something; `updated`: the memories an UPDATE patched, as the store answered
        them (None: the patch applied to the memory the plan read)."""
        patched = iter(updated if updated is not None else
                       [replace(p.target, text=p.text, hash=text_hash(p.text), updated_at=self.at)
                        for p in self.plans if p.event == "UPDATE" and p.target is not None])
        added_event = {e.memory_id: e.id for e in self.write.events}
        mark_event = {mk.old_id: mk.event_id for mk in self.write.supersede}
        change_event = {ch.id: ch.event_id for ch in self.write.changes}
        results: list[AddResult] = []
        for i, p in enumerate(self.plans):
            if p.event == "ADD":
                results.append(AddResult("ADD", self.new_of[i], event_id=added_event[self.new_of[i].id]))
            elif p.event == "SUPERSEDE" and p.target is not None:
                results.append(AddResult("ADD", self.new_of[i], event_id=added_event[self.new_of[i].id]))
                results.append(AddResult("SUPERSEDE", replace(p.target, superseded_by=self.new_of[i].id,
                                                              superseded_at=self.at),
                                         event_id=mark_event[p.target.id]))
            elif p.event == "UPDATE" and p.target is not None:
                results.append(AddResult("UPDATE", next(patched), previous_memory=p.target.text,
                                         event_id=change_event[p.target.id]))
            elif p.event == "NONE" and p.target is not None:
                results.append(AddResult("NONE", p.target))
        return results


class Memories(Categories, Lifecycle, Receipts):
    # add -------------------------------------------------------------------------
    def add(
        self,
        project_id: str,
        messages: Sequence[Message],
        owners: Owners = Owners(),
        *,
        infer: bool = False,
        metadata: dict[str, Any] | None = None,
        categories: Sequence[str] | None = None,
        bucket: str | None = None,
        source: str | None = None,
        expiration_date: datetime | None = None,
    ) -> list[AddResult]:
        checked = self._check_add(project_id, messages, owners, infer=infer, metadata=metadata,
                                  categories=categories, bucket=bucket, source=source, expiration_date=expiration_date)
        prepared = self._prepare_add(checked)
        if prepared is None:
            return []
        # Every effect of the add commits in one transaction: a patch or a mark the store refuses (a race meanwhile)
        # writes nothing. Adds ready at the same moment share that transaction, each in a savepoint (grouping.py).
        write = prepared.write
        if write.memories:
            self.writes.insert(write)
            updated = None
        else:
            updated = self.store.update(project_id, write.changes) if write.changes else []
        self.watchers.memories_added(len(write.memories))
        return prepared.results(updated)

    def _check_add(self, project_id: str, messages: Sequence[Message], owners: Owners, *, infer: bool,
                   metadata: dict[str, Any] | None, categories: Sequence[str] | None, bucket: str | None,
                   source: str | None, expiration_date: datetime | None) -> CheckedAdd:
        """Every check an add's arguments pass before anything reads them (an async add's too, at submit time)."""
        self._messages(messages)
        self._owners(owners)
        return CheckedAdd(
            project_id, list(messages), owners, bool(infer), self._metadata(metadata),
            V.categories(categories), self._bucket(project_id, bucket, counted=False),
            V.optional_identifier(source, "source", V.MAX_SOURCE_CHARS), V.date(expiration_date, "expiration_date"),
        )

    def _prepare_add(self, add: CheckedAdd, ids: Callable[[int], str] | None = None) -> PreparedAdd | None:
        """What the add writes (extraction, embedding, the plan of each fact, categories), not yet written; None when
        it writes nothing. `ids`: the id of the i-th new memory (default: random ones)."""
        project_id, messages, owners, infer = add.project_id, add.messages, add.owners, add.infer
        named: dict[str, list[str]] = {}  # the categories the extractor named for a fact
        if infer:
            extracted, named = self._extract(project_id, messages, owners)
            facts = [self._text(f) for f in extracted if f and f.strip()]
        else:
            facts = [self._text(m.content, "message content") for m in messages if m.role != "system"]
        facts = list(dict.fromkeys(facts))
        if not facts:
            return None
        vectors = self.embedder.embed(facts)
        plans = (self._plan(project_id, owners, facts, vectors, self._instructions(project_id, owners)) if infer
                 else [Planned("ADD", f) for f in facts])
        if not plans:
            return None
        vector_of = dict(zip(facts, vectors, strict=True))
        reworded = list(dict.fromkeys(p.text for p in plans if p.event != "NONE" and p.text not in vector_of))
        if reworded:  # a decider may word a fact anew (an UPDATE that says it better)
            vector_of.update(zip(reworded, self.embedder.embed(reworded), strict=True))
        now = utcnow()
        # A memory's history holds that memory's own words only (`own_input`): without inference its input
        # is the one message it was made of; an inferred fact keeps no input, because the conversation it came
        # from also holds its siblings' words, repeats of other memories and words that never became memories.
        sources: dict[str, list[dict[str, Any]]] = {}
        if not infer:
            for m in reversed(messages):  # the first message of a repeated text wins
                if m.role != "system":
                    sources[self._text(m.content, "message content")] = [{"role": m.role, "content": m.content}]
        target = add.bucket
        made = iter(time_ordered_ids(2 * len(plans)))  # the new memories' ids and their ADD events' (memvault/ids.py)
        new_of: dict[int, Memory] = {
            i: Memory(
                id=ids(i) if ids is not None else next(made),
                project_id=project_id,
                text=p.text,
                hash=text_hash(p.text),
                bucket_id=target.id,
                bucket_name=target.name,
                created_at=now,
                updated_at=now,
                user_id=owners.user_id,
                agent_id=owners.agent_id,
                app_id=owners.app_id,
                run_id=owners.run_id,
                metadata=dict(add.metadata),
                categories=list(add.categories),
                expiration_date=add.expiration_date,
                source=add.source,
            )
            for i, p in enumerate(plans) if p.event in ("ADD", "SUPERSEDE")
        }
        memories = list(new_of.values())
        if memories:  # categories complete them: the caller's, else the extractor's or the nearest by meaning
            self._categorize(project_id, memories, np.stack([vector_of[m.text] for m in memories]), named)
        events = [
            HistoryEvent(next(made), m.id, project_id, "ADD", None, m.text, sources.get(m.text), now,
                         m.user_id, m.agent_id, m.app_id, m.run_id, m.metadata or None)
            for m in memories
        ]
        marks = [Supersession(p.target.id, new_of[i].id, str(uuid.uuid4()), now)
                 for i, p in enumerate(plans) if p.event == "SUPERSEDE" and p.target is not None]
        changes = [MemoryChange(p.target.id, str(uuid.uuid4()), now, text=p.text, hash=text_hash(p.text),
                                vector=vector_of[p.text])
                   for p in plans if p.event == "UPDATE" and p.target is not None]
        vectors_out = (np.stack([vector_of[m.text] for m in memories]) if memories
                       else np.zeros((0, len(vectors[0])), dtype=np.float32))
        return PreparedAdd(plans, new_of, now, AddWrite(memories, vectors_out, events, marks, changes))

    def add_text(self, project_id: str, text: str, owners: Owners = Owners(), **options: Any) -> Memory:
        results = self.add(project_id, [Message("user", self._text(text))], owners, infer=False, **options)
        return results[0].memory

    # read ------------------------------------------------------------------------
    def resolve_id(self, project_id: str, ref: Any) -> str:
        """A memory's id from its id or a unique prefix of it (at least 4 characters), as people copy them from a
        table. NotFound when nothing matches, Conflict when the prefix names several memories."""
        if not isinstance(ref, str):
            raise InvalidInput("memory_id should be a valid UUID")
        try:
            return str(uuid.UUID(ref))
        except ValueError:
            pass
        prefix = ref.strip().lower()
        if not 4 <= len(prefix) < 36 or any(ch not in "0123456789abcdef-" for ch in prefix):
            raise InvalidInput("memory_id should be a valid UUID or a prefix of one (at least 4 characters)")
        # ids are stored in their canonical lowercase form: a prefix is a range of ids
        where = F.all_of(F.Cond("id", "gte", prefix), F.Cond("id", "lt", prefix + "~"))
        found = self.store.list(project_id, where, 2, 0).items
        if not found:
            raise memory_not_found()
        if len(found) > 1:
            raise Conflict(f"{prefix!r} is the start of several memory ids: give more of it")
        return found[0].id

    def get(self, project_id: str, memory_id: Any) -> Memory:
        found = self.store.get(project_id, [check_uuid(memory_id)])
        if not found:
            raise memory_not_found()
        return found[0]

    def history(self, project_id: str, memory_id: Any) -> list[HistoryEvent]:
        mid = check_uuid(memory_id)
        events = self.store.history(project_id, mid)
        if not events:
            raise memory_not_found()
        return events

    def entities(self, project_id: str) -> list[Entity]:
        return self.store.entities(project_id)

    # update ----------------------------------------------------------------------
    def update(self, project_id: str, memory_id: Any, **changes: Any) -> Memory:
        return self.batch_update(project_id, [UpdateItem(memory_id, **changes)])[0]

    def batch_update(self, project_id: str, items: Sequence[UpdateItem]) -> list[Memory]:
        """All or nothing: one unknown id fails the whole batch and changes nothing. Each update changes only the
        fields it gives; the store applies them inside its write transaction, so concurrent updates of other
        fields all land, and an update racing a delete never brings the memory back (NotFound)."""
        if not items:
            raise InvalidInput("give at least one memory to update", code=EMPTY_BATCH)
        self._batch(items, "memories")
        ids = [check_uuid(i.memory_id) for i in items]
        if len(set(ids)) != len(ids):
            raise InvalidInput("a memory_id appears more than once")
        current = {m.id: m for m in self.store.get(project_id, ids)}
        if len(current) != len(ids):  # early, before any embedding; the store checks again
            raise memory_not_found()
        for item in items:
            if item.text is None and item.metadata is None and item.categories is None and item.bucket is None \
                    and item.expiration_date is None and not item.clear_expiration:
                raise InvalidInput("nothing to update: give text, metadata, categories, bucket or expiration_date")
        texts = [self._text(i.text) if i.text is not None else None for i in items]
        metadata = [self._metadata(i.metadata) if i.metadata is not None else None for i in items]
        categories = [V.categories(i.categories) if i.categories is not None else None for i in items]
        expiries = [V.date(i.expiration_date, "expiration_date") if i.expiration_date is not None else None
                    for i in items]
        buckets = [self._bucket(project_id, i.bucket).id if i.bucket is not None else None for i in items]
        to_embed = [t for t in texts if t is not None]
        embedded = iter(self.embedder.embed(to_embed)) if to_embed else iter(())
        vectors = [next(embedded) if t is not None else None for t in texts]
        # Categories given win; a new text gets new categories only when memvault chose the old ones (or none).
        auto: list[bool | None] = [False if c is not None else None for c in categories]
        for n, (mid, vector) in enumerate(zip(ids, vectors, strict=True)):
            if vector is not None and categories[n] is None and (current[mid].categories_auto
                                                                  or not current[mid].categories):
                categories[n], auto[n] = self._recategorize(project_id, current[mid], vector), True
        now = utcnow()
        changes = [
            MemoryChange(
                mid, str(uuid.uuid4()), now, text=text, hash=text_hash(text) if text is not None else None,
                vector=vector, metadata=meta, categories=cats, categories_auto=cats_auto,
                bucket_id=bucket_id, expiration_date=None if item.clear_expiration else expiry,
                clear_expiration=item.clear_expiration,
            )
            for item, mid, text, vector, meta, cats, cats_auto, expiry, bucket_id
            in zip(items, ids, texts, vectors, metadata, categories, auto, expiries, buckets, strict=True)
        ]
        # A delete of the memory or of the bucket that raced this update: the store's NotFound says which, by its code.
        return self.store.update(project_id, changes)

    # delete ----------------------------------------------------------------------
    def delete(self, project_id: str, memory_id: Any) -> None:
        gone = self.store.delete(project_id, [check_uuid(memory_id)], utcnow())
        if not gone:
            raise memory_not_found()
        self._receipt(project_id, gone)
        self.watchers.memories_deleted(1)

    def delete_many(self, project_id: str, ids: Sequence[Any], *, all_or_nothing: bool = False,
                    dry_run: bool = False) -> list[DeleteOutcome]:
        """Delete distinct ids in one transaction; one outcome per distinct id, in the order given.

        With `all_or_nothing`, an unknown or malformed id fails the whole call (NotFound / InvalidInput)
        and nothing is deleted. With `dry_run`, nothing is deleted and the outcomes are the ones the call would
        have had now.
        """
        V.flag(dry_run, "dry_run")
        if not ids:
            raise InvalidInput("give at least one memory id to delete", code=EMPTY_BATCH)
        self._batch(ids, "memory ids")
        if any(not isinstance(i, str) for i in ids):
            raise InvalidInput("memory ids must be strings")
        for i in ids:  # an id that is not valid text could not be answered back as "invalid_id"
            V.text(i, "a memory id")
        distinct = list(dict.fromkeys(ids))
        valid: dict[str, str] = {}
        for raw in distinct:
            try:
                valid[raw] = check_uuid(raw)
            except InvalidInput:
                if all_or_nothing:
                    raise
        if dry_run:
            gone = {m.id for m in self.store.get(project_id, list(valid.values()))}
            if all_or_nothing and len(gone) != len(set(valid.values())):
                raise memory_not_found()
        else:  # all or nothing: checked by the store in the deleting transaction (no read of every memory before)
            deleted = self.store.delete(project_id, list(valid.values()), utcnow(), all_or_nothing=all_or_nothing)
            self._receipt(project_id, deleted)
            gone = set(deleted)
            self.watchers.memories_deleted(len(gone))
        out = []
        for raw in distinct:
            if raw not in valid:
                out.append(DeleteOutcome(raw, False, "invalid_id"))
            elif valid[raw] in gone:
                out.append(DeleteOutcome(raw, True))
                gone.discard(valid[raw])  # two spellings of one uuid count once
            else:
                out.append(DeleteOutcome(raw, False, "not_found"))
        return out

    def delete_where(self, project_id: str, where: F.Node | None) -> int:
        gone = self.store.delete_where(project_id, self._delete_filter(project_id, where), utcnow())
        self._receipt(project_id, gone)
        deleted = len(gone)
        self.watchers.memories_deleted(deleted)
        return deleted

    def would_delete_where(self, project_id: str, where: F.Node | None, shown: int = 1000) -> tuple[int, list[str]]:
        """What `delete_where` would delete now (every memory the filter selects, expired and superseded ones too):
        how many, and the ids of the first `shown` of them, newest first. Deletes nothing."""
        page = self.store.list(project_id, self._delete_filter(project_id, where), shown)
        return page.total, [m.id for m in page.items]

    def _delete_filter(self, project_id: str, where: F.Node | None) -> F.Node:
        where = self._where(project_id, where)
        if where is None:
            raise InvalidInput("at least one filter is required to delete memories")
        return where

    def delete_entity(self, project_id: str, entity_type: str, name: str) -> int:
        column = ENTITY_TYPES.get(entity_type)
        if column is None:
            raise InvalidInput(f"entity type must be one of {', '.join(ENTITY_TYPES)}")
        V.identifier(name, "entity name")
        if not name:
            raise InvalidInput("entity name must not be empty")
        gone = self.store.delete_where(project_id, F.eq(column, name), utcnow())
        deleted = len(gone)
        self.watchers.memories_deleted(deleted)
        if deleted == 0:
            raise NotFound("Entity not found", code=ENTITY_NOT_FOUND)
        self._receipt(project_id, gone)
        return deleted

    def reset(self, project_id: str) -> int:
        gone = self.store.delete_where(project_id, F.Cond("id", "exists"), utcnow())
        self._receipt(project_id, gone)
        deleted = len(gone)
        self.watchers.memories_deleted(deleted)
        return deleted

    # `list` comes last: a method named list would shadow the builtin in annotations below it.
    def list(self, project_id: str, where: F.Node | None = None, limit: int = 100, offset: int = 0, *,
             latest_only: Any = True, show_expired: Any = False) -> Page:
        """Newest first; superseded memories only with `latest_only=False`, expired ones only with `show_expired`."""
        latest_only = V.flag(latest_only, "latest_only")
        show_expired = V.flag(show_expired, "show_expired")
        if not 1 <= limit <= self.limits.max_page_size:
            raise InvalidInput(f"page size must be between 1 and {self.limits.max_page_size}")
        if not 0 <= offset <= MAX_OFFSET:
            raise InvalidInput(f"offset (or page) must be between 0 and {MAX_OFFSET}")
        where = self._live(self._where(project_id, where), latest_only=latest_only, show_expired=show_expired)
        return self.store.list(project_id, where, limit, offset)
