"""`memvault.Memory`: mem0's `Memory` methods and shapes over a real engine on a temporary data dir."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from mem0.configs.base import MemoryItem

from memvault import InvalidInput, Memory, NotFound, Settings
from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.extract.offline import OfflineExtractor
from memvault.store.sqlite import SQLiteStore

# mem0.Memory's shapes, read from mem0/memory/main.py and mem0/memory/storage.py (2.2.1)
ITEM_KEYS = set(MemoryItem.model_fields)  # get: MemoryItem.model_dump() + the owner ids that are set
HISTORY_KEYS = {"id", "memory_id", "old_memory", "new_memory", "event", "created_at", "updated_at", "is_deleted",
                "actor_id", "role"}


@pytest.fixture
def m(tmp_path: Path) -> Iterator[Memory]:
    engine = Engine(SQLiteStore(tmp_path / "memvault.db"), HashingEmbedder(), OfflineExtractor())
    with Memory(engine=engine) as made:
        yield made
    engine.close()


def test_add_without_infer_stores_each_message_and_answers_like_mem0(m: Memory) -> None:
    answer = m.add([{"role": "user", "content": "I live in Lyon"}, {"role": "user", "content": "I play the cello"}],
                   user_id="alice", metadata={"source": "chat"}, infer=False)
    assert set(answer) == {"results"}
    assert [r["memory"] for r in answer["results"]] == ["I live in Lyon", "I play the cello"]
    for r in answer["results"]:
        assert set(r) == {"id", "memory", "event"} and r["event"] == "ADD"
        uuid.UUID(r["id"])


def test_add_takes_a_string_or_a_message_dict_and_infers_by_default(m: Memory) -> None:
    inferred = m.add("My name is Alice. I am allergic to peanuts.", user_id="alice")
    assert inferred["results"] and all(r["event"] == "ADD" for r in inferred["results"])
    again = m.add("My name is Alice. I am allergic to peanuts.", user_id="alice")
    assert again == {"results": []}  # known facts are not stored twice
    one = m.add({"role": "user", "content": "Bob likes jazz"}, user_id="bob", infer=False)
    assert [r["memory"] for r in one["results"]] == ["Bob likes jazz"]
    with pytest.raises(InvalidInput):
        m.add(42, user_id="x")


def test_get_has_mem0s_item_fields_and_none_for_an_unknown_id(m: Memory) -> None:
    [added] = m.add("Alice likes tea", user_id="alice", agent_id="helper", metadata={"topic": "drinks"},
                    infer=False)["results"]
    item = m.get(added["id"])
    assert item is not None
    assert set(item) == ITEM_KEYS | {"user_id", "agent_id"}
    assert (item["id"], item["memory"], item["metadata"], item["score"]) == (added["id"], "Alice likes tea",
                                                                              {"topic": "drinks"}, None)
    assert (item["user_id"], item["agent_id"]) == ("alice", "helper")
    assert MemoryItem(**item).memory == "Alice likes tea"  # mem0's own model accepts it
    assert m.get(str(uuid.uuid4())) is None


def test_search_and_get_all_answer_results_with_mem0s_fields(m: Memory) -> None:
    m.add("Alice drinks green tea every morning", user_id="alice", infer=False)
    m.add("Alice plays tennis", user_id="alice", infer=False, metadata={"kind": "sport"})
    m.add("Bob drinks coffee", user_id="bob", infer=False)

    found = m.search("green tea", user_id="alice")
    assert set(found) == {"results"}
    assert found["results"][0]["memory"] == "Alice drinks green tea every morning"
    assert all(set(r) == ITEM_KEYS | {"user_id"} and 0 < r["score"] <= 1 for r in found["results"])
    assert {r["user_id"] for r in found["results"]} == {"alice"}
    assert len(m.search("drinks", filters={"user_id": "bob"}, limit=5)["results"]) == 1
    assert len(m.search("alice", user_id="alice", top_k=1)["results"]) == 1
    assert m.search("tennis", filters={"user_id": "alice", "metadata": {"kind": "sport"}})["results"][0]["memory"] \
        == "Alice plays tennis"

    everything = m.get_all(user_id="alice")
    assert {r["memory"] for r in everything["results"]} == {"Alice drinks green tea every morning", "Alice plays tennis"}
    assert all(set(r) == (ITEM_KEYS - {"score"}) | {"user_id"} for r in everything["results"])
    assert len(m.get_all(filters={"user_id": "alice"}, limit=1)["results"]) == 1
    assert len(m.get_all()["results"]) == 3


def test_update_delete_and_history_follow_mem0(m: Memory) -> None:
    [added] = m.add("Alice lives in Paris", user_id="alice", infer=False)["results"]
    assert m.update(added["id"], "Alice lives in Lyon") == {"message": "Memory updated successfully!"}
    assert m.update(added["id"], text="Alice lives in Nice", metadata={"moved": True})["message"]
    item = m.get(added["id"])
    assert item is not None and (item["memory"], item["metadata"]) == ("Alice lives in Nice", {"moved": True})

    history = m.history(added["id"])
    assert [h["event"] for h in history] == ["ADD", "UPDATE", "UPDATE"]
    assert all(set(h) == HISTORY_KEYS for h in history)
    assert (history[1]["old_memory"], history[1]["new_memory"]) == ("Alice lives in Paris", "Alice lives in Lyon")
    assert history[0]["role"] == "user"

    assert m.delete(added["id"]) == {"message": "Memory deleted successfully!"}
    assert m.get(added["id"]) is None
    with pytest.raises(NotFound):
        m.delete(added["id"])
    after = m.history(added["id"])
    assert after[-1]["event"] == "DELETE" and after[-1]["is_deleted"] is True
    assert all(h["old_memory"] is None and h["new_memory"] is None for h in after)  # deleted for real


def test_delete_all_needs_an_owner_and_reset_empties_the_project(m: Memory) -> None:
    m.add("Alice A", user_id="alice", infer=False)
    m.add("Bob B", user_id="bob", infer=False)
    with pytest.raises(InvalidInput):
        m.delete_all()
    assert m.delete_all(user_id="alice") == {"message": "Memories deleted successfully!"}
    assert [r["memory"] for r in m.get_all()["results"]] == ["Bob B"]
    m.reset()
    assert m.get_all()["results"] == []


def test_projects_are_apart(tmp_path: Path) -> None:
    engine = Engine(SQLiteStore(tmp_path / "memvault.db"), HashingEmbedder(), OfflineExtractor())
    try:
        a, b = Memory(engine=engine, project="a"), Memory(engine=engine, project="b")
        [added] = a.add("only in a", user_id="u", infer=False)["results"]
        assert b.get(added["id"]) is None and b.get_all()["results"] == []
        with pytest.raises(NotFound):
            b.delete(added["id"])
    finally:
        engine.close()


def test_default_embedder_finds_by_meaning_and_leaves_no_thread_behind(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    with Memory(data_dir=tmp_path / "data", settings=Settings(embedder="minilm")) as m:
        m.add("I adopted a puppy last week", user_id="alice", infer=False)
        m.add("The quarterly budget review is on Friday", user_id="alice", infer=False)
        found = m.search("my new dog", user_id="alice")["results"]
        assert found[0]["memory"] == "I adopted a puppy last week"
    assert set(threading.enumerate()) == before
    assert (tmp_path / "data" / "memvault.db").exists()
    with Memory(tmp_path / "data", settings=Settings(embedder="minilm")) as again:  # the data stays
        assert len(again.get_all(user_id="alice")["results"]) == 2
    assert set(threading.enumerate()) == before
