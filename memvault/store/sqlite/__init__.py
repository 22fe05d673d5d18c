"""The embedded store: one SQLite file (see store.py); its schema scripts are in migrations/."""

from .store import SQLiteStore, scope_token

__all__ = ["SQLiteStore", "scope_token"]
