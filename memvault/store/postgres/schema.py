"""The PostgreSQL schema: its scripts (migrations/NNNN_name.sql) run by the one runner in store/migrations.py, under
its policy. `schema_migrations` records each script applied; applying takes a transaction-scoped advisory lock, so
several workers starting at once apply each script exactly once, and each script runs in its own transaction
(PostgreSQL DDL is transactional): a failed script leaves no trace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from ...validate import name_key
from .. import migrations
from ..migrations import SchemaError, Script

__all__ = ["LOCK", "SchemaError", "check", "current_version", "latest", "migrate_url", "scripts"]

LOCK = 0x6D656D7661756C74  # "memvault": the advisory lock taken while migrating


def _rows(conn: psycopg.Connection, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    with conn.execute(sql, params or None) as cur:  # type: ignore[arg-type]  # SQL written here, never from input
        return cur.fetchall()


def _row(conn: psycopg.Connection, sql: str, params: tuple[object, ...] = ()) -> tuple[Any, ...] | None:
    rows = _rows(conn, sql, params)
    return rows[0] if rows else None


def scripts() -> list[Script]:
    return migrations.scripts("memvault.store.postgres")


def _fill_bucket_name_keys(conn: psycopg.Connection) -> None:
    """After 0002: each bucket's name key, computed in Python. Names an older version let coexist under one key:
    the oldest keeps it, the others get a key no name can have (a newline and their id)."""
    seen: set[tuple[str, str]] = set()
    keys = []
    for project_id, bucket_id, name in _rows(
            conn, "SELECT project_id, id, name FROM buckets ORDER BY project_id, created_at, id"):
        key = name_key(name)
        if (project_id, key) in seen:
            key += "\n" + bucket_id
        seen.add((project_id, key))
        keys.append((key, project_id, bucket_id))
    with conn.cursor() as cur:
        cur.executemany("UPDATE buckets SET name_key = %s WHERE project_id = %s AND id = %s", keys)
    conn.execute("ALTER TABLE buckets ALTER COLUMN name_key SET NOT NULL")


AFTER: dict[int, Callable[[psycopg.Connection], None]] = {2: _fill_bucket_name_keys}  # Python steps of a script


def latest() -> int:
    return len(scripts())


class _Database:
    """The runner's view of one PostgreSQL database (store/migrations.py)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def version(self) -> int | None:
        exists = _row(self.conn, "SELECT to_regclass('schema_migrations') IS NOT NULL")
        if not exists or not exists[0]:
            return None
        row = _row(self.conn, "SELECT coalesce(max(version), 0) FROM schema_migrations")
        return int(row[0]) if row else 0

    def apply(self, script: Script) -> None:
        conn = self.conn
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
                "applied_at timestamptz NOT NULL DEFAULT now())"
            )
            if _row(conn, "SELECT 1 FROM schema_migrations WHERE version = %s", (script.version,)) is not None:
                return  # another worker applied it while we waited for the lock
            conn.execute(script.sql.encode())
            if script.version in AFTER:
                AFTER[script.version](conn)
            conn.execute("INSERT INTO schema_migrations(version, name) VALUES (%s, %s)", (script.version, script.name))


def current_version(conn: psycopg.Connection) -> int | None:
    """The highest version applied; None when the database has no `schema_migrations` table (never set up)."""
    return _Database(conn).version()


def check(conn: psycopg.Connection, *, migrate: bool) -> tuple[int, int]:
    """The runner's policy over this database (store/migrations.py); returns (version before, version after)."""
    return migrations.run(_Database(conn), scripts(), migrate=migrate)


def migrate_url(url: str) -> tuple[int, int]:
    """`memvault migrate`: apply every pending script to the database at `url`; returns (before, after)."""
    with psycopg.connect(url, autocommit=True) as conn:
        return check(conn, migrate=True)
