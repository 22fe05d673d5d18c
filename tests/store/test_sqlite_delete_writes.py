"""What a delete writes on the embedded store: the pages of the indexes keyed by a memory's id or hash, and the
short hash index (migration 0015) on a file from before it."""

from __future__ import annotations

import collections
import struct
import uuid
from contextlib import closing
from pathlib import Path

import numpy as np
import sqlean as sqlite3

from memvault import filters as F
from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine, Owners
from memvault.extract.base import Message
from memvault.extract.offline import OfflineExtractor
from memvault.models import HistoryEvent, Memory, utcnow
from memvault.store.sqlite import SQLiteStore


def pages_in_wal(path: Path, page_size: int) -> set[int]:
    wal = Path(f"{path}-wal")
    data = wal.read_bytes() if wal.exists() else b""
    return {struct.unpack(">I", data[at:at + 4])[0] for at in range(32, len(data) - page_size - 24 + 1, 24 + page_size)}


def test_a_delete_of_memories_added_together_rewrites_few_pages_of_the_indexes_keyed_by_id(tmp_path: Path) -> None:
    """The engine's ids are time-ordered: memories added together sit together in the memories' id index and the
    history's index by memory, so deleting them rewrites a few pages there, not one page per id. The hash index
    (random by nature) holds a short key: a fifth of the pages it had."""
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
    assert written["memories_hash"] <= 40, written  # (project id, full hash): ~125 of its pages


def test_a_file_from_before_0015_keeps_its_memories_and_finds_them_by_the_short_hash(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = SQLiteStore(path)
    project = store.ensure_project("p").id
    bucket = store.find_bucket(project, "General")
    assert bucket is not None
    now = utcnow()
    memories = [Memory(str(uuid.uuid4()), project, f"text {i}", f"{i:08d}-hash", bucket.id, now, now, user_id="u")
                for i in range(50)]
    events = [HistoryEvent(str(uuid.uuid4()), m.id, project, "ADD", None, m.text, None, now) for m in memories]
    store.insert(memories, np.ones((50, 8), dtype=np.float32), events)
    store.close()
    with closing(sqlite3.connect(str(path))) as raw:  # the index as the versions before 0015 made it
        raw.execute("DROP INDEX memories_hash")
        raw.execute("CREATE INDEX memories_hash ON memories (project_id, hash)")
        raw.execute("PRAGMA user_version = 14")
        raw.commit()

    store = SQLiteStore(path, migrate=True)
    try:
        assert store.schema_version == 15
        conn = store._conn()
        [(sql,)] = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'memories_hash'").fetchall()
        assert "substr(hash, 1, 8)" in sql and "project_id" not in sql
        assert [m.id for m in store.get(project, [m.id for m in memories])] == [m.id for m in memories]
        assert store.existing_hashes(project, ["00000007-hash", "00000007-other", "00000051-hash"],
                                     F.eq("user_id", "u")) == {"00000007-hash"}
    finally:
        store.close()
