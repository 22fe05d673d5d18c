"""The store conformance suite (memvault/testing/conformance.py) on every built-in backend (memvault.testing.stores), and on the
SQLite store with its vector graph read from the first vector on ("sqlite-graph")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memvault.store.base import Store
from memvault.store.sqlite import SQLiteStore
from memvault.testing.conformance import *  # noqa: F403 - the suite's tests and fixtures
from memvault.testing.stores import BACKENDS, STORE_FACTORIES


@pytest.fixture(name="store", params=[*BACKENDS, "sqlite-graph"])
def store_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite-graph":
        made: Store = SQLiteStore(tmp_path / "memvault.db", graph_min=1, graph_background=False)
    else:
        made = STORE_FACTORIES[request.param](tmp_path, request)
    yield made
    made.close()
