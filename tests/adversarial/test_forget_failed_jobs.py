"""An async add's words do not stay in the job table, on both stores, over real HTTP with the protocol-level fake LLM:
- a job that FAILED because the model answered garbage quoting the user, or answered an error quoting the user,
  records one fixed sentence per kind of failure, and its row holds none of the user's words (on SQLite: no byte of
  them is left in the files once the compaction ran, and no log line names them);
- a job that SUCCEEDED keeps no text once its memory is deleted, in its row or its entry of the feed.
A row check reads every column of every job row with the database's own client."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.engine.jobs import FAILED_MODEL_ANSWER, FAILED_UNAVAILABLE
from memvault.extract.llm import LLMExtractor
from memvault.store.base import Store
from memvault.store.sqlite import SQLiteStore
from memvault.testing.openai_server import FakeOpenAIServer
from memvault.testing.server import Server
from memvault.workers import JobWorkerOptions

FILES = ("memvault.db", "memvault.db-wal", "memvault.db-shm")
SETTLE = 8.0  # the compaction runs ~2 s after a failed job; a slow, shared machine gets this long


def marker() -> str:
    return "mk" + uuid.uuid4().hex[:14].translate(str.maketrans("0123456789", "ghijklmnop"))


def the_conversation(request: dict[str, Any]) -> str:
    """What the extractor sent the model: the user's words."""
    return str(request["messages"][-1]["content"])


def garbage_quoting_the_user(request: dict[str, Any]) -> str:
    return "Sure! " + the_conversation(request).split(":", 1)[1]  # prose, no JSON: the user's words in it


def facts_that_are_no_text(request: dict[str, Any]) -> str:
    return json.dumps({"facts": [{"said": the_conversation(request)}]})


def an_error_quoting_the_user(request: dict[str, Any]) -> str:
    raise RuntimeError(f"cannot handle {the_conversation(request)}")  # the fake answers 500 with this message


def job_rows(store: Store) -> str:
    """Every column of every job row, as the database's own client reads them."""
    if isinstance(store, SQLiteStore):
        with sqlite3.connect(store.path) as conn:
            return str(conn.execute("SELECT * FROM jobs").fetchall())
    with psycopg.connect(store.url) as conn:  # type: ignore[attr-defined]
        return str(conn.execute("SELECT j::text FROM jobs j").fetchall())


def in_files(store: Store, word: str) -> bool:
    if not isinstance(store, SQLiteStore):
        return False  # PostgreSQL: the rows are checked (compact vacuums the table; see test_postgres)
    folder = Path(store.path).parent
    blob = b"".join((folder / f).read_bytes() for f in FILES if (folder / f).exists())
    return word.encode() in blob


def until(check: Callable[[], Any], deadline_s: float) -> Any:
    deadline = time.monotonic() + deadline_s
    while not (value := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return value


@pytest.fixture
def llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
def working(store: Store, llm: FakeOpenAIServer) -> Iterator[Server]:
    engine = Engine(store, HashingEmbedder(), LLMExtractor(llm.base_url, "fake"))
    with Server(engine, job_workers=JobWorkerOptions(threads=1, poll=0.02)) as server:
        yield server


@pytest.mark.parametrize(("answer", "error"), [(garbage_quoting_the_user, FAILED_MODEL_ANSWER),
                                               (facts_that_are_no_text, FAILED_MODEL_ANSWER),
                                               (an_error_quoting_the_user, FAILED_UNAVAILABLE)])
def test_a_failed_job_records_a_fixed_reason_and_keeps_none_of_the_users_words(
        store: Store, llm: FakeOpenAIServer, working: Server, answer: Callable[[dict[str, Any]], str], error: str,
        caplog: pytest.LogCaptureFixture) -> None:
    llm.chat_handler = answer
    secret = marker()
    caplog.set_level(logging.INFO)
    with httpx.Client(base_url=working.url, headers={"Authorization": f"Token {working.key('forget')}"},
                      timeout=30) as http:
        queued = http.post("/v3/memories/add/", json={
            "messages": [{"role": "user", "content": f"My alarm code is {secret}"}], "user_id": "alice",
            "async_mode": True}).json()
        failed = until(lambda: (e := http.get(f"/v1/event/{queued['event_id']}/").json())["status"] == "FAILED" and e,
                       30)
        assert failed["error"] == error and failed["results"] == []
        [listed] = http.get("/v1/events/", params={"status": "FAILED"}).json()["results"]
        assert listed == failed
    assert secret in str([r.body for r in llm.requests])  # the model was asked with the user's words
    assert secret not in job_rows(store)
    until(lambda: not in_files(store, secret), SETTLE)
    assert secret not in caplog.text


def test_a_succeeded_jobs_row_keeps_no_text_once_its_memory_is_deleted(store: Store, llm: FakeOpenAIServer,
                                                                       working: Server) -> None:
    secret = marker()
    llm.chat_handler = lambda _: json.dumps({"facts": [f"My alarm code is {secret}"]})
    with httpx.Client(base_url=working.url, headers={"Authorization": f"Token {working.key('forget')}"},
                      timeout=30) as http:
        queued = http.post("/v3/memories/add/", json={
            "messages": [{"role": "user", "content": f"Remember: my alarm code is {secret}"}], "user_id": "alice",
            "async_mode": True}).json()
        done = until(lambda: (e := http.get(f"/v1/event/{queued['event_id']}/").json())["status"] == "SUCCEEDED" and e,
                     30)
        [memory] = done["results"]
        assert http.delete(f"/v1/memories/{memory['id']}/").status_code == 200
        assert secret not in job_rows(store)
        [listed] = [e for e in http.get("/v1/events/", params={"status": "SUCCEEDED"}).json()["results"]
                    if e["kind"] == "async_add"]  # the job's entry in the feed forgets it too
        assert listed == http.get(f"/v1/event/{queued['event_id']}/").json()
        assert listed["results"] == [{"id": memory["id"], "event": "ADD", "data": {"memory": None}}]
        assert secret not in str(listed)
