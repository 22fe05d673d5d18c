"""Async adds over real HTTP with the official mem0ai SDK: `async_mode` (or MEMVAULT_ASYNC_ADD) answers PENDING at
once, the server's job workers run the add, and `GET /v1/event/{event_id}/` shows it end SUCCEEDED or FAILED."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.engine.jobs import FAILED_UNAVAILABLE
from memvault.extract.llm import LLMExtractor
from memvault.store.base import Store
from memvault.testing.mem0_sdk import connect
from memvault.testing.openai_server import FakeOpenAIServer
from memvault.testing.server import Server
from memvault.workers import JobWorkerOptions

WORKERS = JobWorkerOptions(threads=1, poll=0.02)


def wait_for_end(server: Server, key: str, event_id: str, deadline_s: float = 30) -> dict[str, Any]:
    """Poll the event until it ends (SUCCEEDED or FAILED), within a deadline."""
    deadline = time.monotonic() + deadline_s
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Token {key}"}, timeout=10) as http:
        while True:
            answer = http.get(f"/v1/event/{event_id}/")
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            if body["status"] in ("SUCCEEDED", "FAILED"):
                return body
            assert body["status"] in ("PENDING", "RUNNING")
            assert time.monotonic() < deadline, f"still {body['status']}"
            time.sleep(0.02)


@pytest.fixture
def working(engine: Engine) -> Iterator[Server]:
    with Server(engine, job_workers=WORKERS) as srv:
        yield srv


@pytest.fixture
def llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(chat_handler=lambda _: json.dumps({"facts": ["Likes green tea"]})) as fake:
        yield fake


@pytest.fixture
def llm_server(store: Store, llm: FakeOpenAIServer) -> Iterator[Server]:
    with Server(Engine(store, HashingEmbedder(), LLMExtractor(llm.base_url, "fake")), job_workers=WORKERS) as srv:
        yield srv


def test_an_sdk_async_add_is_pending_then_succeeds_at_its_event(working: Server) -> None:
    key = working.key("test")
    client = connect(working, key)
    try:
        answer = client.add([{"role": "user", "content": "I like green tea"}], user_id="alice", infer=False,
                            async_mode=True)
        assert answer["status"] == "PENDING" and answer["message"] and "results" not in answer
        done = wait_for_end(working, key, answer["event_id"])
        assert done["id"] == answer["event_id"] and done["error"] is None and done["latency"] >= 0
        assert done["event_type"] == "memory_add"
        [result] = done["results"]
        assert result["event"] == "ADD" and result["data"] == {"memory": "I like green tea"}
        assert done["created_at"] <= done["updated_at"]
        assert [m["id"] for m in client.get_all(filters={"user_id": "alice"})["results"]] == [result["id"]]
        with httpx.Client(base_url=working.url, headers={"Authorization": f"Token {key}"}) as http:
            [logged] = http.get("/v1/events/", params={"memory_id": result["id"]}).json()["results"]
        assert logged["event_type"] == "memory_add" and logged["actor"].startswith("key:")  # the submitter's key
    finally:
        client.client.close()


def test_a_v1_add_with_async_mode_is_queued_too(working: Server) -> None:
    key = working.key("test")
    with httpx.Client(base_url=working.url, headers={"Authorization": f"Token {key}"}) as http:
        answer = http.post("/v1/memories/", json={"messages": [{"role": "user", "content": "I live in Lyon"}],
                                                  "user_id": "alice", "infer": False, "async_mode": True,
                                                  "output_format": "v1.0"})
        assert answer.status_code == 200 and answer.json()["status"] == "PENDING"
    assert wait_for_end(working, key, answer.json()["event_id"])["status"] == "SUCCEEDED"


def test_without_async_mode_an_add_without_the_llm_answers_at_once(working: Server) -> None:
    client = connect(working, working.key("test"))
    try:
        answer = client.add("I like green tea", user_id="alice", infer=False)
        assert answer["status"] == "SUCCEEDED" and answer["results"][0]["data"] == {"memory": "I like green tea"}
    finally:
        client.client.close()


def test_an_inferred_add_with_the_llm_extractor_goes_async_by_default(llm_server: Server) -> None:
    key = llm_server.key("test")
    client = connect(llm_server, key)
    try:
        answer = client.add("I really like green tea", user_id="alice")  # infer defaults to true; no async_mode
        assert answer["status"] == "PENDING"
        done = wait_for_end(llm_server, key, answer["event_id"])
        assert done["status"] == "SUCCEEDED" and [r["data"]["memory"] for r in done["results"]] == ["Likes green tea"]
    finally:
        client.client.close()


def test_a_failing_llm_ends_the_event_failed_with_the_reason(llm_server: Server, llm: FakeOpenAIServer) -> None:
    key = llm_server.key("test")
    llm.fail_status = 503
    client = connect(llm_server, key)
    try:
        answer = client.add("I really like green tea", user_id="alice")
        done = wait_for_end(llm_server, key, answer["event_id"])
        assert done["status"] == "FAILED" and done["results"] == [] and done["error"] == FAILED_UNAVAILABLE
        assert client.get_all(filters={"user_id": "alice"})["results"] == []
    finally:
        client.client.close()


def test_bad_input_is_a_400_at_submit_and_another_projects_event_a_404(working: Server) -> None:
    key, other = working.key("test"), working.key("other")
    with httpx.Client(base_url=working.url, headers={"Authorization": f"Token {key}"}) as http:
        no_owner = http.post("/v3/memories/add/", json={"messages": "hi", "async_mode": True})
        assert no_owner.status_code == 400 and "user_id" in no_owner.json()["detail"]
        not_a_flag = http.post("/v3/memories/add/", json={"messages": "hi", "user_id": "a", "async_mode": "yes"})
        assert not_a_flag.status_code == 400 and "async_mode" in not_a_flag.json()["detail"]
        queued = http.post("/v3/memories/add/", json={"messages": "hi there", "user_id": "a", "infer": False,
                                                      "async_mode": True}).json()
        assert http.get("/v1/event/8f0e1a52-0000-4000-8000-000000000000/").status_code == 404
    with httpx.Client(base_url=working.url, headers={"Authorization": f"Token {other}"}) as http:
        assert http.get(f"/v1/event/{queued['event_id']}/").status_code == 404
