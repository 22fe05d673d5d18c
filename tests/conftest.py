"""Shared fixtures only: a store per backend, an engine over it, and a real HTTP server on a free port.

What test modules import (Server, free_port, the store factories, protocol clients) lives in memvault/testing/;
no test imports this file (see tests/README.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.extract.offline import OfflineExtractor
from memvault.store.base import Store
from memvault.store.postgres import PostgresStore
from memvault.store.sqlite import SQLiteStore
from memvault.testing.postgres import EmbeddedPostgres
from memvault.testing.server import Server
from memvault.testing.stores import BACKENDS, STORE_FACTORIES

os.environ.setdefault("MEM0_TELEMETRY", "False")

# In CI (CI=true) every property test draws the same examples each run, so a red CI names a real regression and
# can be replayed; on a developer's machine they explore new examples each run.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[EmbeddedPostgres]:
    """One PostgreSQL 18 + pgvector for the whole session, started on first use and stopped at the end.
    If it cannot start, every postgres test errors (never skips): CI runs both backends."""
    with EmbeddedPostgres() as pg:
        yield pg


@pytest.fixture(scope="session")
def postgres_database(postgres_server: EmbeddedPostgres) -> str:
    """The database the postgres stores of this session live in, each in a schema of its own."""
    return postgres_server.create_database("memvault_test")


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made = STORE_FACTORIES[request.param](tmp_path, request)
    yield made
    made.close()


TWIN_FACTORIES: dict[str, Callable[[Store], Store]] = {
    "SQLiteStore": lambda s: SQLiteStore(s.path),  # type: ignore[attr-defined]
    "PostgresStore": lambda s: PostgresStore(s.url, max_size=4),  # type: ignore[attr-defined]
}


@pytest.fixture
def store_twin(store: Store) -> Iterator[Store]:
    """A second handle on the same database, as another process would open it."""
    twin = TWIN_FACTORIES[type(store).__name__](store)
    yield twin
    twin.close()


@pytest.fixture
def engine(store: Store) -> Engine:
    return Engine(store, HashingEmbedder(), OfflineExtractor())


@pytest.fixture
def project(engine: Engine) -> str:
    return engine.project("test").id


@pytest.fixture
def server(engine: Engine) -> Iterator[Server]:
    with Server(engine) as srv:
        yield srv
