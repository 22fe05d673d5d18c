"""Group commit (memvault/engine/grouping.py): adds whose rows are ready together share one write transaction, and
each still gets its own result, its own error and its own origin in the change log. Real threads, both stores.

To make a group without timing, the test holds the store's write lock from outside (SQLite: a BEGIN IMMEDIATE on
its own connection; PostgreSQL: the project's bucket rows FOR UPDATE, which every insert takes FOR KEY SHARE): the
first add blocks inside its transaction, the next ones queue behind it, and they are written together once the
lock is let go."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest

from memvault.engine import Engine, Owners
from memvault.engine.grouping import MAX_GROUP
from memvault.errors import BUCKET_NOT_FOUND, NotFound
from memvault.extract.base import Message
from memvault.models import AddResult, EventQuery
from memvault.origin import Origin, acting
from memvault.store.base import Store

Run = Callable[[str, tuple[Any, ...]], None]


@contextmanager
def write_lock_held(store: Store, project: str) -> Iterator[Run]:
    """Hold the lock every insert of `project` needs until the block ends (then commit what `run` did)."""
    if type(store).__name__ == "SQLiteStore":
        from memvault.store.sqlite.connection import sqlite3

        conn = sqlite3.connect(store.path, isolation_level=None, timeout=30)  # type: ignore[attr-defined]
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield lambda sql, args: conn.execute(sql.replace("%s", "?"), args).close()
            conn.execute("COMMIT")
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(store.url) as pg:  # type: ignore[attr-defined]
        pg.execute("SELECT id FROM buckets WHERE project_id = %s ORDER BY id FOR UPDATE", (project,)).fetchall()
        yield lambda sql, args: pg.execute(sql, args).close()  # type: ignore[arg-type]
        pg.commit()


def until(condition: Callable[[], bool]) -> None:
    """Wait for a state the threads reach (not a timing assertion: the deadline only ends a broken test)."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "the adds never reached the state the test waits for"
        time.sleep(0.005)


def add_as(engine: Engine, project: str, text: str, request: str, bucket: str | None = None) -> list[AddResult]:
    with acting(Origin("key", "key-id", "key name", request)):
        return engine.add(project, [Message("user", text)], Owners(user_id="u"), bucket=bucket)


def queue_behind_a_held_lock(engine: Engine, project: str, pool: ThreadPoolExecutor,
                             adds: list[tuple[str, str | None]], run: Callable[[], None]) -> list[Future[Any]]:
    """The first add blocks inside its transaction; the others queue behind it; then `run` (lock still held)."""
    first = pool.submit(add_as, engine, project, adds[0][0], "request-0", adds[0][1])
    until(lambda: engine.writes.writing)
    rest = [pool.submit(add_as, engine, project, text, f"request-{n}", bucket)
            for n, (text, bucket) in enumerate(adds[1:], 1)]
    until(lambda: engine.writes.waiting == len(rest))
    run()
    return [first, *rest]


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(8) as executor:
        yield executor


def test_adds_ready_together_share_one_transaction_and_each_gets_its_own_memory_and_origin(
        engine: Engine, project: str, pool: ThreadPoolExecutor) -> None:
    texts = [f"Guest {n} prefers seat {n} by the window" for n in range(8)]
    before = engine.writes.transactions
    with write_lock_held(engine.store, project):
        futures = queue_behind_a_held_lock(engine, project, pool, [(t, None) for t in texts], lambda: None)
    results = [f.result(timeout=30) for f in futures]
    # the first add alone (it took the lock first), the seven that queued behind it in one transaction
    assert engine.writes.transactions - before == 2
    assert engine.writes.grouped >= 7
    for n, (text, got) in enumerate(zip(texts, results, strict=True)):
        [result] = got
        assert result.event == "ADD" and result.memory.text == text
        assert engine.get(project, result.memory.id).text == text
        [event] = engine.store.events(project, EventQuery(memory_id=result.memory.id), 10)[0]
        assert (event.type, event.text, event.request_id, event.actor) == ("memory_add", text, f"request-{n}", "key:key-id")
        assert event.id == result.event_id
    assert engine.list(project).total == len(texts)


