"""The official `mem0ai` 2.2.1 clients' profile methods against a real server, both stores."""

from __future__ import annotations

import pytest
from mem0 import MemoryClient
from mem0.exceptions import MemoryNotFoundError, ValidationError

from memvault.testing.mem0_sdk import add_plain as add
from memvault.testing.mem0_sdk import (
    client_fixture,  # noqa: F401 (registers the `client` fixture)
    connect,
)
from memvault.testing.server import Server


def test_a_profile_is_read_from_the_users_live_memories(client: MemoryClient) -> None:
    add(client, ["My name is Dana", "I live in Paris"], user_id="dana")
    add(client, ["I moved to Lyon", "I love hiking in the Alps"], user_id="dana", categories=["hobbies"])
    add(client, ["I live in Rome"], user_id="carl")
    got = client.get_profile("dana")
    assert got["status"] == "succeeded" and got["entity_type"] == "user" and got["entity_id"] == "dana"
    profile = got["profile"]
    assert profile["name"] == "dana" and profile["residence"] == "lyon"  # the newest statement holds
    assert profile["categories"] == {"hobbies": ["I love hiking in the Alps"]}
    assert client.get_profile("carl")["profile"]["residence"] == "rome"
    with pytest.raises(MemoryNotFoundError):
        client.get_profile("nobody")


def test_a_deleted_memory_leaves_the_profile(client: MemoryClient) -> None:
    (paris,) = add(client, ["I live in Paris"], user_id="dana")
    add(client, ["I love jazz"], user_id="dana")
    assert client.get_profile("dana")["profile"]["residence"] == "paris"
    client.delete(paris)
    assert "residence" not in client.get_profile("dana")["profile"]


def test_settings_round_trip_and_a_schema_shapes_the_profile(client: MemoryClient) -> None:
    add(client, ["My name is Dana", "I live in Lyon", "I love jazz"], user_id="dana")
    assert client.get_profile_settings()["enabled"] is True
    schema = {"type": "object", "properties": {"name": {"type": "string", "description": "their name"},
                                               "residence": {"type": "string", "description": "their city"}},
              "required": ["name"]}
    stored = client.update_profile_settings(schema=schema, custom_instructions="be brief")
    assert stored["entities"]["user"] == {"schema": schema, "custom_instructions": "be brief"}
    assert client.get_profile_settings() == stored
    assert client.get_profile("dana")["profile"] == {"name": "dana", "residence": "lyon"}
    add(client, ["I love rock"], user_id="eve")
    failed = client.get_profile("eve")
    assert failed["status"] == "failed" and "name" in failed["error"]
    client.update_profile_settings(schema=None)
    assert "categories" in client.get_profile("dana")["profile"]
    client.update_profile_settings(enabled=False)
    assert client.get_profile("dana")["status"] == "not_enabled"


def test_bad_settings_are_refused_and_change_nothing(client: MemoryClient) -> None:
    before = client.get_profile_settings()
    for bad in ({"type": "object", "properties": {"name": {"type": "string"}}},  # no description
                {"type": 5}, {"type": "object"}):
        with pytest.raises(ValidationError):
            client.update_profile_settings(schema=bad)
    for body in ({"schema": {"type": "object"}}, {"enabled": "yes"}, {"entities": {"agent": {}}}):
        assert client.client.post("/v2/profiles/settings/", json=body).status_code == 400
    assert client.get_profile_settings() == before


def test_jobs_are_done_at_once_and_replay_by_idempotency_key(server: Server, client: MemoryClient) -> None:
    add(client, ["I live in Lyon"], user_id="dana")
    add(client, ["I live in Rome"], user_id="carl")
    job = client.generate_profile("dana", idempotency_key="k1")
    assert job["status"] == "succeeded" and job["replayed"] is False and job["entity_type"] == "user"
    again = client.generate_profile("dana", idempotency_key="k1")
    assert again["job_id"] == job["job_id"] and again["replayed"] is True
    polled = client.get_profile_job(job["status_url"])
    assert polled["job"]["status"] == "succeeded" and polled["job"]["succeeded"] == 1
    assert client.get_profile_job(job["job_id"])["job_id"] == job["job_id"]
    assert client.get_profile("dana")["generation_count"] == 1
    sample = client.sample_profiles(limit=5)
    assert sorted(sample["entity_ids"]) == ["carl", "dana"] and sample["sampled"] == 2
    with pytest.raises(MemoryNotFoundError):
        client.generate_profile("nobody")
    other = connect(server, server.key("other"))
    try:
        with pytest.raises(MemoryNotFoundError):
            other.get_profile_job(job["job_id"])
        with pytest.raises(MemoryNotFoundError):
            other.get_profile("dana")
    finally:
        other.client.close()
