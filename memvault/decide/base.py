"""What a decider is: given new facts and, for each, the owner's most similar live memories, it decides what each
fact does to what is remembered.

The memories go in under short numbers (0, 1, 2, ... per fact), never their ids, so a model cannot invent an id; the
engine maps a decision's number back to the memory. The engine holds every rule about what a decision may do (the
same owner, the same project, never a superseded memory): a decider only proposes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

Event = Literal["ADD", "UPDATE", "SUPERSEDE", "NONE"]
EVENTS: tuple[Event, ...] = ("ADD", "UPDATE", "SUPERSEDE", "NONE")


@dataclass(frozen=True)
class Known:
    """A live memory shown to the decider: its short number for this fact, its text and its cosine to the fact."""

    number: int
    text: str
    similarity: float


@dataclass(frozen=True)
class Decision:
    """What one fact does.

    - ADD: a new memory with `text`; `target` is None.
    - NONE: already known (`target`, when given, is the memory that says it); nothing is written.
    - UPDATE: the memory `target` says the same fact less well: its text becomes `text`.
    - SUPERSEDE: the memory `target` is no longer true: a new memory with `text` is added and `target` is marked
      superseded by it.
    """

    event: Event
    text: str
    target: int | None = None


class Decider(Protocol):
    name: str

    def decide(self, facts: Sequence[str], known: Sequence[Sequence[Known]], *,
               instructions: str | None = None) -> list[Decision]:
        """One decision per fact, in order; `known[i]` are the memories shown for `facts[i]`, best first.
        `instructions` are the project's custom instructions (a model may follow them; rules ignore them).
        Raises memvault.errors.Unavailable when a service it needs fails or answers nonsense."""
        ...
