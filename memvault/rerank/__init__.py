"""Reranking: a second, stronger opinion on the best candidates of a search (see :mod:`memvault.rerank.base`).

No reranker runs by default: none ships offline that fits a search's time on a small CPU. A deployment that
has a rerank service (vLLM, llama.cpp server, Infinity, Jina, Cohere: anything that answers
``POST {base_url}/rerank`` the Cohere/Jina way) turns it on with ``http``; an outside reranker registers
through :func:`register_reranker` exactly as the built-in one does::

    reranker = build_reranker("http", base_url="http://localhost:8080/v1", model="bge-reranker-v2-m3")
    reranker.rerank("where does she live?", ["I moved to Lyon", "I like sushi"])  # [0.93, 0.02]
"""

from __future__ import annotations

from collections.abc import Callable

from memvault.registry import Registry
from memvault.rerank.base import Reranker

__all__ = ["Reranker", "RerankerFactory", "build_reranker", "register_reranker", "reranker_names"]

RerankerFactory = Callable[..., Reranker]
"""Builds a reranker from keyword options; its signature says which options it takes."""

_registry: Registry[Reranker] = Registry("reranker")


def register_reranker(name: str, factory: RerankerFactory, *, replace: bool = False) -> None:
    """Make ``build_reranker(name, **options)`` call ``factory(**options)``.

    Raises Conflict when the name is taken, unless ``replace`` is true.
    """
    _registry.register(name, factory, replace=replace)


def reranker_names() -> list[str]:
    """The registered reranker names, sorted."""
    return _registry.names()


def build_reranker(kind: str, **options: object) -> Reranker:
    """A new reranker of the registered ``kind``, built with ``options``.

    Raises InvalidInput for an unknown kind or for options its factory does not take.
    """
    return _registry.build(kind, **options)


def _http(base_url: str | None = None, model: str | None = None, api_key: str | None = None,
          timeout: float = 10) -> Reranker:
    from memvault.rerank.http_api import HTTPReranker

    return HTTPReranker(base_url or "", model or "", api_key, timeout)


register_reranker("http", _http)
