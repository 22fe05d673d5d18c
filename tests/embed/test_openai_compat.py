"""The OpenAI-compatible embedder, against a real local HTTP server speaking the OpenAI API."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import numpy as np
import pytest

from memvault.embed import Embedder, build_embedder
from memvault.embed.hashing import HashingEmbedder
from memvault.embed.openai_compat import OpenAICompatEmbedder
from memvault.errors import InvalidInput, Unavailable
from memvault.testing.openai_server import FakeOpenAIServer

SECRET = "sk-test-secret-0123456789"


@pytest.fixture
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(dim=16) as fake:
        yield fake


@pytest.fixture
def embedder(fake: FakeOpenAIServer) -> Iterator[OpenAICompatEmbedder]:
    with OpenAICompatEmbedder(fake.base_url, "fake-embed", api_key=SECRET) as embedder:
        yield embedder


def embedding_requests(fake: FakeOpenAIServer) -> list[list[str]]:
    return [r.body["input"] for r in fake.requests if r.path == "/v1/embeddings"]


def test_request_posts_model_and_input_list_with_the_key(
    fake: FakeOpenAIServer, embedder: OpenAICompatEmbedder
) -> None:
    embedder.embed(["I moved to Lyon", "My favourite food is sushi"])
    (request,) = fake.requests
    assert (request.method, request.path) == ("POST", "/v1/embeddings")
    assert request.body == {"model": "fake-embed", "input": ["I moved to Lyon", "My favourite food is sushi"]}
    assert request.headers["authorization"] == f"Bearer {SECRET}"
    assert request.headers["content-type"] == "application/json"


def test_no_key_sends_no_authorization_header(fake: FakeOpenAIServer) -> None:
    with OpenAICompatEmbedder(fake.base_url + "/", "fake-embed") as embedder:
        embedder.embed(["hello"])
    assert "authorization" not in fake.requests[0].headers
    assert fake.requests[0].path == "/v1/embeddings"


def test_vectors_are_unit_rows_in_input_order(embedder: OpenAICompatEmbedder) -> None:
    texts = ["I moved to Lyon", "My favourite food is sushi", "Tea", "I live in Lyon"]
    vectors = embedder.embed(texts)  # the fake answers in reverse order, with lengths 2, 3, 4, ...
    assert vectors.shape == (4, 16)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(vectors, HashingEmbedder(16).embed(texts), atol=1e-6)


def test_large_inputs_are_sent_in_batches_and_reassembled(fake: FakeOpenAIServer) -> None:
    texts = [f"fact number {i}" for i in range(7)]
    with OpenAICompatEmbedder(fake.base_url, "fake-embed", batch_size=3) as embedder:
        vectors = embedder.embed(texts)
    assert embedding_requests(fake) == [texts[0:3], texts[3:6], texts[6:7]]
    np.testing.assert_allclose(vectors, HashingEmbedder(16).embed(texts), atol=1e-6)


def test_batch_result_equals_single_calls(embedder: OpenAICompatEmbedder) -> None:
    texts = ["I moved to Lyon", "I now live in Lyon, France", "My favourite food is sushi"]
    batch = embedder.embed(texts)
    for row, text in enumerate(texts):
        assert batch[row] @ embedder.embed([text])[0] > 0.999


def test_dimension_is_probed_once_when_first_read(fake: FakeOpenAIServer) -> None:
    with OpenAICompatEmbedder(fake.base_url, "fake-embed") as embedder:
        assert fake.requests == []
        assert embedder.dim == 16
        assert embedder.dim == 16
        assert len(fake.requests) == 1
        assert isinstance(embedder, Embedder)


def test_dimension_is_learnt_from_the_first_answer(fake: FakeOpenAIServer) -> None:
    with OpenAICompatEmbedder(fake.base_url, "fake-embed") as embedder:
        embedder.embed(["hello"])
        assert embedder.dim == 16
    assert len(fake.requests) == 1


def test_given_dimension_needs_no_request_and_empty_input_sends_none(fake: FakeOpenAIServer) -> None:
    with OpenAICompatEmbedder(fake.base_url, "fake-embed", dim=16) as embedder:
        assert embedder.dim == 16
        vectors = embedder.embed([])
    assert vectors.shape == (0, 16)
    assert vectors.dtype == np.float32
    assert fake.requests == []


def test_answer_of_another_dimension_than_given_is_unavailable(fake: FakeOpenAIServer) -> None:
    with OpenAICompatEmbedder(fake.base_url, "fake-embed", dim=384) as embedder:
        with pytest.raises(Unavailable, match="dimension 16, expected 384"):
            embedder.embed(["hello"])


def test_server_error_is_unavailable_without_the_key(
    fake: FakeOpenAIServer, embedder: OpenAICompatEmbedder
) -> None:
    fake.fail_status = 500
    with pytest.raises(Unavailable, match="HTTP 500") as caught:
        embedder.embed(["hello"])
    assert SECRET not in str(caught.value)
    assert fake.base_url in str(caught.value)
    fake.fail_status = None
    assert embedder.embed(["hello"]).shape == (1, 16)


def test_client_error_is_unavailable(fake: FakeOpenAIServer, embedder: OpenAICompatEmbedder) -> None:
    fake.fail_status = 401
    with pytest.raises(Unavailable, match="HTTP 401"):
        embedder.embed(["hello"])


def test_unreachable_service_is_unavailable_without_credentials() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://user:hunter2@127.0.0.1:{port}/v1"
    with OpenAICompatEmbedder(url, "fake-embed", api_key=SECRET, timeout=5) as embedder:
        with pytest.raises(Unavailable, match="cannot reach the embedding service") as caught:
            embedder.embed(["hello"])
    message = str(caught.value)
    assert f"http://127.0.0.1:{port}/v1" in message
    assert SECRET not in message and "hunter2" not in message


def test_wrong_url_path_is_unavailable(fake: FakeOpenAIServer) -> None:
    with OpenAICompatEmbedder(fake.base_url.removesuffix("/v1"), "fake-embed") as embedder:
        with pytest.raises(Unavailable, match="HTTP 404"):
            embedder.embed(["hello"])


@pytest.mark.parametrize(
    ("base_url", "model"),
    [("", "m"), ("localhost:11434/v1", "m"), ("ftp://host/v1", "m"), ("http://host/v1", " ")],
)
def test_bad_base_url_or_model_is_invalid_input(base_url: str, model: str) -> None:
    with pytest.raises(InvalidInput):
        OpenAICompatEmbedder(base_url, model)


def test_build_embedder_openai(fake: FakeOpenAIServer) -> None:
    embedder = build_embedder("openai", base_url=fake.base_url, model="fake-embed", api_key=None)
    assert isinstance(embedder, OpenAICompatEmbedder)
    assert embedder.name == "openai:fake-embed"
    try:
        assert embedder.embed(["hello"]).shape == (1, 16)
    finally:
        embedder.close()


def test_build_embedder_openai_without_url_or_model_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="base_url"):
        build_embedder("openai", base_url=None, model="m")
    with pytest.raises(InvalidInput, match="missing a required argument: 'base_url'"):
        build_embedder("openai", model="m")
    with pytest.raises(InvalidInput, match="model"):
        build_embedder("openai", base_url="http://localhost:11434/v1", model=None)
