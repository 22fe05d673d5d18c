"""Builds the parts named by Settings and wires them into an Engine."""

from __future__ import annotations

from typing import Any

from .config import Settings
from .decide import build_decider
from .decide.base import Decider
from .embed import build_embedder
from .embed.base import Embedder
from .embed.batching import BatchingEmbedder
from .engine import Engine, RetryPolicy
from .extract import build_extractor
from .extract.base import Extractor
from .rerank import build_reranker
from .rerank.base import Reranker
from .store import open_store
from .store.base import Store
from .write import Writer


def build_store(settings: Settings) -> Store:
    """The store the settings name: the database URL (chosen by its scheme, see memvault/store/__init__.py), or else
    the SQLite file in the data dir."""
    return open_store(settings.database_url or str(settings.sqlite_path))


def build_embedder_from(settings: Settings) -> Embedder:
    """The configured embedder behind one batching queue: concurrent requests share its model calls."""
    options: dict[str, Any] = {}
    if settings.embedder == "openai":
        options = {"base_url": settings.embedder_url, "model": settings.embedder_model,
                   "api_key": settings.embedder_api_key}
    return BatchingEmbedder(build_embedder(settings.embedder, **options))


def build_extractor_from(settings: Settings) -> Extractor:
    options: dict[str, Any] = {}
    if settings.extractor == "llm":
        options = {"base_url": settings.llm_url, "model": settings.llm_model, "api_key": settings.llm_api_key}
    return build_extractor(settings.extractor, **options)


def build_decider_from(settings: Settings) -> Decider:
    """The decider the settings name; `llm` talks to the same chat endpoint as the llm extractor."""
    options: dict[str, Any] = {}
    if settings.decider == "llm":
        options = {"base_url": settings.llm_url, "model": settings.llm_model, "api_key": settings.llm_api_key}
    return build_decider(settings.decider, **options)


def build_reranker_from(settings: Settings) -> Reranker | None:
    if settings.reranker == "none":
        return None
    options: dict[str, Any] = {}
    if settings.reranker == "http":
        options = {"base_url": settings.reranker_url, "model": settings.reranker_model,
                   "api_key": settings.reranker_api_key}
    return build_reranker(settings.reranker, **options)


def build_writer_from(settings: Settings) -> Writer | None:
    """The writer (exports, summaries, profiles, recall syntheses) on the llm extractor's endpoint and model; None
    when those are not both set, and then those paths stay offline."""
    if not settings.llm_url or not settings.llm_model:
        return None
    return Writer(settings.llm_url, settings.llm_model, settings.llm_api_key)


def build_engine(settings: Settings | None = None, *, store: Store | None = None,
                 embedder: Embedder | None = None, extractor: Extractor | None = None,
                 reranker: Reranker | None = None, decider: Decider | None = None,
                 writer: Writer | None = None) -> Engine:
    settings = settings or Settings()
    engine = Engine(
        store or build_store(settings),
        embedder or build_embedder_from(settings),
        extractor or build_extractor_from(settings),
        reranker=reranker or build_reranker_from(settings),
        decider=decider or build_decider_from(settings),
        writer=writer or build_writer_from(settings),
    )
    engine.configure_events(retention_days=settings.events_retention_days, deny_private=settings.webhook_deny_private,
                            retry=RetryPolicy(settings.webhook_retry_seconds, settings.webhook_retry_max_seconds,
                                              settings.webhook_disable_after_hours * 3600))
    engine.receipt_days = settings.receipts_retention_days
    engine.async_add = settings.async_add
    engine.job_lease_seconds = settings.job_lease_seconds
    return engine
