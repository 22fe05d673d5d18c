"""The official `mem0ai` 2.2.1 clients' feedback, export and summary methods against a real server, both stores."""

from __future__ import annotations

import json

import pytest
from mem0 import MemoryClient
from mem0.exceptions import MemoryNotFoundError, ValidationError

from memvault.engine import Engine
from memvault.testing.mem0_sdk import add_plain as add
from memvault.testing.mem0_sdk import (
    client_fixture,  # noqa: F401 (registers the `client` fixture)
    connect,
)
from memvault.testing.server import Server


# feedback ---------------------------------------------------------------------------------------------------------
def test_feedback_is_kept_shown_filtered_and_taken_back(client: MemoryClient) -> None:
    tea, coffee = add(client, ["Alice drinks tea", "Alice drinks coffee"], user_id="alice")
    answer = client.feedback(tea, "very_negative", "that was Bob")
    assert answer == {"id": tea, "feedback": "VERY_NEGATIVE", "feedback_reason": "that was Bob"}
    assert client.get(tea)["feedback"] == "VERY_NEGATIVE" and client.get(coffee)["feedback"] is None
    client.feedback(tea, "POSITIVE")  # the last one counts
    assert client.get(tea)["feedback"] == "POSITIVE"
    picked = client.get_all(filters={"AND": [{"user_id": "alice"}, {"feedback": "POSITIVE"}]})["results"]
    assert [m["id"] for m in picked] == [tea]
    hits = client.search("tea", filters={"user_id": "alice"})["results"]
    assert {h["id"]: h["feedback"] for h in hits}[tea] == "POSITIVE"
    client.feedback(tea, None)
    assert client.get(tea)["feedback"] is None
    assert [h["event"] for h in client.history(tea)] == ["ADD"]  # feedback is not a change of the memory


def test_feedback_bad_input_and_foreign_memories(server: Server, client: MemoryClient) -> None:
    (mine,) = add(client, ["Alice drinks tea"], user_id="alice")
    other = connect(server, server.key("other"))
    try:
        with pytest.raises(MemoryNotFoundError):
            other.feedback(mine, "NEGATIVE")
    finally:
        other.client.close()
    assert client.get(mine)["feedback"] is None
    for body in ({"memory_id": mine, "feedback": "MEH"}, {"memory_id": "nope", "feedback": "POSITIVE"},
                 {"memory_id": mine, "feedback": 3}, {"memory_id": mine, "feedback": "POSITIVE",
                                                      "feedback_reason": "x" * 5000},
                 {"memory_id": mine, "feedback": "POSITIVE", "feedback_reason": "\ud800"}):
        answer = client.client.post("/v1/feedback/", content=json.dumps(body).encode())
        assert answer.status_code == 400, (body, answer.text)
    assert client.get(mine)["feedback"] is None


# exports ----------------------------------------------------------------------------------------------------------
SCHEMA = {"type": "object", "properties": {"facts": {"type": "array", "items": {
    "type": "object", "properties": {"id": {"type": "string"}, "memory": {"type": "string"}}}}}}


def test_an_export_fills_the_schema_with_the_owners_live_memories(client: MemoryClient) -> None:
    ids = add(client, ["Alice lives in Lyon", "Alice likes jazz"], user_id="alice")
    add(client, ["Bob lives in Rome"], user_id="bob")
    made = client.create_memory_export(json.dumps(SCHEMA), user_id="alice")
    assert set(made) == {"message", "id"}
    got = client.get_memory_export(memory_export_id=made["id"])
    assert set(got) == {"facts"}
    assert sorted((f["id"], f["memory"]) for f in got["facts"]) == sorted(
        zip(ids, ["Alice lives in Lyon", "Alice likes jazz"], strict=True))
    assert all(set(f) == {"id", "memory"} for f in got["facts"])
    client.delete(ids[0])  # an export is read when fetched: a deleted memory is not in it
    assert [f["memory"] for f in client.get_memory_export(memory_export_id=made["id"])["facts"]] == ["Alice likes jazz"]
    by_filters = client.get_memory_export(user_id="alice")  # the newest export made with the same filters
    assert [f["memory"] for f in by_filters["facts"]] == ["Alice likes jazz"]


def test_a_schema_without_one_array_gets_memories(client: MemoryClient) -> None:
    add(client, ["Alice likes jazz"], user_id="alice")
    made = client.create_memory_export(json.dumps({"type": "object"}), filters={"user_id": "alice"})
    got = client.get_memory_export(memory_export_id=made["id"])
    assert [m["memory"] for m in got["memories"]] == ["Alice likes jazz"] and got["memories"][0]["user_id"] == "alice"


def test_exports_refuse_bad_schemas_and_stay_in_their_project(server: Server, client: MemoryClient) -> None:
    add(client, ["Alice likes jazz"], user_id="alice")
    for schema in ("{not json", json.dumps({"type": 12}), json.dumps([1, 2]), "[" * 5000 + "]" * 5000):
        with pytest.raises(ValidationError):
            client.create_memory_export(schema, user_id="alice")
    with pytest.raises(ValidationError):
        client.create_memory_export(json.dumps(SCHEMA))  # no owner: every memory of the project is not an export
    made = client.create_memory_export(json.dumps(SCHEMA), user_id="alice")
    other = connect(server, server.key("other"))
    try:
        with pytest.raises(MemoryNotFoundError):
            other.get_memory_export(memory_export_id=made["id"])
        with pytest.raises(MemoryNotFoundError):
            other.get_memory_export(user_id="alice")
    finally:
        other.client.close()


# summary ----------------------------------------------------------------------------------------------------------
def test_a_summary_groups_the_live_memories_by_category(client: MemoryClient, engine: Engine) -> None:
    add(client, ["Alice lives in Lyon"], user_id="alice", categories=["personal_details"])
    add(client, ["Alice likes jazz", "Alice plays piano"], user_id="alice", categories=["music"])
    add(client, ["Bob likes rock"], user_id="bob", categories=["music"])
    got = client.get_summary({"user_id": "alice"})
    assert got["memory_count"] == 3 and got["categories"] == {"music": 2, "personal_details": 1}
    assert got["summary"].splitlines() == ["Music:", "- Alice likes jazz", "- Alice plays piano",
                                           "Personal details:", "- Alice lives in Lyon"]
    assert got["updated_at"]
    with pytest.raises(ValidationError):
        client.get_summary()  # no filter: refused, not the whole project
