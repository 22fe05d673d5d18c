"""Storage backends behind the Store protocol (store.base), opened by URL.

The store is chosen by the scheme of its URL from a small registry. The built-in ones register through
:func:`register_store` exactly as an outside one would, and their modules (and drivers) are imported only when one
is opened:

* ``sqlite`` — a file path (``./memvault-data/memvault.db``) or ``sqlite:///abs/path.db``: the embedded store;
* ``postgresql`` / ``postgres`` — ``postgresql://user@host/db``: PostgreSQL with pgvector (``pip install
  'memvault[postgres]'``).

An outside store registers its own scheme and then passes memvault.testing.conformance (see docs/adding-a-store.md)::

    register_store("mystore", lambda url: MyStore(url))
    store = open_store("mystore://host/db")
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..errors import Unavailable
from ..registry import Registry
from .base import Store

__all__ = ["Store", "StoreFactory", "open_store", "register_store", "scheme_of", "store_schemes"]

StoreFactory = Callable[[str], Store]
"""Opens a store from its whole URL (the scheme included)."""

_registry: Registry[Store] = Registry("store")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")  # two letters at least: `C:\data` is a path, not a scheme


def register_store(scheme: str, factory: StoreFactory, *, replace: bool = False) -> None:
    """Make ``open_store("<scheme>:...")`` call ``factory(url)``. Raises Conflict when the scheme is taken, unless
    ``replace`` is true."""
    _registry.register(scheme.lower(), lambda url: factory(url), replace=replace)


def store_schemes() -> list[str]:
    """The registered URL schemes, sorted."""
    return _registry.names()


def scheme_of(url: str) -> str:
    """The scheme of a store URL; a plain path is an SQLite file ("sqlite")."""
    found = _SCHEME.match(url)
    return found.group(1).lower() if found else "sqlite"


def open_store(url: str) -> Store:
    """A store opened by the factory registered for the URL's scheme. Raises InvalidInput for an unknown scheme."""
    return _registry.build(scheme_of(url), url=url)


def sqlite_path(url: str) -> str:
    """The file an SQLite URL names: a plain path, ``sqlite:///abs/path`` or ``sqlite:relative/path``."""
    if scheme_of(url) != "sqlite":
        return url
    rest = url.split(":", 1)[1] if _SCHEME.match(url) else url
    return "/" + rest.lstrip("/") if rest.startswith("///") else rest.removeprefix("//")


def _sqlite(url: str) -> Store:
    from .sqlite import SQLiteStore

    return SQLiteStore(sqlite_path(url))


def _postgres(url: str) -> Store:
    try:
        from .postgres import PostgresStore
    except ModuleNotFoundError as exc:
        raise Unavailable(f"PostgreSQL support is not installed ({exc.name} is missing): "
                          "pip install 'memvault[postgres]'") from None
    return PostgresStore(url)


register_store("sqlite", _sqlite)
register_store("postgresql", _postgres)
register_store("postgres", _postgres)
