"""The largest batches: no store method binds one parameter per id or value (SQLite reads a JSON array through
json_each, PostgreSQL binds one array), so a batch never meets a driver's limit on bound parameters (65,535 on
PostgreSQL's wire protocol) — whether it is the largest batch the engine allows or 70,000 ids at the store."""

from __future__ import annotations

import uuid

import numpy as np

from memvault import filters as F
from memvault import validate as V
from memvault.engine import Engine, ImportRecord, Owners, UpdateItem
from memvault.models import HistoryEvent, Memory, utcnow

MANY = 70_000  # more than PostgreSQL's 65,535 parameters per statement


def fill(engine: Engine, project: str, n: int) -> list[str]:
    general = engine.store.find_bucket(project, "General")
    assert general is not None
    now = utcnow()
    memories = [Memory(str(uuid.uuid4()), project, f"memory {i}", f"h{i}", general.id, now, now, user_id=f"u{i}")
                for i in range(n)]
    vectors = np.asarray(engine.embedder.embed([m.text for m in memories]))
    engine.store.insert(memories, vectors,
                        [HistoryEvent(str(uuid.uuid4()), m.id, project, "ADD", None, m.text, None, now) for m in memories])
    return [m.id for m in memories]


def test_the_largest_engine_batches_go_through(engine: Engine, project: str) -> None:
    top = engine.limits.max_batch
    ids = fill(engine, project, top)
    updated = engine.batch_update(project, [UpdateItem(i, text=f"changed {n}", metadata={"n": n})
                                            for n, i in enumerate(ids)])
    assert [m.text for m in updated] == [f"changed {n}" for n in range(top)]
    engine.create_bucket(project, "elsewhere")
    moved, rejected = engine.move_memories(project, ids, "elsewhere")
    assert (len(moved), rejected) == (top, [])
    now = utcnow()
    records = [ImportRecord(str(uuid.uuid4()), f"imported {n}", now, now, Owners(user_id="i")) for n in range(top)]
    assert {o.status for o in engine.import_memories(project, records)} == {"added"}
    outcomes = engine.delete_many(project, ids)
    assert len(outcomes) == top and engine.list(project, F.eq("user_id", "i"), 10).total == top
    assert engine.list(project, None, 10).total == top


def test_store_calls_with_more_ids_than_a_statement_can_bind(engine: Engine, project: str) -> None:
    store = engine.store
    ids = fill(engine, project, 3)
    many = [str(uuid.uuid4()) for _ in range(MANY)] + ids
    assert {m.id for m in store.get(project, many)} == set(ids)
    users = tuple(f"u{i}" for i in range(V.MAX_FILTER_VALUES))  # the most a filter list may hold
    assert store.list(project, F.Cond("user_id", "in", users), 10).total == 3
    general = store.find_bucket(project, "General")
    assert general is not None
    assert sorted(store.move_memories(project, many, general.id, utcnow())) == sorted(ids)
    assert sorted(store.delete(project, many, utcnow())) == sorted(ids)
    assert store.list(project, None, 10).total == 0
