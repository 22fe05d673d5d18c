"""Deciders: what each new fact does to the memories an owner already has (ADD, UPDATE, SUPERSEDE or NONE).

Built by name from a small registry, like the extractors: ``offline`` (rules for the single-valued facts people
state about themselves) and ``llm`` (any OpenAI-compatible chat endpoint) register through
:func:`register_decider` exactly as an outside one would, and their modules are imported only when one is built.
"""

from __future__ import annotations

from collections.abc import Callable

from memvault.decide.base import EVENTS, Decider, Decision, Event, Known
from memvault.registry import Registry

__all__ = [
    "EVENTS",
    "Decider",
    "DeciderFactory",
    "Decision",
    "Event",
    "Known",
    "build_decider",
    "decider_names",
    "register_decider",
]

DeciderFactory = Callable[..., Decider]
"""Builds a decider from keyword options; its signature says which options it takes."""

_registry: Registry[Decider] = Registry("decider")


def register_decider(name: str, factory: DeciderFactory, *, replace: bool = False) -> None:
    """Make ``build_decider(name, **options)`` call ``factory(**options)``. Conflict when the name is taken."""
    _registry.register(name, factory, replace=replace)


def decider_names() -> list[str]:
    """The registered decider names, sorted."""
    return _registry.names()


def build_decider(kind: str = "offline", **options: object) -> Decider:
    """A new decider of the registered ``kind``, built with ``options``; InvalidInput for an unknown kind."""
    return _registry.build(kind, **options)


def _offline() -> Decider:
    from memvault.decide.offline import OfflineDecider

    return OfflineDecider()


def _llm(base_url: str, model: str, api_key: str | None = None, timeout: float = 60) -> Decider:
    from memvault.decide.llm import LLMDecider

    return LLMDecider(base_url, model, api_key=api_key, timeout=timeout)


register_decider("offline", _offline)
register_decider("llm", _llm)
