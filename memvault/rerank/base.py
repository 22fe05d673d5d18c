"""The Reranker protocol: a query and candidate texts in, one relevance in 0..1 per text out."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Reranker(Protocol):
    """Scores how well each text answers a query, reading both together (a cross-encoder, typically).

    `rerank` returns one relevance in 0..1 per text, in the texts' order; higher is more relevant. It raises
    `memvault.errors.Unavailable` when the model or the service behind it fails.
    """

    @property
    def name(self) -> str: ...

    def rerank(self, query: str, texts: list[str]) -> list[float]: ...
