"""The Store protocol: everything the engine asks of a storage backend.

Each method is one transaction. A store never decides a rule (limits, dedup, scoring): it
stores, filters and finds. Every method that touches memories takes the project id first and
never reads or writes another project's rows.

Deleting is final in every store: the row, its vector, its keyword-index entry and the texts of
its history events go in the same transaction; the history keeps events, ids and times only.

Reads fetch their rows whole before anything decodes them, so a row a decoder rejects fails that one call and
leaves no statement (and no read snapshot) open behind it. A memory's bucket exists when its row commits.
"""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from ..embed.base import Vectors
from ..filters import Node
from ..models import (
    ApiKey,
    Bucket,
    ChangeEvent,
    ChatChunk,
    ChatMessage,
    Conversation,
    ConversationPage,
    ConversationQuery,
    DeliveryState,
    Entity,
    EventQuery,
    HistoryEvent,
    Job,
    Memory,
    Page,
    Project,
    ProjectSettings,
    PurgeReason,
    Webhook,
)

PurgeField = Literal["expiration_date", "superseded_at"]


@dataclass(frozen=True)
class MemoryChange:
    """A patch to one memory: only the fields given (not None) change. The store applies it inside its write
    transaction, reading the memory there, so concurrent patches of different fields all land and a patch never
    brings back a memory deleted meanwhile. `text` comes with its `hash` and `vector`; `bucket_id` must name a
    bucket of the project when the patch commits; `clear_expiration` removes the expiration date. The store
    records one UPDATE history event (`event_id`, at `updated_at`) with the text before and after the patch, and
    the memory's metadata after it."""

    id: str
    event_id: str
    updated_at: datetime
    text: str | None = None
    hash: str | None = None
    vector: Vectors | None = None
    metadata: dict[str, Any] | None = None
    categories: list[str] | None = None
    categories_auto: bool | None = None  # whether memvault chose `categories` (None: unchanged)
    bucket_id: str | None = None
    expiration_date: datetime | None = None
    clear_expiration: bool = False

    def event(self, old_text: str, memory: Memory) -> HistoryEvent:
        """The history event of this patch, from the text before it and the memory as committed."""
        return HistoryEvent(self.event_id, memory.id, memory.project_id, "UPDATE", old_text, memory.text, None,
                            self.updated_at, memory.user_id, memory.agent_id, memory.app_id, memory.run_id,
                            memory.metadata or None)


SETTINGS_FIELDS = ("name", "custom_categories", "custom_instructions", "agent_custom_instructions")


@dataclass(frozen=True)
class SettingsChange:
    """A patch to a project's settings: the fields given (not None) are set, the fields named in `clear` go back to
    their default (the project's own name, the default categories, no instructions); the others stay as they are."""

    updated_at: datetime
    name: str | None = None
    custom_categories: tuple[tuple[str, str], ...] | None = None
    custom_instructions: str | None = None
    agent_custom_instructions: str | None = None
    clear: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Supersession:
    """Memory `old_id` is no longer true: memory `new_id` (of the same project) replaced it at `at`. The store marks
    the old memory (`superseded_by`, `superseded_at`) and records a SUPERSEDE history event (`event_id`) on it: its
    own text as the old text, no new text (the new memory's words stay in the new memory's history only, so a
    delete of either forgets it), and the new id as the event's metadata `{"superseded_by": new_id}`."""

    old_id: str
    new_id: str
    event_id: str
    at: datetime

    def event(self, old: Memory) -> HistoryEvent:
        return HistoryEvent(self.event_id, old.id, old.project_id, "SUPERSEDE", old.text, None, None, self.at,
                            old.user_id, old.agent_id, old.app_id, old.run_id, {"superseded_by": self.new_id})


@dataclass(frozen=True)
class Neighbour:
    """A memory next to `anchor` in their run (see `Store.neighbours`), or the anchor itself (offset 0)."""

    anchor: str
    id: str
    offset: int
    similarity: float  # cosine to the query vector, -1..1
    text: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


