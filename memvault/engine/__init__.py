"""The memory service. Every rule of memvault lives here; adapters only translate.

All methods take the caller's project id first: the engine never reads or writes outside it, and
an id from another project behaves exactly like an id that does not exist.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from . import filters as F
from . import ranking
from . import validate as V
from .embed.base import Embedder, Vectors
from .embed.batching import embed_query
from .errors import (
    BUCKET_NOT_FOUND,
    EMPTY_BATCH,
    ENTITY_NOT_FOUND,
    MEMORY_NOT_FOUND,
    Conflict,
    InvalidInput,
    NotFound,
    Unauthorized,
    Unavailable,
)
from .extract.base import Extractor, Message
from .models import (
    DEFAULT_BUCKET,
    ENTITY_TYPES,
    ApiKey,
    Bucket,
    DeleteOutcome,
    Entity,
    HistoryEvent,
    Memory,
    Page,
    Project,
    SearchHit,
    utcnow,
)
from .rerank.base import Reranker
from .store.base import MemoryChange, Store

DEFAULT_PROJECT = "default"
KEY_PREFIX = "mv_"
MAX_KEY_NAME_CHARS = 200
MAX_OFFSET = 2**53  # beyond any real table; larger numbers overflow the databases' integers

log = logging.getLogger("memvault.engine")


@dataclass(frozen=True)
class Limits:
    max_batch: int = 1000  # ids or items in one batch call
    max_text_chars: int = 20_000  # one memory's text
    max_messages: int = 1000  # messages in one add
    max_top_k: int = 1000
    max_page_size: int = 1000
    max_metadata_bytes: int = 16_384
    max_message_chars: int = 50_000  # one message of an add, checked before any extraction
    max_content_chars: int = 200_000  # all the messages of one add together
    near_duplicate: float = 0.95  # cosine at which an inferred fact repeats a stored one


@dataclass(frozen=True)
class Owners:
    user_id: str | None = None
    agent_id: str | None = None
    app_id: str | None = None
    run_id: str | None = None

    def as_filter(self) -> F.Node | None:
        return F.all_of(*(F.eq(k, v) for k, v in self.__dict__.items() if v is not None))

    def any(self) -> bool:
        return any(v is not None for v in self.__dict__.values())


@dataclass(frozen=True)
class AddResult:
    event: str  # "ADD"
    memory: Memory


@dataclass(frozen=True)
class UpdateItem:
    memory_id: str
    text: str | None = None
    metadata: dict[str, Any] | None = None
    categories: list[str] | None = None
    bucket: str | None = None
    expiration_date: datetime | None = None
    clear_expiration: bool = False


@dataclass
class SearchOptions:
    top_k: int = 10
    threshold: float | None = None
    keyword: bool = True  # fuse keyword relevance with meaning
    rerank: bool = True  # neighbour/recency signals on top
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportEvent:
    """One history event of an imported memory (it gets a new event id)."""

    event: str  # ADD | UPDATE | DELETE
    old_text: str | None
    new_text: str | None
    created_at: datetime
    input: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class ImportRecord:
    """A memory as an export holds it: its id, times and history are kept."""

    id: str
    text: str
    created_at: datetime
    updated_at: datetime
    owners: Owners = Owners()
    metadata: dict[str, Any] | None = None
    categories: Sequence[str] = ()
    bucket: str | None = None  # a bucket name; made when the project has none of that name
    expiration_date: datetime | None = None
    source: str | None = None
    history: Sequence[ImportEvent] = ()  # none: one ADD event at created_at
    vector: Vectors | None = None
    embedder: str | None = None  # the embedder that made `vector`


@dataclass(frozen=True)
class ImportOutcome:
    id: str
    status: str  # "added" | "exists" (already in this project: left as it is)


def text_hash(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _unit(vector: Any) -> Vectors:
    v = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


def _stack(vectors: Sequence[Vectors]) -> Vectors:
    return np.stack(vectors).astype(np.float32)


def _memory_not_found() -> NotFound:
    return NotFound("Memory not found", code=MEMORY_NOT_FOUND)


def check_uuid(memory_id: Any, what: str = "memory_id") -> str:
    if not isinstance(memory_id, str):
        raise InvalidInput(f"{what} should be a valid UUID")
    try:
        return str(uuid.UUID(memory_id))
    except ValueError:
        raise InvalidInput(f"{what} should be a valid UUID") from None


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


_IMPORT_EMBED_CHUNK = 256  # texts an import embeds at once (progress is told after each chunk)


class Engine:
    def __init__(self, store: Store, embedder: Embedder, extractor: Extractor, limits: Limits | None = None,
                 reranker: Reranker | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.extractor = extractor
        self.limits = limits or Limits()
        self.reranker = reranker  # read the best candidates of a search again (rerank on); None: fusion alone
        self._workers: ThreadPoolExecutor | None = None  # the keyword half of a search, beside the embedding
        self._workers_lock = threading.Lock()

    def vector_index_state(self) -> str:
        """"ready", or "building" while the store builds a vector index in the background."""
        return self.store.vector_index_state()

    def close(self) -> None:
        with self._workers_lock:
            workers, self._workers = self._workers, None
        if workers is not None:
            workers.shutdown(wait=True)
        close_embedder = getattr(self.embedder, "close", None)
        if callable(close_embedder):
            close_embedder()
        self.store.close()

    def _beside(self) -> ThreadPoolExecutor:
        with self._workers_lock:
            if self._workers is None:
                self._workers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="memvault-search")
            return self._workers

    def compact(self, rewrite: bool = False) -> None:
        """Drop from the database files what deletes left behind (see `Store.compact`)."""
        self.store.compact(rewrite)

    # projects and keys ---------------------------------------------------------
    def project(self, name: str | None = None) -> Project:
        name = V.identifier(name or DEFAULT_PROJECT, "project name").strip()
        if not name:
            raise InvalidInput("project name must not be empty")
        return self.store.ensure_project(name)

    def create_key(self, project: str | None = None, name: str = "") -> tuple[ApiKey, str]:
        """Make a key for a project (created on first use). The clear key is returned once, never stored."""
        name = V.identifier(name, "key name", MAX_KEY_NAME_CHARS)
        proj = self.project(project)
        clear = KEY_PREFIX + secrets.token_urlsafe(32)
        return self.store.add_key(proj.id, hash_key(clear), name, clear[:11]), clear

    def list_keys(self, project: str | None = None) -> list[ApiKey]:
        return self.store.list_keys(self.project(project).id if project else None)

    def revoke_key(self, key_id: str) -> ApiKey:
        key_id = V.identifier(key_id, "key id")
        key = self.store.revoke_key(key_id, utcnow())
        if key is None:
            raise NotFound(f"no key {V.shown(key_id)}")
        return key

    def authenticate(self, clear_key: str | None) -> str:
        """The project id a key belongs to; Unauthorized for a missing, unknown or revoked key."""
        if not clear_key:
            raise Unauthorized("Missing API key")
        if not isinstance(clear_key, str) or not clear_key.isascii():  # keys are ASCII: anything else is no key
            raise Unauthorized("Invalid API key")
        key = self.store.find_key(hash_key(clear_key.strip()))
        if key is None or key.revoked_at is not None:
            raise Unauthorized("Invalid API key")
        return key.project_id

    # validation helpers ----------------------------------------------------------
    # Every argument passes one of these (rules in memvault/validate.py), whatever face it came through.
    def _text(self, text: Any, what: str = "text") -> str:
        if not isinstance(text, str):
            raise InvalidInput(f"{what} must be a string")
        text = V.text(text, what).strip()
        if not text:
            raise InvalidInput(f"{what} must not be empty")
        if len(text) > self.limits.max_text_chars:
            raise InvalidInput(f"{what} is longer than {self.limits.max_text_chars} characters")
        return text

    def _metadata(self, metadata: Any) -> dict[str, Any]:
        return V.metadata(metadata, self.limits.max_metadata_bytes)

    @staticmethod
    def _owners(owners: Owners) -> Owners:
        for f, v in owners.__dict__.items():
            V.optional_identifier(v, f)
        return owners

    def _where(self, project_id: str, where: F.Node | None) -> F.Node | None:
        """The filter, bounded, with every bucket it names (by name or id) rewritten to that bucket's id: the
        stores only compare ids. A bucket the project does not have is NotFound, on every face."""
        found: dict[str, str] = {}

        def bucket_id(ref: Any) -> str:
            if ref not in found:
                found[ref] = self._bucket(project_id, ref).id
            return found[ref]

        def resolved(node: F.Node) -> F.Node:
            if isinstance(node, F.Cond):
                if node.field != "bucket" or node.op == "exists":
                    return node
                if node.op in ("in", "nin"):
                    return F.Cond("bucket", node.op, tuple(dict.fromkeys(bucket_id(v) for v in node.value)))
                return F.Cond("bucket", node.op, bucket_id(node.value))
            if isinstance(node, F.Not):
                return F.Not(resolved(node.item))
            return type(node)(tuple(resolved(n) for n in node.items))

        where = F.check(where)
        return where if where is None or "bucket" not in F.fields_used(where) else resolved(where)

    def _messages(self, messages: Sequence[Message]) -> None:
        """The messages of an add, bounded one by one and together before anything reads them."""
        if not messages:
            raise InvalidInput("messages must not be empty")
        if len(messages) > self.limits.max_messages:
            raise InvalidInput(f"messages: at most {self.limits.max_messages} per request")
        total = 0
        for m in messages:
            V.identifier(m.role, "a message role", V.MAX_ROLE_CHARS)
            V.optional_identifier(m.name, "a message name")
            V.string(m.content, "message content", self.limits.max_message_chars)
            total += len(m.content)
        if total > self.limits.max_content_chars:
            raise InvalidInput(f"messages hold more than {self.limits.max_content_chars} characters in all")

    def _batch(self, items: Sequence[Any], what: str) -> None:
        if len(items) > self.limits.max_batch:
            raise InvalidInput(f"{what}: at most {self.limits.max_batch} per request, got {len(items)}")

    def _bucket(self, project_id: str, bucket: str | None) -> Bucket:
        """A bucket named by id or name; None is the default bucket."""
        if bucket is None:
            found = self.store.find_bucket(project_id, DEFAULT_BUCKET)
            if found is None:  # a project made before buckets existed
                self.store.ensure_project(self._project_name(project_id))
                found = self.store.find_bucket(project_id, DEFAULT_BUCKET)
            assert found is not None
            return found
        if not isinstance(bucket, str) or not bucket.strip():
            raise InvalidInput("bucket must be a non-empty string")
        V.string(bucket, "bucket", V.MAX_BUCKET_NAME_CHARS)
        found = self.store.get_bucket(project_id, bucket) or self.store.find_bucket(project_id, bucket.strip())
        if found is None:
            raise NotFound("Bucket not found", code=BUCKET_NOT_FOUND)
        return found

    def _project_name(self, project_id: str) -> str:
        project = self.store.get_project(project_id)
        if project is None:
            raise NotFound("project not found")
        return project.name

    @staticmethod
    def _live(where: F.Node | None) -> F.Node | None:
        """Expired memories are not returned by list or search."""
        now = utcnow()
        alive = F.Or((F.Not(F.Cond("expiration_date", "exists")), F.Cond("expiration_date", "gt", now)))
        return F.all_of(where, alive)

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
        self._messages(messages)
        self._owners(owners)
        metadata = self._metadata(metadata)
        cats = V.categories(categories)
        source = V.optional_identifier(source, "source", V.MAX_SOURCE_CHARS)
        expiration_date = V.date(expiration_date, "expiration_date")
        target = self._bucket(project_id, bucket)
        if infer:
            facts = [self._text(f) for f in self.extractor.extract(list(messages)) if f and f.strip()]
        else:
            facts = [self._text(m.content, "message content") for m in messages if m.role != "system"]
        facts = list(dict.fromkeys(facts))
        if not facts:
            return []
        vectors = self.embedder.embed(facts)
        if infer:
            facts, vectors = self._novel(project_id, owners, facts, vectors)
            if not facts:
                return []
        now = utcnow()
        # A memory's history holds that memory's own words only (`own_input`): without inference its input
        # is the one message it was made of; an inferred fact keeps no input, because the conversation it came
        # from also holds its siblings' words, repeats of other memories and words that never became memories.
        sources: dict[str, list[dict[str, Any]]] = {}
        if not infer:
            for m in reversed(messages):  # the first message of a repeated text wins
                if m.role != "system":
                    sources[self._text(m.content, "message content")] = [{"role": m.role, "content": m.content}]
        memories = [
            Memory(
                id=str(uuid.uuid4()),
                project_id=project_id,
                text=fact,
                hash=text_hash(fact),
                bucket_id=target.id,
                bucket_name=target.name,
                created_at=now,
                updated_at=now,
                user_id=owners.user_id,
                agent_id=owners.agent_id,
                app_id=owners.app_id,
                run_id=owners.run_id,
                metadata=dict(metadata),
                categories=list(cats),
                expiration_date=expiration_date,
                source=source,
            )
            for fact in facts
        ]
        events = [
            HistoryEvent(str(uuid.uuid4()), m.id, project_id, "ADD", None, m.text, sources.get(m.text), now,
                         m.user_id, m.agent_id, m.app_id, m.run_id, m.metadata or None)
            for m in memories
        ]
        self.store.insert(memories, vectors, events)
        return [AddResult("ADD", m) for m in memories]

    def add_text(self, project_id: str, text: str, owners: Owners = Owners(), **options: Any) -> Memory:
        results = self.add(project_id, [Message("user", self._text(text))], owners, infer=False, **options)
        return results[0].memory

    def _novel(self, project_id: str, owners: Owners, facts: list[str], vectors: Any) -> tuple[list[str], Any]:
        """Drop inferred facts that repeat a stored memory of the same owners, exactly or nearly."""
        scope = owners.as_filter()
        known = self.store.existing_hashes(project_id, [text_hash(f) for f in facts], scope)
        keep = []
        for i, fact in enumerate(facts):
            if text_hash(fact) in known:
                continue
            nearest = self.store.vector_search(project_id, vectors[i], scope, 1)
            if nearest and nearest[0][1] >= self.limits.near_duplicate:
                continue
            keep.append(i)
        return [facts[i] for i in keep], vectors[keep]

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
            raise _memory_not_found()
        if len(found) > 1:
            raise Conflict(f"{prefix!r} is the start of several memory ids: give more of it")
        return found[0].id

    def get(self, project_id: str, memory_id: Any) -> Memory:
        found = self.store.get(project_id, [check_uuid(memory_id)])
        if not found:
            raise _memory_not_found()
        return found[0]

    def search(self, project_id: str, query: Any, where: F.Node | None = None,
               options: SearchOptions | None = None) -> list[SearchHit]:
        opts = options or SearchOptions()
        query = self._text(query, "query")
        where = self._where(project_id, where)
        if not 1 <= opts.top_k <= self.limits.max_top_k:
            raise InvalidInput(f"top_k must be between 1 and {self.limits.max_top_k}")
        if opts.threshold is not None and not 0.0 <= opts.threshold <= 1.0:
            raise InvalidInput("threshold must be between 0 and 1")
        where = self._live(where)
        terms = ranking.query_terms(query) if opts.keyword else []
        # The answer is filled tier by tier (ranking.tiers), each tier's pools fixed whatever top_k is: the first
        # k hits asked are the first k of any longer answer. A threshold ends the answer at the first hit below it.
        hits: list[ranking.Scored] = []
        vector: Vectors | None = None
        t = ranking.DEFAULT
        for tier in ranking.tiers(t):
            scored, vector, complete = self._tier(project_id, query, vector, terms, where, opts, t, tier)
            given = {s.id for s in hits}
            fresh = [s for s in scored if s.id not in given][: tier.depth - len(hits)]
            below = next((n for n, s in enumerate(fresh) if opts.threshold is not None and s.score < opts.threshold),
                         None)
            hits += fresh[:below]
            if len(hits) >= opts.top_k or below is not None or (complete and len(hits) < tier.depth):
                break
        hits = hits[: opts.top_k]  # load only the memories answered, not the whole candidate pool
        memories = {m.id: m for m in self.store.get(project_id, [s.id for s in hits])}
        return [SearchHit(memories[s.id], s.score, s.breakdown) for s in hits if s.id in memories]

    def _tier(self, project_id: str, query: str, vector: Vectors | None, terms: list[str], where: F.Node | None,
              opts: SearchOptions, t: ranking.Tuning, tier: ranking.Tier) -> tuple[list[ranking.Scored], Vectors, bool]:
        """One tier's ranking of its candidates, the query's vector, and whether the candidates were every
        memory either search could find (a larger tier would find nothing new)."""
        pool = tier.candidates
        # The keyword search needs no vector: it runs while the query is embedded and the vectors are searched.
        keyword = self._beside().submit(self.store.keyword_search, project_id, terms, where, pool) if terms else None
        try:
            if vector is None:
                vector = embed_query(self.embedder, query)[0]
            dense = self.store.vector_search(project_id, vector, where, pool)
        except BaseException:
            if keyword is not None and not keyword.cancel():
                wait([keyword])  # never leave it running on the store behind a failed search
            raise
        sparse = keyword.result() if keyword is not None else []
        complete = len(dense) < pool and len(sparse) < pool
        near: list[ranking.Candidate] = []
        if sparse or opts.rerank:  # exact cosine, text and metadata of every candidate
            near = self._near(project_id, list(dict.fromkeys([i for i, _ in dense] + [i for i, _ in sparse])),
                              vector, where, 0)
        if opts.rerank:  # the run neighbours of the best candidates only: context lifts what is next to them
            first = ranking.fuse(dense, sparse, near, keyword=opts.keyword, rerank=False, t=t)
            best = [s.id for s in first[: tier.anchors]]
            near += self._near(project_id, best, vector, where, t.radius)
        scored = ranking.fuse(dense, sparse, near, keyword=opts.keyword, rerank=opts.rerank, query=query, t=t)
        if opts.rerank and self.reranker is not None:
            scored = self._reranked(query, scored, near, t, tier.depth)
        return scored, vector, complete

    def _reranked(self, query: str, scored: list[ranking.Scored], near: list[ranking.Candidate], t: ranking.Tuning,
                  depth: int) -> list[ranking.Scored]:
        """The best `depth` scores read again by the reranker. Only texts the search already admitted are sent. If
        the reranker fails, the search answers with the fused ranking (no "rerank" part) and says so in the log."""
        assert self.reranker is not None
        texts = {c.id: c.text for c in near}
        pool = [s for s in scored[:depth] if s.id in texts]
        try:
            relevance = self.reranker.rerank(query, [texts[s.id] for s in pool])
            if len(relevance) != len(pool):
                raise Unavailable(f"the reranker gave {len(relevance)} scores for {len(pool)} texts")
        except Unavailable as exc:
            log.warning("search ranked without the reranker: %s", exc.message)
            return scored
        return ranking.reranked(pool, relevance, t)

    def _near(self, project_id: str, ids: list[str], vector: Any, where: F.Node | None,
              radius: int) -> list[ranking.Candidate]:
        return [ranking.Candidate(n.anchor, n.id, n.offset, n.similarity, n.text, n.metadata)
                for n in self.store.neighbours(project_id, ids, vector, where, radius)]

    def history(self, project_id: str, memory_id: Any) -> list[HistoryEvent]:
        mid = check_uuid(memory_id)
        events = self.store.history(project_id, mid)
        if not events:
            raise _memory_not_found()
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
        if len(self.store.get(project_id, ids)) != len(ids):  # early, before any embedding; the store checks again
            raise _memory_not_found()
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
        vectors = iter(self.embedder.embed(to_embed)) if to_embed else iter(())
        now = utcnow()
        changes = [
            MemoryChange(
                mid, str(uuid.uuid4()), now, text=text, hash=text_hash(text) if text is not None else None,
                vector=next(vectors) if text is not None else None, metadata=meta, categories=cats,
                bucket_id=bucket_id, expiration_date=None if item.clear_expiration else expiry,
                clear_expiration=item.clear_expiration,
            )
            for item, mid, text, meta, cats, expiry, bucket_id
            in zip(items, ids, texts, metadata, categories, expiries, buckets, strict=True)
        ]
        try:
            return self.store.update(project_id, changes)
        except NotFound:  # raced by a delete (of the memory or of the bucket): say which, by its code
            if len(self.store.get(project_id, ids)) != len(ids):
                raise _memory_not_found() from None
            raise NotFound("Bucket not found", code=BUCKET_NOT_FOUND) from None

    # delete ----------------------------------------------------------------------
    def delete(self, project_id: str, memory_id: Any) -> None:
        if not self.store.delete(project_id, [check_uuid(memory_id)], utcnow()):
            raise _memory_not_found()

    def delete_many(self, project_id: str, ids: Sequence[Any], *, all_or_nothing: bool = False) -> list[DeleteOutcome]:
        """Delete distinct ids in one transaction; one outcome per distinct id, in the order given.

        With `all_or_nothing`, an unknown or malformed id fails the whole call (NotFound / InvalidInput)
        and nothing is deleted.
        """
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
        if all_or_nothing:
            existing = {m.id for m in self.store.get(project_id, list(valid.values()))}
            if len(existing) != len(set(valid.values())):
                raise _memory_not_found()
        gone = set(self.store.delete(project_id, list(valid.values()), utcnow()))
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
        where = self._where(project_id, where)
        if where is None:
            raise InvalidInput("at least one filter is required to delete memories")
        return len(self.store.delete_where(project_id, where, utcnow()))

    def delete_entity(self, project_id: str, entity_type: str, name: str) -> int:
        column = ENTITY_TYPES.get(entity_type)
        if column is None:
            raise InvalidInput(f"entity type must be one of {', '.join(ENTITY_TYPES)}")
        V.identifier(name, "entity name")
        if not name:
            raise InvalidInput("entity name must not be empty")
        deleted = len(self.store.delete_where(project_id, F.eq(column, name), utcnow()))
        if deleted == 0:
            raise NotFound("Entity not found", code=ENTITY_NOT_FOUND)
        return deleted

    def reset(self, project_id: str) -> int:
        return len(self.store.delete_where(project_id, F.Cond("id", "exists"), utcnow()))

    # buckets -----------------------------------------------------------------------
    def list_buckets(self, project_id: str) -> list[Bucket]:
        self._bucket(project_id, None)
        return self.store.list_buckets(project_id)

    def get_bucket(self, project_id: str, bucket: str) -> Bucket:
        return self._bucket(project_id, bucket)

    def create_bucket(self, project_id: str, name: Any, description: Any = "") -> Bucket:
        name = V.name(name, "name", V.MAX_BUCKET_NAME_CHARS)
        if description is not None:
            V.string(description, "description", V.MAX_BUCKET_DESCRIPTION_CHARS)
        self._bucket(project_id, None)
        bucket = Bucket(str(uuid.uuid4()), project_id, name, description or "", utcnow())
        return self.store.create_bucket(bucket)

    def rename_bucket(self, project_id: str, bucket: str, name: Any = None, description: Any = None) -> Bucket:
        """Rename a bucket and/or change its description; a field left None stays as it is."""
        target = self._bucket(project_id, bucket)
        if name is None and description is None:
            raise InvalidInput("nothing to update: give name or description")
        name = target.name if name is None else V.name(name, "name", V.MAX_BUCKET_NAME_CHARS)
        if V.name_key(target.name) == V.name_key(DEFAULT_BUCKET) and V.name_key(name) != V.name_key(DEFAULT_BUCKET):
            raise Conflict(f"the {DEFAULT_BUCKET} bucket cannot be renamed")
        if description is not None:
            V.string(description, "description", V.MAX_BUCKET_DESCRIPTION_CHARS)
        return self.store.rename_bucket(project_id, target.id, name, description)

    def delete_bucket(self, project_id: str, bucket: str, memories: str) -> int:
        """Delete a bucket. `memories` says what happens to its memories: "move" (to General) or "delete"."""
        if memories not in ("move", "delete"):
            raise InvalidInput('say what to do with the bucket\'s memories: "move" (to General) or "delete"')
        target = self._bucket(project_id, bucket)
        if V.name_key(target.name) == V.name_key(DEFAULT_BUCKET):
            raise Conflict(f"the {DEFAULT_BUCKET} bucket cannot be deleted")
        general = self._bucket(project_id, None)
        return self.store.delete_bucket(project_id, target.id, general.id if memories == "move" else None, utcnow())

    def move_memories(self, project_id: str, ids: Sequence[Any], bucket: str) -> tuple[list[str], list[str]]:
        """Move memories to a bucket; returns (moved, rejected) ids. Nothing moves if the bucket is unknown."""
        if not ids:
            raise InvalidInput("give at least one memory id to move", code=EMPTY_BATCH)
        self._batch(ids, "memory ids")
        for i in ids:  # a rejected id is answered back: it must be valid text
            if isinstance(i, str):
                V.text(i, "a memory id")
        target = self._bucket(project_id, bucket)
        valid = []
        rejected = []
        for raw in dict.fromkeys(ids):
            try:
                valid.append(check_uuid(raw))
            except InvalidInput:
                rejected.append(str(raw))
        moved = self.store.move_memories(project_id, valid, target.id, utcnow())
        rejected += [i for i in valid if i not in set(moved)]
        return moved, rejected

    # export and import ----------------------------------------------------------------
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
                if len(message["content"]) > self.limits.max_text_chars:
                    raise InvalidInput(f"an input message is longer than {self.limits.max_text_chars} characters")
        metadata = self._metadata(e.metadata) if e.metadata is not None else None
        return HistoryEvent(str(uuid.uuid4()), memory_id, memory.project_id, e.event, old, new,  # type: ignore[arg-type]
                            own_input(e.event, e.input, new), e.created_at, memory.user_id, memory.agent_id,
                            memory.app_id, memory.run_id, metadata or None)

    # `list` comes last: a method named list would shadow the builtin in annotations below it.
    def list(self, project_id: str, where: F.Node | None = None, limit: int = 100, offset: int = 0) -> Page:
        if not 1 <= limit <= self.limits.max_page_size:
            raise InvalidInput(f"page size must be between 1 and {self.limits.max_page_size}")
        if not 0 <= offset <= MAX_OFFSET:
            raise InvalidInput(f"offset (or page) must be between 0 and {MAX_OFFSET}")
        return self.store.list(project_id, self._live(self._where(project_id, where)), limit, offset)