def test_an_add_that_fails_in_a_group_fails_alone(engine: Engine, project: str, pool: ThreadPoolExecutor) -> None:
    doomed = engine.create_bucket(project, "Doomed")
    adds = [(f"Note {n} about the garden", "Doomed" if n % 2 else None) for n in range(8)]
    with write_lock_held(engine.store, project) as run:
        # while the adds wait, the bucket half of them go to is deleted (as delete_bucket would, in its transaction)
        futures = queue_behind_a_held_lock(
            engine, project, pool, adds,
            lambda: run("DELETE FROM buckets WHERE project_id = %s AND id = %s", (project, doomed.id)))
    kept: list[str] = []
    for n, ((text, bucket), future) in enumerate(zip(adds, futures, strict=True)):
        if bucket is None:
            [result] = future.result(timeout=30)
            assert result.memory.text == text
            assert engine.store.events(project, EventQuery(memory_id=result.memory.id), 10)[0][0].request_id \
                == f"request-{n}"
            kept.append(result.memory.id)
        else:
            with pytest.raises(NotFound) as refused:
                future.result(timeout=30)
            assert refused.value.code == BUCKET_NOT_FOUND
    assert engine.writes.grouped >= 7
    page = engine.list(project)
    assert sorted(m.id for m in page.items) == sorted(kept) and page.total == 4
    # nothing of a refused add is left anywhere: no history, no change-log row, no keyword entry
    logged = engine.store.events(project, EventQuery(), 100)[0]
    assert sorted(e.memory_id for e in logged) == sorted(kept)
    assert {m.text for m in page.items} == {t for t, b in adds if b is None}
    assert len(engine.store.keyword_search(project, ["garden"], None, 100)) == 4


def test_a_lone_add_commits_at_once_in_its_own_transaction(engine: Engine, project: str) -> None:
    before = engine.writes.transactions
    [result] = add_as(engine, project, "A single note", "request-alone")
    assert engine.writes.transactions - before == 1 and not engine.writes.writing
    assert engine.store.events(project, EventQuery(memory_id=result.memory.id), 10)[0][0].request_id == "request-alone"


def test_the_store_writes_a_group_with_each_write_in_its_own_savepoint(engine: Engine, project: str) -> None:
    """`insert_group` directly: a write whose bucket does not exist is refused alone, the others commit."""
    good = [engine._prepare_add(engine._check_add(project, [Message("user", f"Fact number {n}")], Owners(user_id="u"),
                                                  infer=False, metadata=None, categories=None, bucket=None,
                                                  source=None, expiration_date=None)) for n in range(3)]
    writes = [p.write for p in good if p is not None]
    gone = writes[1].memories[0]
    gone.bucket_id = "00000000-0000-4000-8000-000000000000"  # no such bucket in the project
    errors = engine.store.insert_group(writes)
    assert errors[0] is None and errors[2] is None
    assert isinstance(errors[1], NotFound) and errors[1].code == BUCKET_NOT_FOUND
    stored = {m.text for m in engine.list(project).items}
    assert stored == {"Fact number 0", "Fact number 2"}


def test_an_adds_bucket_lookup_leaves_the_memories_uncounted(engine: Engine, project: str) -> None:
    """An add reads its bucket's id and name only: counting the bucket's memories read all of its index entries."""
    for n in range(3):
        add_as(engine, project, f"Counted note {n}", f"request-{n}")
    general = engine.store.find_bucket(project, "general")
    assert general is not None and general.memory_count == 3
    lean = engine.store.find_bucket(project, "general", counted=False)
    assert lean is not None and (lean.id, lean.name, lean.memory_count) == (general.id, general.name, 0)
    by_id = engine.store.get_bucket(project, general.id, counted=False)
    assert by_id is not None and (by_id.id, by_id.memory_count) == (general.id, 0)
    assert engine.get_bucket(project, "General").memory_count == 3  # the buckets' own reads still count


def test_a_group_holds_at_most_max_group_writes(engine: Engine, project: str) -> None:
    """Past MAX_GROUP the waiting writes go into the next transaction (PostgreSQL's subtransactions per transaction)."""
    adds = [(f"Crowd member {n} brought a lantern", None) for n in range(MAX_GROUP + 3)]
    before = engine.writes.transactions
    with ThreadPoolExecutor(len(adds)) as many, write_lock_held(engine.store, project):
        futures = queue_behind_a_held_lock(engine, project, many, adds, lambda: None)
    results = [f.result(timeout=30) for f in futures]
    assert [r[0].memory.text for r in results] == [t for t, _ in adds]
    # the first alone, then MAX_GROUP of the waiting writes, then the last two
    assert engine.writes.transactions - before == 3
    assert engine.list(project).total == len(adds)