class ProjectStore(Protocol):
    """Projects (tenants)."""

    def ensure_project(self, name: str) -> Project: ...
    def get_project(self, project_id: str) -> Project | None: ...
    def project_settings(self, project_id: str) -> ProjectSettings | None:
        """The project's settings (its defaults when never changed); None when there is no such project."""
        ...

    def update_project_settings(self, project_id: str, change: SettingsChange) -> ProjectSettings | None:
        """Apply the patch in one transaction (concurrent patches of different fields all land); returns the
        settings as committed, None when there is no such project (then nothing is written)."""
        ...


class KeyStore(Protocol):
    """API keys, stored by their hash."""

    local_reads: bool
    """True when a read is of a local file, microseconds with no network in between (SQLite): the HTTP door then
    checks a request's key on its event loop instead of handing the read to a worker thread. False when reads cross
    a network or may wait for a connection (PostgreSQL)."""

    def add_key(self, project_id: str, key_hash: str, name: str, prefix: str) -> ApiKey: ...
    def find_key(self, key_hash: str) -> ApiKey | None: ...
    def list_keys(self, project_id: str | None = None) -> list[ApiKey]: ...
    def revoke_key(self, key_id: str, at: datetime) -> ApiKey | None: ...


class BucketStore(Protocol):
    """A project's buckets, and moving memories between them."""

    def list_buckets(self, project_id: str) -> list[Bucket]: ...
    def get_bucket(self, project_id: str, bucket_id: str, *, counted: bool = True) -> Bucket | None:
        """`counted=False`: its memory_count is left 0 (an add needs the bucket's id and name only, and counting
        reads every memory of the bucket's index entries: at 100,000 memories, milliseconds per add)."""
        ...
    def find_bucket(self, project_id: str, name: str, *, counted: bool = True) -> Bucket | None:
        """By name, ignoring case. `counted` as in `get_bucket`."""
        ...

    def create_bucket(self, bucket: Bucket) -> Bucket:
        """Raises Conflict when the project already has a bucket of that name (ignoring case)."""
        ...

    def rename_bucket(self, project_id: str, bucket_id: str, name: str, description: str | None) -> Bucket: ...
    def delete_bucket(self, project_id: str, bucket_id: str, move_to: str | None, at: datetime) -> int:
        """Delete a bucket; its memories move to `move_to` or, when None, are deleted. Returns how many."""
        ...

    def move_memories(self, project_id: str, ids: Sequence[str], bucket_id: str, at: datetime) -> list[str]:
        """Move the given memories to a bucket; returns the ids that existed and moved."""
        ...


