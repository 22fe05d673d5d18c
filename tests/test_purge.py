"""The purge (memvault/engine/purge.py) on both stores: memories that expired, or were superseded, long enough ago
are deleted with every guarantee of a delete (no read path, no history text, and no byte in the SQLite files once
compacted / no row of any PostgreSQL table); a dry run deletes nothing; nothing else is touched, in any project."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memvault.engine import Engine, SearchOptions
from memvault.errors import InvalidInput, NotFound
from memvault.models import utcnow
from memvault.testing.forgetting import leftovers, marker, plant, settled, today
from memvault.testing.server import Server


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
    [receipt] = engine.receipts(project)
    assert (receipt["route"], receipt["count"], receipt["memory_ids"]) == ("purge expired", 1, [ids["old"]])
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
