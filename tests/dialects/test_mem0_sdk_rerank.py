"""The `mem0ai` SDK's `rerank` flag against a memvault server that has a rerank service configured (a real local
HTTP service that speaks the rerank API)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from mem0 import MemoryClient

from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.extract.offline import OfflineExtractor
from memvault.rerank.http_api import HTTPReranker
from memvault.store.base import Store
from memvault.testing.openai_server import FakeOpenAIServer
from memvault.testing.server import Server


@pytest.fixture
def service() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
def client(store: Store, service: FakeOpenAIServer) -> Iterator[MemoryClient]:
    engine = Engine(store, HashingEmbedder(), OfflineExtractor(), reranker=HTTPReranker(service.base_url, "rr"))
    with Server(engine) as server:
        made = MemoryClient(api_key=server.key("test"), host=server.url, client=httpx.Client(timeout=30))
        yield made
        made.client.close()


def test_search_with_rerank_follows_the_reranker_and_explains_it(client: MemoryClient,
                                                                 service: FakeOpenAIServer) -> None:
    texts = ["We moved to Lyon last spring", "Sushi is my favourite food"]
    client.add([{"role": "user", "content": t} for t in texts], user_id="alice", infer=False)
    service.rerank_handler = lambda query, docs: [1.0 if "Lyon" in d else 0.0 for d in docs]
    plain = client.search("sushi", filters={"user_id": "alice"}, rerank=False)["results"]
    assert plain[0]["memory"] == "Sushi is my favourite food"
    assert "rerank" not in plain[0]["score_breakdown"] and "context" not in plain[0]["score_breakdown"]  # both off
    assert not any(r.path == "/v1/rerank" for r in service.requests)
    hits = client.search("sushi", filters={"user_id": "alice"}, rerank=True)["results"]
    assert [h["memory"] for h in hits] == ["We moved to Lyon last spring", "Sushi is my favourite food"]
    assert hits[0]["score_breakdown"]["rerank"] == 1.0
    assert 0.0 <= hits[1]["score"] <= hits[0]["score"] <= 1.0
