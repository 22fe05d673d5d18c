"""Mem0's event feed over real HTTP, on both stores: `GET /v1/event/{id}/` answers the add that `event_id` names,
`GET /v1/events/` pages and filters the project's change log; the key and the request that made each change are
recorded; bad input is a 400, another project's or an unknown event a 404."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from memvault.testing.server import Server


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Token {server.key('feed')}"},
                      timeout=30) as client:
        yield client


def ok(answer: httpx.Response) -> dict:
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_add_event_id_answers_every_memory_of_the_add_with_the_key_and_request_that_made_it(
        server: Server, http: httpx.Client) -> None:
    added = ok(http.post("/v3/memories/add/", headers={"X-Request-ID": "req-feed-1"}, json={
        "messages": [{"role": "user", "content": "I like tea"}, {"role": "user", "content": "I live in Oslo"}],
        "user_id": "alice", "infer": False}))
    event = ok(http.get(f"/v1/event/{added['event_id']}/"))
    assert event["id"] == added["event_id"] and event["status"] == "SUCCEEDED" and event["error"] is None
    assert event["event_type"] == "memory_add"
    assert [(r["id"], r["event"], r["data"]["memory"], r["user_id"]) for r in event["results"]] == \
        [(r["id"], "ADD", r["memory"], "alice") for r in added["results"]]
    [key] = server.engine.list_keys("feed")
    assert event["actor"] == f"key:{key.id}" and event["request_id"] == "req-feed-1"
    [stored] = [e for e in server.engine.events(key.project_id)[0] if e.id == added["event_id"]]
    assert (stored.key_id, stored.key_name, stored.request_id) == (key.id, key.name, "req-feed-1")
    made_up = ok(http.post("/v1/memories/", json={"messages": "no request id sent", "user_id": "bob", "infer": False}))
    [fresh] = server.engine.events(key.project_id, memory_id=made_up["results"][0]["id"])[0]
    assert fresh.request_id and fresh.request_id != "req-feed-1"  # one is made for a request that sent none


def test_an_add_that_changes_nothing_names_no_event(http: httpx.Client) -> None:
    added = ok(http.post("/v3/memories/add/", json={"messages": [{"role": "system", "content": "be brief"}],
                                                     "user_id": "alice", "infer": False}))
    assert added["results"] == [] and added["event_id"] is None


def test_the_feed_pages_and_filters_and_a_delete_leaves_no_text_in_it(http: httpx.Client) -> None:
    a = ok(http.post("/v3/memories/add/", json={"messages": "alpha fact", "user_id": "alice", "infer": False}))
    b = ok(http.post("/v3/memories/add/", json={"messages": "beta fact", "user_id": "alice", "infer": False}))
    a_id, b_id = a["results"][0]["id"], b["results"][0]["id"]
    ok(http.put(f"/v1/memories/{a_id}/", json={"text": "alpha fact, revised"}))
    ok(http.delete(f"/v1/memories/{b_id}/"))
    feed = ok(http.get("/v1/events/"))
    assert feed["count"] == 4 and feed["next"] is None and feed["previous"] is None
    assert [(e["event_type"], e["memory_id"]) for e in feed["results"]] == \
        [("memory_delete", b_id), ("memory_update", a_id), ("memory_add", b_id), ("memory_add", a_id)]
    assert [e["results"][0]["data"]["memory"] for e in feed["results"]] == [None, "alpha fact, revised", None, "alpha fact"]
    assert "beta fact" not in str(feed)
    second = ok(http.get("/v1/events/", params={"page": 2, "page_size": 3}))
    assert [e["memory_id"] for e in second["results"]] == [a_id] and second["previous"] and second["next"] is None
    assert ok(http.get("/v1/events/", params={"event_type": "memory_update,memory_delete"}))["count"] == 2
    assert ok(http.get("/v1/events/", params=[("event_type", "memory_add"), ("event_type", "memory_delete")]))["count"] == 3
    assert ok(http.get("/v1/events/", params={"memory_id": a_id}))["count"] == 2
    assert ok(http.get("/v1/events/", params={"status": "SUCCEEDED"}))["count"] == 4
    assert ok(http.get("/v1/events/", params={"status": "PENDING"}))["count"] == 0
    assert ok(http.get("/v1/events/", params={"since": "2999-01-01T00:00:00Z"}))["count"] == 0
    assert ok(http.get("/v1/events/", params={"since": "2000-01-01"}))["count"] == 4
    delete = ok(http.get(f"/v1/event/{feed['results'][0]['id']}/"))
    assert delete["results"] == [{"id": b_id, "event": "DELETE", "data": {"memory": None}, "user_id": "alice",
                                  "agent_id": None, "app_id": None, "run_id": None}]


@pytest.mark.parametrize("params", [{"status": "DONE"}, {"event_type": "memory_exploded"}, {"memory_id": "nope"},
                                    {"since": "yesterday"}, {"page": 0}, {"page_size": 0}, {"page_size": 5000}])
def test_bad_feed_parameters_are_a_400_naming_the_problem(http: httpx.Client, params: dict) -> None:
    answer = http.get("/v1/events/", params=params)
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"]


def test_an_unknown_malformed_or_foreign_event_is_refused(server: Server, http: httpx.Client) -> None:
    theirs = httpx.Client(base_url=server.url, headers={"Authorization": f"Token {server.key('elsewhere')}"}, timeout=30)
    with theirs:
        added = ok(theirs.post("/v3/memories/add/", json={"messages": "their secret", "user_id": "eve", "infer": False}))
        assert ok(theirs.get(f"/v1/event/{added['event_id']}/"))["status"] == "SUCCEEDED"
    assert http.get(f"/v1/event/{added['event_id']}/").status_code == 404
    assert http.get(f"/v1/event/{uuid.uuid4()}/").status_code == 404
    assert http.get("/v1/event/not-an-id/").status_code == 400
    assert ok(http.get("/v1/events/"))["count"] == 0
    assert ok(http.get("/v1/events/", params={"memory_id": added["results"][0]["id"]}))["count"] == 0
