"""Settings: the only place that reads the environment (variables prefixed MEMVAULT_)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .models import MAX_PURGE_DAYS


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEMVAULT_", extra="ignore")

    data_dir: Path = Path("memvault-data")
    database_url: str | None = None  # postgresql://... selects the Postgres store
    host: str = "127.0.0.1"
    port: int = 8000

    embedder: str = "minilm"  # minilm | openai | hashing
    embedder_url: str | None = None  # OpenAI-compatible base URL, e.g. http://localhost:11434/v1
    embedder_model: str | None = None
    embedder_api_key: str | None = None

    extractor: str = "offline"  # offline | llm
    decider: str = "offline"  # offline | llm: what each inferred fact does (ADD, UPDATE, SUPERSEDE, NONE)
    llm_url: str | None = None  # the chat endpoint of the llm extractor, the llm decider and (with llm_model) the writer
    llm_model: str | None = None
    llm_api_key: str | None = None

    reranker: str = "none"  # none | http: a rerank service reads the best candidates of a search again
    reranker_url: str | None = None  # base URL of a Cohere/Jina-style POST /rerank, e.g. http://localhost:8080/v1
    reranker_model: str | None = None
    reranker_api_key: str | None = None

    max_body_bytes: int = 4 * 1024 * 1024
    receipts_retention_days: Annotated[int, Field(ge=1)] = 365  # how long a deletion receipt is kept

    # Async adds (Mem0's async_mode): what an add that does not say does — auto: async for infer=true with the llm
    # extractor; always; never — and the workers of `serve` that run them.
    async_add: Literal["auto", "always", "never"] = "auto"
    job_workers: Annotated[int, Field(ge=0)] = 2  # threads of each `serve` process running async adds (0: none)
    job_lease_seconds: Annotated[float, Field(gt=0)] = 30.0  # renewed while a job runs; a dead worker's job runs again after it
    job_poll_seconds: Annotated[float, Field(gt=0)] = 0.2  # how often an idle worker looks at the queue

    metrics: bool | None = None  # GET /metrics (no key asked); unset: on when `host` is loopback, off otherwise
    log_format: Literal["json", "text"] = "json"  # `memvault serve`'s log lines on stderr: one JSON object each, or text
    log_level: Literal["debug", "info", "warning", "error"] = "info"  # memvault's loggers (other libraries: warning)

    @field_validator("log_format", "log_level", "async_add", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    # The feed's retention: change-log events older than this are trimmed (once an hour by `serve`), and so are async
    # adds that ended (SUCCEEDED or FAILED) this long ago (by `serve`'s sweep, every MEMVAULT_PURGE_INTERVAL_SECONDS).
    events_retention_days: float = 90
    webhook_deny_private: bool = False  # refuse webhook URLs that resolve to loopback, private or link-local addresses
    webhook_timeout_seconds: float = 5.0  # one delivery's HTTP timeout
    webhook_poll_seconds: float = 0.1  # how often `serve` looks for new events to deliver
    webhook_lease_seconds: float = 15.0  # how long a server that died keeps a webhook from the others
    webhook_retry_seconds: float = 1.0  # the first retry of a failed delivery; doubled each time...
    webhook_retry_max_seconds: float = 300.0  # ...up to this
    webhook_disable_after_hours: float = 24.0  # a webhook failing this long without a success is disabled

    # Purge (memvault/engine/purge.py): `serve` sweeps at start and every `purge_interval_seconds`; `memvault purge`
    # once. A number of days, or "never" (also empty or "none").
    purge_expired_after_days: Annotated[int | None, Field(ge=0, le=MAX_PURGE_DAYS)] = 30  # after the expiration day
    purge_superseded_after_days: Annotated[int | None, Field(ge=0, le=MAX_PURGE_DAYS)] = None  # default: never
    purge_interval_seconds: Annotated[float, Field(gt=0)] = 3600.0

    @field_validator("purge_expired_after_days", "purge_superseded_after_days", mode="before")
    @classmethod
    def _never(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.strip().lower() in ("", "never", "none") else value

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "memvault.db"
