"""Slots: the single-valued things a text states about a person, read by rules (English only, no model).

A slot holds one value per subject at a time; a new value replaces the old one. The subject is ``"self"`` for
the user: a first-person text ("I live in Lyon", "My name is Dana"; "we" and "my wife and I" include the user),
a text about "User" / "The user", or one with no subject at all ("Lives in Paris", "Is vegetarian", "Name is
Dana"). Anyone else is the words naming them, without "my" / "the user's": "brother" (My brother lives in Madrid,
The user's brother ...), "carol", "brother 's wife"; "brother" and "brother tom" are the same subject. Pronouns
("he", "she", "they", "it") and subjects inside subordinate clauses ("I think that ...") give no slot.

The slots (``SLOT_NAMES``) and what states them:

- ``residence`` — live/lives/living/reside/based/located/settled in X, moved/relocated (back) to X, moved from
  X to Y, have lived in X, my home is in X. Not: lived in / used to live in / was living in (past), moving to /
  will move to / want to move to (not yet), work in X (a place or a field), I'm from X (origin), visiting X.
- ``employer`` — work/works/working at|for|with X, employed/hired by X, joined X (a capitalised name, not a
  club/team/gym), started (working) at X, got/took/have a (new) job at X, my employer is X, an <job> at X;
  self-employed / freelancer / work for myself give "self-employed".
- ``job`` — work as (a) X, a (new) job as X, my job/occupation/profession/role is X, I'm / became a(n) X where
  X ends in a known job noun (engineer, nurse, teacher, student ...), retired, unemployed.
- ``name`` — my name is X, I'm X / I am X (a capitalised word that is no nationality, religion or state),
  call me X, I go by X, I'm called / named X.
- ``age`` — I'm N (years old), a N-year-old ..., (just) turned N, my age is N; N in digits or words.
- ``relationship`` — single, married, engaged, divorced, separated, widowed (after am/got/became; "married" and
  "divorced" also as verbs), in a relationship, dating X / seeing X, have a girlfriend/boyfriend/partner
  (in a relationship), fiancé(e) (engaged), wife/husband (married), broke up (single).
- ``diet`` — vegetarian, vegan (and plant-based), pescatarian, flexitarian, omnivore, carnivore, keto, paleo:
  after am / went / became / switched to, on a ... diet, follow/eat ..., my diet is ...; eat meat again is
  omnivore. Restrictions that combine with any diet (gluten-free, lactose-free, dairy-free, halal, kosher,
  low-carb) are not diets here: they never replace one.
- ``favorite <thing>`` — my favo(u)rite X is Y, Y is my favo(u)rite X: one slot per thing ("favorite color",
  "favorite food"); colour and color are the same thing.

Negations ("I no longer live in Paris", "I'm not vegan anymore", "I quit my job", "I stopped being vegetarian")
are read too, as negated claims; :func:`slots` leaves them out (they say what is not, not what is). Likes,
hobbies, pets, skills and other things one can have many of are never slots.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from memvault.decide.clauses import (
    FILLERS,
    NUMBER_STEMS,
    PUNCT,
    SELF,
    Clause,
    Mood,
    content_words,
    modifiers,
    split_clauses,
    subject_of,
)
from memvault.decide.predicates import CALL_ME, name_at, predicate_at

__all__ = ["SELF", "SLOT_NAMES", "Claim", "Reading", "Slot", "read", "slots"]

SLOT_NAMES: tuple[str, ...] = ("residence", "employer", "job", "name", "age", "relationship", "diet", "favorite")
"""The slot kinds; a favourite is named per thing: "favorite color", "favorite food", ..."""


@dataclass(frozen=True)
class Slot:
    """One single-valued fact: `subject` ("self" for the user) has `value` (lower case) for slot `name`."""

    subject: str
    name: str
    value: str


@dataclass(frozen=True)
class Claim:
    """A slot stated or denied; a denial may name no value ("I quit my job": no employer, whichever it was)."""

    subject: str
    name: str
    value: str | None
    negated: bool = False


@dataclass(frozen=True)
class Reading:
    """What the rules read in one text: its claims, and its first clause's subject, polarity, main word (`head`)
    and content words (`predicate`); `words` are the content words of the whole text, slot verbs left out."""

    claims: tuple[Claim, ...]
    subject: str | None
    negated: bool
    head: str | None
    predicate: frozenset[str]
    words: frozenset[str]

    def numbers(self) -> set[str]:
        """The numbers the text says, in digits or words ("two kids" and "three kids" differ by these alone)."""
        return {word for word in self.words if word[0].isdigit() or word in NUMBER_STEMS}

    def names(self) -> set[str]:
        """The user's own names this text states."""
        return {c.value for c in self.claims if c.subject == SELF and c.name == "name" and c.value and not c.negated}

    def aliased(self, names: Iterable[str]) -> Reading:
        """The same reading with a subject that is one of the user's names read as the user."""
        words = [set(name.split()) for name in names]
        if not words:
            return self

        def own(subject: str | None) -> str | None:
            if subject is None or subject == SELF:
                return subject
            return SELF if any(set(subject.split()) <= name for name in words) else subject

        claims = tuple(replace(c, subject=own(c.subject) or c.subject) for c in self.claims)
        return replace(self, claims=claims, subject=own(self.subject))


