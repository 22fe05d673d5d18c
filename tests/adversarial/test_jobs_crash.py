"""Async adds across kill -9 and across servers: the real `memvault serve` as a subprocess, its LLM extractor
talking to the OpenAI-protocol fake in this process. A server killed while a job runs leaves the job to be taken up
again once its lease ran out, and exactly one set of memories; two servers on one PostgreSQL share the queue, each
job run once."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from memvault.testing.openai_server import FakeOpenAIServer
from memvault.testing.serve_process import (
    ServeProcess,
    make_key,
    target_fixture,  # noqa: F401 (registers the `target` fixture)
)
from memvault.testing.stores import make_postgres

pytestmark = pytest.mark.slow
FACT = re.compile(r"fact-[a-z0-9]+")


def env(llm: FakeOpenAIServer) -> dict[str, str]:
    return {"MEMVAULT_EMBEDDER": "hashing", "MEM0_TELEMETRY": "False", "MEMVAULT_EXTRACTOR": "llm",
            "MEMVAULT_LLM_URL": llm.base_url, "MEMVAULT_LLM_MODEL": "fake", "MEMVAULT_JOB_LEASE_SECONDS": "2",
            "MEMVAULT_JOB_POLL_SECONDS": "0.05", "MEMVAULT_JOB_WORKERS": "2"}


def client(url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Token {key}"}, timeout=30)


def submit(http: httpx.Client, text: str) -> str:
    answer = http.post("/v3/memories/add/", json={"messages": [{"role": "user", "content": text}], "user_id": "crash"})
    assert answer.status_code == 200 and answer.json()["status"] == "PENDING", answer.text  # auto: infer with the LLM
    return str(answer.json()["event_id"])


def ended(http: httpx.Client, event_id: str, deadline_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + deadline_s
    while True:
        body: dict[str, Any] = http.get(f"/v1/event/{event_id}/").json()
        if body["status"] in ("SUCCEEDED", "FAILED"):
            return body
        assert time.monotonic() < deadline, f"still {body['status']}"
        time.sleep(0.05)


def memories(http: httpx.Client) -> list[str]:
    return sorted(m["memory"] for m in http.get("/v1/memories/", params={"user_id": "crash"}).json())


def echo_facts(body: dict[str, Any]) -> str:
    """The fake LLM's extraction: every fact-... marker of the conversation, as a fact."""
    return json.dumps({"facts": sorted(set(FACT.findall(json.dumps(body["messages"][-1]))))})


def test_a_server_killed_during_a_job_leaves_one_set_of_memories_once_restarted(target: list[str],
                                                                                 tmp_path: Path) -> None:
    key = make_key(target)
    asked, hold = threading.Event(), threading.Event()

    def slow(body: dict[str, Any]) -> str:
        asked.set()
        hold.wait(60)  # the job is mid-run until the test lets go
        return echo_facts(body)

    with FakeOpenAIServer(chat_handler=slow) as llm:
        first = ServeProcess(target, tmp_path / "serve.log", env(llm))
        try:
            with client(first.url, key) as http:
                event_id = submit(http, "remember fact-tea and fact-lyon")
            assert asked.wait(30)
        finally:
            first.kill9()  # the job is RUNNING, its extraction in flight
        hold.set()
        again = ServeProcess(target, tmp_path / "serve.log", env(llm))
        try:
            with client(again.url, key) as http:
                done = ended(http, event_id)
                assert done["status"] == "SUCCEEDED", done
                assert sorted(r["data"]["memory"] for r in done["results"]) == ["fact-lyon", "fact-tea"]
                assert memories(http) == ["fact-lyon", "fact-tea"]  # exactly one set
        finally:
            again.stop()
    assert len([r for r in llm.requests if r.path == "/v1/chat/completions"]) == 2  # the killed run, and the rerun


def test_two_servers_on_one_postgres_share_the_queue_and_run_each_job_once(request: pytest.FixtureRequest,
                                                                           tmp_path: Path) -> None:
    store = make_postgres(request)
    url = store.url  # type: ignore[attr-defined]
    store.close()
    args = ["--database-url", url]
    key = make_key(args)
    with FakeOpenAIServer(chat_handler=echo_facts) as llm:
        servers = [ServeProcess(args, tmp_path / f"serve{i}.log", env(llm)) for i in range(2)]
        try:
            http = [client(s.url, key) for s in servers]
            events = [submit(http[i % 2], f"remember fact-n{i}") for i in range(12)]
            for i, event_id in enumerate(events):
                done = ended(http[(i + 1) % 2], event_id)  # read through the other server
                assert done["status"] == "SUCCEEDED" and [r["data"]["memory"] for r in done["results"]] == [f"fact-n{i}"]
            assert memories(http[0]) == sorted(f"fact-n{i}" for i in range(12))
            for h in http:
                h.close()
        finally:
            for s in servers:
                s.stop()
    assert len([r for r in llm.requests if r.path == "/v1/chat/completions"]) == 12  # each job ran once
