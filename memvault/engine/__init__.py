"""The memory service. Every rule of memvault lives here; adapters only translate.

All methods take the caller's project id first: the engine never reads or writes outside it, and
an id from another project behaves exactly like an id that does not exist.

`Engine` is the one face; its operations live in one module per concern:
    core.py       the parts (store, embedder, extractor, reranker), limits, and the checks every argument passes
    keys.py       projects and API keys
    memories.py   add, get, list, update, delete: the forget guarantee
    jobs.py       async adds: submitted at once, run by the server's workers, read back by their event_id
    categories.py project settings, and the categories every added memory gets
    lifecycle.py  what each inferred fact does (ADD, UPDATE, SUPERSEDE, NONE), and explicit supersede
    search.py     hybrid search orchestration (scores in memvault.ranking)
    buckets.py    buckets
    purge.py      purging what expired or was superseded long enough ago, across projects
    transfer.py   export and import
    watch.py      who is told what the engine did (the server's metrics)
    feedback.py   feedback on a memory
    exports.py    Mem0's memory exports (a schema filled with memories) and summaries
    profiles.py   user profiles read from their memories, profile settings and jobs
    chats.py      the chat-history archive (MemoryPlugin's): import, list, search, recall, delete
    events.py     the change log's feed and retention, webhooks
The request types (Owners, UpdateItem, SearchOptions, ImportRecord…) are in memvault.models, re-exported here.
"""

from __future__ import annotations

from ..decide.base import Decider
from ..embed.base import Embedder
from ..extract.base import Extractor
from ..models import AddResult, ImportEvent, ImportOutcome, ImportRecord, Owners, SearchOptions, UpdateItem
from ..rerank.base import Reranker
from ..store.base import Store
from ..write import Writer
from .categories import DEFAULT_CATEGORIES
from .chats import Chats
from .core import Limits, check_uuid, text_hash
from .events import Events, RetryPolicy
from .feedback import Feedback
from .jobs import ASYNC_MODES, AsyncMode, Jobs
from .keys import DEFAULT_PROJECT, KEY_PREFIX, MAX_KEY_NAME_CHARS, Keys, hash_key
from .memories import MAX_OFFSET, Memories, own_input
from .profiles import Profiles
from .purge import MAX_PURGE_DAYS, PURGE_BATCH, Purge
from .search import Beside, Search
from .transfer import Transfer

__all__ = [
    "ASYNC_MODES",
    "DEFAULT_CATEGORIES",
    "DEFAULT_PROJECT",
    "KEY_PREFIX",
    "MAX_KEY_NAME_CHARS",
    "MAX_OFFSET",
    "MAX_PURGE_DAYS",
    "PURGE_BATCH",
    "AddResult",
    "AsyncMode",
    "Engine",
    "ImportEvent",
    "ImportOutcome",
    "ImportRecord",
    "Limits",
    "Owners",
    "RetryPolicy",
    "SearchOptions",
    "UpdateItem",
    "check_uuid",
    "hash_key",
    "own_input",
    "text_hash",
]


class Engine(Keys, Search, Transfer, Feedback, Profiles, Purge, Jobs, Memories, Chats, Events):
    """Projects and keys, memories and their lifecycle, search, buckets, export and import, feedback, exports and
    summaries, purge, the chat-history archive, the change log and webhooks: every operation of memvault."""

    def __init__(self, store: Store, embedder: Embedder, extractor: Extractor, limits: Limits | None = None,
                 reranker: Reranker | None = None, decider: Decider | None = None,
                 writer: Writer | None = None) -> None:
        super().__init__(store, embedder, extractor, limits, reranker, decider, writer)
        self._beside = Beside()

    def close(self) -> None:
        self._beside.close()
        close_embedder = getattr(self.embedder, "close", None)
        if callable(close_embedder):
            close_embedder()
        if self.writer is not None:
            self.writer.close()
        self.store.close()
