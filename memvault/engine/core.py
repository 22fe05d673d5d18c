"""What every concern of the engine shares: its parts (store, embedder, extractor, reranker), its limits, and the
checks every argument passes (rules in memvault/validate.py) whatever face it came through."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .. import filters as F
from .. import validate as V
from ..decide.base import Decider
from ..embed.base import Embedder
from ..errors import BUCKET_NOT_FOUND, MEMORY_NOT_FOUND, InvalidInput, NotFound
from ..extract.base import Extractor, Message
from ..models import DEFAULT_BUCKET, Bucket, Owners, utcnow
from ..rerank.base import Reranker
from ..store.base import Store
from ..write import Writer
from .grouping import WriteGroups
from .watch import Watchers


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
    category_threshold: float = 0.25  # cosine a category needs to be chosen offline (memvault/engine/categories.py)
    category_margin: float = 0.08  # ... and at most this below the memory's best category
    max_auto_categories: int = 3


def text_hash(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def memory_not_found() -> NotFound:
    return NotFound("Memory not found", code=MEMORY_NOT_FOUND)


def start_of_day(at: datetime) -> datetime:
    """Midnight (UTC) of the UTC day `at` falls on: the first moment a memory that expires the day before is expired."""
    return at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def check_uuid(memory_id: Any, what: str = "memory_id") -> str:
    if not isinstance(memory_id, str):
        raise InvalidInput(f"{what} should be a valid UUID")
    try:
        return str(uuid.UUID(memory_id))
    except ValueError:
        raise InvalidInput(f"{what} should be a valid UUID") from None


class EngineCore:
    """The engine's parts and shared checks; each concern module adds its operations to it (see memvault.engine)."""

    def __init__(self, store: Store, embedder: Embedder, extractor: Extractor, limits: Limits | None = None,
                 reranker: Reranker | None = None, decider: Decider | None = None,
                 writer: Writer | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.extractor = extractor
        self._decider = decider  # what each inferred fact does (memvault.engine.lifecycle); None: the offline one
        self.limits = limits or Limits()
        self.reranker = reranker  # read the best candidates of a search again (rerank on); None: fusion alone
        self.writer = writer  # writes exports, summaries, profiles and recall syntheses; None: all offline
        self.watchers = Watchers()  # told what was added, deleted and searched (the server's metrics)
        self.writes = WriteGroups(store)  # adds whose rows are ready together commit together (grouping.py)

    def vector_index_state(self) -> str:
        """"ready", or "building" while the store builds a vector index in the background."""
        return self.store.vector_index_state()

    def warm_up(self) -> None:
        """Let the store load what searches read (SQLite: its vectors, in the background); a server calls it at start."""
        self.store.warm_up()

    def compact(self, rewrite: bool = False) -> None:
        """Drop from the database files what deletes left behind (see `Store.compact`)."""
        self.store.compact(rewrite)

    def _writer_guidance(self, project_id: str) -> str:
        """The project's custom instructions, which every prompt of the writer carries ("" when none)."""
        settings = self.store.project_settings(project_id)
        return (settings.custom_instructions if settings is not None else None) or ""

    # validation helpers ----------------------------------------------------------
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
        known: dict[str, str] = {}  # a bucket's id and its name key -> its id, read once for the whole filter

        def bucket_id(ref: Any) -> str:
            if not isinstance(ref, str) or not ref.strip():
                raise InvalidInput("bucket must be a non-empty string")
            V.string(ref, "bucket", V.MAX_BUCKET_NAME_CHARS)
            if not known:
                for b in self.store.list_buckets(project_id):
                    known.setdefault(V.name_key(b.name), b.id)
                    known[b.id] = b.id
            found = known.get(ref) or known.get(V.name_key(ref.strip()))
            if found is None:
                raise NotFound("Bucket not found", code=BUCKET_NOT_FOUND)
            return found

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

    def _bucket(self, project_id: str, bucket: str | None, *, counted: bool = True) -> Bucket:
        """A bucket named by id or name; None is the default bucket. `counted=False`: its memory_count is not read."""
        if bucket is None:
            found = self.store.find_bucket(project_id, DEFAULT_BUCKET, counted=counted)
            if found is None:  # a project made before buckets existed
                self.store.ensure_project(self._project_name(project_id))
                found = self.store.find_bucket(project_id, DEFAULT_BUCKET, counted=counted)
            assert found is not None
            return found
        if not isinstance(bucket, str) or not bucket.strip():
            raise InvalidInput("bucket must be a non-empty string")
        V.string(bucket, "bucket", V.MAX_BUCKET_NAME_CHARS)
        found = (self.store.get_bucket(project_id, bucket, counted=counted)
                 or self.store.find_bucket(project_id, bucket.strip(), counted=counted))
        if found is None:
            raise NotFound("Bucket not found", code=BUCKET_NOT_FOUND)
        return found

    def _project_name(self, project_id: str) -> str:
        project = self.store.get_project(project_id)
        if project is None:
            raise NotFound("project not found")
        return project.name

    @staticmethod
    def _live(where: F.Node | None, *, latest_only: bool = True, show_expired: bool = False) -> F.Node | None:
        """What list and search return by default: neither expired memories (`show_expired` shows them) nor
        superseded ones (`latest_only=False` shows them). An expiration date is a day, in UTC: the memory is live
        through the whole of that day and expired from the next one on."""
        conditions: list[F.Node] = []
        if not show_expired:
            today = start_of_day(utcnow())
            conditions.append(F.Or((F.Not(F.Cond("expiration_date", "exists")), F.Cond("expiration_date", "gte", today))))
        if latest_only:
            conditions.append(F.Not(F.Cond("superseded_by", "exists")))
        return F.all_of(where, *conditions)
