"""The SQLite schema: its scripts (migrations/NNNN_name.sql) run by the one runner in store/migrations.py, under its
policy. `PRAGMA user_version` records the highest script applied; each script runs in one BEGIN IMMEDIATE
transaction (SQLite DDL is transactional), so several processes opening the file at once apply it exactly once.
"""

from __future__ import annotations

from pathlib import Path

from ...validate import name_key
from .. import migrations
from ..migrations import Script
from .connection import _one, _row, connect, sqlite3
from .fts import fts_scope

__all__ = ["check", "latest", "migrate_path", "scripts"]


def scripts() -> list[Script]:
    return migrations.scripts("memvault.store.sqlite")


def latest() -> int:
    return len(scripts())


class _Database:
    """The runner's view of one SQLite file (store/migrations.py)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.create_function("memvault_name_key", 1, name_key, deterministic=True)  # for 0004_bucket_name_key
        conn.create_function("memvault_fts_scope", 5, fts_scope, deterministic=True)  # for 0015_fts_owner_tokens

    def version(self) -> int | None:
        version = int(_one(self.conn, "PRAGMA user_version"))
        if version == 0 and _row(self.conn, "SELECT 1 FROM sqlite_master LIMIT 1") is None:
            return None  # an empty file: never set up
        return version

    def apply(self, script: Script) -> None:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if _one(conn, "PRAGMA user_version") < script.version:  # another process may have just migrated
                for statement in script.sql.split(";\n"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {int(script.version)}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def check(conn: sqlite3.Connection, *, migrate: bool) -> tuple[int, int]:
    """The runner's policy over this file (store/migrations.py); returns (version before, version after). After a
    migration the file is checkpointed: a script may rewrite a whole table, into the main file now, not at a write."""
    before, after = migrations.run(_Database(conn), scripts(), migrate=migrate)
    if before < after:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return before, after


def migrate_path(path: str | Path) -> tuple[int, int]:
    """`memvault migrate`: apply every pending script to the SQLite file at `path`; returns (before, after)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = connect(str(path))
    try:
        return check(conn, migrate=True)
    finally:
        conn.close()
