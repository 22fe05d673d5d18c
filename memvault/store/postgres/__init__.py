"""The server store: PostgreSQL with pgvector (see store.py); its schema scripts are in migrations/.

Importing this package imports psycopg: install the extra first (pip install 'memvault[postgres]')."""

from .store import PostgresStore, redact

__all__ = ["PostgresStore", "redact"]
