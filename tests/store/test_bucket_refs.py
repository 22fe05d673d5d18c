"""A memory's bucket exists when its row commits: adds, imports, moves and updates into a bucket that a concurrent
delete removed fail with NotFound("Bucket not found") instead of leaving a memory that points at no bucket."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from memvault.engine import Engine, Owners, UpdateItem
from memvault.errors import NotFound
from memvault.extract.base import Message
from memvault.models import HistoryEvent, Memory, utcnow
from memvault.store.base import MemoryChange, Store
from memvault.testing.concurrency import together

ROUNDS = 15
GONE = (NotFound,)  # the bucket was gone: the only error allowed


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as executor:
        yield executor


def orphans(store: Store, project: str) -> list[str]:
    """Memories whose bucket does not exist."""
    buckets = {b.id for b in store.list_buckets(project)}
    return [m.id for m, _ in store.scan(project, None, 100_000) if m.bucket_id not in buckets]


def add_many(engine: Engine, project: str, bucket: str, n: int) -> int:
    added = 0
    for i in range(n):
        try:
            engine.add(project, [Message("user", f"fact {i} for {bucket}")], Owners(user_id="u"), bucket=bucket)
            added += 1
        except NotFound:
            pass
    return added


def test_adds_racing_a_bucket_delete_leave_no_memory_without_a_bucket(engine: Engine, project: str,
                                                                      pool: ThreadPoolExecutor) -> None:
    for n in range(ROUNDS):
        name = f"temp {n}"
        engine.create_bucket(project, name)
        together(pool, lambda name=name: add_many(engine, project, name, 8),
                 lambda name=name: engine.delete_bucket(project, name, "delete"), allowed=GONE)
    assert orphans(engine.store, project) == []


def test_moves_and_bucket_updates_racing_a_bucket_delete_leave_no_memory_without_a_bucket(
        engine: Engine, project: str, pool: ThreadPoolExecutor) -> None:
    ids = [engine.add(project, [Message("user", f"memory {i}")], Owners(user_id="u"))[0].memory.id for i in range(20)]
    for n in range(ROUNDS):
        name = f"temp {n}"
        engine.create_bucket(project, name)
        alive = [m.id for m, _ in engine.store.scan(project, None, 1000) if m.id in ids]
        moved, updated = alive[:len(alive) // 2], alive[len(alive) // 2:]
        together(pool, lambda name=name, moved=moved: engine.move_memories(project, moved, name),
                 lambda name=name: engine.delete_bucket(project, name, "move"), allowed=GONE)
        engine.create_bucket(project, name + " again")
        together(pool, lambda name=name, updated=updated: engine.batch_update(
                     project, [UpdateItem(mid, bucket=name + " again") for mid in updated]),
                 lambda name=name: engine.delete_bucket(project, name + " again", "move"), allowed=GONE)
    assert orphans(engine.store, project) == []


def _memory(store: Store, project: str, bucket_id: str) -> Memory:
    now = utcnow()
    return Memory(str(uuid.uuid4()), project, "a memory", "h", bucket_id, now, now)


def test_the_store_refuses_a_row_whose_bucket_is_gone(store: Store) -> None:
    project = store.ensure_project("p").id
    general = store.find_bucket(project, "General")
    assert general is not None
    vector = np.eye(1, 8, dtype=np.float32)
    kept = _memory(store, project, general.id)
    store.insert([kept], vector, [HistoryEvent(str(uuid.uuid4()), kept.id, project, "ADD", None, "a", None, utcnow())])
    gone = str(uuid.uuid4())  # a bucket deleted between the engine's lookup and the write
    for write in (
        lambda: store.insert([_memory(store, project, gone)], vector, []),
        lambda: store.insert_new([_memory(store, project, gone)], vector, []),
        lambda: store.move_memories(project, [kept.id], gone, utcnow()),
        lambda: store.update(project, [MemoryChange(kept.id, str(uuid.uuid4()), utcnow(), bucket_id=gone)]),
    ):
        with pytest.raises(NotFound, match="Bucket not found") as refused:
            write()
        assert refused.value.code == "bucket_not_found"  # each face words it by its code
    assert [(m.id, m.bucket_id) for m, _ in store.scan(project, None, 10)] == [(kept.id, general.id)]
    assert orphans(store, project) == []
