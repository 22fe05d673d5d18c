"""What tests of purging and forgetting share: words no other memory has, memories planted as the engine stores
them (superseded ones too), and which of those words some byte of the data still holds."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from pathlib import Path

from ..engine import Engine, Owners
from ..models import HistoryEvent, Memory, utcnow
from ..store.base import Store
from ..store.sqlite import SQLiteStore

FILES = ("memvault.db", "memvault.db-wal", "memvault.db-shm")
SETTLE = 8.0  # the SQLite compaction runs ~2 s after a delete; a slow, shared machine gets this long


def marker() -> str:
    """A word no other memory has (letters only: one keyword-index term)."""
    return "mk" + uuid.uuid4().hex[:14].translate(str.maketrans("0123456789", "ghijklmnop"))


def today() -> datetime:
    return utcnow().replace(hour=0, minute=0, second=0, microsecond=0)


def plant(engine: Engine, project: str, text: str, *, expires: datetime | None = None,
          superseded_at: datetime | None = None, memory_id: str | None = None, user: str = "dana") -> str:
    """A memory as the engine stores it (superseded ones written through the store, as the lifecycle does)."""
    if superseded_at is None and memory_id is None:
        return engine.add_text(project, text, Owners(user_id=user), expiration_date=expires).id
    bucket = engine.store.find_bucket(project, "General")
    assert bucket is not None
    now = utcnow()
    m = Memory(memory_id or str(uuid.uuid4()), project, text, text, bucket.id, now, now, user_id=user,
               expiration_date=expires, superseded_by=str(uuid.uuid4()) if superseded_at else None,
               superseded_at=superseded_at)
    event = HistoryEvent(str(uuid.uuid4()), m.id, project, "ADD", None, text, [{"role": "user", "content": text}], now,
                         user)
    engine.store.insert([m], engine.embedder.embed([text]), [event])
    return m.id


def leftovers(store: Store, words: list[str]) -> list[str]:
    """The words some byte of the data still holds, in the order given: the raw files (SQLite) or any row of any
    table of the store's schema (PostgreSQL)."""
    if isinstance(store, SQLiteStore):
        folder = Path(store.path).parent
        blob = b"".join((folder / f).read_bytes() for f in FILES if (folder / f).exists())
        # The whole word, and its tail: FTS5 stores a term as the suffix it does not share with the one before.
        return [w for w in words if w.encode() in blob or w[-9:].encode() in blob]
    import psycopg  # PostgreSQL support is optional

    with psycopg.connect(store.url, autocommit=True) as conn:  # type: ignore[attr-defined]
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")]
        return [w for w in words if any(
            conn.execute(f'SELECT 1 FROM "{t}" t WHERE t::text LIKE %s LIMIT 1', (f"%{w}%",)).fetchone()
            for t in tables)]


def settled(store: Store, words: list[str]) -> list[str]:
    """`leftovers` once the compaction that follows a delete has had its time (SQLite), or at once (PostgreSQL)."""
    deadline = time.monotonic() + SETTLE
    while (left := leftovers(store, words)) and isinstance(store, SQLiteStore) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left