class MemoryStore(Protocol):
    """Memories and their history: written, read, patched and deleted, one transaction per call."""

    def insert(self, memories: Sequence[Memory], vectors: Vectors, events: Sequence[HistoryEvent],
               supersede: Sequence[Supersession] = (), changes: Sequence[MemoryChange] = ()) -> None:
        """Raises NotFound("Bucket not found") when a memory's bucket is not in the project as the rows commit
        (a bucket deleted meanwhile): then nothing is inserted. `insert_new` and `move_memories` do the same.
        With `changes` and `supersede` (in the project of the memories, which then share one), the patches are
        applied as `update` applies them and then the marks made as `supersede` makes them, in the same
        transaction, after the inserts: one add writes all of its effects or, when one fails, none."""
        ...

    def insert_group(self, writes: Sequence[AddWrite],
                     contexts: Sequence[contextvars.Context] | None = None) -> list[Exception | None]:
        """Several adds' writes, each as `insert` takes it, in ONE transaction, each in a savepoint of its own: a
        write that fails is rolled back alone and its error returned in its place (None: written); the others
        commit. `contexts[i]`: the context write i runs in (the change log reads the request's origin there).
        When the transaction fails as a whole (its commit), raises: then nothing was written
        (memvault/engine/grouping.py)."""
        ...

    def supersede(self, project_id: str, marks: Sequence[Supersession]) -> list[Memory]:
        """Mark each `old_id` superseded by its `new_id`, in one transaction, with a SUPERSEDE event each; returns
        the old memories as committed, in the order given. Checked inside the transaction, so a race cannot make
        a cycle: NotFound (memory_not_found) when an old or new memory is not in the project; Conflict when an old
        memory is already superseded, a new one is superseded (a memory no longer true supersedes nothing), or
        both are one memory. On any failure nothing changes. Whose memories may supersede whose is the engine's
        rule, not the store's."""
        ...
    def get(self, project_id: str, ids: Sequence[str]) -> list[Memory]:
        """The memories among `ids` that exist in the project, in the order of `ids`."""
        ...

    def insert_new(self, memories: Sequence[Memory], vectors: Vectors, events: Sequence[HistoryEvent]) -> list[str]:
        """Like `insert`, but a memory whose id its project already has is left out, with its events, and the row
        holding that id is not changed. Ids are unique per project: another project's ids play no part. Returns
        the ids inserted. One transaction, whatever the number of memories."""
        ...

    def scan(self, project_id: str, after: str | None, limit: int,
             vectors: bool = False) -> list[tuple[Memory, Vectors | None]]:
        """Up to `limit` memories with an id greater than `after`, by id (keyset paging over the whole project,
        expired memories included); with `vectors`, each with its stored vector."""
        ...

    def update(self, project_id: str, changes: Sequence[MemoryChange]) -> list[Memory]:
        """Apply the patches in one transaction; returns the memories as committed, in the order given. Raises
        NotFound when a memory (or a patch's bucket) is not in the project when the transaction runs: then
        nothing changes."""
        ...
    def delete(self, project_id: str, ids: Sequence[str], at: datetime, *, all_or_nothing: bool = False) -> list[str]:
        """Delete the given memories; returns the ids that existed and are now gone. With `all_or_nothing`, when one
        of them is not in the project (checked in the deleting transaction) nothing is deleted: NotFound."""
        ...

    def delete_where(self, project_id: str, where: Node, at: datetime, reason: PurgeReason | None = None) -> list[str]:
        """Delete the memories of the project that `where` admits when the transaction runs (a memory changed
        meanwhile is judged as it is then); returns their ids. `reason` goes on each DELETE event (a purge's)."""
        ...

    def purge_candidates(self, field: PurgeField, before: datetime, after: tuple[str, str] | None,
                         limit: int) -> list[tuple[str, str]]:
        """(project_id, id) of the memories of every project whose `field` is earlier than `before`: their
        expiration date, or the time a superseded memory (superseded_by set) was superseded. In (project_id, id)
        order, after `after` (keyset paging), at most `limit`. The only read across projects: what a purge sweeps."""
        ...
    def history(self, project_id: str, memory_id: str) -> list[HistoryEvent]: ...
    def entities(self, project_id: str) -> list[Entity]: ...

    # `list` comes last: a method named list would shadow the builtin in annotations below it.
    def list(self, project_id: str, where: Node | None, limit: int, offset: int = 0) -> Page:
        """Newest first (created_at, then id)."""
        ...


