"""Relevance from any rerank service that speaks the Cohere/Jina API (vLLM, llama.cpp server, Infinity,
Jina, Cohere).

``POST {base_url}/rerank`` with ``{"model": ..., "query": ..., "documents": [...], "top_n": n,
"return_documents": false}``; the answer's ``results`` (or a bare list) holds one ``{"index": i,
"relevance_score": s}`` (or ``"score"``) per document, in any order. Scores already in 0..1 are kept; when a
service answers raw logits (some do: any score outside 0..1), every score of the answer goes through the
logistic function, which is what a cross-encoder's 0..1 relevance is.

Any failure (unreachable, timed out, a non-2xx status, an answer without one finite score per document)
raises :class:`~memvault.errors.Unavailable`, whose message names the endpoint without credentials and never
contains the API key. One HTTP client (connection pool) is kept for the reranker's lifetime.
"""

from __future__ import annotations

import math
from typing import Any

import httpx

from memvault.errors import InvalidInput, Unavailable
from memvault.remote import Endpoint


class HTTPReranker:
    """Reranks through ``{base_url}/rerank``; see the module docstring for the exchange."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 10) -> None:
        self._endpoint = Endpoint(base_url, api_key, timeout, service="the rerank service",
                                  bad_url="base_url must be an http(s) URL such as http://localhost:8080/v1")
        if not model or not model.strip():
            raise InvalidInput("model must name the reranking model to use")
        self.base_url = self._endpoint.base_url
        self.model = model.strip()
        self.name = f"http:{self.model}"
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"HTTPReranker(base_url={self._endpoint.where!r}, model={self.model!r})"

    def rerank(self, query: str, texts: list[str]) -> list[float]:
        if not texts:
            return []
        body = {"model": self.model, "query": query, "documents": texts, "top_n": len(texts),
                "return_documents": False}
        response = self._endpoint.post("/rerank", body)
        try:
            return read_scores(response, len(texts))
        except ValueError as exc:
            raise Unavailable(f"{self._endpoint.service} gave {exc}") from None

    def close(self) -> None:
        """Close the connection pool; a later call opens a new one."""
        self._endpoint.close()


def read_scores(response: httpx.Response, count: int) -> list[float]:
    """One relevance in 0..1 per document, in document order; ValueError saying what is wrong."""
    try:
        answer: Any = response.json()
        items = answer["results"] if isinstance(answer, dict) else answer
        pairs = sorted((int(item["index"]), float(item["relevance_score"] if "relevance_score" in item
                                                  else item["score"])) for item in items)
    except (ValueError, LookupError, TypeError):
        raise ValueError("an answer without a list of indexed scores") from None
    if [index for index, _ in pairs] != list(range(count)):
        raise ValueError(f"{len(pairs)} scores for {count} documents")
    scores = [score for _, score in pairs]
    if not all(math.isfinite(s) for s in scores):
        raise ValueError("a score that is not a finite number")
    if all(0.0 <= s <= 1.0 for s in scores):
        return scores
    return [1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, s)))) for s in scores]
