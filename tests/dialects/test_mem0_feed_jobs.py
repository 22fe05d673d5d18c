"""The async adds in Mem0's feed, over real HTTP with the official mem0ai SDK, on both stores: `GET /v1/events/`
lists each async add (kind "async_add", event type memory_add) with its status beside the change log's events (kind
"change"), newest first; `status` PENDING/RUNNING/FAILED selects async adds, `memory_id` selects changes; a feed
entry is what `GET /v1/event/{id}/` answers for it. The SDK has no method for the feed: its own HTTP client, with the
key it was given, reads it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from mem0 import MemoryClient

from memvault.testing.mem0_sdk import connect
from memvault.testing.server import Server

STATUSES = "PENDING, RUNNING, SUCCEEDED, FAILED"


@pytest.fixture
def sdk(server: Server) -> Iterator[MemoryClient]:
    """The SDK with a key of the project "feed"; the `server` runs no job workers: a job waits until the test runs
    a worker's turn (`Engine.run_jobs_once`, what a worker thread calls)."""
    client = connect(server, server.key("feed"))
    yield client
    client.client.close()


def feed(sdk: MemoryClient, **params: Any) -> dict[str, Any]:
    answer = sdk.client.get("/v1/events/", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_an_async_add_is_in_the_feed_with_its_status_beside_the_changes(server: Server, sdk: MemoryClient) -> None:
    [key] = server.engine.list_keys("feed")
    made = sdk.add("I live in Oslo", user_id="alice", infer=False)["results"][0]["id"]
    queued = sdk.add("I like green tea", user_id="alice", infer=False, async_mode=True)
    assert queued["status"] == "PENDING"

    waiting = feed(sdk, status="PENDING")
    assert waiting["count"] == 1
    [job] = waiting["results"]
    assert {k: job[k] for k in ("id", "kind", "event_type", "status", "memory_id", "results", "error", "latency")} \
        == {"id": queued["event_id"], "kind": "async_add", "event_type": "memory_add", "status": "PENDING",
            "memory_id": None, "results": [], "error": None, "latency": None}
    assert job["actor"] == f"key:{key.id}" and job["request_id"]  # who submitted it, while it waits
    assert feed(sdk, status="pending")["count"] == 1  # any case, as the event endpoint
    assert [(e["kind"], e["status"]) for e in feed(sdk)["results"]] == [("async_add", "PENDING"), ("change", "SUCCEEDED")]
    assert feed(sdk, status="SUCCEEDED")["count"] == 1 and feed(sdk, status="FAILED")["count"] == 0

    assert server.engine.run_jobs_once("worker-1") is not None
    assert feed(sdk, status="PENDING")["count"] == 0
    done = feed(sdk, status="SUCCEEDED")
    assert [(e["kind"], e["event_type"]) for e in done["results"]] == \
        [("change", "memory_add"), ("async_add", "memory_add"), ("change", "memory_add")]  # newest first
    added, job, first = done["results"]
    assert job["id"] == queued["event_id"] and job["status"] == "SUCCEEDED" and job["latency"] >= 0
    assert job["results"] == [{"id": added["memory_id"], "event": "ADD", "data": {"memory": "I like green tea"}}]
    assert first["memory_id"] == made
    assert sdk.client.get(f"/v1/event/{queued['event_id']}/").json() == job  # one shape, wherever it is read

    assert feed(sdk, event_type="memory_add")["count"] == 3
    assert feed(sdk, event_type="memory_update,memory_delete")["count"] == 0  # an async add is an add
    unknown = sdk.client.get("/v1/events/", params={"event_type": "async_add"})  # a kind is no event type
    assert unknown.status_code == 400 and "memory_add, memory_update" in unknown.json()["detail"]
    assert [e["kind"] for e in feed(sdk, memory_id=added["memory_id"])["results"]] == ["change"]
    assert feed(sdk, since="2999-01-01")["count"] == 0 and feed(sdk, since="2000-01-01")["count"] == 3
    second = feed(sdk, page=2, page_size=2)
    assert [e["memory_id"] for e in second["results"]] == [made] and second["next"] is None and second["previous"]

    sdk.delete(added["memory_id"])
    [gone] = [e for e in feed(sdk, status="SUCCEEDED")["results"] if e["kind"] == "async_add"]
    assert gone["results"][0]["data"] == {"memory": None}  # the text leaves the job's entry with the memory


def test_a_job_of_another_project_is_not_in_the_feed(server: Server, sdk: MemoryClient) -> None:
    theirs = connect(server, server.key("elsewhere"))
    try:
        theirs.add("their secret plan", user_id="eve", infer=False, async_mode=True)
        assert feed(theirs, status="PENDING")["count"] == 1
    finally:
        theirs.client.close()
    assert feed(sdk)["count"] == 0 and feed(sdk, status="PENDING")["count"] == 0


@pytest.mark.parametrize("status", ["DONE", "queued", "SUCCEEDED,FAILED"])
def test_an_unknown_status_is_a_400_naming_it_and_the_valid_ones(sdk: MemoryClient, status: str) -> None:
    answer = sdk.client.get("/v1/events/", params={"status": status})
    assert answer.status_code == 400, answer.text
    assert f"'{status}'" in answer.json()["detail"] and STATUSES in answer.json()["detail"]