class SearchStore(Protocol):
    """Finding memories: by vector, by keyword, and the neighbours of a hit in its run."""

    def vector_index_state(self) -> str:
        """"ready", or "building" while a vector index is being built in the background (searches are answered
        meanwhile, by an exact scan). Shown on /healthz, so a deployment or a benchmark can wait for it."""
        ...

    def warm_up(self) -> None:
        """Start loading, in the background, what searches read (a server calls it at start; searches meanwhile
        wait or are answered as before). Returns at once."""
        ...

    def vector_search(self, project_id: str, vector: Vectors, where: Node | None, k: int) -> list[tuple[str, float]]:
        """Ids and cosine similarity (-1..1), best first."""
        ...

    def keyword_search(self, project_id: str, terms: Sequence[str], where: Node | None, k: int) -> list[tuple[str, float]]:
        """Ids and a relevance >= 0 (higher is better) for memories matching any of `terms`, best first."""
        ...

    def neighbours(self, project_id: str, ids: Sequence[str], vector: Vectors, where: Node | None,
                   radius: int) -> list[Neighbour]:
        """Each memory among `ids` that exists and passes `where` (offset 0), and up to `radius` memories on each
        side of it in its run (offsets -radius..-1 and 1..radius) that pass `where`; all with their cosine to
        `vector`, text and metadata. A run is the memories with the same run_id and the same user_id, agent_id and app_id, in
        created_at order, then insertion order; a memory without run_id has no neighbours. Any order."""
        ...


class EventStore(Protocol):
    """The change log. Every write that records history events (adds, updates, supersedes, deletes, purges) also
    writes one log event per history event, in the same transaction, with the origin of the work in progress
    (`memvault.origin`). A log event holds no text: add and update events are read with the text of the history
    event of the same id, which a delete blanks (so a deleted memory's words leave the log with its history).
    Within a project, a larger `seq` always commits later, so a reader that has read up to seq n never sees a
    smaller seq appear after."""

    def events(self, project_id: str, query: EventQuery, limit: int, offset: int = 0) -> tuple[list[ChangeEvent], int]:
        """The project's events that match, newest first, and how many match in all."""
        ...

    def event_batch(self, project_id: str, event_id: str) -> list[ChangeEvent]:
        """The event and the other events of its write (its batch), in log order; [] when the project has no such
        event."""
        ...

    def events_after(self, project_id: str, after: int, limit: int) -> list[ChangeEvent]:
        """Up to `limit` events with a seq greater than `after`, oldest first."""
        ...

    def trim_events(self, before: datetime, limit: int) -> int:
        """Delete up to `limit` of the oldest events written before `before` (every project); returns how many."""
        ...


class WebhookStore(Protocol):
    """A project's webhooks and where their deliveries stand. Ids are integers, unique in the database."""

    def add_webhook(self, project_id: str, name: str, url: str, event_types: Sequence[str], secret: str,
                    at: datetime) -> Webhook:
        """Its cursor starts at the project's last log event: it delivers what happens after it is made."""
        ...

    def list_webhooks(self, project_id: str | None) -> list[Webhook]:
        """By id; None: every project's (the delivery loop)."""
        ...

    def get_webhook(self, project_id: str, webhook_id: int) -> Webhook | None: ...

    def update_webhook(self, project_id: str, webhook_id: int, at: datetime, *, name: str | None = None,
                       url: str | None = None, event_types: Sequence[str] | None = None) -> Webhook | None:
        """Change the fields given; the webhook is active again and its failures are forgotten (its cursor stays).
        None when the project has no such webhook."""
        ...

    def delete_webhook(self, project_id: str, webhook_id: int) -> bool: ...

    def claim_webhook(self, project_id: str, webhook_id: int, owner: str, until: datetime, now: datetime) -> bool:
        """Take (or extend) the delivery lease of an active webhook for `owner` until `until`, unless another owner
        holds one that has not expired at `now`: several servers on one database never deliver the same webhook."""
        ...

    def save_delivery(self, project_id: str, webhook_id: int, owner: str, state: DeliveryState, at: datetime) -> bool:
        """Save where its deliveries stand, only while `owner` holds its lease; `state.disabled` makes it inactive."""
        ...


