"""A search with a reranker configured: what the reranker decides, what it is shown, and what happens when it
fails. The reranker is a real HTTP service (a local server that speaks the rerank API), on every store."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from memvault import filters as F
from memvault import ranking
from memvault.config import Settings
from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine, Owners, SearchOptions
from memvault.extract.base import Message
from memvault.extract.offline import OfflineExtractor
from memvault.factory import build_engine
from memvault.rerank.http_api import HTTPReranker
from memvault.store.base import Store
from memvault.testing.openai_server import FakeOpenAIServer


@pytest.fixture
def service() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
def engine(store: Store, service: FakeOpenAIServer) -> Engine:
    return Engine(store, HashingEmbedder(), OfflineExtractor(), reranker=HTTPReranker(service.base_url, "rr"))


def put(engine: Engine, project: str, text: str, user: str = "alice") -> str:
    return engine.add(project, [Message("user", text)], Owners(user_id=user), infer=False)[0].memory.id


def search(engine: Engine, project: str, query: str, user: str = "alice", **options: Any) -> list[Any]:
    return engine.search(project, query, F.eq("user_id", user), SearchOptions(**options))


def texts_sent(service: FakeOpenAIServer) -> list[str]:
    return [doc for r in service.requests if r.path == "/v1/rerank" for doc in r.body["documents"]]


def test_the_rerankers_judgement_reorders_the_best_candidates(engine: Engine, service: FakeOpenAIServer) -> None:
    project = engine.project("p").id
    lyon = put(engine, project, "We moved to Lyon last spring")
    sushi = put(engine, project, "Sushi is my favourite food")
    plain = search(engine, project, "sushi", rerank=False)
    assert plain[0].memory.id == sushi  # the keyword decides without the reranker
    reranker, engine.reranker = engine.reranker, None
    fused = {h.memory.id: h.score for h in search(engine, project, "sushi")}
    engine.reranker = reranker
    service.rerank_handler = lambda query, docs: [1.0 if "Lyon" in d else 0.0 for d in docs]
    hits = search(engine, project, "sushi")
    assert [h.memory.id for h in hits[:2]] == [lyon, sushi]
    assert hits[0].breakdown["rerank"] == 1.0 and hits[1].breakdown["rerank"] == 0.0
    for hit in hits:
        blended = (1 - ranking.DEFAULT.rerank) * fused[hit.memory.id] + ranking.DEFAULT.rerank * hit.breakdown["rerank"]
        assert hit.score == pytest.approx(blended, abs=1e-6)


def test_the_reranker_is_shown_only_what_the_caller_may_read(engine: Engine, service: FakeOpenAIServer) -> None:
    mine, other = engine.project("mine").id, engine.project("other").id
    put(engine, mine, "Alice keeps bees in the garden")
    put(engine, mine, "Bob keeps bees too, on his roof", user="bob")
    put(engine, other, "Alice in another tenant keeps bees")
    hits = search(engine, mine, "who keeps bees?", user="alice")
    assert [h.memory.text for h in hits] == ["Alice keeps bees in the garden"]
    assert texts_sent(service) == ["Alice keeps bees in the garden"]


def test_rerank_off_asks_no_reranker(engine: Engine, service: FakeOpenAIServer) -> None:
    project = engine.project("p").id
    put(engine, project, "We moved to Lyon last spring")
    hits = search(engine, project, "Lyon", rerank=False)
    assert hits and "rerank" not in hits[0].breakdown
    assert texts_sent(service) == []


def test_context_and_rerank_are_separate_switches(engine: Engine, service: FakeOpenAIServer) -> None:
    project = engine.project("p").id
    put(engine, project, "We moved to Lyon last spring")
    no_context = search(engine, project, "Lyon", context=False)
    assert no_context and "context" not in no_context[0].breakdown and "rerank" in no_context[0].breakdown
    assert texts_sent(service) == ["We moved to Lyon last spring"]  # the reranker is still asked
    no_rerank = search(engine, project, "Lyon", rerank=False)
    assert "context" in no_rerank[0].breakdown and "rerank" not in no_rerank[0].breakdown
    assert len(texts_sent(service)) == 1  # and not asked again
    neither = search(engine, project, "Lyon", context=False, rerank=False)
    assert set(neither[0].breakdown) == {"semantic", "keyword"}


def test_a_failing_reranker_leaves_the_fused_ranking_and_says_so(
        engine: Engine, service: FakeOpenAIServer, caplog: pytest.LogCaptureFixture) -> None:
    project = engine.project("p").id
    for text in ("We moved to Lyon last spring", "Sushi is my favourite food", "Lyon has good sushi"):
        put(engine, project, text)
    engine.reranker = None
    without = [(h.memory.id, h.score) for h in search(engine, project, "sushi in Lyon")]
    engine.reranker = HTTPReranker(service.base_url, "rr")
    service.fail_status = 503
    with caplog.at_level(logging.WARNING, logger="memvault.engine"):
        hits = search(engine, project, "sushi in Lyon")
    assert [(h.memory.id, h.score) for h in hits] == without
    assert all("rerank" not in h.breakdown for h in hits)
    assert "without the reranker" in caplog.text and "HTTP 503" in caplog.text


def test_threshold_cuts_on_the_score_after_reranking(engine: Engine, service: FakeOpenAIServer) -> None:
    project = engine.project("p").id
    put(engine, project, "We moved to Lyon last spring")
    put(engine, project, "Lyon is where my sister lives")
    service.rerank_handler = lambda query, docs: [1.0 if "sister" in d else 0.0 for d in docs]
    scores = {h.memory.text: h.score for h in search(engine, project, "Lyon")}
    cut = (scores["We moved to Lyon last spring"] + scores["Lyon is where my sister lives"]) / 2
    assert scores["Lyon is where my sister lives"] > cut
    hits = search(engine, project, "Lyon", threshold=cut)
    assert [h.memory.text for h in hits] == ["Lyon is where my sister lives"]


def test_settings_name_the_reranker(store: Store, service: FakeOpenAIServer) -> None:
    settings = Settings(reranker="http", reranker_url=service.base_url, reranker_model="rr", reranker_api_key="k")
    engine = build_engine(settings, store=store, embedder=HashingEmbedder(), extractor=OfflineExtractor())
    assert isinstance(engine.reranker, HTTPReranker) and engine.reranker.model == "rr"
    assert build_engine(Settings(), store=store, embedder=HashingEmbedder(), extractor=OfflineExtractor()).reranker is None


class Miscounting:
    """A reranker plugged in from outside that breaks the protocol: one score short."""

    name = "miscounting"

    def rerank(self, query: str, texts: list[str]) -> list[float]:
        return [1.0] * (len(texts) - 1)


def test_a_reranker_that_miscounts_is_ignored_like_a_failing_one(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    engine = Engine(store, HashingEmbedder(), OfflineExtractor(), reranker=Miscounting())
    project = engine.project("p").id
    put(engine, project, "We moved to Lyon last spring")
    put(engine, project, "Lyon is where my sister lives")
    with caplog.at_level(logging.WARNING, logger="memvault.engine"):
        hits = search(engine, project, "Lyon")
    assert len(hits) == 2 and all("rerank" not in h.breakdown for h in hits)
    assert "1 scores for 2 texts" in caplog.text
