"""Embedding: texts in, L2-normalised float32 vectors out (see :mod:`memvault.embed.base`).

Embedders are built by name from a small registry. The built-in ones, ``minilm`` (the bundled
all-MiniLM-L6-v2 int8 ONNX model, offline), ``openai`` (any OpenAI-compatible embeddings endpoint)
and ``hashing`` (a deterministic fake for tests), register through :func:`register_embedder`
exactly as an outside one would, and their modules are imported only when one is built::

    embedder = build_embedder("openai", base_url="http://localhost:11434/v1", model="nomic-embed-text")
    vectors = embedder.embed(["I moved to Lyon", "My favourite food is sushi"])  # shape (2, dim)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from memvault.embed.base import Embedder, Vectors
from memvault.registry import Registry

__all__ = [
    "Embedder",
    "EmbedderFactory",
    "Vectors",
    "build_embedder",
    "embedder_names",
    "register_embedder",
]

EmbedderFactory = Callable[..., Embedder]
"""Builds an embedder from keyword options; its signature says which options it takes."""

_registry: Registry[Embedder] = Registry("embedder")


def register_embedder(name: str, factory: EmbedderFactory, *, replace: bool = False) -> None:
    """Make ``build_embedder(name, **options)`` call ``factory(**options)``.

    Raises Conflict when the name is taken, unless ``replace`` is true.
    """
    _registry.register(name, factory, replace=replace)


def embedder_names() -> list[str]:
    """The registered embedder names, sorted."""
    return _registry.names()


def build_embedder(kind: str = "minilm", **options: object) -> Embedder:
    """A new embedder of the registered ``kind``, built with ``options``.

    Raises InvalidInput for an unknown kind or for options its factory does not take.
    """
    return _registry.build(kind, **options)


def _minilm(
    model_path: str | Path | None = None,
    tokenizer_path: str | Path | None = None,
    batch_size: int = 64,
    max_tokens: int | None = None,
    threads: int | None = None,
    cache_size: int = 1024,
) -> Embedder:
    from memvault.embed.onnx_minilm import MAX_BATCH_TOKENS, MiniLMEmbedder

    return MiniLMEmbedder(
        model_path=model_path,
        tokenizer_path=tokenizer_path,
        batch_size=batch_size,
        max_tokens=max_tokens or MAX_BATCH_TOKENS,
        threads=threads,
        cache_size=cache_size,
    )


def _openai(
    base_url: str,
    model: str,
    api_key: str | None = None,
    dim: int | None = None,
    timeout: float = 30,
    batch_size: int = 256,
) -> Embedder:
    from memvault.embed.openai_compat import OpenAICompatEmbedder

    return OpenAICompatEmbedder(
        base_url, model, api_key=api_key, dim=dim, timeout=timeout, batch_size=batch_size
    )


def _hashing(dim: int = 64) -> Embedder:
    from memvault.embed.hashing import HashingEmbedder

    return HashingEmbedder(dim)


register_embedder("minilm", _minilm)
register_embedder("openai", _openai)
register_embedder("hashing", _hashing)