def slots(text: str) -> list[Slot]:
    """The slots a text states (not those it denies), in order, each once; see the module docstring."""
    found: list[Slot] = []
    for claim in read(text).claims:
        if not claim.negated and claim.value is not None:
            slot = Slot(claim.subject, claim.name, claim.value)
            if slot not in found:
                found.append(slot)
    return found



# ---- reading a text --------------------------------------------------------------------------------------------

_CONNECTORS = frozenset(", and also now currently who which".split())
_NEGATING_VERBS = frozenset("quit quitting stopped stop".split())
_RESUMING = frozenset("started start starting began begun begin resumed resume".split())
_MAX_PREDICATES = 6  # per clause: "I'm 34, married and vegan"


@dataclass
class _ClauseReading:
    subject: str | None
    negated: bool
    head: str | None
    predicate: frozenset[str]


def _read_clause(clause: Clause, claims: list[Claim]) -> _ClauseReading:
    at = 0
    while at < len(clause) and (clause.words[at] in FILLERS or clause.words[at] in PUNCT):
        at += 1
    subject, at = subject_of(clause, at)
    mood, at = modifiers(clause, at)
    predicate_start, owner, negated = at, subject, mood.negated
    if subject is not None and not mood.modal:
        for _ in range(_MAX_PREDICATES):
            found = predicate_at(clause, at, mood, subject)
            if found is None:
                break
            items, at = found
            claims.extend(Claim(override or subject, name, value, negated) for name, value, negated, override in items)
            owner = next((override for *_, override in items if override), subject)  # "Blue is my favourite colour"
            while clause.word(at) in _CONNECTORS:
                at += 1
            more, at = modifiers(clause, at)
            mood = Mood(
                negated=mood.negated or more.negated, copula=mood.copula or more.copula, perfect=mood.perfect or more.perfect,
                past=more.past, modal=more.modal,
            )
            if mood.modal:
                break
    call = CALL_ME.search(clause.text)
    if call is not None:
        index = clause.index_at[call.end()]
        name = name_at(clause, index, capitalised=False)
        before = set(clause.words[: max(0, index - 2)])
        if name:
            claims.append(Claim(SELF, "name", name, bool(before & {"not", "never"})))
    words = clause.words
    at = predicate_start
    if words[at : at + 1] and (words[at] in _NEGATING_VERBS or words[at : at + 2] in (["gave", "up"], ["given", "up"])):
        negated = True
        at += 1 if words[at] in _NEGATING_VERBS else 2
    elif not negated:
        while clause.word(at) in _RESUMING or clause.word(at) in {"back", "to", "went"}:
            at += 1
    if clause.word(at) == "being":
        at += 1
    predicate = content_words(words[at:])
    head = next((word for word in predicate if not (word[0].isdigit() or word in NUMBER_STEMS)), None)  # "two kids"
    return _ClauseReading(owner, negated, head, frozenset(predicate))


def read(text: str) -> Reading:
    """Everything the rules read in a text: claims from every clause; subject, polarity and predicate from the first
    clause that has a subject."""
    claims: list[Claim] = []
    first: _ClauseReading | None = None
    every: list[str] = []
    for clause in split_clauses(text):
        reading = _read_clause(clause, claims)
        if first is None or (first.subject is None and reading.subject is not None):
            first = reading
        every.extend(clause.words)
    first = first or _ClauseReading(None, False, None, frozenset())
    claims = [c for c in claims if c.value is None or c.value.strip()]
    return Reading(
        claims=tuple(dict.fromkeys(claims)),
        subject=first.subject,
        negated=first.negated,
        head=first.head,
        predicate=first.predicate,
        words=frozenset(content_words(every, triggers=False)),
    )
