"""Domain types and the engine's request types. No HTTP, MCP or storage types here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .embed.base import Vectors

ENTITY_FIELDS: tuple[str, ...] = ("user_id", "agent_id", "app_id", "run_id")
ENTITY_TYPES: dict[str, str] = {"user": "user_id", "agent": "agent_id", "app": "app_id", "run": "run_id"}
DEFAULT_BUCKET = "General"

EventKind = Literal["ADD", "UPDATE", "SUPERSEDE", "DELETE"]
PurgeReason = Literal["expired", "superseded"]
PURGE_REASONS: tuple[PurgeReason, ...] = ("expired", "superseded")
MAX_PURGE_DAYS = 36_500  # a purge's "after N days" at most: a hundred years


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class ProjectSettings:
    """What a project tells memvault about itself. `custom_categories` (name -> description, in order) replaces the
    default categories when set; the instructions go to the LLM extractor and decider."""

    project_id: str
    name: str  # the display name given, else the project's own name
    custom_categories: tuple[tuple[str, str], ...] | None = None  # None: the default categories
    custom_instructions: str | None = None
    agent_custom_instructions: str | None = None  # for memories of an agent (agent_id given, no user_id)
    updated_at: datetime | None = None  # None: never changed


@dataclass(frozen=True)
class ApiKey:
    id: str
    project_id: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass
class Memory:
    id: str
    project_id: str
    text: str
    hash: str
    bucket_id: str
    created_at: datetime
    updated_at: datetime
    user_id: str | None = None
    agent_id: str | None = None
    app_id: str | None = None
    run_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)
    expiration_date: datetime | None = None
    source: str | None = None
    bucket_name: str = DEFAULT_BUCKET
    superseded_by: str | None = None  # the memory that replaced this one (a fact no longer true); None: live
    superseded_at: datetime | None = None
    feedback: str | None = None  # POSITIVE | NEGATIVE | VERY_NEGATIVE: what a person said of this memory, the last time
    feedback_reason: str | None = None
    categories_auto: bool = False  # the categories were chosen by memvault (a text update chooses them again)

    def owners(self) -> dict[str, str | None]:
        return {f: getattr(self, f) for f in ENTITY_FIELDS}


@dataclass(frozen=True)
class HistoryEvent:
    """One change of a memory. After a delete, the texts of every event of that memory are None. A DELETE made by
    the purge sweep says why in `reason`: "expired" or "superseded" (see PURGE_REASONS)."""

    id: str
    memory_id: str
    project_id: str
    event: EventKind
    old_text: str | None
    new_text: str | None
    input: list[dict[str, Any]] | None
    created_at: datetime
    user_id: str | None = None
    agent_id: str | None = None
    app_id: str | None = None
    run_id: str | None = None
    metadata: dict[str, Any] | None = None
    reason: str | None = None


@dataclass(frozen=True)
class SearchHit:
    memory: Memory
    score: float  # 0..1, higher is better
    breakdown: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Entity:
    type: str  # user | agent | app | run
    name: str
    total_memories: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Bucket:
    id: str
    project_id: str
    name: str
    description: str
    created_at: datetime
    memory_count: int = 0


@dataclass(frozen=True)
class DeleteOutcome:
    """Per-id result of a bulk delete, in the order the distinct ids were given."""

    id: str
    deleted: bool
    reason: str | None = None  # "not_found" | "invalid_id" when not deleted


@dataclass(frozen=True)
class Purged:
    """A memory the purge deleted, or would delete in a dry run: where, which, and why. Never its text."""

    project_id: str
    memory_id: str
    reason: PurgeReason


@dataclass(frozen=True)
class PurgeReport:
    """What one purge did (or, with `dry_run`, would do), in the order it went: by reason, project, then id."""

    dry_run: bool
    purged: list[Purged]

    def count(self, reason: PurgeReason | None = None) -> int:
        return sum(1 for p in self.purged if reason is None or p.reason == reason)


@dataclass(frozen=True)
class Page:
    items: list[Memory]
    total: int


# requests -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Owners:
    user_id: str | None = None
    agent_id: str | None = None
    app_id: str | None = None
    run_id: str | None = None

    def any(self) -> bool:
        return any(v is not None for v in self.__dict__.values())


@dataclass(frozen=True)
class AddResult:
    """One effect of an add on one memory: "ADD" (a new memory), "UPDATE" (its text replaced; `previous_memory` is
    the text before), "SUPERSEDE" (no longer true: `memory.superseded_by` names the new memory, listed just before
    it as an ADD) or "NONE" (it already says the fact; nothing written)."""

    event: str  # ADD | UPDATE | SUPERSEDE | NONE
    memory: Memory
    previous_memory: str | None = None
    event_id: str | None = None  # the id of the change-log event this result wrote


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
    context: bool = True  # the context signals: run neighbours, speaker and date (memvault.ranking)
    rerank: bool = True  # the external reranker reads the best candidates again, when one is configured
    show_expired: bool = False  # expired memories too (by default a search leaves them out)


@dataclass(frozen=True)
class ImportEvent:
    """One history event of an imported memory (it gets a new event id)."""

    event: str  # ADD | UPDATE | SUPERSEDE | DELETE
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
    superseded_by: str | None = None  # the id of the memory that replaced it (which may be gone)
    superseded_at: datetime | None = None  # when; required with superseded_by


@dataclass(frozen=True)
class ImportOutcome:
    id: str
    status: str  # "added" | "exists" (already in this project: left as it is)


# the change log ---------------------------------------------------------------------------------------------------
EVENT_TYPES: tuple[str, ...] = ("memory_add", "memory_update", "memory_delete", "memory_supersede", "memory_purge",
                                "memory_categorize")
"""The change log's event types; Mem0's webhooks name memory_add, memory_update, memory_delete, memory_categorize."""
_TYPE_OF_KIND = {"ADD": "memory_add", "UPDATE": "memory_update", "DELETE": "memory_delete",
                 "SUPERSEDE": "memory_supersede", "PURGE": "memory_purge", "CATEGORIZE": "memory_categorize"}
_TEXT_KINDS = frozenset({"ADD", "UPDATE", "CATEGORIZE"})
TEXT_TYPES: tuple[str, ...] = ("memory_add", "memory_update", "memory_categorize")  # the log types that show a text
_DETAIL_KEYS = ("superseded_by", "reason")  # what a log event may say beside its text: ids and fixed words


def event_type_of(e: HistoryEvent) -> str:
    """The change-log type of a history event. A DELETE with a `reason` (a purge of expired or superseded memories)
    is a memory_purge."""
    if e.event == "DELETE" and (e.reason is not None or isinstance((e.metadata or {}).get("reason"), str)):
        return "memory_purge"
    return _TYPE_OF_KIND.get(str(e.event), "memory_" + str(e.event).lower())


def event_text_of(e: HistoryEvent) -> str | None:
    """The text a log event keeps: the memory's text after an add or an update; none for anything else."""
    return e.new_text if e.event in _TEXT_KINDS else None


