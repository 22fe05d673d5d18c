"""The offline decider: what a new fact does to the owner's similar memories, by rules over slots (no model).

Each text (the fact and every memory shown with it) is read by :func:`memvault.decide.slots.read`: its slot claims
(residence, employer, job, name, age, relationship, diet, favourite X; stated or denied) and, for facts that
fill no slot, its first clause's subject, polarity and content words. Then, against each memory:

- **SUPERSEDE** when they contradict: the same subject and the same slot with values that do not fit together
  ("I live in Paris" / "I moved to Lyon"); a denial of what the memory states ("I no longer live in Paris",
  "I'm not vegan anymore", "I quit my job" against any employer); a statement of what the memory denies ("I'm
  vegan again" against "I'm not vegan anymore"); and outside the slots, a denial whose words and main verb are
  the memory's ("I no longer drink coffee" against "I drink coffee every morning"), or the reverse.
- **NONE** when the memory already says everything the fact says: every claim (values that fit: "engineer"
  within "software engineer") and every content word, the same subject and polarity; or when the cosine is at
  least DUPLICATE_SIMILARITY, nothing contradicts, and the subjects, the polarity and the numbers are the same.
- **UPDATE** when the fact says everything the memory says and more ("I live in Lyon" <- "I live in Lyon, in
  the Croix-Rousse district with my partner"): the memory's text becomes the fact's.
- **ADD** otherwise: another subject ("My brother lives in Madrid" never touches "I live in Lyon"), another
  slot ("I work in Paris" is no residence), things one has many of ("I love hiking" / "I love climbing"), a
  denial of nothing stored.

When several memories qualify, SUPERSEDE wins over NONE and NONE over UPDATE (a memory left stale beside the
new fact costs more than a fact said twice; a memory that already says it all is not rewritten), and among
memories of the same kind the most similar one is the target (the first shown on a tie). A subject named
like the user (a memory or the fact says "My name is Dana" / "I'm Dana") is the user: "Dana lives in Paris" is
superseded by "I moved to Lyon" when "I'm Dana" is among the memories shown. Custom instructions are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence

from memvault.decide.base import Decision, Event, Known
from memvault.decide.slots import SELF, SLOT_NAMES, Claim, Reading, Slot, read, slots

__all__ = ["DUPLICATE_SIMILARITY", "SLOT_NAMES", "OfflineDecider", "Slot", "decide_fact", "slots"]

DUPLICATE_SIMILARITY = 0.95
"""A memory at least this similar (cosine) is the same fact said again, unless the slots say otherwise."""

_PRECEDENCE: tuple[Event, ...] = ("SUPERSEDE", "NONE", "UPDATE")


class OfflineDecider:
    """Rules over slots; see the module docstring."""

    name = "offline"

    def decide(self, facts: Sequence[str], known: Sequence[Sequence[Known]], *,
               instructions: str | None = None) -> list[Decision]:
        return [decide_fact(fact, known[index] if index < len(known) else ()) for index, fact in enumerate(facts)]


def decide_fact(fact: str, memories: Sequence[Known]) -> Decision:
    """What one fact does, given the memories shown for it."""
    new = read(fact)
    olds = [read(memory.text) for memory in memories]
    names = new.names().union(*(old.names() for old in olds))
    if names:
        new, olds = new.aliased(names), [old.aliased(names) for old in olds]
    best: dict[Event, Known] = {}
    for memory, old in zip(memories, olds, strict=True):
        event = _relation(new, old, memory.similarity)
        if event is not None and (event not in best or memory.similarity > best[event].similarity):
            best[event] = memory
    for event in _PRECEDENCE:
        if event in best:
            return Decision(event, fact, best[event].number)
    return Decision("ADD", fact)


def _relation(new: Reading, old: Reading, similarity: float) -> Event | None:
    if _contradicts(new, old):
        return "SUPERSEDE"
    if _covers(old, new):
        return "NONE"
    if _covers(new, old):
        return "UPDATE"
    if (similarity >= DUPLICATE_SIMILARITY and new.negated == old.negated and new.numbers() == old.numbers()
            and _same_subject(new.subject, old.subject, loose=True)):
        return "NONE"
    return None


def _same_subject(a: str | None, b: str | None, *, loose: bool = False) -> bool:
    """The same person: equal, or one's words within the other's ("brother" / "brother tom"), never the user and
    someone else; with `loose`, an unknown subject fits any."""
    if a == b:
        return True
    if a is None or b is None:
        return loose
    if SELF in (a, b):
        return False
    words_a, words_b = set(a.split()), set(b.split())
    return ("'s" in words_a) == ("'s" in words_b) and (words_a <= words_b or words_b <= words_a)


def _fits(a: str | None, b: str | None) -> bool:
    """Values that can both be true: equal, one within the other ("engineer" / "software engineer"), or unnamed."""
    if a is None or b is None:
        return True
    words_a, words_b = set(a.split()), set(b.split())
    return words_a <= words_b or words_b <= words_a


def _clash(x: Claim, y: Claim) -> bool:
    if x.name != y.name or not _same_subject(x.subject, y.subject):
        return False
    if x.negated == y.negated:
        return not x.negated and not _fits(x.value, y.value)
    return _fits(x.value, y.value)


def _contradicts(new: Reading, old: Reading) -> bool:
    if any(_clash(x, y) for x in new.claims for y in old.claims):
        return True
    if new.negated == old.negated or new.subject is None or not _same_subject(new.subject, old.subject):
        return False
    denial, statement = (new, old) if new.negated else (old, new)
    return bool(denial.predicate) and statement.head in denial.predicate and denial.predicate <= statement.predicate


def _covers(a: Reading, b: Reading) -> bool:
    """Whether `a` says everything `b` says: b's claims, b's content words, about the same subject, as positively."""
    if not (b.claims or b.words) or a.negated != b.negated or not _same_subject(a.subject, b.subject):
        return False
    if not b.claims and a.head != b.head:
        return False
    matched = all(
        any(x.name == y.name and x.negated == y.negated and _same_subject(x.subject, y.subject) and _fits(x.value, y.value)
            for x in a.claims)
        for y in b.claims
    )
    return matched and b.words <= a.words
