"""Memory extraction: a conversation in, standalone facts out.

Extractors are built by name from a small registry. The built-in ones, ``offline`` (rules, no
model) and ``llm`` (any OpenAI-compatible chat endpoint), register through
:func:`register_extractor` exactly as an outside one would, and their modules are imported only
when one is built::

    extractor = build_extractor("llm", base_url="http://localhost:11434/v1", model="qwen2.5:7b")
    facts = extractor.extract([Message("user", "I moved to Lyon and I am vegetarian.")])
"""

from __future__ import annotations

from collections.abc import Callable

from memvault.extract.base import Extractor, Message
from memvault.registry import Registry

__all__ = [
    "Extractor",
    "ExtractorFactory",
    "Message",
    "build_extractor",
    "extractor_names",
    "register_extractor",
]

ExtractorFactory = Callable[..., Extractor]
"""Builds an extractor from keyword options; its signature says which options it takes."""

_registry: Registry[Extractor] = Registry("extractor")


def register_extractor(name: str, factory: ExtractorFactory, *, replace: bool = False) -> None:
    """Make ``build_extractor(name, **options)`` call ``factory(**options)``.

    Raises Conflict when the name is taken, unless ``replace`` is true.
    """
    _registry.register(name, factory, replace=replace)


def extractor_names() -> list[str]:
    """The registered extractor names, sorted."""
    return _registry.names()


def build_extractor(kind: str = "offline", **options: object) -> Extractor:
    """A new extractor of the registered ``kind``, built with ``options``.

    Raises InvalidInput for an unknown kind or for options its factory does not take.
    """
    return _registry.build(kind, **options)


def _offline() -> Extractor:
    from memvault.extract.offline import OfflineExtractor

    return OfflineExtractor()


def _llm(base_url: str, model: str, api_key: str | None = None, timeout: float = 60) -> Extractor:
    from memvault.extract.llm import LLMExtractor

    return LLMExtractor(base_url, model, api_key=api_key, timeout=timeout)


register_extractor("offline", _offline)
register_extractor("llm", _llm)