class RecordStore(Protocol):
    """Feedback on memories, and a project's small JSON documents by kind (memory exports, profile settings, profile
    jobs). A record past its `expires_at` is never returned; a write may drop the project's expired records."""

    def set_feedback(self, project_id: str, memory_id: str, feedback: str | None, reason: str | None) -> Memory | None:
        """Set (or, with None, clear) a memory's feedback; returns the memory as committed, None when it is not in the
        project. Not a change of the memory: no history event, `updated_at` kept."""
        ...

    def put_record(self, project_id: str, kind: str, record_id: str, body: dict[str, Any], at: datetime,
                   expires_at: datetime | None = None) -> None:
        """Write a record (a new one, or over the one of that kind and id)."""
        ...

    def get_record(self, project_id: str, kind: str, record_id: str, now: datetime) -> dict[str, Any] | None: ...
    def list_records(self, project_id: str, kind: str, now: datetime, limit: int) -> list[dict[str, Any]]:
        """The project's live records of `kind`, newest first (by when each was last written)."""
        ...



@dataclass(frozen=True)
class ChatWrite:
    """One import of a conversation, written in one transaction (`ChatStore.save_conversation`): the conversation
    row as it is after the import, the messages it adds (a message whose id the conversation already has is left
    out), the chunks it drops (by their first and last positions: every chunk of such a span goes) and the chunks
    it adds, one vector each.
    `expected_count`: the number of messages the engine saw in the conversation (0 for a new one); if another
    import changed it meanwhile, the store raises Conflict and writes nothing."""

    conversation: Conversation
    expected_count: int
    messages: Sequence[ChatMessage] = ()
    drop_chunks: Sequence[tuple[int, int]] = ()
    chunks: Sequence[ChatChunk] = ()
    vectors: Vectors | None = None


class ChatStore(Protocol):
    """The chat-history archive: conversations, their messages, and the chunks search reads (each with a vector
    and a keyword-index entry). Every method is scoped to one project. Deleting a conversation removes its row,
    its messages, its chunks, their vectors and keyword entries in one transaction, and leaves their text in no
    file once compacted (as a memory's delete does)."""

    def find_conversation(self, project_id: str, platform: str, platform_conversation_id: str) -> Conversation | None: ...
    def get_conversation(self, project_id: str, conversation_id: str) -> Conversation | None: ...
    def list_conversations(self, project_id: str, query: ConversationQuery, limit: int,
                           offset: int) -> ConversationPage:
        """Newest first (updated_at, then created order)."""
        ...

    def conversation_messages(self, project_id: str, conversation_id: str, first: int = 0,
                              last: int | None = None) -> list[ChatMessage]:
        """The messages at positions first..last (inclusive; None: to the end), by position."""
        ...

    def chunk_spans(self, project_id: str, conversation_id: str) -> list[tuple[int, int]]:
        """(first, last) of each chunk of the conversation, by first position (a span indexed as several windows
        is there once per window)."""
        ...

    def save_conversation(self, write: ChatWrite) -> Conversation:
        """Apply one import (see `ChatWrite`); returns the conversation as committed."""
        ...

    def delete_conversations(self, project_id: str, ids: Sequence[str]) -> list[str]:
        """Delete the given conversations with everything they hold; returns the ids that existed, in the order given."""
        ...

    def get_chunks(self, project_id: str, ids: Sequence[str]) -> list[ChatChunk]:
        """The chunks among `ids` that exist in the project, in the order of `ids`."""
        ...

    def chunk_vector_search(self, project_id: str, vector: Vectors, platform: str | None,
                            k: int) -> list[tuple[str, float]]:
        """Chunk ids and cosine similarity (-1..1), best first; `platform`: only that platform's conversations."""
        ...

    def chunk_keyword_search(self, project_id: str, terms: Sequence[str], platform: str | None,
                             k: int) -> list[tuple[str, float]]:
        """Chunk ids and BM25 relevance (store/keyword.py, with the statistics of the searched scope), best first."""
        ...

    def chunk_similarity(self, project_id: str, ids: Sequence[str], vector: Vectors) -> list[tuple[str, float]]:
        """The cosine similarity (-1..1) of each chunk among `ids` that exists in the project, in the order of `ids`
        (what a search needs for a passage only its keyword half found)."""
        ...


