"""Versioned migrations of the PostgreSQL schema.

The scripts are `migrations/postgres/NNNN_name.sql`; `schema_migrations` records each one applied. Applying takes
a transaction-scoped advisory lock, so several workers starting at once apply each script exactly once, and
each script runs in its own transaction (PostgreSQL DDL is transactional): a failed script leaves no trace.

Policy (what `PostgresStore(url, migrate=...)` does at start-up):
  * an empty database (no `schema_migrations`) is set up at once, whatever `migrate` says: nothing can break;
  * a database behind this memvault (pending scripts) is brought up to date only with `migrate=True`
    (`memvault migrate`); otherwise the store refuses to start and says to run `memvault migrate`, so that
    an upgrade is a deliberate step and not a race between API workers of different versions;
  * a database ahead of this memvault (a version it does not know) is always refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable

import psycopg

from ..validate import name_key

LOCK = 0x6D656D7661756C74  # "memvault": the advisory lock taken while migrating


class SchemaError(RuntimeError):
    """The database's schema is not one this memvault can use as it is."""


@dataclass(frozen=True)
class Script:
    version: int
    name: str
    sql: str


def scripts() -> list[Script]:
    folder: Traversable = resources.files("memvault.store.migrations").joinpath("postgres")
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Script(int(number), rest.removesuffix(".sql"), entry.read_text()))
    found.sort(key=lambda s: s.version)
    assert [s.version for s in found] == list(range(1, len(found) + 1)), "migrations must be numbered 1, 2, 3..."
    return found


def _fill_bucket_name_keys(conn: psycopg.Connection) -> None:
    """After 0002: each bucket's name key, computed in Python. Names an older version let coexist under one key:
    the oldest keeps it, the others get a key no name can have (a newline and their id)."""
    seen: set[tuple[str, str]] = set()
    keys = []
    for project_id, bucket_id, name in conn.execute(
            "SELECT project_id, id, name FROM buckets ORDER BY project_id, created_at, id").fetchall():
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


def current_version(conn: psycopg.Connection) -> int | None:
    """The highest version applied; None when the database has no `schema_migrations` table (never set up)."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return None
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def check(conn: psycopg.Connection, *, migrate: bool) -> tuple[int, int]:
    """Bring the schema to the latest version as the policy allows; returns (version before, version after).
    Raises SchemaError when the schema is newer than this memvault, or behind it and `migrate` is False."""
    before = current_version(conn)
    known = latest()
    if before is not None and before > known:
        raise SchemaError(
            f"the database schema is at version {before}, newer than this memvault knows ({known}): "
            "upgrade memvault, or point it at another database"
        )
    if before is not None and before < known and not migrate:
        raise SchemaError(
            f"the database schema is at version {before}, this memvault needs {known}: "
            "run `memvault migrate --database-url ...` first"
        )
    if before == known:
        return before, known
    return (before or 0), apply(conn)


def apply(conn: psycopg.Connection) -> int:
    """Apply every pending script, each in its own transaction under the advisory lock. Returns the version."""
    version = 0
    for script in scripts():
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
                "applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = conn.execute("SELECT 1 FROM schema_migrations WHERE version = %s", (script.version,)).fetchone()
            if done is None:  # another worker may have applied it while we waited for the lock
                conn.execute(script.sql.encode())
                if script.version in AFTER:
                    AFTER[script.version](conn)
                conn.execute("INSERT INTO schema_migrations(version, name) VALUES (%s, %s)",
                             (script.version, script.name))
        version = script.version
    return version


def migrate_url(url: str) -> tuple[int, int]:
    """`memvault migrate`: apply every pending script to the database at `url`; returns (before, after)."""
    with psycopg.connect(url, autocommit=True) as conn:
        return check(conn, migrate=True)