def event_detail_of(e: HistoryEvent) -> dict[str, str] | None:
    """What else a log event keeps: the superseding memory's id, a purge's reason. Never a text, never metadata."""
    found = {k: v for k in _DETAIL_KEYS if isinstance(v := (e.metadata or {}).get(k), str)}
    if e.reason is not None:
        found["reason"] = e.reason
    return found or None


@dataclass(frozen=True)
class ChangeEvent:
    """One entry of the change log: a change to one memory, written in the change's transaction. `seq` orders the
    log (and is the cursor of webhook deliveries); `batch_id` names the first event of the write that made several
    (an add of several memories, a bulk delete). Add and update events show the memory's text after the change
    (read from its history event) until the memory is deleted; every other event has none."""

    seq: int
    id: str
    project_id: str
    type: str
    memory_id: str
    created_at: datetime
    text: str | None = None
    user_id: str | None = None
    agent_id: str | None = None
    app_id: str | None = None
    run_id: str | None = None
    actor: str = "library"
    key_id: str | None = None
    key_name: str | None = None
    request_id: str | None = None
    detail: dict[str, Any] | None = None
    batch_id: str | None = None

    def owners(self) -> dict[str, str | None]:
        return {f: getattr(self, f) for f in ENTITY_FIELDS}


@dataclass(frozen=True)
class EventQuery:
    """Which log events a feed shows (all given conditions hold)."""

    types: tuple[str, ...] = ()
    memory_id: str | None = None
    since: datetime | None = None


