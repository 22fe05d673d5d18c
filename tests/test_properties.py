"""Random sequences of engine operations in two projects keep two promises:

- tenant isolation: no read in one project ever returns another project's text or ids;
- forget means forget: after a delete, no read path returns the deleted text, and (on SQLite)
  neither the write-ahead log nor the keyword index on disk holds its bytes.

Each run of the state machine makes two fresh projects on the shared engine, so earlier runs are
other tenants too.
"""

from __future__ import annotations

import uuid
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlean as sqlite3  # the SQLite the store itself uses
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from memvault import filters as F
from memvault.engine import Engine, Owners, SearchOptions, UpdateItem
from memvault.errors import NotFound
from memvault.extract.base import Message
from memvault.store.sqlite import SQLiteStore
from memvault.store.sqlite import store as sqlite_module

WORDS = ["coffee", "garden", "piano", "lyon", "river", "tennis", "python", "winter", "cat", "bread"]
USERS = ["u1", "u2", "u3"]
PROJECTS = [0, 1]


@dataclass
class Tenant:
    id: str
    live: dict[str, tuple[str, str]] = field(default_factory=dict)  # memory id -> (text, user)
    versions: dict[str, list[str]] = field(default_factory=dict)  # memory id -> every text it had
    forgotten: dict[str, list[str]] = field(default_factory=dict)  # deleted id -> its texts


def marker() -> str:
    """A word no other memory has: its bytes on disk can only come from this memory."""
    return "mk" + uuid.uuid4().hex[:12]


