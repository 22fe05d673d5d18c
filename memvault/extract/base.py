"""The Extractor protocol: a conversation in, standalone facts out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Message:
    role: str  # "user", "assistant", "system", ...
    content: str
    name: str | None = None


class Extractor(Protocol):
    """Reads messages and returns the facts worth remembering, each a standalone sentence.

    Deduplication against stored memories is the engine's job, not the extractor's.
    """

    name: str

    def extract(self, messages: list[Message]) -> list[str]: ...


@dataclass(frozen=True)
class Fact:
    """A fact with the categories the extractor tagged it with (names from `Guidance.categories`, or none)."""

    text: str
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Guidance:
    """What a project tells its extractor: instructions in its own words, and the categories (name, description)
    a fact may be tagged with. The engine reads them from the project's settings."""

    instructions: str | None = None
    categories: tuple[tuple[str, str], ...] = ()


@runtime_checkable
class GuidedExtractor(Extractor, Protocol):
    """An extractor that also follows a project's instructions and tags facts with its categories (the LLM one).
    The engine uses `extract_guided` when an extractor has it, `extract` otherwise."""

    def extract_guided(self, messages: list[Message], guidance: Guidance) -> list[Fact]: ...
