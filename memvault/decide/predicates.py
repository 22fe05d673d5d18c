"""Predicates for the slot reader: each matcher reads one slot-stating predicate at a word of a clause ("moved to
Lyon", "a software engineer at Stripe", "not vegan anymore") and the value in it.

Patterns are matched at a word start and must end at a word end (`Clause.match`), over a bounded number of words,
so reading a clause takes time linear in its length; tests/extract/test_linear_time.py holds the decider to it.
"""

from __future__ import annotations

import re

from memvault.decide.clauses import PUNCT, SELF, Clause, Mood

_STOPS = frozenset(
    """for since with because and but where which who when now last this next ago in on at near by from to as so
    after before until about recently currently too again permanently anymore any year years month months week
    weeks right these nowadays full part during while though although if or then back together alone already yet
    forever temporarily i we my our it is was are 's not of like""".split()
) | PUNCT
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
    engaged divorced vegan vegetarian retired gay straight bi trans left right i black white deaf blind aries
    taurus gemini cancer virgo libra scorpio sagittarius capricorn aquarius pisces""".split()
)
_JOB_NOUNS = frozenset(
    """engineer developer programmer coder designer architect scientist analyst researcher consultant manager
    director executive ceo cto cfo coo cio vp president founder co-founder cofounder entrepreneur accountant
    auditor banker lawyer attorney paralegal solicitor barrister judge doctor physician surgeon dentist nurse
    pharmacist therapist psychologist psychiatrist counselor counsellor paramedic vet veterinarian teacher
    professor lecturer tutor instructor coach trainer student intern apprentice writer author journalist editor
    reporter photographer artist painter musician singer actor actress dancer chef baker barista bartender
    waiter waitress cashier clerk receptionist secretary assistant administrator officer policeman policewoman
    firefighter soldier pilot driver mechanic electrician plumber carpenter builder technician farmer gardener
    cleaner nanny caregiver carer librarian translator interpreter marketer recruiter salesman saleswoman
    salesperson representative agent broker realtor economist statistician mathematician physicist chemist
    biologist geologist optometrist radiologist midwife worker specialist coordinator supervisor strategist
    planner producer animator illustrator copywriter tester sysadmin freelancer contractor
    homemaker housewife househusband postdoc phd lead investor trader surveyor
    hairdresser barber tailor butcher welder machinist pharmacologist dietitian nutritionist physiotherapist
    clinician sommelier curator archivist""".split()
)
_NOT_A_JOB = frozenset(
    """good great bad terrible decent keen amateur avid big huge aspiring wannabe proud fellow hobby former ex
    future recovering self-taught weekend""".split()
)
_DIETS = {
    "vegetarian": "vegetarian", "vegan": "vegan", "plant-based": "vegan", "pescatarian": "pescatarian",
    "pescetarian": "pescatarian", "omnivore": "omnivore", "omnivorous": "omnivore", "flexitarian": "flexitarian",
    "carnivore": "carnivore", "keto": "keto", "ketogenic": "keto", "paleo": "paleo",
}
_DIET_AFTER = frozenset(
    """now again for since and but these this too as already diet anymore any nowadays lately at most of in
    because so last mostly recently except though 100 full-time""".split()
) | PUNCT
_STATUS_REJECT = frozenset(
    """mom mum mother dad father parent parents man woman men women guy guys girl girls person people couple
    couples friend friends life name room bed file malt player players use digit origin bedroom""".split()
)
_UNITS = frozenset("year years yo y old".split())
_AGE_AFTER = frozenset("and but now today this next in".split()) | PUNCT
_ONES = dict(zip("one two three four five six seven eight nine".split(), range(1, 10), strict=True))
_TEENS = dict(
    zip("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split(), range(10, 20), strict=True)
)
_TENS = dict(zip("twenty thirty forty fifty sixty seventy eighty ninety".split(), range(20, 100, 10), strict=True))
_AGE_TOKEN = re.compile(r"(\d{1,3}|[a-z]++(?:-[a-z]++)?)-years?-olds?")


def _phrase(clause: Clause, index: int, stops: frozenset[str], limit: int) -> tuple[list[str], int]:
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


def _age_at(clause: Clause, index: int) -> tuple[str, int] | None:
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


def _place(clause: Clause, index: int, *, nested: bool = False) -> tuple[str | None, int]:
    """A place at `index` ("Lyon", "the US", "a flat in Lyon" -> lyon) and the index after it."""
    first = clause.word(index)
    if first in {"a", "an", "my", "our", "his", "her", "their", "your"}:
        for at in range(index + 1, min(index + 8, len(clause))):
            if clause.words[at] in PUNCT:
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


def _org(clause: Clause, index: int) -> tuple[str | None, int]:
    first = clause.word(index)
    if first == "myself":
        return "self-employed", index + 1
    if not first or first in _ORG_VAGUE or first[0].isdigit() or first in PUNCT:
        return None, index
    if first in {"the", "a", "an"}:
        index += 1
    words, end = _phrase(clause, index, _STOPS - {"'s"}, 5)
    if not words or words[0] in _ORG_VAGUE:
        return None, end
    return " ".join(words), end


def _job(clause: Clause, index: int, *, need_noun: bool) -> tuple[str | None, int]:
    """A job title at `index` (after "a", "as a", ...): with `need_noun`, only one ending in a known job noun."""
    if clause.word(index) in {"a", "an", "the"}:
        index += 1
    words, end = _phrase(clause, index, _STOPS | {"living", "based", "working", "who", "which"}, 5)
    kept = [w for w in words if not _AGE_TOKEN.fullmatch(w)]
    if _NOT_A_JOB & set(kept):
        return None, index  # "a good cook", "an aspiring writer", "a former nurse"
    if need_noun:
        last = max((at for at, w in enumerate(kept) if w in _JOB_NOUNS), default=-1)
        if last < 0:
            return None, index
        drop = len(kept) - last - 1
        kept = kept[: last + 1]
        end -= drop
    return (" ".join(kept) or None), end


def name_at(clause: Clause, index: int, *, capitalised: bool) -> str | None:
    """A name of one to three words at `index`; with `capitalised` (after a bare "I'm"), only capitalised words
    that are no acronym ("ADHD"), nationality, religion or state, and nothing after them but a stop word."""
    words: list[str] = []
    while index < len(clause) and len(words) < 3:
        word = clause.words[index]
        if word in _STOPS or not word[0].isalpha():
            break
        if capitalised and (not clause.capitalised(index) or (len(word) > 1 and clause.orig[index].isupper())):
            break
        words.append(word)
        index += 1
    if not words or _NOT_NAMES & set(words[0].split("-")) or words[0] in _VAGUE:
        return None
    if capitalised and clause.word(index) and (clause.word(index) == "'s" or clause.word(index) not in _STOPS):
        return None  # "I'm Carol's sister", "I'm Italian-born something": not a bare name
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
# and the index after it, or None. Patterns are matched at a word start and end at a word end (Clause.match).

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
CALL_ME = re.compile(r"\bcall me (?=\w)")

_FAVORITE = _word_pattern(r"favou?rite")
_IS_MY_FAVORITE = _word_pattern(r"(?:my|our)(?: all-time| absolute| current| new| very)? favou?rite")
_FAVORITE_VERBS = frozenset("is are was were has would will".split())
_FAVORITE_STOPS = frozenset("because since but though although which who as when whereas".split()) | PUNCT


def _diet(clause: Clause, at: int, mood: Mood) -> _Found | None:
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


def _relationship(clause: Clause, at: int, mood: Mood) -> _Found | None:
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
        name = name_at(clause, end, capitalised=True)
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


def _age(clause: Clause, at: int, mood: Mood) -> _Found | None:
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


def _residence(clause: Clause, at: int, mood: Mood) -> _Found | None:
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


def _employer(clause: Clause, at: int, mood: Mood) -> _Found | None:
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


def _job_predicate(clause: Clause, at: int, mood: Mood) -> _Found | None:
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


def _name_predicate(clause: Clause, at: int, mood: Mood) -> _Found | None:
    found = clause.match(_NAME_POSS, at) or clause.match(_GO_BY, at)
    if found is None and mood.copula:
        found = clause.match(_CALLED, at)
    if found:
        name = name_at(clause, found[1], capitalised=False)
        return ([("name", name, mood.negated, None)], found[1] + len(name.split())) if name else None
    if mood.copula and not mood.past and clause.capitalised(at):
        name = name_at(clause, at, capitalised=True)
        if name and name not in _JOB_NOUNS and name not in _DIETS:
            return [("name", name, mood.negated, None)], at + len(name.split())
    return None


def _favorite(clause: Clause, at: int, mood: Mood, subject: str | None) -> _Found | None:
    found = clause.match(_FAVORITE, at)
    if found:
        thing, end = _phrase(clause, found[1], _FAVORITE_VERBS | PUNCT, 4)
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


def predicate_at(clause: Clause, at: int, mood: Mood, subject: str | None) -> _Found | None:
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
