"""The store conformance suite: what every store must do, the same way. Both built-in stores pass it unchanged
(tests/store/test_conformance.py runs it on SQLite, PostgreSQL and SQLite with its vector graph from the first vector
on); an outside store runs it in its own tests by importing the tests and giving two fixtures::

    import pytest
    from memvault.testing.conformance import *  # noqa: F403 - the suite's tests and fixtures

    @pytest.fixture
    def store(tmp_path):            # a new, empty store
        made = MyStore(...)
        yield made
        made.close()

    @pytest.fixture
    def store_twin(store):          # a second handle on the same data, as another process would open it
        ...

See docs/adding-a-store.md.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from memvault import filters as F
from memvault.errors import Conflict, InvalidInput, NotFound
from memvault.models import (
    Bucket,
    ChatChunk,
    ChatMessage,
    Conversation,
    ConversationQuery,
    HistoryEvent,
    Memory,
    utcnow,
)
from memvault.store.base import AddWrite, ChatWrite, MemoryChange, PurgeField, SettingsChange, Store, Supersession

DIM = 8


def vec(*hot: int) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    for h in hot:
        v[h] = 1.0
    return v / np.linalg.norm(v)


def general(store: Store, project_id: str) -> Bucket:
    found = store.find_bucket(project_id, "general")
    assert found is not None
    return found


def put(store: Store, project_id: str, text: str, v: np.ndarray, *, created: datetime | None = None,
        **fields: object) -> Memory:
    at = created or utcnow()
    m = Memory(id=str(uuid.uuid4()), project_id=project_id, text=text, hash=text, bucket_id=general(store, project_id).id,
               created_at=at, updated_at=at, **fields)  # type: ignore[arg-type]
    event = HistoryEvent(str(uuid.uuid4()), m.id, project_id, "ADD", None, text, [{"role": "user", "content": text}],
                         at, m.user_id)
    store.insert([m], v[None, :], [event])
    return m


@pytest.fixture
def pid(store: Store) -> str:
    return store.ensure_project("p1").id


@pytest.fixture
def other(store: Store) -> str:
    return store.ensure_project("p2").id


def test_ensure_project_is_idempotent_and_makes_the_general_bucket(store: Store) -> None:
    a = store.ensure_project("acme")
    assert store.ensure_project("acme").id == a.id
    assert [b.name for b in store.list_buckets(a.id)] == ["General"]


def test_insert_then_get_round_trips_every_field(store: Store, pid: str) -> None:
    exp = datetime(2031, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
    m = put(store, pid, "likes tea", vec(0), user_id="u", agent_id="a", app_id="x", run_id="r",
            metadata={"k": 1, "s": "v"}, categories=["food"], expiration_date=exp, source="chatgpt")
    [got] = store.get(pid, [m.id])
    assert (got.text, got.user_id, got.agent_id, got.app_id, got.run_id) == ("likes tea", "u", "a", "x", "r")
    assert got.metadata == {"k": 1, "s": "v"} and got.categories == ["food"] and got.source == "chatgpt"
    assert got.expiration_date == exp and got.created_at == m.created_at and got.bucket_name == "General"


def test_get_never_crosses_projects(store: Store, pid: str, other: str) -> None:
    m = put(store, pid, "secret", vec(0))
    assert store.get(other, [m.id]) == []
    assert store.list(other, None, 10).total == 0
    assert store.delete(other, [m.id], utcnow()) == []
    assert store.vector_search(other, vec(0), None, 5) == []
    assert store.keyword_search(other, ["secret"], None, 5) == []
    assert store.history(other, m.id) == []
    assert store.get(pid, [m.id])[0].text == "secret"


def test_list_is_newest_first_and_pages(store: Store, pid: str) -> None:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    for i in range(5):
        put(store, pid, f"m{i}", vec(i % DIM), created=base + timedelta(days=i), user_id="u")
    page = store.list(pid, F.eq("user_id", "u"), limit=2, offset=1)
    assert page.total == 5 and [m.text for m in page.items] == ["m3", "m2"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"user_id": "alice"}, {"a1", "a2"}),
        ({"user_id": "*"}, {"a1", "a2", "b1"}),
        ({"user_id": {"ne": "alice"}}, {"b1", "n1"}),
        ({"user_id": {"in": ["alice", "bob"]}}, {"a1", "a2", "b1"}),
        ({"OR": [{"user_id": "bob"}, {"agent_id": "helper"}]}, {"b1", "a2"}),
        ({"AND": [{"user_id": "alice"}, {"NOT": [{"agent_id": "helper"}]}]}, {"a1"}),
        ({"metadata": {"city": "Lyon"}}, {"a1"}),
        ({"metadata": {"n": {"gte": 5}}}, {"a2", "b1"}),
        ({"metadata": {"city": {"icontains": "LY"}}}, {"a1"}),
        ({"categories": {"contains": "food"}}, {"a1", "b1"}),
        ({"categories": {"in": ["travel", "x"]}}, {"a2"}),
        ({"keywords": {"icontains": "TEA"}}, {"a1"}),
        ({"created_at": {"gte": "2024-01-02"}}, {"a2", "b1", "n1"}),
        ({"created_at": {"lt": "2024-01-02T00:00:00Z"}}, {"a1"}),
    ],
)
def test_filters_select_exactly(store: Store, pid: str, raw: dict, expected: set[str]) -> None:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    put(store, pid, "a1 likes tea", vec(0), created=base, user_id="alice", metadata={"city": "Lyon", "n": 1},
        categories=["food"])
    put(store, pid, "a2 flies", vec(1), created=base + timedelta(days=1), user_id="alice", agent_id="helper",
        metadata={"n": 5}, categories=["travel"])
    put(store, pid, "b1 cooks", vec(2), created=base + timedelta(days=2), user_id="bob", metadata={"n": 9},
        categories=["food"])
    put(store, pid, "n1 nobody", vec(3), created=base + timedelta(days=3), agent_id="x")
    where = F.parse(raw)
    texts = {m.text.split()[0] for m in store.list(pid, where, 100).items}
    assert texts == expected
    hits = {store.get(pid, [i])[0].text.split()[0] for i, _ in store.vector_search(pid, vec(0), where, 10)}
    assert hits == expected


def test_vector_search_ranks_by_cosine_and_respects_selective_filters(store: Store, pid: str) -> None:
    for i in range(300):
        put(store, pid, f"noise {i}", vec(0, 1), user_id="crowd")
    near = put(store, pid, "target", vec(0), user_id="me")
    far = put(store, pid, "other", vec(5), user_id="me")
    hits = store.vector_search(pid, vec(0), F.eq("user_id", "me"), 5)
    assert [h[0] for h in hits] == [near.id, far.id]
    assert hits[0][1] == pytest.approx(1.0, abs=1e-5) and hits[1][1] == pytest.approx(0.0, abs=1e-5)


def test_keyword_search_matches_stems_and_ranks(store: Store, pid: str) -> None:
    a = put(store, pid, "I am running a marathon in Lyon", vec(0))
    put(store, pid, "Cooking pasta tonight", vec(1))
    hits = store.keyword_search(pid, ["runs", "lyon"], None, 5)
    assert [h[0] for h in hits] == [a.id] and hits[0][1] > 0


def test_neighbours_walk_the_run_through_the_filter_with_cosine_text_and_metadata(store: Store, pid: str) -> None:
    t0 = utcnow()
    run = [put(store, pid, f"turn {i}", vec(i % DIM), created=t0 + timedelta(seconds=2 * i), user_id="me",
               run_id="r", metadata={"n": i}) for i in range(5)]
    # Someone else's memory in the middle of the same run id, and one of mine in another run.
    put(store, pid, "intruder", vec(2), created=t0 + timedelta(seconds=5), user_id="other", run_id="r")
    put(store, pid, "elsewhere", vec(2), created=t0 + timedelta(seconds=5), user_id="me", run_id="r2")
    found = store.neighbours(pid, [run[2].id], vec(2), F.eq("user_id", "me"), 2)
    got = sorted((n.offset, n.id, n.text, n.metadata) for n in found if n.anchor == run[2].id)
    assert got == [(o, run[2 + o].id, f"turn {2 + o}", {"n": 2 + o}) for o in (-2, -1, 0, 1, 2)]
    sims = {n.id: n.similarity for n in found}
    assert sims[run[2].id] == pytest.approx(1.0, abs=1e-5) and sims[run[1].id] == pytest.approx(0.0, abs=1e-5)
    assert [(n.offset, n.text) for n in store.neighbours(pid, [run[0].id], vec(0), None, 0)] == [(0, "turn 0")]


def test_update_changes_text_vector_and_keyword_index(store: Store, pid: str) -> None:
    m = put(store, pid, "lives in Paris", vec(0), metadata={"k": 1})
    [got] = store.update(pid, [MemoryChange(m.id, str(uuid.uuid4()), utcnow(), text="lives in Lyon", hash="h2",
                                            vector=vec(4))])
    assert (got.text, got.hash, got.metadata) == ("lives in Lyon", "h2", {"k": 1})
    assert store.get(pid, [m.id]) == [got]
    assert store.keyword_search(pid, ["paris"], None, 5) == []
    assert store.keyword_search(pid, ["lyon"], None, 5)[0][0] == m.id
    assert store.vector_search(pid, vec(4), None, 1)[0][0] == m.id
    events = store.history(pid, m.id)
    assert [(e.event, e.old_text, e.new_text, e.metadata) for e in events][1:] == [
        ("UPDATE", "lives in Paris", "lives in Lyon", {"k": 1})]


def test_categories_auto_round_trips_through_insert_and_update(store: Store, pid: str) -> None:
    chosen = put(store, pid, "chosen by memvault", vec(0), categories=["food"], categories_auto=True)
    given = put(store, pid, "given by the caller", vec(1), categories=["travel"])
    assert [m.categories_auto for m in store.get(pid, [chosen.id, given.id])] == [True, False]
    [got] = store.update(pid, [MemoryChange(chosen.id, str(uuid.uuid4()), utcnow(), categories=["x"],
                                            categories_auto=False)])
    assert (got.categories, got.categories_auto) == (["x"], False)
    [got] = store.update(pid, [MemoryChange(given.id, str(uuid.uuid4()), utcnow(), metadata={"k": 1})])
    assert (got.categories, got.categories_auto) == (["travel"], False)  # a patch without them leaves both


def test_project_settings_start_as_defaults_and_patch_field_by_field(store: Store, pid: str, other: str) -> None:
    fresh = store.project_settings(pid)
    assert fresh is not None
    assert (fresh.project_id, fresh.name, fresh.custom_categories, fresh.custom_instructions,
            fresh.agent_custom_instructions, fresh.updated_at) == (pid, "p1", None, None, None, None)
    at = datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)
    cats = (("pets", "Animals I own"), ("Été", "Summer things: beaches, heat"))
    got = store.update_project_settings(pid, SettingsChange(at, custom_categories=cats, custom_instructions="Be brief"))
    assert got is not None and (got.custom_categories, got.custom_instructions, got.updated_at) == (cats, "Be brief", at)
    got = store.update_project_settings(pid, SettingsChange(at, name="Shown name", agent_custom_instructions="Agent"))
    assert got is not None and (got.name, got.custom_categories, got.custom_instructions,
                                got.agent_custom_instructions) == ("Shown name", cats, "Be brief", "Agent")
    assert store.project_settings(pid) == got
    got = store.update_project_settings(pid, SettingsChange(at, clear=frozenset({"name", "custom_categories"})))
    assert got is not None and (got.name, got.custom_categories, got.custom_instructions) == ("p1", None, "Be brief")
    assert store.get_project(pid) is not None and store.get_project(pid).name == "p1"  # type: ignore[union-attr]
    assert store.project_settings(other) == replace(fresh, project_id=other, name="p2")  # another project: untouched


def test_project_settings_of_an_unknown_project_are_none_and_never_written(store: Store) -> None:
    unknown = str(uuid.uuid4())
    assert store.project_settings(unknown) is None
    assert store.update_project_settings(unknown, SettingsChange(utcnow(), custom_instructions="x")) is None
    assert store.project_settings(unknown) is None


def fresh(store: Store, project_id: str, text: str, **fields: object) -> tuple[Memory, HistoryEvent]:
    """A memory and its ADD event, not yet inserted."""
    at = utcnow()
    m = Memory(id=str(uuid.uuid4()), project_id=project_id, text=text, hash=text,
               bucket_id=general(store, project_id).id, created_at=at, updated_at=at, **fields)  # type: ignore[arg-type]
    return m, HistoryEvent(str(uuid.uuid4()), m.id, project_id, "ADD", None, text, None, at, m.user_id)


def mark(old: str, new: str) -> Supersession:
    return Supersession(old, new, str(uuid.uuid4()), utcnow())


def test_insert_with_supersede_marks_the_old_memory_in_the_same_transaction(store: Store, pid: str) -> None:
    old = put(store, pid, "lives in Paris", vec(0), user_id="u", metadata={"k": 1})
    new, event = fresh(store, pid, "moved to Lyon", user_id="u")
    supersession = mark(old.id, new.id)
    store.insert([new], vec(1)[None, :], [event], supersede=[supersession])
    [got] = store.get(pid, [old.id])
    assert (got.text, got.superseded_by, got.superseded_at) == ("lives in Paris", new.id, supersession.at)
    assert store.get(pid, [new.id])[0].superseded_by is None
    assert [(e.event, e.old_text, e.new_text, e.metadata) for e in store.history(pid, old.id)][1:] == [
        ("SUPERSEDE", "lives in Paris", None, {"superseded_by": new.id})]
    live = F.Not(F.Cond("superseded_by", "exists"))
    assert [m.id for m in store.list(pid, live, 10).items] == [new.id]
    assert [h[0] for h in store.vector_search(pid, vec(0), live, 5)] == [new.id]
    assert [m.id for m in store.list(pid, F.eq("superseded_by", new.id), 10).items] == [old.id]


def test_insert_applies_its_patches_and_marks_in_the_same_transaction(store: Store, pid: str) -> None:
    paris = put(store, pid, "lives in Paris", vec(0), user_id="u")
    tea = put(store, pid, "likes tea", vec(3), user_id="u")
    new, event = fresh(store, pid, "moved to Lyon", user_id="u")
    change = MemoryChange(tea.id, str(uuid.uuid4()), utcnow(), text="likes green tea", hash="h2", vector=vec(4))
    store.insert([new], vec(1)[None, :], [event], supersede=[mark(paris.id, new.id)], changes=[change])
    assert [(m.text, m.superseded_by) for m in store.get(pid, [paris.id, tea.id, new.id])] == [
        ("lives in Paris", new.id), ("likes green tea", None), ("moved to Lyon", None)]
    assert [(e.event, e.old_text, e.new_text) for e in store.history(pid, tea.id)][1:] == [
        ("UPDATE", "likes tea", "likes green tea")]
    assert store.keyword_search(pid, ["green"], None, 5)[0][0] == tea.id
    assert store.vector_search(pid, vec(4), None, 1)[0][0] == tea.id
    with pytest.raises(NotFound):  # a patch of a memory not there: nothing of the call is written
        other, other_event = fresh(store, pid, "moved to Nice", user_id="u")
        store.insert([other], vec(2)[None, :], [other_event],
                     changes=[MemoryChange(str(uuid.uuid4()), str(uuid.uuid4()), utcnow(), text="x", hash="x",
                                           vector=vec(5))])
    assert store.get(pid, [other.id]) == []


@pytest.mark.parametrize("case", ["unknown old", "old of another project", "old already superseded", "itself"])
def test_a_mark_that_fails_inserts_nothing(store: Store, pid: str, other: str, case: str) -> None:
    mine = put(store, pid, "lives in Paris", vec(0), user_id="u")
    theirs = put(store, other, "lives in Rome", vec(0), user_id="u")
    new, event = fresh(store, pid, "moved to Lyon", user_id="u")
    if case == "old already superseded":
        later = put(store, pid, "moved to Nice", vec(2), user_id="u")
        store.supersede(pid, [mark(mine.id, later.id)])
    patched = put(store, pid, "likes tea", vec(3), user_id="u")
    change = MemoryChange(patched.id, str(uuid.uuid4()), utcnow(), text="likes green tea", hash="h2", vector=vec(4))
    old = {"unknown old": str(uuid.uuid4()), "old of another project": theirs.id}.get(case, mine.id)
    with pytest.raises(NotFound if case in ("unknown old", "old of another project") else Conflict):
        store.insert([new], vec(1)[None, :], [event], supersede=[mark(new.id if case == "itself" else old, new.id)],
                     changes=[change])
    assert store.get(pid, [new.id]) == [] and store.history(pid, new.id) == []
    assert store.get(pid, [patched.id])[0].text == "likes tea" and len(store.history(pid, patched.id)) == 1
    assert store.get(other, [theirs.id])[0].superseded_by is None
    if case != "old already superseded":
        assert store.get(pid, [mine.id])[0].superseded_by is None


def test_supersede_marks_stored_memories_and_never_makes_a_cycle(store: Store, pid: str, other: str) -> None:
    a = put(store, pid, "is vegetarian", vec(0), user_id="u")
    b = put(store, pid, "is vegan", vec(1), user_id="u")
    c = put(store, pid, "eats fish again", vec(2), user_id="u")
    theirs = put(store, other, "is vegan", vec(1), user_id="u")
    [got] = store.supersede(pid, [mark(a.id, b.id)])
    assert got.id == a.id and got.superseded_by == b.id
    with pytest.raises(Conflict):
        store.supersede(pid, [mark(b.id, a.id)])  # a superseded memory supersedes nothing
    with pytest.raises(Conflict):
        store.supersede(pid, [mark(a.id, c.id)])  # superseded once only
    with pytest.raises(Conflict):
        store.supersede(pid, [mark(c.id, c.id)])
    with pytest.raises(NotFound):
        store.supersede(pid, [mark(c.id, theirs.id)])  # the new memory of another project is not there
    with pytest.raises(NotFound):
        store.supersede(other, [mark(theirs.id, b.id)])
    with pytest.raises(Conflict):  # a chain inside one call: b would be both replaced and replacing
        store.supersede(pid, [mark(b.id, c.id), mark(c.id, b.id)])
    assert [(m.id, m.superseded_by) for m in store.get(pid, [a.id, b.id, c.id])] == [
        (a.id, b.id), (b.id, None), (c.id, None)]
    assert store.get(other, [theirs.id])[0].superseded_by is None
    [got] = store.supersede(pid, [mark(b.id, c.id)])  # a chain, one step at a time
    assert got.superseded_by == c.id
    assert [e.event for e in store.history(pid, b.id)] == ["ADD", "SUPERSEDE"]


def test_delete_forgets_everywhere_but_keeps_the_event_trail(store: Store, pid: str) -> None:
    m = put(store, pid, "my password hint is kitten", vec(0), user_id="u")
    keep = put(store, pid, "unrelated", vec(1), user_id="u")
    assert store.delete(pid, [m.id, m.id, str(uuid.uuid4())], utcnow()) == [m.id]
    assert store.get(pid, [m.id]) == []
    assert store.keyword_search(pid, ["kitten"], None, 5) == []
    assert m.id not in [h[0] for h in store.vector_search(pid, vec(0), None, 5)]
    events = store.history(pid, m.id)
    assert [e.event for e in events] == ["ADD", "DELETE"]
    assert all(e.old_text is None and e.new_text is None and e.input is None for e in events)
    assert [e.total_memories for e in store.entities(pid)] == [1]
    assert store.get(pid, [keep.id])[0].text == "unrelated"


def test_an_all_or_nothing_delete_with_one_id_not_in_the_project_deletes_nothing(store: Store, pid: str,
                                                                                 other: str) -> None:
    mine = [put(store, pid, f"fact {i}", vec(i), user_id="u").id for i in range(3)]
    theirs = put(store, other, "their fact", vec(3), user_id="u").id
    for stray in (str(uuid.uuid4()), theirs):
        with pytest.raises(NotFound):
            store.delete(pid, [*mine, stray], utcnow(), all_or_nothing=True)
        assert [m.id for m in store.get(pid, mine)] == mine and [e.event for e in store.history(pid, mine[0])] == ["ADD"]
    assert store.get(other, [theirs])[0].text == "their fact"
    assert sorted(store.delete(pid, [mine[0], mine[0], *mine[1:]], utcnow(), all_or_nothing=True)) == sorted(mine)
    assert store.get(pid, mine) == []

def test_delete_where_is_scoped_and_returns_ids(store: Store, pid: str, other: str) -> None:
    a = put(store, pid, "a", vec(0), user_id="u")
    put(store, pid, "b", vec(1), user_id="v")
    theirs = put(store, other, "c", vec(0), user_id="u")
    assert store.delete_where(pid, F.eq("user_id", "u"), utcnow()) == [a.id]
    assert store.get(other, [theirs.id])[0].text == "c"
    assert store.list(pid, None, 10).total == 1


def test_purge_candidates_are_the_due_memories_of_every_project_paged_by_key(store: Store, pid: str,
                                                                            other: str) -> None:
    cut = datetime(2030, 6, 1, tzinfo=UTC)
    early, late = cut - timedelta(microseconds=1), cut + timedelta(days=1)
    due = [put(store, p, "expired", vec(0), expiration_date=early) for p in (pid, other, pid)]
    put(store, pid, "expires at the cut", vec(0), expiration_date=cut)  # not earlier than `before`: not due
    put(store, other, "expires later", vec(0), expiration_date=late)
    put(store, pid, "never expires", vec(0))
    replaced = put(store, other, "replaced", vec(1))
    old = [put(store, p, "superseded", vec(1), superseded_by=replaced.id, superseded_at=early) for p in (pid, other)]
    put(store, pid, "superseded later", vec(1), superseded_by=replaced.id, superseded_at=late)
    put(store, pid, "superseded time but no successor", vec(1), superseded_at=early)  # not superseded: not due
    cases: list[tuple[PurgeField, list[Memory]]] = [("expiration_date", due), ("superseded_at", old)]
    for field, wanted in cases:
        keys = sorted((m.project_id, m.id) for m in wanted)
        assert store.purge_candidates(field, cut, None, 100) == keys
        paged: list[tuple[str, str]] = []
        after: tuple[str, str] | None = None
        while page := store.purge_candidates(field, cut, after, 2):
            assert len(page) <= 2
            paged, after = paged + page, page[-1]
        assert paged == keys
    assert store.purge_candidates("expiration_date", datetime(2000, 1, 1, tzinfo=UTC), None, 100) == []


def test_a_delete_with_a_reason_says_it_and_forgets_like_any_delete(store: Store, pid: str, other: str) -> None:
    past = datetime(2020, 1, 1, tzinfo=UTC)
    gone = put(store, pid, "the locker code is walrus", vec(0), user_id="u", expiration_date=past)
    renewed = put(store, pid, "the gate code is heron", vec(1), user_id="u", expiration_date=past)
    store.update(pid, [MemoryChange(renewed.id, str(uuid.uuid4()), utcnow(), clear_expiration=True)])
    theirs = put(store, other, "their code is walrus", vec(0), expiration_date=past)
    due = F.And((F.Cond("id", "in", (gone.id, renewed.id, theirs.id)), F.Cond("expiration_date", "lt", utcnow())))
    assert store.delete_where(pid, due, utcnow(), "expired") == [gone.id]  # judged as the rows are at the delete
    assert store.get(pid, [gone.id]) == [] and store.keyword_search(pid, ["walrus"], None, 5) == []
    assert gone.id not in [h[0] for h in store.vector_search(pid, vec(0), None, 5)]
    events = store.history(pid, gone.id)
    assert [(e.event, e.reason) for e in events] == [("ADD", None), ("DELETE", "expired")]
    assert all(e.old_text is None and e.new_text is None and e.input is None for e in events)
    assert store.get(pid, [renewed.id])[0].text == "the gate code is heron"
    assert store.get(other, [theirs.id])[0].text == "their code is walrus"
    store.delete(other, [theirs.id], utcnow())
    assert [e.reason for e in store.history(other, theirs.id)] == [None, None]


def test_entities_count_per_kind(store: Store, pid: str) -> None:
    put(store, pid, "a", vec(0), user_id="u", run_id="r")
    put(store, pid, "b", vec(1), user_id="u")
    put(store, pid, "c", vec(2), agent_id="g")
    got = {(e.type, e.name): e.total_memories for e in store.entities(pid)}
    assert got == {("user", "u"): 2, ("run", "r"): 1, ("agent", "g"): 1}


def test_bucket_names_are_unique_ignoring_case(store: Store, pid: str) -> None:
    store.create_bucket(Bucket(str(uuid.uuid4()), pid, "Work", "", utcnow()))
    with pytest.raises(Conflict):
        store.create_bucket(Bucket(str(uuid.uuid4()), pid, "work", "", utcnow()))
    assert store.find_bucket(pid, "WORK") is not None


def test_delete_bucket_moves_or_deletes_its_memories(store: Store, pid: str) -> None:
    work = store.create_bucket(Bucket(str(uuid.uuid4()), pid, "Work", "", utcnow()))
    m = put(store, pid, "standup at nine", vec(0))
    assert store.move_memories(pid, [m.id, str(uuid.uuid4())], work.id, utcnow()) == [m.id]
    assert store.get(pid, [m.id])[0].bucket_name == "Work"
    others = [put(store, pid, f"other {i}", vec(i)).id for i in range(4)]
    given = [others[2], str(uuid.uuid4()), others[0], others[3], others[2]]
    assert store.move_memories(pid, given, work.id, utcnow()) == [others[2], others[0], others[3]]  # order given
    store.move_memories(pid, others, general(store, pid).id, utcnow())
    assert store.list(pid, F.Cond("bucket", "eq", work.id), 10).total == 1
    assert store.delete_bucket(pid, work.id, general(store, pid).id, utcnow()) == 1
    assert store.get(pid, [m.id])[0].bucket_name == "General"
    trash = store.create_bucket(Bucket(str(uuid.uuid4()), pid, "Trash", "", utcnow()))
    store.move_memories(pid, [m.id], trash.id, utcnow())
    assert store.delete_bucket(pid, trash.id, None, utcnow()) == 1
    assert store.get(pid, [m.id]) == [] and store.keyword_search(pid, ["standup"], None, 5) == []


def test_keys_are_found_by_hash_and_revoked(store: Store, pid: str) -> None:
    key = store.add_key(pid, "h" * 64, "ci", "mv_abcdefgh")
    found = store.find_key("h" * 64)
    assert found is not None and found.project_id == pid and found.revoked_at is None
    revoked = store.revoke_key(key.id, utcnow())
    assert revoked is not None and revoked.revoked_at is not None
    assert store.find_key("x" * 64) is None


def test_a_second_store_on_the_same_data_sees_writes_and_deletes(store: Store, pid: str,
                                                                 request: pytest.FixtureRequest) -> None:
    """Two handles on one database (two processes, in production) agree, including the vector index."""
    twin = request.getfixturevalue("store_twin")
    store.vector_search(pid, vec(0), None, 1)  # warm this handle's index
    twin.vector_search(pid, vec(0), None, 1)
    m = put(store, pid, "written by one", vec(6))
    assert twin.vector_search(pid, vec(6), None, 1)[0][0] == m.id
    twin.delete(pid, [m.id], utcnow())
    assert m.id not in [i for i, _ in store.vector_search(pid, vec(6), None, 10)]


def test_scan_pages_by_id_with_or_without_vectors(store: Store, pid: str, other: str) -> None:
    made = sorted((put(store, pid, f"m{i}", vec(i % DIM)) for i in range(5)), key=lambda m: m.id)
    put(store, other, "not mine", vec(0))
    first = store.scan(pid, None, 2)
    assert [m.id for m, _ in first] == [m.id for m in made[:2]] and all(v is None for _, v in first)
    rest = store.scan(pid, first[-1][0].id, 10, vectors=True)
    assert [m.id for m, _ in rest] == [m.id for m in made[2:]]
    assert all(v is not None and np.allclose(v, vec(int(m.text[1:]) % DIM)) for m, v in rest)
    assert store.scan(pid, made[-1].id, 10) == []


def test_insert_new_skips_ids_the_project_has_and_ids_are_each_projects_own(store: Store, pid: str, other: str) -> None:
    theirs = put(store, other, "their text", vec(1))
    mine = put(store, pid, "my text", vec(2))
    at = utcnow()
    fresh = Memory(id=str(uuid.uuid4()), project_id=pid, text="new", hash="new", bucket_id=general(store, pid).id,
                   created_at=at, updated_at=at)
    clash = [Memory(**{**fresh.__dict__, "id": i, "text": "forged"}) for i in (theirs.id, mine.id)]
    events = [HistoryEvent(str(uuid.uuid4()), m.id, pid, "ADD", None, m.text, None, at) for m in [fresh, *clash]]
    assert store.insert_new([fresh, *clash], np.stack([vec(3)] * 3), events) == [fresh.id, theirs.id]
    assert store.get(other, [theirs.id])[0].text == "their text"  # the other project's memory of that id: untouched
    assert [e.new_text for e in store.history(other, theirs.id)] == ["their text"]
    assert store.get(pid, [mine.id])[0].text == "my text"  # this project's own: left as it is
    assert store.get(pid, [theirs.id])[0].text == "forged"  # the same id, this project's own memory
    assert [e.new_text for e in store.history(pid, theirs.id)] == ["forged"]
    assert [e.new_text for e in store.history(pid, fresh.id)] == ["new"]
    assert store.delete(pid, [theirs.id], at) == [theirs.id]  # a delete in one project leaves the other's alone
    assert store.get(other, [theirs.id])[0].text == "their text"
    assert [e.new_text for e in store.history(other, theirs.id)] == ["their text"]
    assert [h[0] for h in store.vector_search(other, vec(1), None, 1)] == [theirs.id]


def test_compact_after_deletes_keeps_every_live_memory(store: Store, pid: str) -> None:
    gone = put(store, pid, "the alarm code is 4512", vec(0))
    kept = put(store, pid, "the alarm is in the hall", vec(1))
    store.delete(pid, [gone.id], utcnow())
    for rewrite in (False, True):
        store.compact(rewrite)
        assert store.get(pid, [gone.id, kept.id]) == [store.get(pid, [kept.id])[0]]
        assert [h[0] for h in store.keyword_search(pid, ["alarm"], None, 5)] == [kept.id]
        assert [h[0] for h in store.vector_search(pid, vec(1), None, 5)] == [kept.id]


def test_vectors_of_another_embedder_are_kept_but_never_compared(store: Store, pid: str) -> None:
    old = put(store, pid, "embedded by the old model", vec(0))
    new = put(store, pid, "embedded by the new model", np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32))
    assert [h[0] for h in store.vector_search(pid, vec(0), None, 5)] == [old.id]
    assert [h[0] for h in store.vector_search(pid, np.array([1, 0, 0, 0], dtype=np.float32), None, 5)] == [new.id]
    near = {n.id: n.similarity for n in store.neighbours(pid, [old.id, new.id], vec(0), None, 0)}
    assert near[old.id] == pytest.approx(1.0, abs=1e-5) and near[new.id] == pytest.approx(0.0, abs=1e-5)
    store.delete(pid, [old.id], utcnow())
    assert store.vector_search(pid, vec(0), None, 5) == []


def test_keyword_statistics_come_from_the_searched_scope(store: Store, pid: str) -> None:
    for i in range(30):  # everywhere among other users' memories, so rare only in u1's
        put(store, pid, f"pottery evening number {i}", vec(1), user_id=f"other{i % 3}")
    for i in range(12):  # u1's partner, named in most of u1's memories
        put(store, pid, f"caroline called about item {i}", vec(2), user_id="u1")
    pottery = put(store, pid, "signed up for a pottery class", vec(3), user_id="u1")
    hits = store.keyword_search(pid, ["caroline", "pottery"], F.eq("user_id", "u1"), 5)
    assert hits[0][0] == pottery.id  # the word rare in this user's memories weighs most here


def test_a_term_in_more_memories_than_the_budget_is_left_out(store: Store, pid: str) -> None:
    from memvault.store.keyword import KEYWORD_BUDGET

    base = utcnow()
    bucket = general(store, pid).id
    many = [Memory(str(uuid.uuid4()), pid, f"common note {i}", f"c{i}", bucket, base, base) for i in range(KEYWORD_BUDGET + 1)]
    store.insert(many, np.tile(vec(0), (len(many), 1)), [])
    rare = put(store, pid, "a common heron", vec(1))
    assert store.keyword_search(pid, ["common"], None, 10) == []  # a near stop word in this scope
    assert [h[0] for h in store.keyword_search(pid, ["common", "heron"], None, 10)] == [rare.id]


# Every operator against every kind of value, on one set of memories: both stores must give these exact answers.
_KINDS: dict[str, tuple[Any, ...]] = {  # name: (metadata, user_id, categories, bucket, day of January 2024)
    "s1": ({"v": "apple", "n": 1}, "alice", ["food"], "General", 1),
    "s2": ({"v": "Banana", "w": "Émile"}, "bob", ["travel", "Été"], "Émile", 2),
    "s5": ({"v": "5"}, "alice", [], "Émile", 3),
    "n5": ({"v": 5}, None, ["food", "travel"], "General", 4),
    "n9": ({"v": 9.5}, "Zoe", [], "General", 5),
    "one": ({"v": 1}, None, [], "General", 6),
    "t": ({"v": True}, None, [], "General", 7),
    "f": ({"v": False}, None, [], "General", 8),
    "z": ({"v": None}, None, [], "General", 9),
    "arr": ({"v": [1, "apple"]}, None, [], "General", 10),
    "none": ({}, None, [], "General", 11),
}
_ALL = set(_KINDS)
_HAS_V = _ALL - {"z", "none"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # metadata: strings, numbers (int and float), bools, null; a value never meets one of another kind
        ({"metadata": {"v": "apple"}}, {"s1"}),
        ({"metadata": {"v": 5}}, {"n5"}),
        ({"metadata": {"v": "5"}}, {"s5"}),
        ({"metadata": {"v": 9.5}}, {"n9"}),
        ({"metadata": {"v": 1}}, {"one"}),
        ({"metadata": {"v": 1.0}}, {"one"}),
        ({"metadata": {"v": True}}, {"t"}),
        ({"metadata": {"v": False}}, {"f"}),
        ({"metadata": {"v": {"eq": "apple"}, "n": 1}}, {"s1"}),
        ({"metadata": {"v": {"ne": 5}}}, _ALL - {"n5"}),
        ({"metadata": {"v": {"ne": "5"}}}, _ALL - {"s5"}),
        ({"metadata": {"v": {"ne": True}}}, _ALL - {"t"}),
        ({"metadata": {"v": ["apple", 5]}}, {"s1", "n5"}),
        ({"metadata": {"v": {"in": [True, "5", 9.5]}}}, {"t", "s5", "n9"}),
        ({"metadata": {"v": {"in": [1]}}}, {"one"}),
        ({"metadata": {"v": {"nin": [5, "apple"]}}}, _ALL - {"n5", "s1"}),
        ({"metadata": {"v": {"nin": [False]}}}, _ALL - {"f"}),
        ({"metadata": {"v": {"gt": 4}}}, {"n5", "n9"}),
        ({"metadata": {"v": {"gte": 5}}}, {"n5", "n9"}),
        ({"metadata": {"v": {"lt": 5}}}, {"one"}),
        ({"metadata": {"v": {"lte": 1.0}}}, {"one"}),
        ({"metadata": {"v": {"lt": "5"}}}, set()),  # a string never orders against a number
        ({"metadata": {"v": {"gte": "5"}}}, {"s1", "s2", "s5"}),
        ({"metadata": {"v": {"lt": "b"}}}, {"s1", "s2", "s5"}),  # by code point: "B" < "b"
        ({"metadata": {"v": {"gt": "a"}}}, {"s1"}),
        ({"metadata": {"v": {"gt": 4, "lt": 9}}}, {"n5"}),
        ({"metadata": {"v": {"contains": "an"}}}, {"s2"}),
        ({"metadata": {"v": {"contains": "5"}}}, {"s5"}),  # strings only: not the number 5
        ({"metadata": {"v": {"icontains": "APP"}}}, {"s1"}),
        ({"metadata": {"v": {"icontains": "tru"}}}, set()),  # not the bool
        ({"metadata": {"w": {"icontains": "ÉMILE"}}}, {"s2"}),  # ASCII letters fold, É stays É (any locale)
        ({"metadata": {"w": {"icontains": "émile"}}}, set()),
        ({"metadata": {"w": {"icontains": "%"}}}, set()),  # wildcards are plain characters
        ({"metadata": {"v": "*"}}, _HAS_V),
        ({"metadata": {"v": {"exists": True}}}, _HAS_V),
        ({"metadata": {"v": {"exists": False}}}, {"z", "none"}),
        ({"metadata": {"v": None}}, {"z", "none"}),  # null is the same as missing
        ({"metadata": {"v": {"ne": None}}}, _HAS_V),
        ({"metadata": {"nope": {"exists": False}}}, _ALL),
        ({"NOT": [{"metadata": {"v": {"exists": True}}}]}, {"z", "none"}),
        # owner fields (text): every operator, exists both ways, null
        ({"user_id": "alice"}, {"s1", "s5"}),
        ({"user_id": {"ne": "alice"}}, _ALL - {"s1", "s5"}),
        ({"user_id": {"in": ["bob", "Zoe"]}}, {"s2", "n9"}),
        ({"user_id": {"nin": ["bob", "Zoe"]}}, _ALL - {"s2", "n9"}),
        ({"user_id": {"gt": "alice"}}, {"s2"}),  # by code point: "Zoe" < "alice"
        ({"user_id": {"lt": "b"}}, {"s1", "s5", "n9"}),
        ({"user_id": {"gte": "bob", "lte": "bob"}}, {"s2"}),
        ({"user_id": {"contains": "li"}}, {"s1", "s5"}),
        ({"user_id": {"icontains": "ZO"}}, {"n9"}),
        ({"user_id": {"icontains": "_"}}, set()),
        ({"user_id": {"exists": True}}, {"s1", "s2", "s5", "n9"}),
        ({"user_id": {"exists": False}}, _ALL - {"s1", "s2", "s5", "n9"}),
        ({"user_id": None}, _ALL - {"s1", "s2", "s5", "n9"}),
        ({"user_id": {"ne": None}}, {"s1", "s2", "s5", "n9"}),
        # categories
        ({"categories": "food"}, {"s1", "n5"}),
        ({"categories": {"ne": "food"}}, _ALL - {"s1", "n5"}),
        ({"categories": {"nin": ["food", "travel"]}}, _ALL - {"s1", "s2", "n5"}),
        ({"categories": {"icontains": "TRAV"}}, {"s2", "n5"}),
        ({"categories": {"icontains": "éT"}}, set()),
        ({"categories": {"icontains": "Ét"}}, {"s2"}),
        ({"categories": {"exists": False}}, _ALL - {"s1", "s2", "n5"}),
        # bucket: by id (the engine turns a bucket's name into its id before a store sees the filter)
        ({"bucket": "{emile}"}, {"s2", "s5"}),
        ({"bucket": {"ne": "{general}"}}, {"s2", "s5"}),
        ({"bucket": {"in": ["{general}"]}}, _ALL - {"s2", "s5"}),
        ({"bucket": {"nin": ["{emile}", "nothing"]}}, _ALL - {"s2", "s5"}),
        ({"bucket": {"exists": True}}, _ALL),
        ({"bucket": {"exists": False}}, set()),
        # dates
        ({"created_at": "2024-01-04T00:00:00Z"}, {"n5"}),
        ({"created_at": {"ne": "2024-01-04T00:00:00Z"}}, _ALL - {"n5"}),
        ({"created_at": {"in": ["2024-01-01", "2024-01-02T01:00:00+01:00"]}}, {"s1", "s2"}),
        ({"created_at": {"nin": ["2024-01-01"]}}, _ALL - {"s1"}),
        ({"created_at": {"gt": "2024-01-09"}}, {"arr", "none"}),
        ({"created_at": {"gte": "2024-01-09", "lt": 1704844800}}, {"z"}),
        ({"created_at": {"lte": "2024-01-01T00:00:00Z"}}, {"s1"}),
        ({"created_at": {"exists": True}}, _ALL),
        ({"expiration_date": {"exists": False}}, _ALL),
        ({"expiration_date": {"exists": True}}, set()),
        # logic
        ({"OR": [{"metadata": {"v": 5}}, {"user_id": "bob"}]}, {"n5", "s2"}),
        ({"AND": [{"bucket": "{general}"}, {"NOT": {"metadata": {"v": {"exists": True}}}}]}, {"z", "none"}),
    ],
)
def test_every_operator_on_every_kind_means_the_same_on_every_store(store: Store, pid: str, raw: dict,
                                                                     expected: set[str]) -> None:
    emile = store.create_bucket(Bucket(str(uuid.uuid4()), pid, "Émile", "", utcnow()))
    for i, (name, (metadata, user, cats, bucket, day)) in enumerate(_KINDS.items()):
        at = datetime(2024, 1, day, tzinfo=UTC)
        m = Memory(str(uuid.uuid4()), pid, f"{name} text", name, emile.id if bucket == "Émile" else general(store, pid).id,
                   at, at, user_id=user, metadata=metadata, categories=cats)
        store.insert([m], vec(i % DIM)[None, :], [])
    where = F.parse(json.loads(json.dumps(raw).replace("{emile}", emile.id).replace("{general}", general(store, pid).id)))
    assert {m.text.split()[0] for m in store.list(pid, where, 100).items} == expected
    hits = {store.get(pid, [i])[0].text.split()[0] for i, _ in store.vector_search(pid, vec(0), where, 20)}
    assert hits == expected


@pytest.mark.parametrize(
    "node",
    [
        lambda: F.Cond("nope", "eq", "x"),  # an unknown field is refused before any store sees it
        lambda: F.Cond("metadata", "gt", True, "v"),  # bools do not order
        lambda: F.Cond("metadata", "eq", "x"),  # a metadata condition names its key
        lambda: F.Cond("bucket", "gt", "a"),
        lambda: F.Cond("created_at", "eq", "2024-01-01"),  # a date field compares dates
        lambda: F.Cond("metadata", "eq", "k\x00", "k"),
        lambda: F.Cond("metadata", "eq", "x", "k\x00"),
    ],
)
def test_a_condition_no_store_could_read_the_same_way_is_refused_when_made(node: object) -> None:
    with pytest.raises(InvalidInput):
        node()  # type: ignore[operator]


# feedback and records ---------------------------------------------------------------------------------------------
def test_feedback_is_set_cleared_filtered_and_never_crosses_projects(store: Store, pid: str, other: str) -> None:
    m = put(store, pid, "likes tea", vec(0))
    before = store.get(pid, [m.id])[0]
    assert store.set_feedback(other, m.id, "NEGATIVE", "no") is None  # another project's key finds nothing
    got = store.set_feedback(pid, m.id, "VERY_NEGATIVE", "wrong person")
    assert got is not None and (got.feedback, got.feedback_reason) == ("VERY_NEGATIVE", "wrong person")
    assert got.updated_at == before.updated_at and len(store.history(pid, m.id)) == 1  # not a change of the memory
    put(store, pid, "likes coffee", vec(1))
    assert [x.text for x in store.list(pid, F.eq("feedback", "VERY_NEGATIVE"), 10).items] == ["likes tea"]
    assert store.list(pid, F.Not(F.eq("feedback", "VERY_NEGATIVE")), 10).items[0].text == "likes coffee"
    cleared = store.set_feedback(pid, m.id, None, None)
    assert cleared is not None and cleared.feedback is None and cleared.feedback_reason is None
    assert store.set_feedback(pid, str(uuid.uuid4()), "POSITIVE", None) is None


def test_records_round_trip_by_kind_expire_and_never_cross_projects(store: Store, pid: str, other: str) -> None:
    now = utcnow()
    store.put_record(pid, "export", "e1", {"n": 1, "text": "ünï"}, now, now + timedelta(days=7))
    store.put_record(pid, "export", "e2", {"n": 2}, now + timedelta(seconds=1), None)
    store.put_record(pid, "job", "e1", {"n": 3}, now, None)
    assert store.get_record(pid, "export", "e1", now) == {"n": 1, "text": "ünï"}
    assert store.get_record(pid, "job", "e1", now) == {"n": 3}
    assert store.get_record(other, "export", "e1", now) is None
    assert store.list_records(pid, "export", now, 10) == [{"n": 2}, {"n": 1, "text": "ünï"}]
    assert store.list_records(other, "export", now, 10) == []
    store.put_record(pid, "export", "e1", {"n": 4}, now + timedelta(seconds=2), now + timedelta(days=7))
    assert store.get_record(pid, "export", "e1", now) == {"n": 4}  # written over
    assert store.list_records(pid, "export", now, 1) == [{"n": 4}]  # newest written first
    later = now + timedelta(days=8)
    assert store.get_record(pid, "export", "e1", later) is None  # past its expiry
    assert store.list_records(pid, "export", later, 10) == [{"n": 2}]


# the chat-history archive (ChatStore) ----------------------------------------------------------------------------
def conversation(project_id: str, ext: str, *, platform: str = "custom", title: str = "", count: int = 0,
                 at: datetime | None = None, import_id: str = "imp-1", cid: str | None = None) -> Conversation:
    at = at or utcnow()
    return Conversation(cid or str(uuid.uuid4()), project_id, platform, ext, title, at, at, at, import_id,
                        message_count=count, token_count=count * 10)


def chat(store: Store, project_id: str, ext: str, texts: list[str], *, platform: str = "custom", title: str = "",
         hot: list[int] | None = None, at: datetime | None = None, import_id: str = "imp-1") -> Conversation:
    """A conversation of one message per text, one chunk per message (vector `vec(hot[i])`)."""
    conv = conversation(project_id, ext, platform=platform, title=title, count=len(texts), at=at, import_id=import_id)
    messages = [ChatMessage(f"m{i}", conv.id, i, "user", t, at) for i, t in enumerate(texts)]
    chunks = [ChatChunk(str(uuid.uuid4()), conv.id, i, i, t) for i, t in enumerate(texts)]
    vectors = np.stack([vec(h) for h in (hot or [0] * len(texts))])
    return store.save_conversation(ChatWrite(conv, 0, messages, (), chunks, vectors))


def test_a_conversation_round_trips_with_its_messages_in_order(store: Store, pid: str, other: str) -> None:
    at = datetime(2025, 3, 4, 5, 6, 7, 800000, tzinfo=UTC)
    saved = chat(store, pid, "ext-1", ["hello there", "general kenobi"], title="Star talk", at=at)
    assert saved.message_count == 2 and saved.title == "Star talk" and saved.created_at == at
    assert store.get_conversation(pid, saved.id) == saved
    assert store.find_conversation(pid, "custom", "ext-1") == saved
    assert store.find_conversation(pid, "chatgpt", "ext-1") is None
    assert store.get_conversation(other, saved.id) is None and store.find_conversation(other, "custom", "ext-1") is None
    assert [(m.id, m.position, m.content, m.created_at) for m in store.conversation_messages(pid, saved.id)] == [
        ("m0", 0, "hello there", at), ("m1", 1, "general kenobi", at)]
    assert [m.id for m in store.conversation_messages(pid, saved.id, 1, 1)] == ["m1"]
    assert store.conversation_messages(other, saved.id) == []
    assert store.chunk_spans(pid, saved.id) == [(0, 0), (1, 1)]


def test_an_import_adds_only_messages_the_conversation_lacks_and_checks_the_count_it_saw(store: Store, pid: str) -> None:
    saved = chat(store, pid, "ext", ["one", "two"])
    again = [ChatMessage("m1", saved.id, 1, "user", "two, edited"), ChatMessage("m2", saved.id, 2, "user", "three")]
    grown = store.save_conversation(ChatWrite(replace(saved, message_count=3), 2, again, [(1, 1)],
                                              [ChatChunk(str(uuid.uuid4()), saved.id, 1, 2, "two three")],
                                              vec(1)[None, :]))
    assert grown.message_count == 3
    assert [m.content for m in store.conversation_messages(pid, saved.id)] == ["one", "two", "three"]
    assert store.chunk_spans(pid, saved.id) == [(0, 0), (1, 2)]
    with pytest.raises(Conflict):  # an import that saw two messages, after another made them three
        store.save_conversation(ChatWrite(replace(saved, title="late"), 2, [ChatMessage("m9", saved.id, 2, "user", "x")]))
    assert store.get_conversation(pid, saved.id) == grown
    assert len(store.conversation_messages(pid, saved.id)) == 3
    with pytest.raises(Conflict):  # a second conversation under a platform id the project already has
        store.save_conversation(ChatWrite(conversation(pid, "ext"), 0))


def test_chunk_searches_rank_within_the_project_and_the_platform(store: Store, pid: str, other: str) -> None:
    a = chat(store, pid, "a", ["the zebra grazes", "a lion sleeps", "zebra stripes and zebra foals"], hot=[1, 2, 3])
    chat(store, pid, "b", ["a zebra on another platform"], platform="claude", hot=[1])
    chat(store, other, "a", ["the zebra of another project"], hot=[1])
    dense = store.chunk_vector_search(pid, vec(1), None, 10)
    assert len(dense) == 4 and dense[0][1] == pytest.approx(1.0) and dense[1][1] == pytest.approx(1.0)
    assert {i for i, _ in store.chunk_vector_search(pid, vec(1), "custom", 10)} == {
        c.id for c in store.get_chunks(pid, [i for i, _ in dense]) if c.conversation_id == a.id}
    assert store.chunk_vector_search(pid, vec(1), "nowhere", 10) == []
    ids, theirs = [i for i, _ in dense], [i for i, _ in store.chunk_vector_search(other, vec(1), None, 10)]
    exact = store.chunk_similarity(pid, [*reversed(ids), "nope", *theirs], vec(1))  # this project's, in the order asked
    assert [i for i, _ in exact] == ids[::-1] and [s for _, s in exact] == pytest.approx([s for _, s in dense][::-1])
    assert store.chunk_similarity(pid, [], vec(1)) == []
    sparse = store.chunk_keyword_search(pid, ["zebras"], None, 10)
    texts = {c.id: c.text for c in store.get_chunks(pid, [i for i, _ in sparse])}
    assert len(sparse) == 3 and "another project" not in " ".join(texts.values())
    custom = store.get_chunks(pid, [i for i, _ in store.chunk_keyword_search(pid, ["zebra"], "custom", 10)])
    assert sorted(c.text for c in custom) == ["the zebra grazes", "zebra stripes and zebra foals"]
    assert store.get_chunks(other, [i for i, _ in dense]) == []


def test_deleting_a_conversation_takes_every_part_of_it(store: Store, pid: str, other: str,
                                                       store_twin: Store) -> None:
    gone = chat(store, pid, "gone", ["quokka secrets", "more quokka"], hot=[4, 4])
    kept = chat(store, pid, "kept", ["quokka public"], hot=[4])
    theirs = chat(store, other, "gone", ["quokka of theirs"], hot=[4])
    assert store_twin.chunk_vector_search(pid, vec(4), None, 10)  # the twin's index is loaded before the delete
    assert store.delete_conversations(other, [gone.id]) == []
    assert store.delete_conversations(pid, ["nope", gone.id, gone.id]) == [gone.id]
    for s in (store, store_twin):
        assert s.get_conversation(pid, gone.id) is None and s.conversation_messages(pid, gone.id) == []
        assert s.chunk_spans(pid, gone.id) == []
        found = s.chunk_vector_search(pid, vec(4), None, 10) + s.chunk_keyword_search(pid, ["quokka"], None, 10)
        assert {c.conversation_id for c in s.get_chunks(pid, [i for i, _ in found])} == {kept.id}
        assert [c.id for c in s.list_conversations(pid, ConversationQuery(), 10, 0).items] == [kept.id]
    assert store.get_conversation(other, theirs.id) is not None
    store.compact()
    assert store.chunk_keyword_search(pid, ["quokka"], None, 10)


def test_listing_filters_and_pages_newest_first(store: Store, pid: str, other: str) -> None:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    made = [chat(store, pid, f"c{i}", [f"text {i}"], title=f"Trip to Rome {i}" if i % 2 else f"Work {i}",
                 platform="chatgpt" if i < 3 else "claude", at=base + timedelta(days=i),
                 import_id="first" if i < 2 else "second") for i in range(5)]
    chat(store, other, "x", ["not mine"])
    page = store.list_conversations(pid, ConversationQuery(), 2, 0)
    assert page.total == 5 and [c.id for c in page.items] == [made[4].id, made[3].id]
    assert [c.id for c in store.list_conversations(pid, ConversationQuery(), 2, 4).items] == [made[0].id]

    def ids(**query: Any) -> list[str]:
        return [c.platform_conversation_id for c in store.list_conversations(pid, ConversationQuery(**query), 10, 0).items]

    assert ids(platform="chatgpt") == ["c2", "c1", "c0"]
    assert ids(title="rome") == ["c3", "c1"]
    assert ids(title="ROME 3") == ["c3"]
    assert ids(title="%") == []
    assert ids(import_id="first") == ["c1", "c0"]
    assert ids(created_from=base + timedelta(days=1), created_to=base + timedelta(days=3)) == ["c3", "c2", "c1"]
    assert ids(pinned_only=True) == []


# the queue of async adds (JobStore) ---------------------------------------------------------------------------------
def new_memory(store: Store, project_id: str, text: str) -> tuple[Memory, HistoryEvent]:
    at = utcnow()
    m = Memory(id=str(uuid.uuid4()), project_id=project_id, text=text, hash=text, bucket_id=general(store, project_id).id,
               created_at=at, updated_at=at)
    return m, HistoryEvent(str(uuid.uuid4()), m.id, project_id, "ADD", None, text, None, at)


def test_jobs_are_claimed_oldest_first_once_each_and_never_cross_projects(store: Store, store_twin: Store, pid: str,
                                                                           other: str) -> None:
    now = utcnow()
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    request = {"messages": [{"role": "user", "content": "hi"}]}
    store.enqueue_job(first, pid, request, now)
    store.enqueue_job(second, other, {"n": 2}, now + timedelta(milliseconds=1))
    waiting = store.get_job(pid, first)
    assert waiting is not None and waiting.status == "PENDING" and waiting.request == request
    assert store.get_job(other, first) is None  # another project's id is unknown
    until = now + timedelta(seconds=60)
    a = store.claim_job("w1", now, until)
    b = store_twin.claim_job("w2", now, until)  # another process sharing the database
    assert a is not None and b is not None and (a.id, b.id) == (first, second)
    assert (a.status, a.lease_owner, a.attempts) == ("RUNNING", "w1", 1) and a.lease_expires == until
    assert store.claim_job("w3", now, until) is None


def test_finishing_a_job_writes_its_memories_and_result_together_and_blanks_the_request(store: Store, pid: str) -> None:
    now = utcnow()
    job_id = str(uuid.uuid4())
    store.enqueue_job(job_id, pid, {"messages": [{"role": "user", "content": "I like green tea"}]}, now)
    assert store.claim_job("w1", now, now + timedelta(seconds=60)) is not None
    m, event = new_memory(store, pid, "likes green tea")
    write = AddWrite([m], vec(1)[None, :], [event])
    assert not store.finish_job(pid, job_id, "w2", now, results=[{"id": m.id, "event": "ADD"}], write=write)
    assert store.get(pid, [m.id]) == []  # not the lease holder: nothing written
    assert store.finish_job(pid, job_id, "w1", now, results=[{"id": m.id, "event": "ADD"}], write=write)
    done = store.get_job(pid, job_id)
    assert done is not None and (done.status, done.request, done.results) == ("SUCCEEDED", None, [{"id": m.id, "event": "ADD"}])
    assert done.lease_owner is None and store.get(pid, [m.id])[0].text == "likes green tea"
    assert not store.finish_job(pid, job_id, "w1", now, error="again")  # a finished job stays as it ended


def test_a_write_the_store_refuses_leaves_the_job_running_and_nothing_written(store: Store, pid: str) -> None:
    now = utcnow()
    job_id = str(uuid.uuid4())
    store.enqueue_job(job_id, pid, {"n": 1}, now)
    store.claim_job("w1", now, now + timedelta(seconds=60))
    m, event = new_memory(store, pid, "in a bucket that is gone")
    m = replace(m, bucket_id=str(uuid.uuid4()))
    with pytest.raises(NotFound):
        store.finish_job(pid, job_id, "w1", now, results=[], write=AddWrite([m], vec(2)[None, :], [event]))
    running = store.get_job(pid, job_id)
    assert running is not None and running.status == "RUNNING" and running.request == {"n": 1}
    assert store.finish_job(pid, job_id, "w1", now, error="Bucket not found")
    failed = store.get_job(pid, job_id)
    assert failed is not None and (failed.status, failed.error, failed.request) == ("FAILED", "Bucket not found", None)


def test_an_expired_lease_is_reclaimed_and_its_old_holder_can_no_longer_finish(store: Store, pid: str) -> None:
    now = utcnow()
    job_id = str(uuid.uuid4())
    store.enqueue_job(job_id, pid, {"n": 1}, now)
    store.claim_job("dead", now, now + timedelta(seconds=5))
    assert store.reclaim_jobs(now + timedelta(seconds=1), 3) == 0  # still held
    assert not store.renew_job(pid, job_id, "someone else", now + timedelta(seconds=60))
    assert store.renew_job(pid, job_id, "dead", now + timedelta(seconds=6))  # held a second longer
    assert store.reclaim_jobs(now + timedelta(seconds=5.5), 3) == 0
    assert store.reclaim_jobs(now + timedelta(seconds=7), 3) == 1
    assert not store.renew_job(pid, job_id, "dead", now + timedelta(seconds=60))  # taken back: no longer its own
    again = store.claim_job("alive", now + timedelta(seconds=7), now + timedelta(seconds=60))
    assert again is not None and again.id == job_id and again.attempts == 2 and again.request == {"n": 1}
    assert not store.finish_job(pid, job_id, "dead", now, results=[])
    assert store.finish_job(pid, job_id, "alive", now, results=[])


def test_a_job_interrupted_too_often_ends_failed(store: Store, pid: str) -> None:
    now = utcnow()
    job_id = str(uuid.uuid4())
    store.enqueue_job(job_id, pid, {"n": 1}, now)
    store.claim_job("dead", now, now)
    assert store.reclaim_jobs(now + timedelta(seconds=1), 1) == 0
    failed = store.get_job(pid, job_id)
    assert failed is not None and failed.status == "FAILED" and failed.request is None and failed.error
    assert store.claim_job("w", now, now + timedelta(seconds=60)) is None


def test_the_feed_merges_jobs_and_log_events_newest_first_within_the_project(store: Store, pid: str,
                                                                               other: str) -> None:
    from memvault.models import JOB_STATUSES, ChangeEvent, EventQuery, Job

    now = utcnow()
    old, new = str(uuid.uuid4()), str(uuid.uuid4())
    store.enqueue_job(old, pid, {"n": 1}, now - timedelta(hours=2))
    m, event = new_memory(store, pid, "between the two jobs")
    store.insert([m], vec(1)[None, :], [event])
    store.enqueue_job(new, pid, {"n": 2}, now + timedelta(hours=1))
    store.enqueue_job(str(uuid.uuid4()), other, {"n": 3}, now)

    def ids(found: list[Any]) -> list[str]:
        return [x.id if isinstance(x, Job) else x.memory_id for x in found]

    found, total = store.feed(pid, EventQuery(), 10, job_statuses=JOB_STATUSES)
    assert (ids(found), total) == ([new, m.id, old], 3)
    assert [x.text if isinstance(x, ChangeEvent) else x.status for x in found] == \
        ["PENDING", "between the two jobs", "PENDING"]
    assert ids(store.feed(pid, EventQuery(), 1, 1, job_statuses=JOB_STATUSES)[0]) == [m.id]
    assert store.feed(pid, EventQuery(), 10, job_statuses=JOB_STATUSES, changes=False)[1] == 2
    assert ids(store.feed(pid, EventQuery(), 10, job_statuses=("FAILED",))[0]) == [m.id]
    assert ids(store.feed(pid, EventQuery(since=now - timedelta(hours=1)), 10, job_statuses=JOB_STATUSES)[0]) == \
        [new, m.id]
    assert store.feed(other, EventQuery(), 10, job_statuses=JOB_STATUSES)[1] == 1  # its own job only


def test_trim_jobs_deletes_the_oldest_finished_jobs_only(store: Store, pid: str, other: str) -> None:
    now = utcnow()
    ended = [str(uuid.uuid4()) for _ in range(3)]
    for i, job_id in enumerate(ended):
        store.enqueue_job(job_id, pid if i else other, {"n": i}, now - timedelta(days=2))
        store.claim_job("w", now - timedelta(days=2), now)
        store.finish_job(pid if i else other, job_id, "w", now - timedelta(days=2), results=[],
                         error="failed" if i == 2 else None)
    running, waiting = str(uuid.uuid4()), str(uuid.uuid4())
    store.enqueue_job(running, pid, {}, now - timedelta(days=2))
    store.claim_job("w", now - timedelta(days=2), now + timedelta(hours=1))
    store.enqueue_job(waiting, pid, {}, now - timedelta(days=2))
    assert store.trim_jobs(now - timedelta(days=3), 10) == 0
    assert store.trim_jobs(now - timedelta(days=1), 2) == 2  # a page at a time
    assert store.trim_jobs(now - timedelta(days=1), 2) == 1
    assert [store.get_job(p, j) for p, j in ((other, ended[0]), (pid, ended[1]), (pid, ended[2]))] == [None] * 3
    assert [j.status for j in (store.get_job(pid, running), store.get_job(pid, waiting)) if j] == ["RUNNING", "PENDING"]

# the change log and webhooks ----------------------------------------------------------------------------------------
def test_every_history_event_writes_one_log_event_with_its_origin_and_a_delete_takes_the_texts(
        store: Store, pid: str, other: str) -> None:
    from memvault.models import EventQuery
    from memvault.origin import Origin, acting

    with acting(Origin("key", "k1", "ci", "req-1")):
        m = put(store, pid, "likes tea", vec(0), user_id="u")
    store.update(pid, [MemoryChange(m.id, str(uuid.uuid4()), utcnow(), text="likes green tea", hash="g",
                                    vector=vec(1))])
    put(store, other, "theirs", vec(0))
    log = store.events_after(pid, 0, 10)
    assert [(e.type, e.memory_id, e.text, e.user_id) for e in log] == [
        ("memory_add", m.id, "likes tea", "u"), ("memory_update", m.id, "likes green tea", "u")]
    assert (log[0].actor, log[0].key_id, log[0].key_name, log[0].request_id) == ("key:k1", "k1", "ci", "req-1")
    assert log[1].actor == "library" and log[0].seq < log[1].seq
    assert [e.id for e in log] == [h.id for h in store.history(pid, m.id)]
    store.delete(pid, [m.id], utcnow())
    after = store.events_after(pid, 0, 10)
    assert [e.type for e in after] == ["memory_add", "memory_update", "memory_delete"]
    assert [e.text for e in after] == [None, None, None] and "tea" not in repr(after)
    assert store.events_after(pid, after[1].seq, 10) == after[2:]
    newest, total = store.events(pid, EventQuery(types=("memory_delete",)), 10)
    assert total == 1 and newest == after[2:]
    assert store.events(pid, EventQuery(memory_id=m.id), 1, 1) == ([after[1]], 3)
    assert store.event_batch(other, after[0].id) == [] and len(store.events_after(other, 0, 10)) == 1


def test_the_events_of_one_write_are_one_batch(store: Store, pid: str) -> None:
    at = utcnow()
    ms = [Memory(str(uuid.uuid4()), pid, t, t, general(store, pid).id, at, at) for t in ("one", "two", "three")]
    events = [HistoryEvent(str(uuid.uuid4()), m.id, pid, "ADD", None, m.text, None, at) for m in ms]
    store.insert(ms, np.stack([vec(0), vec(1), vec(2)]), events)
    put(store, pid, "alone", vec(3))
    batch = store.event_batch(pid, events[1].id)
    assert [e.text for e in batch] == ["one", "two", "three"] and {e.batch_id for e in batch} == {events[0].id}
    [alone] = store.events_after(pid, batch[-1].seq, 10)
    assert alone.batch_id is None and store.event_batch(pid, alone.id) == [alone]


def test_old_events_are_trimmed_and_the_sequence_never_goes_back(store: Store, pid: str) -> None:
    put(store, pid, "old", vec(0))
    [old] = store.events_after(pid, 0, 10)
    assert store.trim_events(utcnow() - timedelta(days=1), 100) == 0
    assert store.trim_events(utcnow() + timedelta(seconds=1), 100) == 1 and store.events_after(pid, 0, 10) == []
    put(store, pid, "new", vec(1))
    [new] = store.events_after(pid, 0, 10)
    assert new.seq > old.seq


def test_a_webhook_is_delivered_by_one_lease_holder_at_a_time(store: Store, pid: str, other: str) -> None:
    from memvault.models import DeliveryState

    put(store, pid, "before the webhook", vec(0))
    now = utcnow()
    hook = store.add_webhook(pid, "h", "http://example.com/h", ["memory_add"], "s3cret", now)
    assert hook.cursor == store.events_after(pid, 0, 10)[-1].seq and hook.is_active and hook.secret == "s3cret"
    assert store.get_webhook(other, hook.id) is None and store.list_webhooks(other) == []
    assert [w.id for w in store.list_webhooks(None)] == [hook.id]
    later = now + timedelta(seconds=10)
    assert store.claim_webhook(pid, hook.id, "a", later, now)
    assert not store.claim_webhook(pid, hook.id, "b", later, now)  # a holds it
    assert not store.save_delivery(pid, hook.id, "b", DeliveryState(hook.cursor + 1), now)
    failing = DeliveryState(hook.cursor, 2, now, later, "HTTP 500")
    assert store.save_delivery(pid, hook.id, "a", failing, now)
    got = store.get_webhook(pid, hook.id)
    assert got is not None and (got.attempts, got.failing_since, got.next_attempt_at, got.last_error) == \
        (2, now, later, "HTTP 500")
    assert store.claim_webhook(pid, hook.id, "b", later + timedelta(seconds=10), later + timedelta(seconds=1))  # expired
    assert store.save_delivery(pid, hook.id, "b", replace(failing, disabled=True), later)
    off = store.get_webhook(pid, hook.id)
    assert off is not None and not off.is_active and off.disabled_at == later
    assert not store.claim_webhook(pid, hook.id, "b", later, later)  # disabled: nobody delivers it
    back = store.update_webhook(pid, hook.id, later, name="renamed", event_types=["memory_delete"])
    assert back is not None and back.is_active and back.attempts == 0 and back.last_error is None
    assert (back.name, back.url, back.event_types, back.cursor) == ("renamed", hook.url, ("memory_delete",), hook.cursor)
    assert store.update_webhook(other, hook.id, later, name="x") is None
    assert not store.delete_webhook(other, hook.id) and store.delete_webhook(pid, hook.id)
    assert store.list_webhooks(pid) == []
