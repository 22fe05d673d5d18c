"""The HTTP reranker against a real local server that speaks the Cohere/Jina rerank API."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from memvault.errors import InvalidInput, Unavailable
from memvault.rerank import build_reranker, reranker_names
from memvault.rerank.http_api import HTTPReranker
from memvault.testing.openai_server import FakeOpenAIServer
from memvault.testing.server import free_port


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def test_one_request_carries_the_model_query_and_documents_and_the_key(server: FakeOpenAIServer) -> None:
    reranker = build_reranker("http", base_url=server.base_url + "/", model=" rr ", api_key="sk-secret")
    reranker.rerank("where does Ana live", ["I like sushi", "Ana lives in Lyon"])
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/v1/rerank")
    assert request.body == {"model": "rr", "query": "where does Ana live", "documents": ["I like sushi", "Ana lives in Lyon"],
                            "top_n": 2, "return_documents": False}
    assert request.headers["authorization"] == "Bearer sk-secret"


def test_scores_come_back_in_document_order_though_the_service_answers_best_first(server: FakeOpenAIServer) -> None:
    reranker = HTTPReranker(server.base_url, "rr")
    scores = reranker.rerank("where does Ana live", ["I like sushi", "Ana lives in Lyon", "where does Ana live now?"])
    assert scores == [0.0, 0.25, 1.0]


def test_raw_logits_become_relevances_in_0_1_keeping_their_order(server: FakeOpenAIServer) -> None:
    server.rerank_handler = lambda query, docs: [-3.0, 2.5, 0.5]
    scores = HTTPReranker(server.base_url, "rr").rerank("q", ["a", "b", "c"])
    assert all(0.0 < s < 1.0 for s in scores)
    assert scores[1] > scores[2] > scores[0]
    assert scores[1] == pytest.approx(1 / (1 + math.exp(-2.5)))


def test_no_documents_makes_no_request(server: FakeOpenAIServer) -> None:
    assert HTTPReranker(server.base_url, "rr").rerank("q", []) == []
    assert server.requests == []


@pytest.mark.parametrize("handler, says", [
    (lambda q, docs: [0.5] * (len(docs) - 1), "scores for"),
    (lambda q, docs: [float("nan")] * len(docs), "finite"),
])
def test_an_answer_without_one_finite_score_per_document_is_unavailable(
        server: FakeOpenAIServer, handler: object, says: str) -> None:
    server.rerank_handler = handler  # type: ignore[assignment]
    with pytest.raises(Unavailable, match=says):
        HTTPReranker(server.base_url, "rr").rerank("q", ["a", "b"])


def test_a_failing_service_is_unavailable_and_the_key_never_shows(server: FakeOpenAIServer) -> None:
    server.fail_status = 503
    with pytest.raises(Unavailable, match="HTTP 503") as caught:
        HTTPReranker(server.base_url, "rr", api_key="sk-secret").rerank("q", ["a"])
    assert "sk-secret" not in str(caught.value)


def test_an_unreachable_service_is_unavailable() -> None:
    with pytest.raises(Unavailable, match="cannot reach the rerank service"):
        HTTPReranker(f"http://127.0.0.1:{free_port()}/v1", "rr", timeout=2).rerank("q", ["a"])


@pytest.mark.parametrize("options", [
    {"base_url": "localhost:8080", "model": "rr"},
    {"base_url": "http://localhost:8080/v1", "model": " "},
    {"base_url": "http://localhost:8080/v1", "model": "rr", "timeout": 0},
])
def test_a_bad_configuration_is_refused_at_once(options: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        build_reranker("http", **options)


def test_the_http_reranker_is_registered_by_name() -> None:
    assert "http" in reranker_names()
