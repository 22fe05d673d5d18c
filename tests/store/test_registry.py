"""Stores are opened by the scheme of their URL from one registry; the built-in ones register like an outside one."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from memvault.config import Settings
from memvault.errors import Conflict, InvalidInput
from memvault.factory import build_store
from memvault.store import open_store, register_store, scheme_of, store_schemes
from memvault.store.base import Store
from memvault.store.sqlite import SQLiteStore


def test_the_built_in_stores_are_registered_by_scheme() -> None:
    assert {"sqlite", "postgresql", "postgres"} <= set(store_schemes())
    assert [scheme_of(u) for u in ("postgresql://u@h/db", "postgres://h/db", "sqlite:///tmp/m.db", "./data/m.db",
                                   "C:\\data\\m.db")] == ["postgresql", "postgres", "sqlite", "sqlite", "sqlite"]


@pytest.mark.parametrize("form", ["plain", "sqlite:///"])
def test_a_path_or_an_sqlite_url_opens_the_embedded_store_there(tmp_path: Path, form: str) -> None:
    path = tmp_path / "sub" / "m.db"
    store = open_store(str(path) if form == "plain" else f"sqlite://{path}")
    try:
        assert isinstance(store, SQLiteStore) and Path(store.path) == path and path.exists()
    finally:
        store.close()


def test_an_outside_store_registers_its_scheme_and_the_settings_open_it(tmp_path: Path) -> None:
    scheme = "outside" + uuid.uuid4().hex[:8]  # the registry is the process's: a name of this run's own
    opened: list[str] = []

    def factory(url: str) -> Store:
        opened.append(url)
        return SQLiteStore(tmp_path / "outside.db")

    register_store(scheme, factory)
    with pytest.raises(Conflict):
        register_store(scheme, factory)
    store = build_store(Settings(database_url=f"{scheme}://somewhere/db", data_dir=tmp_path))
    try:
        assert opened == [f"{scheme}://somewhere/db"] and store.ensure_project("p").name == "p"
    finally:
        store.close()


def test_an_unknown_scheme_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(InvalidInput, match="unknown store 'mysql'; known: .*postgresql.*sqlite"):
        open_store("mysql://h/db")
