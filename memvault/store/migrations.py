"""One migration runner and one policy for both SQL stores.

A store's schema scripts are `memvault/store/<store>/migrations/NNNN_name.sql`, numbered 1, 2, 3... with no gap
(checked when they are read). The database records the highest script applied (SQLite: `PRAGMA user_version`;
PostgreSQL: the `schema_migrations` table). Each script runs in its own transaction under the store's write lock
(SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock), and is skipped when another process applied it while this
one waited: several processes opening or migrating at once apply each script exactly once, and a failed script
leaves no trace.

Policy (the same on both stores, what `SQLiteStore(path, migrate=...)` and `PostgresStore(url, migrate=...)` do):
  * an empty database (never set up) is set up at once, whatever `migrate` says: nothing can break;
  * a database behind this memvault (pending scripts) is brought up to date only with `migrate=True`, which is what
    `memvault migrate` does; otherwise the store refuses to open and says to run it. A script may rewrite whole
    tables and an older memvault cannot read the result, so an upgrade is a deliberate step (after a backup) and
    not a side effect of whichever process, of whichever version, opens the database first;
  * a database ahead of this memvault (a version it does not know) is always refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Protocol

from ..errors import Unavailable


class SchemaError(Unavailable):
    """The database's schema is not one this memvault can use as it is."""


@dataclass(frozen=True)
class Script:
    version: int
    name: str
    sql: str


def scripts(package: str) -> list[Script]:
    """The `migrations/NNNN_name.sql` scripts of a store package (e.g. "memvault.store.sqlite"), in order."""
    found = []
    for entry in resources.files(package).joinpath("migrations").iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Script(int(number), rest.removesuffix(".sql"), entry.read_text()))
    found.sort(key=lambda s: s.version)
    if [s.version for s in found] != list(range(1, len(found) + 1)):
        raise AssertionError(f"{package}: migrations must be numbered 1, 2, 3... with no gap")
    return found


class Database(Protocol):
    """What the runner asks of one store's database."""

    def version(self) -> int | None:
        """The highest script applied; None when the database was never set up (nothing in it)."""
        ...

    def apply(self, script: Script) -> None:
        """Run `script` in one transaction under the store's write lock, unless the database reached its version
        while waiting for the lock (another process applied it)."""
        ...


def run(db: Database, found: Sequence[Script], *, migrate: bool) -> tuple[int, int]:
    """Bring the schema to the latest version as the policy allows; returns (version before, version after).
    Raises SchemaError when the schema is newer than this memvault, or behind it and `migrate` is False."""
    before = db.version()
    known = len(found)
    if before is not None and before > known:
        raise SchemaError(
            f"the database schema is at version {before}, newer than this memvault knows ({known}): "
            "upgrade memvault, or point it at another database"
        )
    if before is not None and before < known and not migrate:
        raise SchemaError(
            f"the database schema is at version {before}, this memvault needs {known}: "
            "run `memvault migrate` first (with the same --data-dir or --database-url; back the data up before)"
        )
    for script in found:
        if script.version > (before or 0):
            db.apply(script)
    return before or 0, known
