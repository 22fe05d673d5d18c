"""The SQLite connection: one known SQLite (sqlean), its settings, its errors mapped to domain errors, and the row
helpers every read of the SQLite store goes through."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ...errors import InvalidInput

if TYPE_CHECKING:
    import sqlite3
else:  # the `sqlite3` API over one known SQLite (3.50, FTS5 built in) on every platform, whatever Python links
    import sqlean as sqlite3

__all__ = ["connect", "sqlite3"]

# What SQLite says when a statement or a value is too large for it: the input is the cause, so a 400, not a 500.
# (The door in memvault/validate.py bounds every input below these; this is the net under it.)
_TOO_LARGE = ("too many SQL variables", "Expression tree is too large", "LIKE or GLOB pattern too complex",
              "string or blob too big", "too many terms in compound SELECT")


class _Connection(sqlite3.Connection):
    """A connection whose statements turn SQLite's "too large" refusals into InvalidInput."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        with _input_errors():
            return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        with _input_errors():
            return super().executemany(sql, parameters)


@contextmanager
def _input_errors() -> Iterator[None]:
    try:
        yield
    except (sqlite3.DataError, OverflowError) as exc:  # a value SQLite cannot hold (e.g. an integer over 64 bits)
        raise InvalidInput(f"a value is too large to store: {exc}") from None
    except sqlite3.OperationalError as exc:
        if any(reason in str(exc) for reason in _TOO_LARGE):
            raise InvalidInput(f"the request is too large for the database: {exc}") from None
        raise


def connect(path: str) -> sqlite3.Connection:
    """A connection to the file at `path` with the store's settings (WAL, secure delete, foreign keys...)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30,
                           factory=_Connection)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA secure_delete=ON")  # deleted text is overwritten in the file, not just unlinked
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA cache_size=-8192")  # 8 MiB of pages per connection, one per thread (the OS caches the file)
    # No checkpoint inside a commit (it tripled the commit of a 1,000-id delete at 100k memories):
    # a background checkpoint follows every write within store.CHECKPOINT_DELAY instead.
    conn.execute("PRAGMA wal_autocheckpoint=0")
    return conn


def _rows(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Every read of this store goes through here (or `_row`): the rows are fetched whole and the statement closed
    before anything decodes them, so a row a decoder rejects fails that one call and leaves no statement, and no
    read snapshot, open on the thread's connection (tests/store/test_reads.py checks that no read bypasses it)."""
    cur = conn.execute(sql, params)
    try:
        return cur.fetchall()
    finally:
        cur.close()


def _row(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
    rows = _rows(conn, sql, params)
    return rows[0] if rows else None


def _one(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> Any:
    """The single value of a query that always answers one row (a count, a pragma)."""
    return _rows(conn, sql, params)[0][0]
