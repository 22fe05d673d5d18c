"""Words and clauses for the slot reader: tokens with contractions opened, clauses cut where a new first-person
subject starts, a clause's subject, and the auxiliaries, adverbs and negation before its predicate.

Every pattern here runs in time linear in its input: the tokenizer takes each run whole (possessive quantifiers),
and everything else walks the tokens a bounded number of times.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

SELF = "self"
"""The subject that is the user."""


_TOKEN = re.compile(r"[^\W_]++(?:['\-][^\W_]++)*+|[^\w\s]")
PUNCT = frozenset(".,;:!?()[]{}\"-–—…/&+*")
_ABBREVIATIONS = frozenset("st mt dr mr mrs ms jr sr inc co ltd corp dept univ ave rd".split())
_SPECIAL = {
    "im": ("i", "am"), "ive": ("i", "have"), "won't": ("will", "not"), "can't": ("can", "not"),
    "cannot": ("can", "not"), "cant": ("can", "not"), "dont": ("do", "not"), "doesnt": ("does", "not"),
    "didnt": ("did", "not"), "isnt": ("is", "not"), "arent": ("are", "not"), "wasnt": ("was", "not"),
    "havent": ("have", "not"), "hasnt": ("has", "not"), "wont": ("will", "not"),
}
_SUFFIXES = (("n't", "not"), ("'m", "am"), ("'re", "are"), ("'ve", "have"), ("'ll", "will"), ("'d", "would"),
             ("'s", "'s"))
_IS_AFTER = frozenset("he she it that there what who here".split())
_SLOT_NOUNS = frozenset(
    "name age job diet home employer occupation profession favorite favourite role position title relationship workplace".split()
)
_IS_BEFORE = frozenset(
    """a an the now not no still just also really currently from in at been got based living moving moved
    married single engaged divorced separated widowed vegan vegetarian pescatarian keto paleo retired going
    working studying dating seeing always never very so pretty quite back home away originally over""".split()
)

_SUBJECT_STARTS = frozenset("i we my our user".split())
_ALWAYS_SPLIT = frozenset(";!?")
_MAY_SPLIT = frozenset([".", ",", ":", "-", "–", "—", "(", ")", "and", "but", "so"])

FILLERS = frozenset(
    """so well ok okay oh ah btw also and but actually anyway yes yeah yep now then currently recently today
    honestly basically update news big fyi hey hi hello finally lately guess what just meanwhile plus""".split()
)
_ADVERBS = frozenset(
    """just recently now also still currently finally already actually really always officially newly happily
    even only both all basically definitely technically again truly fully""".split()
)
_FORMERLY = frozenset("previously formerly once".split())
_MODALS = frozenset("will would shall might may could should must can".split())
_TO_MODALS = frozenset("going planning plan plans want wants wanted hope hoping about intend intending trying try".split())
_PERFECT_NEXT = frozenset(
    """been lived moved relocated gone become turned started joined quit stopped given got gotten left retired
    married divorced separated worked switched just recently now also finally always never not no already""".split()
)
_VERBS = _FORMERLY | frozenset(
    """am is are was were be been being have has had do does did will would can could should might may must not
    no never live lives living lived reside resides moved move moves relocated work works working worked joined
    started quit stopped left got get gets became become becomes went go goes turned turns married divorced
    broke dating like likes love loves enjoy enjoys prefer prefers hate hates eat eats drink drinks play plays
    own owns want wants need needs follow follows speak speaks study studies teach teaches smoke smokes run runs
    retired lost used call calls think thinks said says plan plans planning hope hoping going trying decided doing""".split()
) | _ADVERBS
_COMPLEX = frozenset(
    "when if because before after while that who which think thinks believe guess hope wish said says told".split()
)
_PRONOUNS = frozenset("he she they it this that there these those you someone everyone somebody his her their its your".split())
_DROP = frozenset("my our the a an".split())
_PRONOUN_OWNERS = frozenset("his her their its your".split())
_SLOT_ADJECTIVES = frozenset("current new all-time absolute present real first very top".split())

_STOPWORDS = frozenset(
    """i me my mine we us our you your he him his she her they them their it its this that these those the a an
    am is are was were be been being have has had do does did will would can could should shall might may must
    not no never in at on to for of with from by as into onto about and or but so then than 's user
    now currently still just really actually also already recently finally today these days nowadays anymore
    any more again big news update btw fyi well oh ok okay yes yeah very quite pretty too""".split()
)
_TRIGGERS = frozenset(
    """live lives living lived reside resides residing based located settled moved move relocated home work works
    working job employed employer hired joined started company name named called call go age year years old
    turned diet favorite favourite got get became become quit stopped gave given longer""".split()
)
_NUMBER_WORDS = """one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen
    seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred""".split()
_SPELLINGS = {"colour": "color", "flavour": "flavor", "neighbour": "neighbor", "centre": "center", "theatre": "theater"}


def _stem(word: str) -> str:
    """A crude stem, the same on both sides of a comparison: smoking, smokes, smoke -> smok."""
    if len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith("ied"):
        word = word[:-3] + "y"
    elif len(word) > 4 and word.endswith(("ed", "es")):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiousl":
        word = word[:-1]
    return word


NUMBER_STEMS = frozenset(_stem(word) for word in _NUMBER_WORDS)


def content_words(words: Iterable[str], *, triggers: bool = True) -> list[str]:
    """The stems of the words that carry content; without `triggers`, the words that only state a slot (live, moved,
    work, name ...) are left out too, so "I live in Lyon" and "I moved to Lyon" say the same words."""
    return [
        _stem(_SPELLINGS.get(w, w)) for w in words if w[0].isalnum() and w not in _STOPWORDS and (triggers or w not in _TRIGGERS)
    ]


def _tokens(text: str) -> list[tuple[str, str]]:
    """(lower, original) word and punctuation tokens, contractions opened ("I'm" -> I, am; "don't" -> do, not)."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    out: list[tuple[str, str]] = []
    for match in _TOKEN.finditer(text):
        orig = match.group()
        low = orig.lower()
        if len(low) != len(orig):
            orig = low
        if low == "." and out and (out[-1][0] in _ABBREVIATIONS or (len(out[-1][0]) == 1 and out[-1][0].isalpha())):
            continue  # "St." "U.S.": no sentence end
        parts: tuple[str, ...] = _SPECIAL.get(low, ())
        if not parts:
            for suffix, word in _SUFFIXES:
                if low.endswith(suffix) and len(low) > len(suffix):
                    parts = (low[: -len(suffix)], word)
                    break
        if parts:
            out.append((parts[0], orig[: len(parts[0])] if orig.lower().startswith(parts[0]) else parts[0]))
            out.extend((part, part) for part in parts[1:])
        else:
            out.append((low, orig))
    # "'s" is "is" after a pronoun or a slot noun, or before what only follows "is"; else a possessive
    for index, (low, _) in enumerate(out):
        if low == "'s" and index:
            before = out[index - 1][0]
            after = out[index + 1][0] if index + 1 < len(out) else ""
            if before in _IS_AFTER or before in _SLOT_NOUNS or after in _IS_BEFORE or after.isdigit():
                out[index] = ("is", "is")
    return out