@dataclass(frozen=True)
class AddWrite:
    """Everything one add writes, as `MemoryStore.insert` takes it (`changes` alone when it inserts no memory)."""

    memories: Sequence[Memory]
    vectors: Vectors
    events: Sequence[HistoryEvent]
    supersede: Sequence[Supersession] = ()
    changes: Sequence[MemoryChange] = ()


class JobStore(Protocol):
    """The queue of async adds, shared by every process on the database. A worker claims a job (a lease until a
    time), runs it and finishes it; a job whose lease ran out (its worker died) is reclaimed and runs again. A job
    runs at most once to a result: `finish_job` writes the add's effects and the result in one transaction, and only
    while the lease is the caller's."""

    def enqueue_job(self, job_id: str, project_id: str, request: dict[str, Any], at: datetime) -> None:
        """A PENDING job with the add's arguments (JSON)."""
        ...

    def claim_job(self, worker_id: str, now: datetime, lease_until: datetime) -> Job | None:
        """The oldest PENDING job of any project, now RUNNING, held by `worker_id` until `lease_until`, its attempts
        counted; None when none waits. Two claims never take one job (PostgreSQL: FOR UPDATE SKIP LOCKED)."""
        ...

    def finish_job(self, project_id: str, job_id: str, worker_id: str, at: datetime, *,
                   results: list[dict[str, Any]] | None = None, error: str | None = None,
                   write: AddWrite | None = None) -> bool:
        """Record the job's end: SUCCEEDED with `results` (and `write` applied as `insert` applies it), or FAILED
        with `error`; the request is blanked and the lease dropped, all in one transaction. Only while the job is
        RUNNING and held by `worker_id`: otherwise nothing is written and the answer is False. An error raised by
        `write` (e.g. NotFound for a bucket deleted meanwhile) leaves everything as it was."""
        ...

    def renew_job(self, project_id: str, job_id: str, worker_id: str, lease_until: datetime) -> bool:
        """Hold the job longer (a worker still running it); False, and nothing written, when it is not RUNNING and
        held by `worker_id`."""
        ...

    def reclaim_jobs(self, now: datetime, max_attempts: int) -> int:
        """RUNNING jobs whose lease ended before `now` go back to PENDING, or, when they were tried `max_attempts`
        times, end FAILED (request blanked). Returns how many went back to PENDING."""
        ...

    def get_job(self, project_id: str, job_id: str) -> Job | None: ...

    def trim_jobs(self, before: datetime, limit: int) -> int:
        """Delete up to `limit` of the oldest SUCCEEDED or FAILED jobs that ended before `before` (every project);
        returns how many. Waiting and running jobs stay."""
        ...

    def feed(self, project_id: str, query: EventQuery, limit: int, offset: int = 0, *,
             job_statuses: Sequence[str] = (), changes: bool = True) -> tuple[list[ChangeEvent | Job], int]:
        """The project's feed: its log events that match `query` (none when `changes` is False) and its jobs whose
        status is in `job_statuses` created at or after `query.since` (jobs ignore its types and memory id), newest
        first by creation time (log events in seq order among themselves), and how many match in all."""
        ...


class Store(ProjectStore, KeyStore, BucketStore, MemoryStore, SearchStore, RecordStore, ChatStore, EventStore,
            WebhookStore, JobStore, Protocol):
    """Everything the engine asks of a storage backend (see memvault/store/__init__.py to register one, and
    memvault/testing/conformance.py for the suite it must pass)."""

    def close(self) -> None: ...
    def compact(self, rewrite: bool = False) -> None:
        """Reclaim the space, and the bytes, that deletes left in the files (deleted rows are gone for every
        read at their commit already). `rewrite`: also rewrite the files whole (VACUUM / VACUUM FULL), which
        clears the free space inside pages too; slow on a large database, and it locks writers meanwhile."""
        ...
