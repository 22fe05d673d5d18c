"""The Extractor protocol: a conversation in, standalone facts out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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
