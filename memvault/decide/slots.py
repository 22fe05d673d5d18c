"""Slots: the single-valued things a text states about a person, read by rules (English only, no model).

A slot holds one value per subject at a time; a new value replaces the old one. The subject is ``"self"`` for
the user: a first-person text ("I live in Lyon", "We moved to Lyon", "My name is Dana"), a text about "User" /
"The user", or one with no subject at all ("Lives in Paris", "Is vegetarian", "Name is Dana"). Anyone else is
the words naming them, without "my"/"the": "brother" (My brother lives in Madrid), "carol", "brother 's wife".
Pronouns ("he", "she", "they", "it") and subjects inside subordinate clauses ("I think that ...") give no slot.

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

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

__all__ = ["SELF", "SLOT_NAMES", "Claim", "Reading", "Slot", "read", "slots"]

SELF = "self"
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
        return {word for word in self.words if word[0].isdigit() or word in _NUMBER_STEMS}

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


# ---- words ----------------------------------------------------------------------------------------------------
# Every pattern here runs in time linear in its input: the tokenizer takes each run whole (possessive), and
# every other pattern is matched at a token start (`match(text, pos)`) over a bounded number of words, or
# searched from a literal. tests/decide/test_offline.py and tests/extract/test_linear_time.py hold it to that.

_TOKEN = re.compile(r"[^\W_]++(?:['\-][^\W_]++)*+|[^\w\s]")
_PUNCT = frozenset(".,;:!?()[]{}\"-–—…/&+*")
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
_MAY_SPLIT = frozenset(".,:-–—()".split() + ["and", "but", "so", "."]) | frozenset(".,:-–—()")

_FILLERS = frozenset(
    """so well ok okay oh ah btw also and but actually anyway yes yeah yep now then currently recently today
    honestly basically update news big fyi hey hi hello finally lately guess what just meanwhile plus""".split()
)
_ADVERBS = frozenset(
    """just recently now also still currently finally already actually really always officially newly happily
    even only both all basically definitely technically again truly fully""".split()
)
_MODALS = frozenset("will would shall might may could should must can".split())
_TO_MODALS = frozenset("going planning plan plans want wants wanted hope hoping about intend intending trying try".split())
_PERFECT_NEXT = frozenset(
    """been lived moved relocated gone become turned started joined quit stopped given got gotten left retired
    married divorced separated worked switched just recently now also finally always never not no already""".split()
)
_VERBS = frozenset(
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


_NUMBER_STEMS = frozenset(_stem(word) for word in _NUMBER_WORDS)


def _content(words: Iterable[str], *, triggers: bool = True) -> list[str]:
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


class _Clause:
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


def _clauses(text: str) -> list[_Clause]:
    """The text cut at ; ! ? and where a first-person subject opens a new clause ("..., I moved", "... and my")."""
    tokens = _tokens(text)
    clauses: list[_Clause] = []
    current: list[tuple[str, str]] = []
    has_verb = False
    for index, (low, orig) in enumerate(tokens):
        after = tokens[index + 1][0] if index + 1 < len(tokens) else ""
        if low in _ALWAYS_SPLIT or (
            low in _MAY_SPLIT and after in _SUBJECT_STARTS and (has_verb or len(current) > 3)
        ):
            if current:
                clauses.append(_Clause(current))
            current, has_verb = [], False
            continue
        current.append((low, orig))
        has_verb = has_verb or low in _VERBS
    if current:
        clauses.append(_Clause(current))
    return clauses


# ---- subjects and the words before the predicate ---------------------------------------------------------------


def _subject(clause: _Clause, index: int) -> tuple[str | None, int]:
    """Who the clause is about ("self", another subject's words, or None) and where its predicate starts."""
    words = clause.words
    start = index
    group: list[str] = []
    nouns = 0
    while index < len(words) and len(group) < 7:
        word = words[index]
        if word in _VERBS or (word in _PUNCT and word != "'s") or word[0].isdigit():
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
class _Mood:
    negated: bool = False
    copula: bool = False
    perfect: bool = False
    past: bool = False
    modal: bool = False


def _modifiers(clause: _Clause, index: int) -> tuple[_Mood, int]:
    """Skips auxiliaries, adverbs and negation before the predicate, noting what they say."""
    mood = _Mood()
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


# ---- values ----------------------------------------------------------------------------------------------------

_STOPS = frozenset(
    """for since with because and but where which who when now last this next ago in on at near by from to as so
    after before until about recently currently too again permanently anymore any year years month months week
    weeks right these nowadays full part during while though although if or then back together alone already yet
    forever temporarily i we my our it is was are 's not of like""".split()
) | _PUNCT
_VAGUE = frozenset("here there this that many several various different some few both all same it them".split())
_ORG_VAGUE = frozenset(
    """home night nights weekend weekends least fun free yourself hours times it that this them him her me us money
    moment living""".split()
)
_CLUBS = frozenset("club team gym group choir band league class course community society network circle church party".split())
_NOT_NAMES = frozenset(
    """american british english french german italian spanish portuguese dutch belgian swiss austrian irish scottish
    welsh canadian mexican brazilian argentinian argentine chilean peruvian colombian cuban australian
    chinese japanese korean vietnamese thai indian pakistani bangladeshi filipino indonesian malaysian
    russian ukrainian polish czech slovak hungarian romanian bulgarian greek turkish swedish norwegian danish
    finnish icelandic israeli iranian iraqi egyptian moroccan algerian tunisian nigerian kenyan ghanaian
    ethiopian african european asian latino latina hispanic arab arabic jewish muslim christian catholic
    protestant buddhist hindu sikh mormon orthodox atheist agnostic ok okay fine good great here back home
    not so very really just also still in at on from with sorry happy sad tired busy new single married
    engaged divorced vegan vegetarian retired gay straight bi trans left right i""".split()
)
_JOB_NOUNS = frozenset(
    """engineer developer programmer coder designer architect scientist analyst researcher consultant manager
    director executive ceo cto cfo coo cio vp president founder co-founder cofounder entrepreneur accountant
    auditor banker lawyer attorney paralegal solicitor barrister judge doctor physician surgeon dentist nurse
    pharmacist therapist psychologist psychiatrist counselor counsellor paramedic vet veterinarian teacher
    professor lecturer tutor instructor coach trainer student intern apprentice writer author journalist editor
    reporter photographer artist painter musician singer actor actress dancer chef cook baker barista bartender
    waiter waitress cashier clerk receptionist secretary assistant administrator officer policeman policewoman
    firefighter soldier pilot driver mechanic electrician plumber carpenter builder technician farmer gardener
    cleaner nanny caregiver carer librarian translator interpreter marketer recruiter salesman saleswoman
    salesperson representative agent broker realtor economist statistician mathematician physicist chemist
    biologist geologist optometrist radiologist midwife worker specialist coordinator supervisor strategist
    planner producer animator illustrator copywriter tester sysadmin administrator freelancer contractor
    homemaker housewife househusband postdoc phd fellow lead principal owner investor trader surveyor
    hairdresser barber tailor butcher welder machinist pharmacologist dietitian nutritionist physiotherapist
    clinician resident intern sommelier curator archivist""".split()
)
_DIETS = {
    "vegetarian": "vegetarian", "vegan": "vegan", "plant-based": "vegan", "pescatarian": "pescatarian",
    "pescetarian": "pescatarian", "omnivore": "omnivore", "omnivorous": "omnivore", "flexitarian": "flexitarian",
    "carnivore": "carnivore", "keto": "keto", "ketogenic": "keto", "paleo": "paleo",
}
_DIET_AFTER = frozenset(
    """now again for since and but these this too as already diet anymore any nowadays lately at most of in
    because so last mostly recently except though since except 100 full-time""".split()
) | _PUNCT
_STATUS_REJECT = frozenset(
    """mom mum mother dad father parent parents man woman men women guy guys girl girls person people couple
    couples friend friends life name room bed file malt player players use digit origin bedroom""".split()
)
_UNITS = frozenset("year years yo y old".split())
_AGE_AFTER = frozenset("and but now today this next in".split()) | _PUNCT
_ONES = dict(zip("one two three four five six seven eight nine".split(), range(1, 10), strict=True))
_TEENS = dict(
    zip("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split(), range(10, 20), strict=True)
)
_TENS = dict(zip("twenty thirty forty fifty sixty seventy eighty ninety".split(), range(20, 100, 10), strict=True))
_AGE_TOKEN = re.compile(r"(\d{1,3}|[a-z]++(?:-[a-z]++)?)-years?-olds?")


def _phrase(clause: _Clause, index: int, stops: frozenset[str], limit: int) -> tuple[list[str], int]:
    words: list[str] = []
    while index < len(clause) and len(words) < limit and clause.words[index] not in stops:
        words.append(clause.words[index])
        index += 1
    return words, index


def _number(word: str) -> int | None:
    if word.isdigit():
        return int(word) if len(word) <= 3 else None
    if word in _ONES:
        return _ONES[word]
    if word in _TEENS:
        return _TEENS[word]
    tens, _, ones = word.partition("-")
    if tens in _TENS and (not ones or ones in _ONES):
        return _TENS[tens] + _ONES.get(ones, 0)
    return None


def _age_at(clause: _Clause, index: int) -> tuple[str, int] | None:
    """An age at `index`: 34, thirty-four, thirty four, 34-year-old, 34 years old; and the index after it."""
    word = clause.word(index)
    token = _AGE_TOKEN.fullmatch(word)
    if token:
        value = _number(token.group(1))
        return (str(value), index + 1) if value is not None and 0 < value < 130 else None
    value = _number(word)
    if value is None:
        return None
    index += 1
    if word in _TENS and clause.word(index) in _ONES:
        value += _ONES[clause.word(index)]
        index += 1
    if not 0 < value < 130:
        return None
    if clause.word(index) in {"years", "year"} and clause.word(index + 1) == "old":
        index += 2
    elif clause.word(index) in {"yo", "y"}:
        index += 1
    elif clause.word(index) and clause.word(index) not in _AGE_AFTER:
        return None  # "I'm 5 minutes late"
    return str(value), index


def _place(clause: _Clause, index: int, *, nested: bool = False) -> tuple[str | None, int]:
    """A place at `index` ("Lyon", "the US", "a flat in Lyon" -> lyon) and the index after it."""
    first = clause.word(index)
    if first in {"a", "an", "my", "our", "his", "her", "their", "your"}:
        for at in range(index + 1, min(index + 8, len(clause))):
            if clause.words[at] in _PUNCT:
                break
            if clause.words[at] == "in" and not nested:
                return _place(clause, at + 1, nested=True)
        return None, index
    if first in _VAGUE or not first or not first[0].isalpha() or first in _STOPS:
        return None, index
    if first == "the":
        index += 1
        if clause.word(index) in {"city", "town", "village"} and clause.word(index + 1) == "of":
            index += 2
    words, end = _phrase(clause, index, _STOPS, 5)
    return (" ".join(words) or None), end


def _org(clause: _Clause, index: int) -> tuple[str | None, int]:
    first = clause.word(index)
    if first == "myself":
        return "self-employed", index + 1
    if not first or first in _ORG_VAGUE or first[0].isdigit() or first in _PUNCT:
        return None, index
    if first in {"the", "a", "an"}:
        index += 1
    words, end = _phrase(clause, index, _STOPS - {"'s"}, 5)
    if not words or words[0] in _ORG_VAGUE:
        return None, end
    return " ".join(words), end


def _job(clause: _Clause, index: int, *, need_noun: bool) -> tuple[str | None, int]:
    """A job title at `index` (after "a", "as a", ...): with `need_noun`, only one ending in a known job noun."""
    if clause.word(index) in {"a", "an", "the"}:
        index += 1
    words, end = _phrase(clause, index, _STOPS | {"living", "based", "working", "who", "which"}, 5)
    kept = [w for w in words if not _AGE_TOKEN.fullmatch(w)]
    if need_noun:
        last = max((at for at, w in enumerate(kept) if w in _JOB_NOUNS), default=-1)
        if last < 0:
            return None, index
        drop = len(kept) - last - 1
        kept = kept[: last + 1]
        end -= drop
    return (" ".join(kept) or None), end


def _name(clause: _Clause, index: int, *, capitalised: bool) -> str | None:
    words: list[str] = []
    while index < len(clause) and len(words) < 3:
        word = clause.words[index]
        if word in _STOPS or not word[0].isalpha() or (capitalised and not clause.capitalised(index)):
            break
        words.append(word)
        index += 1
    if not words or _NOT_NAMES & set(words[0].split("-")) or words[0] in _VAGUE:
        return None
    if capitalised and clause.word(index) and clause.word(index) not in _STOPS:
        return None  # "I'm Italian-born something": not a bare name
    return " ".join(words)


def _favorite_thing(words: list[str]) -> str:
    kept = [w for w in words if w not in {"kind", "type", "sort", "of", "all-time", "absolute", "current"}]
    thing = " ".join(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in kept)
    return thing.replace("colour", "color").replace("flavour", "flavor").replace("neighbour", "neighbor")


def _strip_articles(value: str) -> str:
    words = value.split()
    while words and words[0] in {"the", "a", "an", "my", "our"}:
        words = words[1:]
    return " ".join(words)


# ---- predicates ------------------------------------------------------------------------------------------------
# Each matcher reads one predicate at a word index and answers its items (slot, value, denied, subject override)
# and the index after it, or None. Patterns are matched at a word start and end at a word end (_Clause.match).

_Item = tuple[str, str | None, bool, str | None]


def _word_pattern(pattern: str) -> re.Pattern[str]:
    """A predicate pattern that ends where a word ends (its alternatives are tried until one does)."""
    return re.compile(f"(?:{pattern})(?= |$)")


_Found = tuple[list[_Item], int]

_NEG_BEING = _word_pattern(r"(?:quit|quitting|stopped|gave up|given up|give up) being(?: an?)?(?: strict| strictly)?")
_MEAT_AGAIN = _word_pattern(r"(?:started eating meat|(?:went |am |is )?back to eating meat|(?:eat|eats|eating) meat again)")
_DIET_POSS = _word_pattern(r"diet is(?: now)?(?: an?)?(?: strict| strictly| fully| mostly)?")
_DIET_VERB = _word_pattern(r"(?:went|gone|turned|became|become|switched to|converted to|stayed|remained|started)(?: an?)?")
_DIET_ON = _word_pattern(r"(?:on|following|follow|follows|eat|eats|eating|doing|do|does)(?: an?| the)?")
_DIET_ADVERBS = frozenset("a an strict strictly fully full mostly completely totally 100 now".split())

_STATUS = _word_pattern(r"(?:(got|gotten|became|become) )?(single|married|engaged|divorced|separated|widowed|a widow|a widower)")
_IN_RELATIONSHIP = _word_pattern(
    r"in an?(?: serious| committed| long-distance| long distance| happy| new| steady| open| relationship with)? relationship"
)
_DATING = _word_pattern(r"(dating|seeing)")
_PARTNER = _word_pattern(
    r"(?:have|has|got) an? (?:new )?(girlfriend|boyfriend|partner|fiance|fiancee|fiancé|fiancée|wife|husband|spouse)"
)
_PARTNER_STATUS = {"fiance": "engaged", "fiancee": "engaged", "fiancé": "engaged", "fiancée": "engaged",
                   "wife": "married", "husband": "married", "spouse": "married"}
_BROKE_UP = _word_pattern(r"(?:broke|broken|split) up")
_STATUS_POSS = _word_pattern(r"relationship status is(?: now)?")

_TURNED = _word_pattern(r"turned")
_AGE_POSS = _word_pattern(r"age is(?: now)?")
_AGE_ADVERBS = frozenset("just almost nearly about over a an".split())

_LIVE = _word_pattern(r"(?:live|lives|living|reside|resides|residing|based|located|settled) in")
_LIVED = _word_pattern(r"lived in")
_MOVED = _word_pattern(r"(?:moved|relocated)(?: back| over| permanently| here)? (?:to|into|in)")
_MOVED_FROM = _word_pattern(r"(?:moved|relocated)(?: away)? (?:from|out of)")
_HOME = _word_pattern(r"home is(?: now)? in")

_HOW = r"(?: full-time| part-time| full time| part time| remotely| freelance)?"
_WORK_AT = _word_pattern(rf"(?:work|works|working){_HOW} (?:at|for)")
_HIRED = _word_pattern(r"(?:employed|hired|recruited) (?:by|at)")
_JOINED = _word_pattern(r"joined")
_NEW_JOB_AT = _word_pattern(
    r"(?:(?:started|got|took|landed|accepted|found|have|has|start|starting) an? (?:new )?job|started working|got hired"
    r"|start working|started) (?:at|with|for|by)"
)
_EMPLOYER_POSS = _word_pattern(r"(?:employer|workplace) is(?: now)?")
_SELF_EMPLOYED = _word_pattern(
    r"(?:self-employed|self employed|freelancing|freelance|an? freelancer|(?:run|runs|running) my own (?:business|company))"
)
_QUIT_JOB = _word_pattern(r"(?:quit|left|lost|leaving|quitting) my (?:job|position|role|work)")
_LAID_OFF = _word_pattern(r"(?:got |been |was |were )?(?:laid off|fired|let go)")
_QUIT_WORK = _word_pattern(r"(?:stopped|quit) working (?:at|for)")
_LEFT = _word_pattern(r"(?:quit|left)")

_WORK_AS = _word_pattern(rf"(?:work|works|working|employed|hired){_HOW} as")
_JOB_AS = _word_pattern(
    r"(?:(?:got|have|has|took|started|accepted|landed|found|start|starting) )?(?:an? |my )?(?:new )?"
    r"(?:job|position|role|career) as"
)
_JOB_POSS = _word_pattern(r"(?:job|occupation|profession|job title|title|role|position) is(?: now)?")
_BECAME = _word_pattern(r"(?:became|become|becoming|trained as|qualified as)")
_NO_JOB = _word_pattern(r"(retired|unemployed|jobless|out of work|between jobs)")

_NAME_POSS = _word_pattern(r"name is(?: now)?")
_CALLED = _word_pattern(r"(?:called|named)")
_GO_BY = _word_pattern(r"(?:go|goes) by")
_CALL_ME = re.compile(r"\bcall me (?=\w)")

_FAVORITE = _word_pattern(r"favou?rite")
_IS_MY_FAVORITE = _word_pattern(r"(?:my|our)(?: all-time| absolute| current| new| very)? favou?rite")
_FAVORITE_VERBS = frozenset("is are was were has would will".split())
_FAVORITE_STOPS = frozenset("because since but though although which who as when whereas".split()) | _PUNCT


def _diet(clause: _Clause, at: int, mood: _Mood) -> _Found | None:
    found = clause.match(_NEG_BEING, at)
    if found and clause.word(found[1]) in _DIETS:
        return [("diet", _DIETS[clause.word(found[1])], True, None)], found[1] + 1
    found = clause.match(_MEAT_AGAIN, at)
    if found:
        return [("diet", "omnivore", mood.negated, None)], found[1]
    found = clause.match(_DIET_POSS, at) or clause.match(_DIET_VERB, at) or clause.match(_DIET_ON, at)
    if found:
        at = found[1]
    elif not (mood.copula or mood.perfect) or mood.past:
        return None
    while clause.word(at) in _DIET_ADVERBS:
        at += 1
    diet = clause.word(at)
    if diet == "plant" and clause.word(at + 1) == "based":
        diet, at = "plant-based", at + 1
    if diet not in _DIETS:
        return None
    at += 1
    if clause.word(at) == "diet":
        at += 1
    elif clause.word(at) and clause.word(at) not in _DIET_AFTER:
        return None  # "a vegan chef", "vegan food"
    return [("diet", _DIETS[diet], mood.negated, None)], at


def _relationship(clause: _Clause, at: int, mood: _Mood) -> _Found | None:
    state = mood.copula or mood.perfect
    found = clause.match(_STATUS_POSS, at)
    if found and clause.word(found[1]) in {"single", "married", "engaged", "divorced", "separated", "widowed"}:
        return [("relationship", clause.word(found[1]), mood.negated, None)], found[1] + 1
    found = clause.match(_STATUS, at)
    if found:
        match, end = found
        status = match.group(2).removeprefix("a ")
        status = "widowed" if status in {"widow", "widower"} else status
        after = clause.word(end)
        if not (match.group(1) or state or status in {"married", "divorced", "separated"}) or after in _STATUS_REJECT:
            return None
        if status == "engaged" and after in {"in", "with"}:
            return None
        return [("relationship", status, mood.negated, None)], end
    found = clause.match(_IN_RELATIONSHIP, at) if state else None
    if found:
        return [("relationship", "in a relationship", mood.negated, None)], found[1]
    found = clause.match(_DATING, at) if mood.copula or mood.perfect else None
    if found:
        match, end = found
        who = clause.word(end)
        if who in {"someone", "somebody"}:
            return [("relationship", "dating someone", mood.negated, None)], end + 1
        name = _name(clause, end, capitalised=True)
        if name is None and match.group(1) == "seeing":
            return None
        return [("relationship", f"dating {name}" if name else "dating", mood.negated, None)], end + (
            len(name.split()) if name else 0
        )
    found = clause.match(_PARTNER, at)
    if found:
        status = _PARTNER_STATUS.get(found[0].group(1), "in a relationship")
        return [("relationship", status, mood.negated, None)], found[1]
    found = clause.match(_BROKE_UP, at)
    if found and not mood.negated:
        return [("relationship", "single", False, None)], found[1]
    return None


def _age(clause: _Clause, at: int, mood: _Mood) -> _Found | None:
    found = clause.match(_TURNED, at) or clause.match(_AGE_POSS, at)
    if found:
        age = _age_at(clause, found[1])
        return ([("age", age[0], mood.negated, None)], age[1]) if age else None
    start = at
    while mood.copula and clause.word(at) in _AGE_ADVERBS:
        at += 1
    explicit = _AGE_TOKEN.fullmatch(clause.word(at)) is not None or clause.word(at + 1) in _UNITS
    if not (mood.copula or explicit) or mood.past:
        return None
    age = _age_at(clause, at)
    if age is None:
        return None
    items: list[_Item] = [("age", age[0], mood.negated, None)]
    end = age[1]
    if clause.word(start) in {"a", "an"}:  # "a 34-year-old nurse"
        job, after = _job(clause, end, need_noun=True)
        if job:
            items.append(("job", job, mood.negated, None))
            end = after
    return items, end


def _residence(clause: _Clause, at: int, mood: _Mood) -> _Found | None:
    found = clause.match(_LIVE, at) or clause.match(_HOME, at)
    if found is None and mood.perfect and not mood.past:
        found = clause.match(_LIVED, at)
    if found:
        if mood.past:
            return None
        place, end = _place(clause, found[1])
        return ([("residence", place, mood.negated, None)], end) if place else None
    found = clause.match(_MOVED, at)
    if found:
        place, end = _place(clause, found[1])
        return ([("residence", place, mood.negated, None)], end) if place else None
    found = clause.match(_MOVED_FROM, at)
    if found:
        old, end = _place(clause, found[1])
        items: list[_Item] = [("residence", old, True, None)] if old else []
        if clause.word(end) == "to":
            new, end = _place(clause, end + 1)
            if new:
                items.append(("residence", new, False, None))
        return (items, end) if items else None
    return None


def _employer(clause: _Clause, at: int, mood: _Mood) -> _Found | None:
    items: list[_Item] = []
    found = clause.match(_QUIT_JOB, at) or clause.match(_LAID_OFF, at)
    if found:
        end = found[1]
        if clause.word(end) in {"at", "with", "from", "by", "for"}:
            org, end = _org(clause, end + 1)
            if org:
                return [("employer", org, True, None)], end
        return [("employer", None, True, None), ("job", None, True, None)], end
    found = clause.match(_QUIT_WORK, at)
    if found:
        org, end = _org(clause, found[1])
        return ([("employer", org, True, None)], end) if org else None
    found = clause.match(_SELF_EMPLOYED, at)
    if found and (mood.copula or mood.perfect or not found[0].group().startswith(("self", "a", "free"))):
        return [("employer", "self-employed", mood.negated, None)], found[1]
    found = clause.match(_NO_JOB, at)
    if found and (mood.copula or mood.perfect or found[0].group() == "retired") and not mood.past:
        items = [("job", found[0].group(1).replace("jobless", "unemployed"), mood.negated, None)]
        if not mood.negated:
            items.append(("employer", None, True, None))
        return items, found[1]
    found = clause.match(_WORK_AT, at)
    if found and mood.past:
        return None
    found = found or clause.match(_HIRED, at) or clause.match(_NEW_JOB_AT, at) or clause.match(_EMPLOYER_POSS, at)
    joined = None if found else clause.match(_JOINED, at)
    if joined:
        start = joined[1] + (clause.word(joined[1]) == "the")
        org, end = _org(clause, joined[1])
        if not org or _CLUBS & set(org.split()) or not (clause.capitalised(start) or clause.word(end) == "as"):
            return None
        found = joined
    if found:
        org, end = _org(clause, found[1])
        if org is None:
            if mood.negated and found[0].group().startswith("work"):  # "I'm not working at the moment"
                return [("employer", None, True, None), ("job", None, True, None)], end
            return None
        items.append(("employer", org, mood.negated, None))
        if clause.word(end) == "as":
            job, end = _job(clause, end + 1, need_noun=False)
            if job:
                items.append(("job", job, mood.negated, None))
        return items, end
    found = clause.match(_LEFT, at)
    if found and not mood.negated:
        start = found[1] + (clause.word(found[1]) == "the")
        org, end = _org(clause, found[1])
        if org and clause.capitalised(start):
            return [("employer", org, True, None), ("residence", org, True, None)], end
    return None


def _job_predicate(clause: _Clause, at: int, mood: _Mood) -> _Found | None:
    if mood.past:
        return None
    found = clause.match(_WORK_AS, at) or clause.match(_JOB_AS, at)
    need_noun = False
    if found is None:
        found = clause.match(_JOB_POSS, at) or clause.match(_BECAME, at)
        need_noun = True
    if found:
        at = found[1]
    elif not mood.copula or clause.word(at) not in {"a", "an", "the"}:
        return None
    else:
        need_noun = True
    job, end = _job(clause, at, need_noun=need_noun)
    if not job:
        return None
    items: list[_Item] = [("job", job, mood.negated, None)]
    if clause.word(end) in {"at", "for", "with"}:
        org, after = _org(clause, end + 1)
        if org:
            items.append(("employer", org, mood.negated, None))
            end = after
    return items, end


def _name_predicate(clause: _Clause, at: int, mood: _Mood) -> _Found | None:
    found = clause.match(_NAME_POSS, at) or clause.match(_GO_BY, at)
    if found is None and mood.copula:
        found = clause.match(_CALLED, at)
    if found:
        name = _name(clause, found[1], capitalised=False)
        return ([("name", name, mood.negated, None)], found[1] + len(name.split())) if name else None
    if mood.copula and not mood.past and clause.capitalised(at):
        name = _name(clause, at, capitalised=True)
        if name and name not in _JOB_NOUNS and name not in _DIETS:
            return [("name", name, mood.negated, None)], at + len(name.split())
    return None


def _favorite(clause: _Clause, at: int, mood: _Mood, subject: str | None) -> _Found | None:
    found = clause.match(_FAVORITE, at)
    if found:
        thing, end = _phrase(clause, found[1], _FAVORITE_VERBS | _PUNCT, 4)
        if clause.word(end) not in {"is", "are"} or not thing:
            return None
        end += 1
        while clause.word(end) in {"now", "still", "definitely", "probably", "currently", "actually", "also"}:
            end += 1
        value, end = _phrase(clause, end, _FAVORITE_STOPS, 6)
        value_text = _strip_articles(" ".join(value))
        if not value_text:
            return None
        return [(f"favorite {_favorite_thing(thing)}", value_text, mood.negated, None)], end
    found = clause.match(_IS_MY_FAVORITE, at) if mood.copula and not mood.past else None
    if found and subject not in (None, SELF):
        thing, end = _phrase(clause, found[1], _STOPS, 3)
        if thing:
            return [(f"favorite {_favorite_thing(thing)}", _strip_articles(subject), mood.negated, SELF)], end
    return None


def _predicate(clause: _Clause, at: int, mood: _Mood, subject: str | None) -> _Found | None:
    return (
        _diet(clause, at, mood)
        or _relationship(clause, at, mood)
        or _age(clause, at, mood)
        or _residence(clause, at, mood)
        or _employer(clause, at, mood)
        or _job_predicate(clause, at, mood)
        or _name_predicate(clause, at, mood)
        or _favorite(clause, at, mood, subject)
    )


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


def _read_clause(clause: _Clause, claims: list[Claim]) -> _ClauseReading:
    at = 0
    while at < len(clause) and (clause.words[at] in _FILLERS or clause.words[at] in _PUNCT):
        at += 1
    subject, at = _subject(clause, at)
    mood, at = _modifiers(clause, at)
    predicate_start, owner = at, subject
    if subject is not None and not mood.modal:
        for _ in range(_MAX_PREDICATES):
            found = _predicate(clause, at, mood, subject)
            if found is None:
                break
            items, at = found
            claims.extend(Claim(override or subject, name, value, negated) for name, value, negated, override in items)
            owner = next((override for *_, override in items if override), subject)  # "Blue is my favourite colour"
            while clause.word(at) in _CONNECTORS:
                at += 1
            more, at = _modifiers(clause, at)
            mood = _Mood(
                negated=mood.negated or more.negated, copula=mood.copula or more.copula, perfect=mood.perfect or more.perfect,
                past=more.past, modal=more.modal,
            )
            if mood.modal:
                break
    call = _CALL_ME.search(clause.text)
    if call is not None:
        index = clause.index_at[call.end()]
        name = _name(clause, index, capitalised=False)
        before = set(clause.words[: max(0, index - 2)])
        if name:
            claims.append(Claim(SELF, "name", name, bool(before & {"not", "never"})))
    negated = mood.negated
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
    predicate = _content(words[at:])
    return _ClauseReading(owner, negated, predicate[0] if predicate else None, frozenset(predicate))


def read(text: str) -> Reading:
    """Everything the rules read in a text: claims from every clause; subject, polarity and predicate from the first
    clause that has a subject."""
    claims: list[Claim] = []
    first: _ClauseReading | None = None
    every: list[str] = []
    for clause in _clauses(text):
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
        words=frozenset(_content(every, triggers=False)),
    )