class Clause:
    """One clause's tokens, and the same words joined by single spaces for anchored patterns."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.words = [low for low, _ in tokens]
        self.orig = [orig for _, orig in tokens]
        self.text = " ".join(self.words)
        self.starts: list[int] = []
        position = 0
        for word in self.words:
            self.starts.append(position)
            position += len(word) + 1
        self.index_at = {start: index for index, start in enumerate(self.starts)}

    def __len__(self) -> int:
        return len(self.words)

    def word(self, index: int) -> str:
        return self.words[index] if 0 <= index < len(self.words) else ""

    def capitalised(self, index: int) -> bool:
        return 0 <= index < len(self.orig) and self.orig[index][:1].isupper()

    def match(self, pattern: re.Pattern[str], index: int) -> tuple[re.Match[str], int] | None:
        """The pattern matched at word `index`, ending at a word end, and the index of the word after it."""
        if index >= len(self.words):
            return None
        found = pattern.match(self.text, self.starts[index])
        if found is None:
            return None
        end = found.end()
        if end == len(self.text):
            return found, len(self.words)
        if self.text[end] != " ":
            return None
        return found, self.index_at[end + 1]


def split_clauses(text: str) -> list[Clause]:
    """The text cut at ; ! ? and where a first-person subject opens a new clause ("..., I moved", "... and my")."""
    tokens = _tokens(text)
    clauses: list[Clause] = []
    current: list[tuple[str, str]] = []
    has_verb = False
    for index, (low, orig) in enumerate(tokens):
        after = tokens[index + 1][0] if index + 1 < len(tokens) else ""
        if low in _ALWAYS_SPLIT or (
            low in _MAY_SPLIT and after in _SUBJECT_STARTS and (has_verb or len(current) > 3)
        ):
            if current:
                clauses.append(Clause(current))
            current, has_verb = [], False
            continue
        current.append((low, orig))
        has_verb = has_verb or low in _VERBS
    if current:
        clauses.append(Clause(current))
    return clauses


# ---- subjects and the words before the predicate ---------------------------------------------------------------


def subject_of(clause: Clause, index: int) -> tuple[str | None, int]:
    """Who the clause is about ("self", another subject's words, or None) and where its predicate starts."""
    words = clause.words
    start = index
    group: list[str] = []
    nouns = 0
    while index < len(words) and len(group) < 7:
        word = words[index]
        if word in _VERBS or word in PUNCT or word[0].isdigit():
            break
        if nouns and not clause.capitalised(index) and word.endswith(("s", "ed")) and not word.endswith(
            ("ss", "us", "'s")
        ) and word not in _SLOT_NOUNS:
            break  # "my brother smokes": a verb the lists do not know
        group.append(word)
        if word not in _DROP:
            nouns += 1
        index += 1
        if word in {"i", "we"} and clause.word(index) != "and":
            break  # the subject ends at its pronoun: "I plan to ...", "my wife and I moved"
    if not group:
        return (SELF, start) if index < len(words) else (None, start)
    if _COMPLEX & set(group):
        return None, index
    if {"i", "me", "we", "us"} & set(group):
        return SELF, index
    for position, word in enumerate(group):
        if word in _SLOT_NOUNS:  # "my name", "the user's favourite", "my brother's age"
            owner = [w for w in group[:position] if w not in _DROP and w not in _SLOT_ADJECTIVES]
            if word == "name" and position and group[position - 1] in {"last", "family", "middle", "maiden", "user"}:
                return None, index
            return _owner(owner), start + position
    if group[0] in _PRONOUNS:
        return None, index
    rest = [w for w in group if w not in _DROP]
    if rest[:2] == ["user", "'s"] and len(rest) > 2:
        rest = rest[2:]  # "the user's brother" is "my brother"
    if not rest:
        return None, index
    if rest == ["user"]:
        return SELF, index
    return " ".join(rest), index


def _owner(words: list[str]) -> str | None:
    if not words or words in (["user"], ["user", "'s"]):
        return SELF
    if words[0] in _PRONOUN_OWNERS or words[0] in _PRONOUNS:
        return None
    if words[-1] == "'s":
        words = words[:-1]
    return " ".join(words) if words else None


@dataclass
class Mood:
    """What the words before a predicate say: denied (not, no longer, never), after a copula (am, is), in a perfect
    (have been), in the past (was, used to, had), or not (yet) a fact (will, want to, going to)."""

    negated: bool = False
    copula: bool = False
    perfect: bool = False
    past: bool = False
    modal: bool = False


def modifiers(clause: Clause, index: int) -> tuple[Mood, int]:
    """Skips auxiliaries, adverbs and negation before the predicate, noting what they say."""
    mood = Mood()
    while index < len(clause):
        word, after = clause.word(index), clause.word(index + 1)
        if word in {"am", "is", "are"}:
            mood.copula = True
        elif word in {"was", "were"}:
            mood.copula = mood.past = True
        elif word in {"have", "has", "had"}:
            if after not in _PERFECT_NEXT:
                break
            mood.perfect = True
            mood.past = mood.past or word == "had"
        elif word in {"do", "does", "did"}:
            if after != "not" and after not in _ADVERBS:
                break
            mood.past = mood.past or word == "did"
        elif word in _MODALS:
            mood.modal = True
        elif word in {"not", "never"}:
            mood.negated = True
        elif word == "no" and after == "longer":
            mood.negated = True
            index += 1
        elif word in _FORMERLY:
            mood.past = True
        elif word == "used" and after == "to":
            mood.past = True
            index += 1
        elif word in _TO_MODALS and after == "to":
            mood.modal = True
            index += 1
        elif word not in _ADVERBS and word != "been":
            break
        index += 1
    return mood, index
