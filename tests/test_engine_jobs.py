"""Async adds at the engine (memvault/engine/jobs.py), on both stores: checked at submit, run by a worker turn,
recorded once, read back by their event_id within the project only."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine, Owners
from memvault.engine.jobs import FAILED_UNAVAILABLE
from memvault.errors import InvalidInput, NotFound
from memvault.extract.base import Message
from memvault.extract.llm import LLMExtractor
from memvault.models import utcnow
from memvault.store.base import Store
from memvault.testing.openai_server import FakeOpenAIServer

ALICE = Owners(user_id="alice")


@pytest.fixture
def llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(chat_handler=lambda _: json.dumps({"facts": ["Likes green tea", "Lives in Lyon"]})) as fake:
        yield fake


@pytest.fixture
def llm_engine(store: Store, llm: FakeOpenAIServer) -> Engine:
    return Engine(store, HashingEmbedder(), LLMExtractor(llm.base_url, "fake"))


def test_a_submitted_add_waits_then_one_worker_turn_runs_it(engine: Engine, project: str) -> None:
    job = engine.submit_add(project, [Message("user", "I like green tea")], ALICE)
    assert engine.job(project, job.id)["status"] == "PENDING"
    assert engine.list(project).total == 0  # nothing written before a worker runs it
    assert engine.run_jobs_once("w1") is not None
    done = engine.job(project, job.id)
    assert done["status"] == "SUCCEEDED" and done["error"] is None and done["latency"] is not None
    [result] = done["results"]
    assert result["event"] == "ADD" and result["data"] == {"memory": "I like green tea"}
    assert engine.get(project, result["id"]).user_id == "alice"
    assert engine.run_jobs_once("w1") is None  # the queue is empty


def test_bad_input_is_refused_at_submit_and_queues_nothing(engine: Engine, project: str) -> None:
    with pytest.raises(InvalidInput):
        engine.submit_add(project, [], ALICE)
    with pytest.raises(InvalidInput):
        engine.submit_add(project, [Message("user", "x")], ALICE, metadata={"big": "x" * 100_000})
    with pytest.raises(NotFound):
        engine.submit_add(project, [Message("user", "x")], ALICE, bucket="no such bucket")
    assert engine.run_jobs_once("w1") is None


def test_another_projects_job_or_an_unknown_id_is_not_found(engine: Engine, project: str) -> None:
    job = engine.submit_add(project, [Message("user", "I like green tea")], ALICE)
    other = engine.project("other").id
    for pid, ref in ((other, job.id), (project, "2b0d8a3c-0000-4000-8000-000000000000")):
        with pytest.raises(NotFound):
            engine.job(pid, ref)
    with pytest.raises(InvalidInput):
        engine.job(project, "nope")


def test_an_inferred_async_add_asks_the_llm_in_the_worker(llm_engine: Engine, llm: FakeOpenAIServer) -> None:
    project = llm_engine.project("test").id
    job = llm_engine.submit_add(project, [Message("user", "I like green tea and I live in Lyon")], ALICE, infer=True)
    assert not llm.requests  # submit asks nothing
    llm_engine.run_jobs_once("w1")
    done = llm_engine.job(project, job.id)
    assert done["status"] == "SUCCEEDED"
    assert sorted(r["data"]["memory"] for r in done["results"]) == ["Likes green tea", "Lives in Lyon"]


def test_a_failing_llm_ends_the_job_failed_with_the_reason(llm_engine: Engine, llm: FakeOpenAIServer) -> None:
    project = llm_engine.project("test").id
    job = llm_engine.submit_add(project, [Message("user", "I like green tea")], ALICE, infer=True)
    llm.fail_status = 500
    llm_engine.run_jobs_once("w1")
    failed = llm_engine.job(project, job.id)
    assert failed["status"] == "FAILED" and failed["results"] == []
    assert failed["error"] == FAILED_UNAVAILABLE  # fixed words: the service's own message may quote the user
    assert llm_engine.list(project).total == 0


def test_a_worker_that_lost_its_lease_writes_nothing(engine: Engine, project: str) -> None:
    """The first worker stalls past its lease; a second takes the job up and finishes it; the first one's late
    finish is refused: one set of memories."""
    job = engine.submit_add(project, [Message("user", "I like green tea")], ALICE)
    now = utcnow()
    stalled = engine.store.claim_job("stalled", now, now + timedelta(milliseconds=1))
    assert stalled is not None
    engine.store.reclaim_jobs(now + timedelta(seconds=1), 3)
    engine.run_jobs_once("second")
    engine._run_job(stalled, "stalled")  # the stalled worker comes back and runs its copy to the end
    assert engine.job(project, job.id)["status"] == "SUCCEEDED"
    assert [m.text for m in engine.list(project).items] == ["I like green tea"]


@pytest.mark.parametrize(("mode", "infer", "extractor", "asked", "expected"), [
    ("auto", True, "llm", None, True),
    ("auto", False, "llm", None, False),
    ("auto", True, "offline", None, False),
    ("always", False, "offline", None, True),
    ("never", True, "llm", None, False),
    ("never", False, "offline", True, True),  # the caller's async_mode wins
    ("always", True, "llm", False, False),
])
def test_async_mode_wins_and_the_setting_decides_otherwise(engine: Engine, mode: str, infer: bool, extractor: str,
                                                            asked: bool | None, expected: bool,
                                                            llm: FakeOpenAIServer) -> None:
    engine.async_add = mode  # type: ignore[assignment]
    if extractor == "llm":
        engine.extractor = LLMExtractor(llm.base_url, "fake")
    assert engine.add_is_async(infer, asked) is expected


def test_async_mode_must_be_a_boolean(engine: Engine) -> None:
    with pytest.raises(InvalidInput, match="async_mode"):
        engine.add_is_async(True, "yes")


def test_a_job_that_runs_longer_than_its_lease_keeps_it_and_runs_once(store: Store) -> None:
    asked, release = threading.Event(), threading.Event()

    def slow(_: dict[str, Any]) -> str:
        asked.set()
        release.wait(60)
        return json.dumps({"facts": ["Likes green tea"]})

    with FakeOpenAIServer(chat_handler=slow) as llm:
        engine = Engine(store, HashingEmbedder(), LLMExtractor(llm.base_url, "fake"))
        engine.job_lease_seconds = 1.0
        project = engine.project("test").id
        job = engine.submit_add(project, [Message("user", "I like green tea")], ALICE, infer=True)
        first = threading.Thread(target=engine.run_jobs_once, args=("first",))
        first.start()
        try:
            assert asked.wait(30)
            claimed = store.get_job(project, job.id)
            assert claimed is not None and claimed.lease_expires is not None
            deadline = time.monotonic() + 30
            while True:  # renewed past the lease it was claimed with
                held = store.get_job(project, job.id)
                assert held is not None and held.lease_expires is not None and time.monotonic() < deadline
                if held.lease_expires > claimed.lease_expires + timedelta(seconds=1):
                    break
                time.sleep(0.05)
            assert engine.run_jobs_once("second") is None  # still held: nothing to take up
        finally:
            release.set()
            first.join(60)
        done = engine.job(project, job.id)
        assert done["status"] == "SUCCEEDED" and [r["data"]["memory"] for r in done["results"]] == ["Likes green tea"]
        assert len([r for r in llm.requests if r.path == "/v1/chat/completions"]) == 1