class TwoTenants(RuleBasedStateMachine):
    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.tenants = [Tenant(engine.project(f"p-{uuid.uuid4().hex[:8]}").id) for _ in PROJECTS]

    # helpers ---------------------------------------------------------------------------
    def other(self, t: int) -> Tenant:
        return self.tenants[1 - t]

    def forget(self, tenant: Tenant, ids: list[str]) -> None:
        for mid in ids:
            tenant.live.pop(mid)
            tenant.forgotten[mid] = tenant.versions.pop(mid)

    def pick(self, tenant: Tenant, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(list(tenant.live)))  # insertion order: uuids differ run to run

    # operations -------------------------------------------------------------------------
    @rule(t=st.sampled_from(PROJECTS), user=st.sampled_from(USERS),
          texts=st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=4), min_size=1, max_size=3))
    def add(self, t: int, user: str, texts: list[list[str]]) -> None:
        tenant = self.tenants[t]
        messages = [Message("user", " ".join([*words, marker()])) for words in texts]
        for result in self.engine.add(tenant.id, messages, Owners(user_id=user)):
            tenant.live[result.memory.id] = (result.memory.text, user)
            tenant.versions[result.memory.id] = [result.memory.text]

    @precondition(lambda self: any(t.live for t in self.tenants))
    @rule(data=st.data(), words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=3))
    def update(self, data: st.DataObject, words: list[str]) -> None:
        tenant = data.draw(st.sampled_from([t for t in self.tenants if t.live]))
        mid = self.pick(tenant, data)
        text = " ".join([*words, marker()])
        # Another project cannot update it: the id is unknown there.
        with pytest.raises(NotFound):
            self.engine.update(self.other(self.tenants.index(tenant)).id, mid, text="hijack " + marker())
        self.engine.batch_update(tenant.id, [UpdateItem(mid, text=text)])
        tenant.live[mid] = (text, tenant.live[mid][1])
        tenant.versions[mid].append(text)

    @precondition(lambda self: any(t.live for t in self.tenants))
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        tenant = data.draw(st.sampled_from([t for t in self.tenants if t.live]))
        mid = self.pick(tenant, data)
        with pytest.raises(NotFound):
            self.engine.delete(self.other(self.tenants.index(tenant)).id, mid)
        self.engine.delete(tenant.id, mid)
        self.forget(tenant, [mid])

    @precondition(lambda self: any(t.live for t in self.tenants))
    @rule(data=st.data(), strangers=st.integers(0, 2))
    def delete_many(self, data: st.DataObject, strangers: int) -> None:
        t = data.draw(st.sampled_from([i for i in PROJECTS if self.tenants[i].live]))
        tenant, other = self.tenants[t], self.other(t)
        ids = data.draw(st.lists(st.sampled_from(list(tenant.live)), min_size=1, max_size=4, unique=True))
        foreign = list(other.live)[:strangers] + [str(uuid.uuid4())]
        outcomes = self.engine.delete_many(tenant.id, ids + foreign)
        assert [o.deleted for o in outcomes] == [True] * len(ids) + [False] * len(foreign)
        self.forget(tenant, ids)

    @rule(t=st.sampled_from(PROJECTS), user=st.sampled_from(USERS))
    def delete_where(self, t: int, user: str) -> None:
        tenant = self.tenants[t]
        doomed = [mid for mid, (_, owner) in tenant.live.items() if owner == user]
        assert self.engine.delete_where(tenant.id, F.eq("user_id", user)) == len(doomed)
        self.forget(tenant, doomed)

    # reads --------------------------------------------------------------------------------
    @rule(t=st.sampled_from(PROJECTS), words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=3))
    def search(self, t: int, words: list[str]) -> None:
        tenant = self.tenants[t]
        hits = self.engine.search(tenant.id, " ".join(words), None, SearchOptions(top_k=1000))
        assert {h.memory.id for h in hits} == set(tenant.live)  # everything scores; nothing foreign
        assert all(h.memory.text == tenant.live[h.memory.id][0] for h in hits)

    @rule(t=st.sampled_from(PROJECTS), data=st.data())
    def search_for_a_forgotten_text(self, t: int, data: st.DataObject) -> None:
        for tenant in self.tenants:
            if not tenant.forgotten:
                continue
            texts = data.draw(st.sampled_from(list(tenant.forgotten.values())))
            for text in texts:
                for searcher in self.tenants:
                    hits = self.engine.search(searcher.id, text, None, SearchOptions(top_k=1000))
                    assert all(h.memory.text != text for h in hits)
                    assert not {h.memory.id for h in hits} & set(tenant.forgotten)

    # invariants ---------------------------------------------------------------------------
    @invariant()
    def lists_show_exactly_the_live_memories_of_the_project(self) -> None:
        for tenant in self.tenants:
            page = self.engine.list(tenant.id, None, limit=1000)
            assert page.total == len(tenant.live)
            assert {m.id: m.text for m in page.items} == {mid: text for mid, (text, _) in tenant.live.items()}
            assert {m.project_id for m in page.items} <= {tenant.id}

    @invariant()
    def entity_counts_are_the_projects_own(self) -> None:
        for tenant in self.tenants:
            expected: dict[str, int] = {}
            for _, user in tenant.live.values():
                expected[user] = expected.get(user, 0) + 1
            found = {e.name: e.total_memories for e in self.engine.entities(tenant.id) if e.type == "user"}
            assert found == expected

    @invariant()
    def foreign_and_forgotten_ids_cannot_be_read(self) -> None:
        for t in PROJECTS:
            tenant, other = self.tenants[t], self.other(t)
            for mid in list(other.live) + list(other.forgotten):
                with pytest.raises(NotFound):
                    self.engine.get(tenant.id, mid)
                with pytest.raises(NotFound):
                    self.engine.history(tenant.id, mid)
            for mid in tenant.forgotten:
                with pytest.raises(NotFound):
                    self.engine.get(tenant.id, mid)
                assert self.engine.list(tenant.id, F.Cond("id", "in", (mid,)), limit=10).total == 0

    @invariant()
    def history_keeps_no_forgotten_text(self) -> None:
        for tenant in self.tenants:
            for mid, texts in tenant.forgotten.items():
                events = self.engine.history(tenant.id, mid)
                assert events[-1].event == "DELETE"
                for event in events:
                    assert (event.old_text, event.new_text, event.input, event.metadata) == (None, None, None, None)
                    assert not any(text in repr(event) for text in texts)
            for mid, texts in tenant.versions.items():
                events = self.engine.history(tenant.id, mid)
                assert [e.new_text for e in events] == texts

    @invariant()
    def forgotten_text_is_not_in_the_log_or_the_keyword_index(self) -> None:
        """After the compaction a delete schedules, the write-ahead log and every FTS5 shadow table hold no
        byte of a forgotten text (reads forget at once; this is about the bytes in the files).

        (Rows of the memories table itself are zeroed by secure_delete; SQLite's page rebalancing can still
        leave stale fragments of rows that moved while alive in the unused gap of a page, which only a
        VACUUM clears — see the report of issue 2. So the main file is not scanned whole here.)
        """
        store = self.engine.store
        if not isinstance(store, SQLiteStore):
            return
        store.compact()  # what runs by itself COMPACT_DELAY seconds after a delete
        wal = Path(store.path + "-wal")
        blobs = [wal.read_bytes() if wal.exists() else b""]
        with closing(sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)) as conn:
            for table in ("memories_fts_data", "memories_fts_idx", "memories_fts_content", "memories_fts_docsize"):
                blobs += [repr(row).encode() for row in conn.execute(f"SELECT * FROM {table}")]
        for tenant in self.tenants:
            for texts in tenant.forgotten.values():
                for text in texts:
                    # The marker's tail: in no other memory, and past any prefix FTS5 shares with the term before.
                    word = text.split()[-1][-9:].encode()
                    assert not any(word in blob for blob in blobs), f"{text!r} still on disk"


def test_random_operation_sequences_keep_tenants_apart_and_forget_for_real(engine: Engine,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # The invariant compacts by itself before it reads the files; a background compaction firing while it
    # reads would write fresh log frames behind its back (tests/store/test_sqlite.py covers the timer).
    monkeypatch.setattr(sqlite_module, "COMPACT_DELAY", 3600.0)

    class OnThisEngine(TwoTenants):
        def __init__(self) -> None:
            super().__init__(engine)

    run_state_machine_as_test(
        OnThisEngine,
        settings=settings(max_examples=40, stateful_step_count=20, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]),
    )
