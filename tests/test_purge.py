"""The purge (memvault/engine/purge.py) on both stores: memories that expired, or were superseded, long enough ago
are deleted with every guarantee of a delete (no read path, no history text, and no byte in the SQLite files once
compacted / no row of any PostgreSQL table); a dry run deletes nothing; nothing else is touched, in any project."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memvault.engine import Engine, Owners, SearchOptions
from memvault.errors import InvalidInput, NotFound
from memvault.models import HistoryEvent, Memory, utcnow
from memvault.store.base import Store
from memvault.store.sqlite import SQLiteStore
from memvault.testing.server import Server

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
    """The words some byte of the data still holds: the raw files (SQLite) or any row of any table (PostgreSQL)."""
    if isinstance(store, SQLiteStore):
        folder = Path(store.path).parent
        blob = b"".join((folder / f).read_bytes() for f in FILES if (folder / f).exists())
        # The whole word, and its tail: FTS5 stores a term as the suffix it does not share with the one before.
        return [w for w in words if w.encode() in blob or w[-9:].encode() in blob]
    found = []
    with psycopg.connect(store.url, autocommit=True) as conn:  # type: ignore[attr-defined]
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")]
        for w in words:
            found += [f"{w} in {t}" for t in tables
                      if conn.execute(f'SELECT 1 FROM "{t}" t WHERE t::text LIKE %s LIMIT 1', (f"%{w}%",)).fetchone()]
    return found


def settled(store: Store, words: list[str]) -> list[str]:
    """`leftovers` once the compaction that follows a delete has had its time (SQLite), or at once (PostgreSQL)."""
    deadline = time.monotonic() + SETTLE
    while (left := leftovers(store, words)) and isinstance(store, SQLiteStore) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def listed(engine: Engine, project: str) -> set[str]:
    return {m.id for m in engine.list(project, None, limit=1000, show_expired=True).items}


def test_expired_memories_are_purged_days_after_their_day_and_forgotten_everywhere(engine: Engine,
                                                                                  project: str) -> None:
    words = {k: marker() for k in ("old", "recent", "today", "future", "never")}
    ids = {
        "old": plant(engine, project, f"The locker code is {words['old']}", expires=today() - timedelta(days=40)),
        "recent": plant(engine, project, f"The gate code is {words['recent']}", expires=today() - timedelta(days=3)),
        "today": plant(engine, project, f"The safe code is {words['today']}", expires=today()),
        "future": plant(engine, project, f"The door code is {words['future']}", expires=today() + timedelta(days=9)),
        "never": plant(engine, project, f"The bike code is {words['never']}"),
    }
    report = engine.purge(30, None)
    assert not report.dry_run and [(p.project_id, p.memory_id, p.reason) for p in report.purged] == [
        (project, ids["old"], "expired")]
    with pytest.raises(NotFound):
        engine.get(project, ids["old"])
    assert listed(engine, project) == set(ids.values()) - {ids["old"]}
    found = engine.search(project, f"locker code {words['old']}", None, SearchOptions(top_k=50, show_expired=True))
    assert ids["old"] not in {h.memory.id for h in found}
    events = engine.history(project, ids["old"])
    assert [(e.event, e.reason) for e in events] == [("ADD", None), ("DELETE", "expired")]
    assert all(e.old_text is None and e.new_text is None and e.input is None for e in events)
    assert settled(engine.store, [words["old"]]) == []
    assert leftovers(engine.store, [words["recent"], words["today"]]) == [words["recent"], words["today"]]  # the living

    again = engine.purge(0, None)  # every expired memory, the day itself still live
    assert [p.memory_id for p in again.purged] == [ids["recent"]]
    assert listed(engine, project) == {ids["today"], ids["future"], ids["never"]}
    assert settled(engine.store, [words["recent"]]) == []
    assert leftovers(engine.store, [words["today"], words["never"]]) != []


def test_superseded_memories_are_purged_only_when_asked_and_days_after(engine: Engine, project: str) -> None:
    now = utcnow()
    gone_word, kept_word = marker(), marker()
    old = plant(engine, project, f"Dana lives in {gone_word}", superseded_at=now - timedelta(days=40))
    recent = plant(engine, project, f"Dana works at {kept_word}", superseded_at=now - timedelta(days=3))
    live = plant(engine, project, "Dana lives in Lyon")
    assert engine.purge(None, None).purged == []
    assert engine.purge(30, None).purged == []  # the default: superseded memories are kept
    report = engine.purge(None, 30)
    assert [(p.memory_id, p.reason) for p in report.purged] == [(old, "superseded")]
    assert [(e.event, e.reason, e.new_text) for e in engine.history(project, old)][-1] == ("DELETE", "superseded", None)
    assert listed(engine, project) | {m.id for m in engine.store.get(project, [recent])} == {recent, live}
    assert engine.get(project, recent).superseded_at is not None
    assert settled(engine.store, [gone_word]) == []
    assert leftovers(engine.store, [kept_word]) != []


def test_a_dry_run_names_what_would_go_and_deletes_nothing(engine: Engine, project: str) -> None:
    other = engine.project("elsewhere").id
    due = [plant(engine, p, f"expired note {marker()}", expires=today() - timedelta(days=2)) for p in (project, other)]
    due.append(plant(engine, project, f"superseded note {marker()}", superseded_at=utcnow() - timedelta(days=1)))
    plant(engine, project, "live note", expires=today())
    before = {p: listed(engine, p) for p in (project, other)}
    dry = engine.purge(0, 0, dry_run=True)
    assert dry.dry_run and sorted(p.memory_id for p in dry.purged) == sorted(due)
    assert {p: listed(engine, p) for p in (project, other)} == before
    assert all(e.event == "ADD" for mid in due[:1] for e in engine.history(project, mid))
    done = engine.purge(0, 0)
    assert [(p.project_id, p.memory_id, p.reason) for p in done.purged] == \
        [(p.project_id, p.memory_id, p.reason) for p in dry.purged]
    assert (done.count(), done.count("expired"), done.count("superseded")) == (3, 2, 1)


@pytest.mark.parametrize("bad", [{"expired_after_days": -1}, {"expired_after_days": True},
                                 {"expired_after_days": "30"}, {"superseded_after_days": 1.5},
                                 {"superseded_after_days": 10**9}, {"batch": 0}, {"batch": 10**6}])
def test_bad_purge_arguments_are_refused_and_delete_nothing(engine: Engine, project: str, bad: dict[str, object]) -> None:
    mid = plant(engine, project, "long expired", expires=today() - timedelta(days=400))
    with pytest.raises(InvalidInput):
        engine.purge(**bad)  # type: ignore[arg-type]
    assert engine.get(project, mid).text == "long expired"


def test_a_purge_shows_in_the_mem0_history_as_a_delete_with_its_reason(server: Server, engine: Engine) -> None:
    key = server.key("test")
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Token {key}"}, timeout=30) as http:
        added = http.post("/v3/memories/add/", json={"messages": "Dana's visa ends soon", "user_id": "dana",
                                                     "infer": False, "expiration_date": "2020-01-31"})
        mid = added.json()["results"][0]["id"]
        engine.purge(30, None)
        assert http.get(f"/v1/memories/{mid}/").status_code == 404
        events = http.get(f"/v1/memories/{mid}/history/").json()
    assert [(e["event"], e["reason"], e["old_memory"], e["new_memory"], e["input"]) for e in events] == [
        ("ADD", None, None, None, None), ("DELETE", "expired", None, None, None)]


# a property: exactly what is due goes, whatever the project, the batch size and the ids ----------------------
@dataclass
class Planted:
    project: str
    id: str
    text: str
    expires: datetime | None
    superseded_at: datetime | None


def due(p: Planted, expired_after: int | None, superseded_after: int | None, at: datetime) -> bool:
    """The rule, written again independently of the engine's: `at` is the purge's time."""
    midnight = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if expired_after is not None and p.expires is not None and p.expires < midnight - timedelta(days=expired_after):
        return True
    return superseded_after is not None and p.superseded_at is not None and \
        p.superseded_at < at - timedelta(days=superseded_after)


DAYS = st.one_of(st.none(), st.integers(0, 40))
MEMORY = st.tuples(st.integers(0, 2), st.one_of(st.none(), st.integers(-60, 5)),  # project, expiry (days from today)
                   st.one_of(st.none(), st.integers(0, 60)), st.booleans())  # superseded (days ago), reuse an id


def test_a_purge_deletes_exactly_the_due_memories_of_every_project_and_nothing_else(engine: Engine) -> None:
    alive: dict[tuple[str, str], Planted] = {}  # everything planted so far, in every example, that should be there

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(memories=st.lists(MEMORY, min_size=1, max_size=10), expired_after=DAYS, superseded_after=DAYS,
           batch=st.integers(1, 4), dry_run=st.booleans())
    def check(memories: list[tuple[int, int | None, int | None, bool]], expired_after: int | None,
              superseded_after: int | None, batch: int, dry_run: bool) -> None:
        projects = [engine.project(f"p-{uuid.uuid4().hex[:8]}").id for _ in range(3)]
        start, last_id = utcnow(), None
        for n, expiry, superseded, reuse in memories:
            text = f"note {marker()}"
            expires = today() + timedelta(days=expiry) if expiry is not None else None
            at = start - timedelta(days=superseded, hours=1) if superseded is not None else None
            # Ids are each project's own: the same id in another project is another memory.
            same = last_id if reuse and last_id and all(k != (projects[n], last_id) for k in alive) else None
            mid = plant(engine, projects[n], text, expires=expires, superseded_at=at, memory_id=same)
            alive[(projects[n], mid)] = Planted(projects[n], mid, text, expires, at)
            last_id = mid
        before = utcnow()
        report = engine.purge(expired_after, superseded_after, dry_run=dry_run, batch=batch)
        after = utcnow()
        gone = {(p.project_id, p.memory_id) for p in report.purged}
        assert len(gone) == len(report.purged)
        for key, p in alive.items():
            if due(p, expired_after, superseded_after, before) and due(p, expired_after, superseded_after, after):
                assert key in gone, p
            elif not due(p, expired_after, superseded_after, after):
                assert key not in gone, p
        for key in list(alive):
            found = engine.store.get(key[0], [key[1]])
            if key in gone and not dry_run:
                assert found == [], key
                del alive[key]
            else:
                assert [m.text for m in found] == [alive[key].text], key

    check()