@dataclass(frozen=True)
class Webhook:
    """A project's subscription to its change log. `cursor` is the seq of the last event handled (delivered or not
    wanted); failures count from `failing_since`; a webhook failing for too long is disabled (`is_active` false)."""

    id: int
    project_id: str
    name: str
    url: str
    event_types: tuple[str, ...]
    secret: str
    is_active: bool
    cursor: int
    created_at: datetime
    updated_at: datetime
    attempts: int = 0
    failing_since: datetime | None = None
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    disabled_at: datetime | None = None


@dataclass(frozen=True)
class DeliveryState:
    """Where a webhook's deliveries stand, as the delivery loop saves it after each attempt."""

    cursor: int
    attempts: int = 0
    failing_since: datetime | None = None
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    disabled: bool = False
# chat history (MemoryPlugin's archive of whole conversations) -------------------------------------------------------
ChatStatus = Literal["queued", "processing", "completed", "rejected", "failed"]


@dataclass(frozen=True)
class Conversation:
    """One archived conversation. `id` is memvault's; `platform_conversation_id` is the id the importing app gave
    it (unique per project and platform: an import of the same id again adds to it). A conversation whose last
    import was refused by a limit says so in `status` ("rejected") and `status_reason`; its messages are those of
    the imports that were accepted."""

    id: str
    project_id: str
    platform: str
    platform_conversation_id: str
    title: str
    created_at: datetime
    updated_at: datetime
    imported_at: datetime
    import_id: str  # the last import that touched it
    message_count: int = 0
    token_count: int = 0
    status: ChatStatus = "completed"
    status_reason: str | None = None
    platform_display_name: str | None = None
    pinned: bool = False


@dataclass(frozen=True)
class ChatMessage:
    """One message of a conversation, at `position` (0, 1, 2... in the order the imports gave them)."""

    id: str  # the importing app's message id (or one derived from the message when it gave none)
    conversation_id: str
    position: int
    role: str
    content: str
    created_at: datetime | None = None


@dataclass(frozen=True)
class ChatChunk:
    """A passage of a conversation: the messages at positions first..last (inclusive), as indexed for search."""

    id: str
    conversation_id: str
    first: int
    last: int
    text: str


@dataclass(frozen=True)
class ConversationQuery:
    """Which conversations a listing answers (every condition given must hold)."""

    platform: str | None = None
    title: str | None = None  # a part of the title, ignoring case
    created_from: datetime | None = None
    created_to: datetime | None = None
    pinned_only: bool = False
    import_id: str | None = None


@dataclass(frozen=True)
class ConversationPage:
    items: list[Conversation]
    total: int


@dataclass(frozen=True)
class ChatMessageIn:
    """A message as an import gives it."""

    role: str
    content: str
    id: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class ChatImport:
    """One conversation as an import gives it (the MemoryPlugin ingest body, a ChatGPT export's conversation)."""

    conversation_id: str
    messages: Sequence[ChatMessageIn]
    title: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    platform: str = "custom"
    platform_display_name: str | None = None


@dataclass(frozen=True)
class ChatHit:
    """A passage found by a chat-history search: the chunk, its conversation, the message of it that best matches
    the query, the chunk's messages and those around it (`context`), and a score in 0..1."""

    conversation: Conversation
    chunk: ChatChunk
    message: ChatMessage
    messages: list[ChatMessage]
    context: list[ChatMessage]
    score: float


JOB_STATUSES = ("PENDING", "RUNNING", "SUCCEEDED", "FAILED")


@dataclass(frozen=True)
class Job:
    """An async add waiting, running or run (memvault/engine/jobs.py). `request`: the add's arguments, None once the
    job has run (its messages are not kept); `results`: `{"id", "event"}` per memory the add touched, no text."""

    id: str
    project_id: str
    status: str  # one of JOB_STATUSES
    request: dict[str, Any] | None
    results: list[dict[str, Any]] | None
    error: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    lease_owner: str | None = None
    lease_expires: datetime | None = None
