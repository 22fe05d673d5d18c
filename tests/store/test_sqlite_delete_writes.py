"""What a delete writes on the embedded store: the pages of the indexes keyed by a memory's id."""

from __future__ import annotations

import collections
import struct
from pathlib import Path

from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine, Owners
from memvault.extract.base import Message
from memvault.extract.offline import OfflineExtractor
from memvault.store.sqlite import SQLiteStore


def pages_in_wal(path: Path, page_size: int) -> set[int]:
    wal = Path(f"{path}-wal")
    data = wal.read_bytes() if wal.exists() else b""
    return {struct.unpack(">I", data[at:at + 4])[0] for at in range(32, len(data) - page_size - 24 + 1, 24 + page_size)}


def test_a_delete_of_memories_added_together_rewrites_few_pages_of_the_indexes_keyed_by_id(tmp_path: Path) -> None:
    """The engine's ids are time-ordered: memories added together sit together in the memories' id index and the
    history's index by memory, so deleting them rewrites a few pages there, not one page per id."""
    path = tmp_path / "m.db"
    engine = Engine(SQLiteStore(path), HashingEmbedder(), OfflineExtractor())
    try:
        project = engine.project("p").id
        batches = [[r.memory.id for r in engine.add(
            project, [Message("user", f"fact {b}-{i} about topic {i % 31}") for i in range(500)],
            Owners(user_id="u"), infer=False)] for b in range(10)]
        conn = engine.store._conn()  # type: ignore[attr-defined]
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        owner = dict(conn.execute("SELECT pageno, name FROM dbstat").fetchall())
        page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        outcomes = engine.delete_many(project, batches[4])
        assert sum(o.deleted for o in outcomes) == 500
        written = collections.Counter(owner.get(p, "(new)") for p in pages_in_wal(path, page_size))
    finally:
        engine.close()
    # About as many as an index in time order (memories_created: 13 here); with random (version 4) ids, ~80 pages
    # of the id index and ~200 of the history's, spread over the whole b-trees.
    assert written["sqlite_autoindex_memories_1"] <= 25, written
    assert written["history_memory"] <= 25, written

