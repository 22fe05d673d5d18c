"""The official `mem0ai` 2.2.1 MemoryClient, unchanged, against a real memvault server.

Every method in API-NOTES' Mem0 table is called the way an application calls it; the SDK's own
parsing and error mapping are part of what is tested.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from mem0 import MemoryClient
from mem0.exceptions import MemoryNotFoundError, ValidationError

from memvault.config import Settings
from memvault.engine import Engine
from memvault.factory import build_engine
from memvault.testing.mem0_sdk import (
    add_plain,
    client_fixture,  # noqa: F401 (registers the `client` fixture)
    connect,
)
from memvault.testing.server import Server


def texts_of(results: list[dict[str, Any]]) -> set[str]:
    return {r["memory"] for r in results}


# constructor -------------------------------------------------------------------------
def test_constructor_pings_and_learns_the_project(server: Server, engine: Engine) -> None:
    made = connect(server, server.key("acme"))
    try:
        assert made.project_id == engine.project("acme").id
        assert made.org_id
    finally:
        made.client.close()


@pytest.mark.parametrize("key", ["mv_not-a-key", "nonsense"])
def test_constructor_rejects_an_unknown_key(server: Server, key: str) -> None:
    with httpx.Client() as http, pytest.raises(ValueError, match="Invalid API key"):
        MemoryClient(api_key=key, host=server.url, client=http)


def test_constructor_rejects_a_revoked_key(server: Server, engine: Engine) -> None:
    key, clear = engine.create_key("test", "soon gone")
    connect(server, clear).client.close()  # works before
    engine.revoke_key(key.id)
    with httpx.Client() as http, pytest.raises(ValueError, match="Invalid API key"):
        MemoryClient(api_key=clear, host=server.url, client=http)


# add ---------------------------------------------------------------------------------
def test_add_without_inference_stores_each_non_system_message(client: MemoryClient) -> None:
    answer = client.add(
        [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "My sister lives in Porto."},
            {"role": "assistant", "content": "Noted: your sister lives in Porto."},
        ],
        user_id="alice", infer=False, metadata={"source": "chat"},
    )
    assert answer["status"] in ("SUCCEEDED", "PENDING")
    assert [r["event"] for r in answer["results"]] == ["ADD", "ADD"]
    assert [r["data"]["memory"] for r in answer["results"]] == [
        "My sister lives in Porto.", "Noted: your sister lives in Porto."
    ]
    stored = client.get_all(filters={"user_id": "alice"})
    assert texts_of(stored["results"]) == {"My sister lives in Porto.", "Noted: your sister lives in Porto."}
    assert all(m["metadata"] == {"source": "chat"} for m in stored["results"])


def test_add_with_inference_extracts_facts_and_skips_repeats(client: MemoryClient) -> None:
    first = client.add("I moved to Lyon and I am vegetarian", user_id="alice", infer=True)
    facts = [r["data"]["memory"] for r in first["results"]]
    assert len(facts) == 2
    assert any("Lyon" in f for f in facts) and any("vegetarian" in f for f in facts)

    again = client.add("I moved to Lyon and I am vegetarian", user_id="alice", infer=True)
    assert [(r["event"], r["memory"]) for r in again["results"]] == [("NONE", f) for f in facts]
    assert {r["id"] for r in again["results"]} == {r["id"] for r in first["results"]}
    assert client.get_all(filters={"user_id": "alice"})["count"] == 2
    # The same facts for another user are that user's own memories.
    other = client.add("I moved to Lyon and I am vegetarian", user_id="bob", infer=True)
    assert len(other["results"]) == 2


def test_add_without_an_owner_is_a_validation_error(client: MemoryClient) -> None:
    with pytest.raises(ValidationError):
        client.add("orphan fact", infer=False)


# get / get_all -----------------------------------------------------------------------
def test_get_returns_the_memory_object(client: MemoryClient) -> None:
    (mid,) = add_plain(client, ["Prefers window seats"], user_id="alice", agent_id="travel")
    got = client.get(mid)
    assert got["id"] == mid
    assert got["memory"] == "Prefers window seats"
    assert (got["user_id"], got["agent_id"], got["app_id"], got["run_id"]) == ("alice", "travel", None, None)
    for field in ("hash", "metadata", "categories", "created_at", "updated_at", "expiration_date"):
        assert field in got


def test_get_all_paginates_with_count_next_and_previous(client: MemoryClient) -> None:
    ids = add_plain(client, [f"fact number {i}" for i in range(5)], user_id="alice")
    add_plain(client, ["someone else's fact"], user_id="bob")

    seen: list[str] = []
    pages = []
    for page in (1, 2, 3):
        answer = client.get_all(filters={"user_id": "alice"}, page=page, page_size=2)
        pages.append(answer)
        assert answer["count"] == 5
        seen += [m["id"] for m in answer["results"]]
    assert [len(p["results"]) for p in pages] == [2, 2, 1]
    assert pages[0]["previous"] is None and pages[0]["next"] is not None
    assert pages[1]["previous"] is not None and pages[1]["next"] is not None
    assert pages[2]["next"] is None
    assert "page=2" in pages[0]["next"] and "page_size=2" in pages[0]["next"]
    assert sorted(seen) == sorted(ids)  # every memory once, none of bob's


def test_get_all_without_pagination_returns_the_envelope(client: MemoryClient) -> None:
    add_plain(client, ["one", "two"], user_id="alice")
    answer = client.get_all(filters={"user_id": "alice"})
    assert set(answer) >= {"count", "next", "previous", "results"}
    assert answer["count"] == 2 and answer["next"] is None


def test_get_all_needs_an_entity_filter(client: MemoryClient) -> None:
    add_plain(client, ["one"], user_id="alice")
    with pytest.raises(ValidationError):
        client.get_all(filters={"metadata": {"kind": "x"}})


# search ------------------------------------------------------------------------------
@pytest.fixture
def garden(client: MemoryClient) -> dict[str, str]:
    """Memories with owners, metadata and categories to filter on; text → id."""
    rows = [
        ("Alice grows tomatoes in the garden", {"user_id": "alice"}, {"season": "summer", "rank": 1}, ["garden"]),
        ("Alice plants tulips in the garden", {"user_id": "alice"}, {"season": "spring", "rank": 2}, ["garden"]),
        ("Alice reads about garden design", {"user_id": "alice"}, {"season": "winter", "rank": 3}, ["books"]),
        ("Bob waters the garden every morning", {"user_id": "bob"}, {"season": "summer", "rank": 4}, ["garden"]),
        ("The helper agent knows about garden tools", {"agent_id": "helper"}, {"season": "autumn", "rank": 5},
         ["tools"]),
    ]
    out = {}
    for text, owners, metadata, categories in rows:
        answer = client.add(text, infer=False, metadata=metadata, categories=categories, **owners)
        out[text] = answer["results"][0]["id"]
    return out


def search_texts(client: MemoryClient, filters: dict[str, Any], **options: Any) -> set[str]:
    return texts_of(client.search("garden", filters=filters, top_k=50, **options)["results"])


def test_search_returns_scored_memories_of_the_filter_only(client: MemoryClient, garden: dict[str, str]) -> None:
    results = client.search("tomatoes in the garden", filters={"user_id": "alice"})["results"]
    assert results[0]["memory"] == "Alice grows tomatoes in the garden"
    assert {r["user_id"] for r in results} == {"alice"}
    assert all(0.0 <= r["score"] <= 1.0 for r in results)
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"AND": [{"user_id": "alice"}, {"metadata": {"season": "summer"}}]},
         {"Alice grows tomatoes in the garden"}),
        ({"OR": [{"user_id": "bob"}, {"agent_id": "helper"}]},
         {"Bob waters the garden every morning", "The helper agent knows about garden tools"}),
        ({"AND": [{"user_id": "alice"}, {"NOT": [{"categories": {"in": ["garden"]}}]}]},
         {"Alice reads about garden design"}),
        ({"user_id": {"in": ["alice", "bob"]}, "metadata": {"rank": {"gte": 3}}},
         {"Alice reads about garden design", "Bob waters the garden every morning"}),
        ({"user_id": "alice", "metadata": {"season": {"ne": "summer"}}},
         {"Alice plants tulips in the garden", "Alice reads about garden design"}),
        ({"user_id": "alice", "metadata": {"season": {"nin": ["summer", "spring"]}}},
         {"Alice reads about garden design"}),
        ({"user_id": "*", "metadata": {"rank": {"lt": 2}}}, {"Alice grows tomatoes in the garden"}),
        ({"user_id": "alice", "keywords": {"icontains": "TULIPS"}}, {"Alice plants tulips in the garden"}),
        ({"agent_id": "helper", "categories": {"contains": "tools"}}, {"The helper agent knows about garden tools"}),
    ],
)
def test_search_filters(client: MemoryClient, garden: dict[str, str], filters: dict[str, Any],
                        expected: set[str]) -> None:
    assert search_texts(client, filters) == expected


def test_search_filters_by_memory_ids(client: MemoryClient, garden: dict[str, str]) -> None:
    wanted = [garden["Alice plants tulips in the garden"], garden["Bob waters the garden every morning"]]
    assert search_texts(client, {"memory_ids": wanted}) == {
        "Alice plants tulips in the garden", "Bob waters the garden every morning"
    }


def test_search_top_k_limits_the_answer(client: MemoryClient, garden: dict[str, str]) -> None:
    assert len(client.search("garden", filters={"user_id": "alice"}, top_k=2)["results"]) == 2
    assert len(client.search("garden", filters={"user_id": "alice"}, top_k=1)["results"]) == 1


def test_search_threshold_drops_weaker_hits(client: MemoryClient, garden: dict[str, str]) -> None:
    everything = client.search("tomatoes", filters={"user_id": "*"}, top_k=50)["results"]
    scores = sorted({r["score"] for r in everything}, reverse=True)
    assert len(scores) >= 2
    cut = (scores[0] + scores[1]) / 2
    kept = client.search("tomatoes", filters={"user_id": "*"}, top_k=50, threshold=cut)["results"]
    assert kept and all(r["score"] >= cut for r in kept)
    assert {r["id"] for r in kept} == {r["id"] for r in everything if r["score"] >= cut}


def test_search_needs_an_entity_filter(client: MemoryClient, garden: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        client.search("garden", filters={"metadata": {"season": "summer"}})


# update / history --------------------------------------------------------------------
def test_update_text_and_metadata_then_history_shows_update(client: MemoryClient) -> None:
    (mid,) = add_plain(client, ["Lives in Paris"], user_id="alice")
    updated = client.update(mid, text="Lives in Lyon", metadata={"confidence": "high"})
    assert updated["id"] == mid
    assert updated["memory"] == "Lives in Lyon"
    assert updated["metadata"] == {"confidence": "high"}
    assert client.get(mid)["memory"] == "Lives in Lyon"

    only_metadata = client.update(mid, metadata={"confidence": "low"})
    assert only_metadata["memory"] == "Lives in Lyon" and only_metadata["metadata"] == {"confidence": "low"}

    events = client.history(mid)
    assert [e["event"] for e in events] == ["ADD", "UPDATE", "UPDATE"]
    assert (events[1]["old_memory"], events[1]["new_memory"]) == ("Lives in Paris", "Lives in Lyon")
    assert all(e["memory_id"] == mid and e["user_id"] == "alice" for e in events)
    assert client.search("Lyon", filters={"user_id": "alice"})["results"][0]["id"] == mid


def test_update_of_an_unknown_memory_raises_not_found(client: MemoryClient) -> None:
    with pytest.raises(MemoryNotFoundError):
        client.update("00000000-0000-4000-8000-000000000000", text="nothing")


# delete ------------------------------------------------------------------------------
def test_delete_answers_200_with_the_message_then_the_memory_is_gone(client: MemoryClient) -> None:
    mid, keep = add_plain(client, ["Allergic to peanuts", "Likes jazz"], user_id="alice")
    assert client.delete(mid)["message"] == "Memory deleted successfully!"
    with pytest.raises(MemoryNotFoundError):
        client.get(mid)
    with pytest.raises(MemoryNotFoundError):
        client.delete(mid)
    assert [m["id"] for m in client.get_all(filters={"user_id": "alice"})["results"]] == [keep]
    assert client.search("peanuts", filters={"user_id": "alice"})["results"][0]["id"] == keep


def test_delete_all_by_user(client: MemoryClient) -> None:
    add_plain(client, ["a1", "a2"], user_id="alice")
    add_plain(client, ["b1"], user_id="bob")
    assert "message" in client.delete_all(user_id="alice")
    assert client.get_all(filters={"user_id": "alice"})["count"] == 0
    assert client.get_all(filters={"user_id": "bob"})["count"] == 1


def test_delete_all_with_a_star_deletes_every_value(client: MemoryClient) -> None:
    add_plain(client, ["a1"], user_id="alice")
    add_plain(client, ["b1"], user_id="bob")
    add_plain(client, ["agent only"], agent_id="helper")
    client.delete_all(user_id="*")
    assert client.get_all(filters={"user_id": "*"})["count"] == 0
    assert texts_of(client.get_all(filters={"agent_id": "helper"})["results"]) == {"agent only"}


def test_delete_all_without_a_filter_is_a_validation_error(client: MemoryClient) -> None:
    add_plain(client, ["a1"], user_id="alice")
    with pytest.raises(ValidationError):
        client.delete_all()
    assert client.get_all(filters={"user_id": "alice"})["count"] == 1


# entities ----------------------------------------------------------------------------
def test_users_lists_every_entity_with_counts(client: MemoryClient) -> None:
    add_plain(client, ["a1", "a2"], user_id="alice")
    add_plain(client, ["h1"], agent_id="helper", run_id="r1")
    add_plain(client, ["x1"], app_id="crm")
    answer = client.users()
    found = {(e["type"], e["name"]): e["total_memories"] for e in answer["results"]}
    assert found == {("user", "alice"): 2, ("agent", "helper"): 1, ("run", "r1"): 1, ("app", "crm"): 1}
    assert answer["count"] == 4
    assert answer["total_users"] == 1


@pytest.mark.parametrize("kind", ["user", "agent", "app", "run"])
def test_delete_users_removes_one_entity_and_its_memories(client: MemoryClient, kind: str) -> None:
    add_plain(client, ["gone 1", "gone 2"], **{f"{kind}_id": "target"})
    add_plain(client, ["stays"], **{f"{kind}_id": "other"})
    answer = client.delete_users(**{f"{kind}_id": "target"})
    assert answer["message"]
    names = {(e["type"], e["name"]) for e in client.users()["results"]}
    assert names == {(kind, "other")}
    assert texts_of(client.get_all(filters={f"{kind}_id": "*"})["results"]) == {"stays"}


def test_delete_users_of_an_unknown_entity_raises_not_found(client: MemoryClient) -> None:
    with pytest.raises(MemoryNotFoundError):
        client.delete_users(user_id="nobody")


def test_reset_deletes_everything_of_the_project_only(server: Server, client: MemoryClient) -> None:
    add_plain(client, ["a1"], user_id="alice")
    add_plain(client, ["h1"], agent_id="helper")
    other = connect(server, server.key("other"))
    try:
        add_plain(other, ["not mine to reset"], user_id="alice")
        client.reset()
        assert client.users()["results"] == []
        assert client.get_all(filters={"user_id": "*"})["count"] == 0
        assert texts_of(other.get_all(filters={"user_id": "alice"})["results"]) == {"not mine to reset"}
    finally:
        other.client.close()


# batch -------------------------------------------------------------------------------
def test_batch_update_changes_every_memory(client: MemoryClient) -> None:
    ids = add_plain(client, ["one", "two", "three"], user_id="alice")
    answer = client.batch_update([
        {"memory_id": ids[0], "text": "uno"},
        {"memory_id": ids[1], "metadata": {"lang": "en"}},
        {"memory_id": ids[2], "text": "tres", "metadata": {"lang": "es"}},
    ])
    assert answer == {"message": "Successfully updated 3 memories"}
    got = [client.get(i) for i in ids]
    assert [g["memory"] for g in got] == ["uno", "two", "tres"]
    assert [g["metadata"] for g in got] == [None, {"lang": "en"}, {"lang": "es"}]


def test_batch_delete_removes_every_memory(client: MemoryClient) -> None:
    ids = add_plain(client, ["one", "two", "three"], user_id="alice")
    answer = client.batch_delete([{"memory_id": i} for i in ids[:2]])
    assert answer["message"] == "Successfully deleted 2 memories"
    assert [m["id"] for m in client.get_all(filters={"user_id": "alice"})["results"]] == [ids[2]]


def test_batches_of_a_thousand_pass_and_of_a_thousand_and_one_fail(client: MemoryClient) -> None:
    ids = add_plain(client, [f"memory {i}" for i in range(1000)], user_id="alice")
    assert len(ids) == 1000
    fake = "00000000-0000-4000-8000-000000000001"
    with pytest.raises(ValidationError):
        client.batch_update([{"memory_id": i, "text": "x"} for i in ids] + [{"memory_id": fake, "text": "x"}])
    with pytest.raises(ValidationError):
        client.batch_delete([{"memory_id": i} for i in [*ids, fake]])
    assert client.get_all(filters={"user_id": "alice"}, page=1, page_size=1)["count"] == 1000
    assert client.get(ids[0])["memory"] == "memory 0"

    answer = client.batch_update([{"memory_id": i, "metadata": {"batch": True}} for i in ids])
    assert answer == {"message": "Successfully updated 1000 memories"}
    assert client.batch_delete([{"memory_id": i} for i in ids])["message"] == "Successfully deleted 1000 memories"
    assert client.get_all(filters={"user_id": "alice"})["count"] == 0


def test_a_batch_with_an_unknown_id_fails_whole_and_changes_nothing(client: MemoryClient) -> None:
    ids = add_plain(client, ["one", "two"], user_id="alice")
    unknown = "00000000-0000-4000-8000-000000000002"
    with pytest.raises(MemoryNotFoundError):
        client.batch_update([{"memory_id": ids[0], "text": "changed"}, {"memory_id": unknown, "text": "x"}])
    with pytest.raises(MemoryNotFoundError):
        client.batch_delete([{"memory_id": ids[1]}, {"memory_id": unknown}])
    with pytest.raises(ValidationError):
        client.batch_delete([{"memory_id": ids[1]}, {"memory_id": "not-a-uuid"}])
    assert [client.get(i)["memory"] for i in ids] == ["one", "two"]
    assert [e["event"] for e in client.history(ids[0])] == ["ADD"]


# the default stack ------------------------------------------------------------------
def test_the_readme_quick_start_on_the_default_offline_stack(tmp_path: Path) -> None:
    """The README's scenario on what `memvault serve` runs by default: SQLite, the bundled MiniLM model and the
    offline extractor (infer=True), through the SDK."""
    engine = build_engine(Settings(data_dir=tmp_path, database_url=None, embedder="minilm", extractor="offline"))
    with Server(engine) as server:
        client = connect(server, server.key("default"))
        try:
            added = client.add([{"role": "user", "content": "I moved to Lyon and I am vegetarian"}], user_id="alice")
            assert sorted(r["memory"] for r in added["results"]) == ["I am vegetarian", "I moved to Lyon"]
            add_plain(client, ["Bob collects vintage cameras"], user_id="bob")
            hits = client.search("which city does she live in now?", filters={"user_id": "alice"})["results"]
            assert hits[0]["memory"] == "I moved to Lyon"  # found by meaning: no word in common
            assert {h["user_id"] for h in hits} == {"alice"}
            assert client.delete(hits[0]["id"])["message"] == "Memory deleted successfully!"
            assert texts_of(client.get_all(filters={"user_id": "alice"})["results"]) == {"I am vegetarian"}
        finally:
            client.client.close()
    engine.close()


def test_ids_the_engine_makes_are_time_ordered_uuids_the_sdk_reads_gets_and_batch_deletes(client: MemoryClient) -> None:
    """Memory ids are UUIDs of version 7 (memvault/ids.py): time first, so a later add's ids sort after an earlier
    one's; to the SDK they are ids like any other."""
    first = add_plain(client, ["Takes the night train", "Reads on the train"], user_id="alice")
    time.sleep(0.002)  # the next millisecond at least
    later = add_plain(client, ["Drinks green tea"], user_id="alice")
    assert all(uuid.UUID(i).version == 7 and str(uuid.UUID(i)) == i for i in [*first, *later])
    assert max(first) < min(later)
    assert client.get(later[0])["memory"] == "Drinks green tea"
    assert client.batch_delete([{"memory_id": i} for i in first])["message"] == "Successfully deleted 2 memories"
    assert [m["id"] for m in client.get_all(filters={"user_id": "alice"})["results"]] == later
