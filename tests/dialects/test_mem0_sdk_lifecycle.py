"""Memories that change, through the official `mem0ai` 2.2.1 MemoryClient against a real server, on both stores:
a fact that replaces another supersedes it (the offline decider, the default), `latest_only` shows what was
replaced, and a client supersedes explicitly with `superseded_by`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mem0 import MemoryClient
from mem0.exceptions import MemoryNotFoundError, ValidationError

from memvault.testing.mem0_sdk import (
    client_fixture,  # noqa: F401 (registers the `client` fixture)
    connect,
)
from memvault.testing.server import Server

ALICE = {"user_id": "alice"}



def said(client: MemoryClient, text: str, user_id: str = "alice", infer: bool = True) -> list[dict[str, Any]]:
    return list(client.add(text, user_id=user_id, infer=infer)["results"])


def plain(client: MemoryClient, text: str, user_id: str = "alice") -> str:
    return str(said(client, text, user_id, infer=False)[0]["id"])


def listed(client: MemoryClient, **options: Any) -> dict[str, dict[str, Any]]:
    """The user's memories by text."""
    return {m["memory"]: m for m in client.get_all(filters=ALICE, **options)["results"]}


# the decision step with the default (offline) decider ---------------------------------------------
@pytest.mark.parametrize(("before", "after", "question"), [
    ("I live in Paris", "I moved to Lyon", "Where do I live?"),
    ("I'm vegetarian", "I'm vegan now", "What is my diet?"),
])
def test_a_fact_that_replaces_another_supersedes_it(client: MemoryClient, before: str, after: str,
                                                    question: str) -> None:
    [first] = said(client, before)
    answer = said(client, after)
    [new] = [r for r in answer if r["event"] == "ADD"]
    [old] = [r for r in answer if r["event"] == "SUPERSEDE"]
    assert (old["id"], old["memory"], old["superseded_by"]) == (first["id"], first["memory"], new["id"])

    hits = client.search(question, filters=ALICE)["results"]
    assert hits[0]["id"] == new["id"] and first["id"] not in [h["id"] for h in hits]
    assert list(listed(client)) == [new["memory"]]
    everything = listed(client, latest_only=False)
    assert everything[first["memory"]]["superseded_by"] == new["id"]
    assert everything[first["memory"]]["superseded_at"] and everything[new["memory"]]["superseded_by"] is None
    every_hit = client.search(question, filters=ALICE, latest_only=False)["results"]
    assert first["id"] in [h["id"] for h in every_hit]
    assert client.get(first["id"])["superseded_by"] == new["id"]
    events = client.history(first["id"])
    assert [e["event"] for e in events] == ["ADD", "SUPERSEDE"]
    assert events[-1]["metadata"] == {"superseded_by": new["id"]} and events[-1]["new_memory"] is None


def test_a_fact_about_someone_else_supersedes_nothing(client: MemoryClient) -> None:
    said(client, "I live in Lyon")
    answer = said(client, "My brother lives in Madrid")
    assert [r["event"] for r in answer] == ["ADD"]
    everything = listed(client, latest_only=False)
    assert set(everything) == {"I live in Lyon", "My brother lives in Madrid"}
    assert all(m["superseded_by"] is None for m in everything.values())


def test_another_users_move_supersedes_nothing_of_mine(client: MemoryClient) -> None:
    [mine] = said(client, "I live in Paris")
    said(client, "I moved to Lyon", user_id="bob")
    assert client.get(mine["id"])["superseded_by"] is None


# explicit supersede: PUT /v1/memories/{id}/ with superseded_by ----------------------------------------
def test_a_client_supersedes_a_memory_explicitly(client: MemoryClient) -> None:
    old = plain(client, "I work at Acme")
    new = plain(client, "I work at Globex")
    answer = client.update(old, superseded_by=new)
    assert (answer["id"], answer["superseded_by"]) == (old, new) and answer["superseded_at"]
    assert list(listed(client)) == ["I work at Globex"]
    assert listed(client, latest_only=False)["I work at Acme"]["superseded_by"] == new
    assert [e["event"] for e in client.history(old)] == ["ADD", "SUPERSEDE"]
    # deleting the new memory leaves the old one superseded (README: it is not brought back)
    client.delete(new)
    assert client.get(old)["superseded_by"] == new
    assert listed(client) == {}


def test_a_bad_superseded_by_is_refused_without_a_change(server: Server, client: MemoryClient) -> None:
    old = plain(client, "I work at Acme")
    new = plain(client, "I work at Globex")
    bobs = plain(client, "I work at Initech", user_id="bob")
    stale, fresh = plain(client, "I drive a Fiat"), plain(client, "I drive a Volvo")
    client.update(stale, superseded_by=fresh)
    theirs = connect(server, server.key("elsewhere"))
    try:
        foreign = str(theirs.add("I work at Hooli", user_id="alice", infer=False)["results"][0]["id"])
    finally:
        theirs.client.close()

    with pytest.raises(MemoryNotFoundError):
        client.update(old, superseded_by="00000000-0000-4000-8000-000000000000")  # unknown
    with pytest.raises(MemoryNotFoundError):
        client.update(old, superseded_by=foreign)  # another project's
    with pytest.raises(ValidationError):
        client.update(old, superseded_by=old)  # itself
    with pytest.raises(ValidationError):
        client.update(old, superseded_by=bobs)  # another owner's
    with pytest.raises(ValidationError):
        client.update(old, superseded_by=stale)  # a superseded memory supersedes nothing: no cycle
    with pytest.raises(ValidationError):
        client.update(fresh, superseded_by=stale)  # nor the other way round
    with pytest.raises(ValidationError):
        client.update(old, superseded_by=["not", "an", "id"])
    with pytest.raises(ValidationError):
        client.update(old, superseded_by=new, text="I work at Globex now")  # given alone
    with pytest.raises(ValidationError):  # 409: superseded once only
        client.update(stale, superseded_by=new)
    with pytest.raises(MemoryNotFoundError):
        client.update("00000000-0000-4000-8000-000000000000", superseded_by=new)

    everything = listed(client, latest_only=False)
    assert {t: m["superseded_by"] for t, m in everything.items()} == {
        "I work at Acme": None, "I work at Globex": None, "I drive a Fiat": fresh, "I drive a Volvo": None}
    assert [e["event"] for e in client.history(old)] == ["ADD"]
    assert client.get(bobs)["superseded_by"] is None


@pytest.mark.parametrize("value", ["false", 0, "yes", None, [True]])
def test_latest_only_that_is_not_a_boolean_is_a_400(server: Server, value: Any) -> None:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Token {server.key('test')}"}) as http:
        for path, body in (("/v2/memories/", {}), ("/v3/memories/", {"filters": ALICE}),
                           ("/v2/memories/search/", {"query": "x"}), ("/v3/memories/search/", {"query": "x", "filters": ALICE})):
            got = http.post(path, json={**body, "latest_only": value})
            assert got.status_code == 400, (path, got.text)
            assert "latest_only" in got.json()["detail"]


def test_latest_only_that_is_not_a_boolean_is_refused_by_the_sdk_too(client: MemoryClient) -> None:
    with pytest.raises(ValidationError):
        client.get_all(filters=ALICE, latest_only="no")
    with pytest.raises(ValidationError):
        client.search("x", filters=ALICE, latest_only="no")
