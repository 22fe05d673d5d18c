"""Random sequences of adds, inferred adds (a scripted decider proposing any number), explicit supersedes that
name any memory of any project, and deletes, on both stores, keep one promise: superseding never crosses owners or
projects, and never makes a cycle. The engine's answers are checked against a model of what each call may do."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from memvault.decide import build_decider
from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine, Owners
from memvault.errors import Conflict, InvalidInput, NotFound
from memvault.extract.base import Message
from memvault.extract.offline import OfflineExtractor
from memvault.store.base import Store
from memvault.testing.openai_server import FakeOpenAIServer

USERS = ["u1", "u2", None]  # None: a memory without owner ids
CITIES = ["Paris", "Lyon", "Nice", "Rome", "Oslo", "Madrid"]


@dataclass
class Stored:
    project: int
    user: str | None
    superseded_by: str | None = None


@dataclass
class World:
    memories: dict[str, Stored] = field(default_factory=dict)  # live or superseded, not deleted


@pytest.fixture
def model() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


class Supersedes(RuleBasedStateMachine):
    def __init__(self, engine: Engine, model: FakeOpenAIServer) -> None:
        super().__init__()
        self.engine = engine
        self.model = model
        self.projects = [engine.project(f"p-{uuid.uuid4().hex[:8]}").id for _ in range(2)]
        self.world = World()

    def ids(self) -> list[str]:
        return list(self.world.memories)

    @rule(p=st.integers(0, 1), user=st.sampled_from(USERS), city=st.sampled_from(CITIES))
    def add(self, p: int, user: str | None, city: str) -> None:
        [r] = self.engine.add(self.projects[p], [Message("user", f"I live in {city} {uuid.uuid4().hex[:6]}")],
                              Owners(user_id=user))
        self.world.memories[r.memory.id] = Stored(p, user)

    @rule(p=st.integers(0, 1), user=st.sampled_from(USERS), city=st.sampled_from(CITIES),
          event=st.sampled_from(["SUPERSEDE", "UPDATE", "NONE", "ADD"]), number=st.integers(-1, 6))
    def inferred_add(self, p: int, user: str | None, city: str, event: str, number: int) -> None:
        self.model.chat_handler = lambda request: json.dumps({"decisions": [{"event": event, "memory": number}]})
        text = f"I moved to {city} {uuid.uuid4().hex[:6]}"
        for r in self.engine.add(self.projects[p], [Message("user", text)], Owners(user_id=user), infer=True):
            if r.event == "ADD":
                self.world.memories[r.memory.id] = Stored(p, user)
            elif r.event == "SUPERSEDE":
                old = self.world.memories[r.memory.id]  # a memory of this world, so of one of our projects
                assert (old.project, old.user, old.superseded_by) == (p, user, None)
                old.superseded_by = r.memory.superseded_by
            elif r.event in ("UPDATE", "NONE"):
                assert (self.world.memories[r.memory.id].project, self.world.memories[r.memory.id].user) == (p, user)

    @precondition(lambda self: len(self.world.memories) >= 1)
    @rule(data=st.data(), p=st.integers(0, 1))
    def supersede(self, data: st.DataObject, p: int) -> None:
        old_id = data.draw(st.sampled_from(self.ids()))
        new_id = data.draw(st.sampled_from(self.ids()))
        old, new = self.world.memories[old_id], self.world.memories[new_id]
        allowed = (old_id != new_id and old.project == new.project == p and old.user == new.user
                   and old.superseded_by is None and new.superseded_by is None)
        if not allowed:
            with pytest.raises((InvalidInput, NotFound, Conflict)):
                self.engine.supersede(self.projects[p], old_id, new_id)
            return
        marked = self.engine.supersede(self.projects[p], old_id, new_id)
        assert (marked.id, marked.superseded_by) == (old_id, new_id)
        old.superseded_by = new_id

    @precondition(lambda self: len(self.world.memories) >= 1)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        mid = data.draw(st.sampled_from(self.ids()))
        self.engine.delete(self.projects[self.world.memories.pop(mid).project], mid)

    @invariant()
    def every_mark_is_the_models_and_stays_inside_one_owner_and_project(self) -> None:
        for p, project in enumerate(self.projects):
            stored = {m.id: m for m in self.engine.list(project, None, limit=1000, latest_only=False).items}
            expected = {mid: s for mid, s in self.world.memories.items() if s.project == p}
            assert {mid: m.superseded_by for mid, m in stored.items()} == {
                mid: s.superseded_by for mid, s in expected.items()}
            for m in stored.values():
                if m.superseded_by is None:
                    continue
                assert m.superseded_by != m.id
                new = self.world.memories.get(m.superseded_by)
                if new is not None:  # deleting the new memory leaves the old one superseded
                    assert (new.project, new.user) == (p, m.user_id)
                seen, at = {m.id}, m.superseded_by
                while at is not None and at in self.world.memories:  # a chain, never a cycle
                    assert at not in seen
                    seen.add(at)
                    at = self.world.memories[at].superseded_by
            live = {m.id for m in self.engine.list(project, None, limit=1000).items}
            assert live == {mid for mid, s in expected.items() if s.superseded_by is None}


def test_supersede_never_crosses_owners_or_projects(store: Store, model: FakeOpenAIServer) -> None:
    decider = build_decider("llm", base_url=model.base_url, model="fake", timeout=10)
    engine = Engine(store, HashingEmbedder(), OfflineExtractor(), decider=decider)

    class OnThisEngine(Supersedes):
        def __init__(self) -> None:
            super().__init__(engine, model)

    run_state_machine_as_test(
        OnThisEngine,
        settings=settings(max_examples=40, stateful_step_count=20, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]),
    )
