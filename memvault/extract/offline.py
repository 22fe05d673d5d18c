"""A deterministic, model-free extractor: the user's own statements, cut into standalone facts.

What it does, in order, for each message whose role is ``user`` (any case); system and assistant
messages are ignored and so is ``Message.name``:

1. Normalises the text: typographic apostrophes become ``'``, runs of whitespace become one space.
2. Cuts it into sentences at line breaks (list bullets such as ``-``, ``*``, ``1.`` are removed) and
   after ``.``, ``!``, ``?`` or ``…`` followed by a space (or glued to the next sentence's capital,
   "Acme.I love it"), except after common abbreviations (``Dr.``, ``Mr.``, ``e.g.``, ``p.m.``, ...)
   and initials (``J. Smith``, ``U.S.``).
3. Drops every sentence that ends in ``?``, whole, even if it also states something.
4. Removes leading interjections and markers (``hi,``, ``hi Anna,``, ``ok,``, ``so``, ``well,``,
   ``actually``, ``btw``, ``thanks,``, ...) and fact announcements (``remember that``, ``note that``, ``fyi``,
   ``just so you know``, ...), keeping what follows.
5. Drops questions written without ``?`` ("where should I eat", "is it open"), requests and
   imperatives to the assistant ("can you ...", "please ...", "tell me ...", "let's ...",
   "I want you to ...", a sentence opening with a verb such as "write", "explain", "recommend"),
   sentences about the assistant ("you are ...", "your answer ..."), greetings, thanks and
   filler ("hi", "thanks for the tips", "ok", "sounds good", "me too", "I don't know"), and bare
   answers ("yes I do", "it is").
6. Splits what is left at ``;``, ``, and`` and `` and `` only where both sides are clauses and the
   right side opens with its own first-person or named subject: "I moved to Lyon and I am
   vegetarian" gives two facts; "I like salt and pepper", "I was born in Rome and grew up in Lyon"
   and "I have a sister and she lives in Oslo" stay one (a third-person pronoun would lose its
   referent on its own).
7. Cleans each fact: strips trailing punctuation, writes the pronoun ``i`` as ``I``, capitalises the
   first letter, leaves the rest as said (first person is kept: "I am vegetarian", not "User is
   vegetarian"), drops fragments of fewer than two words, and drops repeats within the call
   (case-insensitive; the first wording wins).

What it does not do: no coreference ("she", "it", "there" stay as written), no negation or
contradiction handling (a later "I no longer eat meat" does not retract "I eat meat"; deduplication
against stored memories is the engine's job), no resolution of time words ("yesterday", "next
week"), no judgement of what is worth remembering beyond the filters above (a plain "It is raining"
is kept), no hypothetical, sarcasm or reported-speech detection, no rewriting into the third person,
and no language other than English: the word lists are English, and other languages get only the
sentence splitting and cleaning. It is a heuristic; use the LLM extractor when quality matters more
than speed and determinism.
"""

from __future__ import annotations

import re

from memvault.extract.base import Message

_MIN_WORDS = 2
_LONGEST_ABBREVIATION = 40  # characters: a longer word before a '.' is no abbreviation (bounds the look back)

_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt vs approx dept est fig inc ltd co corp no e.g i.e a.m p.m".split()
)

# Every pattern below runs in time linear in its input, whatever the input: no two unbounded repetitions
# can share characters (a run is taken whole, possessively, and only from its first character), and no
# pattern is tried again on what an earlier attempt already read. tests/extract/test_linear_time.py holds
# the extractors to it.

# A sentence end: terminal punctuation and any closing quotes or brackets, before whitespace or,
# in hasty typing, right before the next sentence's capital ("I work at Acme.I love it"). Only the
# first character of a run starts a match, and the run is taken whole.
_SENTENCE_END = re.compile(r"(?<![.!?…])[.!?…]++[\"')\]]*+(?=\s|[A-Z][a-z]|I\b)")
_INITIALS = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")
_BULLET = re.compile(r"^(?:[-*•>]++|\d{1,3}[.)])\s++")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_TRAILING_PUNCTUATION = ".,;:!?…-–—"
_LOWER_I = re.compile(r"(?<![\w.'])i(?=$|[\s,;:!?')]|'(?:m|ve|d|ll)\b)")
_CLAUSE_SEPARATOR = re.compile(r";\s*+|(?<!\s)\s++;\s*+|,?(?<!\s)\s++and\s++", re.IGNORECASE)

_INTERJECTION = (
    r"hi|hello|hey|heya|yo|ok|okay|oh|ah|well|so|yes|yeah|yep|no|nope|sure|alright|right|um|uh|hmm"
    r"|thanks|thank you|thx|sorry|also|btw|by the way|anyway|anyhow|actually|honestly|basically|"
    r"you know|i mean|good morning|good evening|good afternoon|great|cool"
)
# An interjection is removed when punctuation, a first-person subject or another interjection
# follows it; a greeting also takes the name or "there" after it ("hi Anna, ..."). This and
# _ANNOUNCEMENT are matched at a position (`pattern.match(text, pos)`), at the start of what is left.
_LEADING_INTERJECTION = re.compile(
    rf"(?:(?:hi|hello|hey|dear)\s+[^\W\d_]+(?:\s+[^\W\d_]+)?\s*[,!:]\s*"
    rf"|(?:{_INTERJECTION})(?:\s+(?:so|very)\s+much|\s+a\s+lot)?"
    rf"(?:\s*+[,!.:;\-–—]++\s*+|\s+(?=(?:i|i'm|i've|i'd|i'll|im|ive|we|my|our|{_INTERJECTION})\b)))",
    re.IGNORECASE,
)
_ANNOUNCEMENT = re.compile(
    r"(?:please\s+)?(?:"
    r"(?:remember|note|keep in mind|don't forget|do not forget|bear in mind)\s+that\s+"
    r"|(?:remember|note|keep in mind|don't forget|do not forget)[\s:,]++(?=(?:i|i'm|i've|my|we|our)\b)"
    r"|(?:fyi|for your information|for the record|just so you know|so you know|just fyi)[\s:,]++"
    r")",
    re.IGNORECASE,
)

_WH_WORDS = frozenset("what where when why who whom whose which how".split())
_QUESTION_AUX = frozenset(
    """is are was were am do does did can could should would will shall may might must have has had
    isn't aren't wasn't weren't don't doesn't didn't can't couldn't shouldn't wouldn't won't
    haven't hasn't""".split()
)
_WH_CONTRACTIONS = frozenset(
    "what's where's when's why's who's how's what're where're who're how're what'd".split()
)
_INVERTED_SUBJECTS = frozenset(
    """i you we he she it they there this that these those the a an my your his her our their
    anyone anybody someone somebody anything something everyone""".split()
)
_SOCIAL = re.compile(
    r"^(?:thanks|thank\s+you|thx|ty|cheers|sorry|apologies|bye|goodbye|welcome|congrats"
    r"|good\s+(?:morning|night|evening|afternoon)|nice\s+to\s+meet|see\s+you|talk\s+(?:to\s+you\s+)?(?:later|soon))\b",
    re.IGNORECASE,
)
_REQUEST = re.compile(
    r"^(?:please|pls|plz|kindly)\b"
    r"|^(?:can|could|would|will|won't|wouldn't|can't|couldn't)\s+(?:you|u)\b"
    r"|^(?:tell|give|show|help|send|remind|let|teach|get|find|bring)\s+(?:me|us)\b"
    r"|^(?:let's|lets|let us)\b"
    r"|^i(?:\s+would|'d|\s+d)?\s+(?:want|need|like|love)\s+(?:you|u)\s+to\b"
    r"|^i(?:'d|\s+would)\s+like\s+to\s+(?:know|ask|understand)\b"
    r"|^i\s+(?:want|need)\s+to\s+(?:know|ask)\b"
    r"|^i(?:'m|\s+am)?\s+(?:was\s+)?(?:wonder|wondering|curious)\s+(?:if|whether|what|how|why|where|when|who)\b"
    r"|^i\s+need\s+(?:some\s+)?(?:help|advice|ideas|suggestions)\b"
    r"|^(?:you|you're|youre|you've|you'll|you'd|your|yours|u)\b"
    r"|^(?:write|rewrite|explain|list|summari[sz]e|translate|suggest|recommend|search|look\s+up|describe"
    r"|draft|create|make|plan|compare|calculate|compute|check|fix|edit|add|set|book|schedule"
    r"|compose|define|answer|continue|try|stop|go\s+ahead|ignore|forget|use|imagine|pretend|act|keep"
    r"|give|show|tell|find|help|remind|send|do|don't|dont|email|order|buy|convert"
    r"|format|shorten|expand|proofread|brainstorm|outline|generate|pick|choose|go|say)\b",
    re.IGNORECASE,
)

_FILLER_WORDS = frozenset(
    """hi hello hey heya yo hiya greetings thanks thank thx ty tysm ok okay k kk sure yes yeah yep yup
    no nope nah great cool nice awesome perfect excellent good fine alright right so much very
    well oh ah ahh hmm hm um uh lol haha hahaha lmao bye goodbye cheers please wow there again
    morning evening afternoon night everyone all a lot you really just indeed totally absolutely
    definitely exactly true agreed noted understood gotcha wonderful brilliant amazing fantastic
    sweet sounds got makes sense see""".split()
)
_FILLER_PHRASES = frozenset(
    [
        "got it",
        "i see",
        "sounds good",
        "sounds great",
        "makes sense",
        "that makes sense",
        "that's great",
        "that is great",
        "that's good",
        "that's nice",
        "that's cool",
        "that's it",
        "that's it for now",
        "that's it for today",
        "that's all for now",
        "that's all for today",
        "that's all",
        "that's true",
        "that's right",
        "will do",
        "no problem",
        "no worries",
        "me too",
        "me neither",
        "same here",
        "not really",
        "not sure",
        "i'm not sure",
        "no idea",
        "i agree",
        "i think so",
        "i don't think so",
        "i guess",
        "i guess so",
        "i hope so",
        "i know",
        "i don't know",
        "i dunno",
        "of course",
        "good point",
        "fair enough",
        "never mind",
        "nevermind",
        "i have a question",
        "quick question",
        "one more thing",
        "one more question",
        "i'm back",
        "i'm good",
        "i'm fine",
        "i'm ok",
        "i'm okay",
        "good for you",
        "how are you",
        "nice to meet you",
        "see you",
        "see you later",
        "talk later",
        "let me think",
    ]
)

# Subjects that may open the right-hand clause of a split: first person only, since a third-person
# pronoun cut off from its clause ("she lives in Oslo") would lose the person it refers to.
_FIRST_PERSON = frozenset("i we".split())
_FIRST_PERSON_CONTRACTED = frozenset("i'm i've i'd i'll im ive we're we've we'd we'll".split())
_POSSESSIVES = frozenset("my our".split())
_ANY_PERSON = frozenset("i we he she they you it".split())
_ANY_PERSON_CONTRACTED = _FIRST_PERSON_CONTRACTED | frozenset(
    """he's she's it's they're they've they'd they'll he'd she'd he'll she'll you're you've""".split()
)
# Words that alone make no fact: "yes I do", "I am not", "it is".
_STUB_WORDS = (
    _ANY_PERSON
    | _ANY_PERSON_CONTRACTED
    | _QUESTION_AUX
    | frozenset("not too either neither also that this".split())
)
_LEADING_ADVERBS = frozenset("then also now so later recently currently still".split())
_NOT_A_PREDICATE = frozenset("and or but nor".split())
_VERBS = frozenset(
    """is are was were am be been being has have had do does did will would can could should shall
    may might must isn't aren't wasn't weren't doesn't don't didn't won't can't couldn't hasn't
    haven't lives live works work loves love likes like hates hate wants want needs need goes go went
    gets get got makes make made says said thinks think knows know plays play studies study teaches
    teach owns own runs run uses use prefers prefer eats eat drinks drink enjoys enjoy speaks speak
    reads read writes write drives drive takes take took comes come came sees see saw feels feel
    felt keeps keep kept lost grew born left became become moved started hurts hurt seems seem looks
    look means mean costs cost belongs belong happens stays stay visits visit travels travel cooks cook
    sings sing swims swim calls call helps help""".split()
)


class OfflineExtractor:
    """Facts from the user's own sentences, by rules alone; see the module docstring for the rules."""

    name = "offline"

    def extract(self, messages: list[Message]) -> list[str]:
        facts: list[str] = []
        seen: set[str] = set()
        for message in messages:
            if message.role.strip().lower() != "user":
                continue
            for fact in facts_in_text(message.content):
                key = fact.casefold()
                if key not in seen:
                    seen.add(key)
                    facts.append(fact)
        return facts


def facts_in_text(text: str) -> list[str]:
    """The facts one user message states, in order, before deduplication."""
    facts: list[str] = []
    for sentence in _sentences(text):
        statement = _statement(sentence)
        if statement is None:
            continue
        for clause in _clauses(statement):
            fact = _clean(clause)
            if fact is not None:
                facts.append(fact)
    return facts


def _sentences(text: str) -> list[str]:
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    sentences: list[str] = []
    for line in text.splitlines():
        line = _BULLET.sub("", " ".join(line.split()))
        start = 0
        for match in _SENTENCE_END.finditer(line):
            if match.group() == "." and _is_abbreviation(_word_before(line, start, match.start())):
                continue
            sentences.append(line[start : match.end()].strip())
            start = match.end()
        sentences.append(line[start:].strip())
    return [sentence for sentence in sentences if sentence]


def _word_before(line: str, start: int, end: int) -> str:
    """The last word of line[start:end], or "" when it is longer than any abbreviation.

    Only the last _LONGEST_ABBREVIATION characters are read, so a line of many abbreviations is read once.
    """
    low = max(start, end - _LONGEST_ABBREVIATION - 1)
    space = line.rfind(" ", low, end)
    if space < 0 and low > start:
        return ""
    return line[max(space + 1, low) : end]


def _is_abbreviation(text: str, *, initials: bool = True) -> bool:
    """Whether the last word of the text, which a '.' follows, is an abbreviation (or an initial)."""
    last = text.rsplit(" ", 1)[-1].lstrip("(\"'").lower()
    if initials and len(last) == 1 and last.isalpha():
        return True
    return last in _ABBREVIATIONS or _INITIALS.fullmatch(last) is not None


def _statement(sentence: str) -> str | None:
    """The sentence without leading filler, or None when it is no statement at all."""
    if sentence.rstrip("\"')]").endswith("?"):
        return None
    start, previous = 0, -1
    while start != previous:  # by position: "ok, ok, ok, ..." is read once, not copied once per "ok"
        previous = start
        for prefix in (_LEADING_INTERJECTION, _ANNOUNCEMENT):
            found = prefix.match(sentence, start)
            if found is not None:
                start = found.end()
    sentence = sentence[start:]
    words = _words(sentence)
    if _is_question(words) or _SOCIAL.match(sentence) or _REQUEST.match(sentence) or _is_filler(words):
        return None
    return sentence


def _is_question(words: list[str]) -> bool:
    if len(words) < 2:
        return bool(words) and words[0] in _WH_CONTRACTIONS
    first, second = words[0], words[1]
    if first in _WH_CONTRACTIONS:
        return True
    if first in _WH_WORDS:
        if second in _QUESTION_AUX:
            return True
        return second not in _INVERTED_SUBJECTS and len(words) > 2 and words[2] in _QUESTION_AUX
    return first in _QUESTION_AUX and second in _INVERTED_SUBJECTS


def _is_filler(words: list[str]) -> bool:
    """Greetings, thanks and acknowledgements, and bare answers such as "I do" or "it is"."""
    return " ".join(words) in _FILLER_PHRASES or all(
        word in _FILLER_WORDS or word in _STUB_WORDS for word in words
    )


def _clauses(statement: str) -> list[str]:
    """The statement split at ';' and 'and' where both sides are clauses of their own."""
    pieces = _CLAUSE_SEPARATOR.split(statement)
    separators = _CLAUSE_SEPARATOR.findall(statement)
    clauses: list[str] = []
    current = [pieces[0]]
    words = _words(pieces[0])
    is_clause, last = _is_clause(words), words[-1:]
    for separator, piece in zip(separators, pieces[1:], strict=True):
        if is_clause and _opens_clause(piece):
            clauses.append("".join(current))
            current = [piece]
            words = _words(piece)
            is_clause, last = _is_clause(words), words[-1:]
        else:
            # Whether the grown text is a clause, from the new words and the one word before them (a subject
            # needs the word after it): a long statement that never splits is read once, not once per separator.
            current += [separator, piece]
            words = last + _words(separator + piece)
            is_clause, last = is_clause or _is_clause(words), words[-1:]
    clauses.append("".join(current))
    return clauses


def _is_clause(words: list[str]) -> bool:
    """Whether the words have a subject and a predicate somewhere (any person)."""
    for index, word in enumerate(words):
        has_next = index + 1 < len(words)
        if word in _ANY_PERSON_CONTRACTED and has_next:
            return True
        if word in _ANY_PERSON and has_next and words[index + 1] not in _NOT_A_PREDICATE:
            return True
        if _is_verb(word) and index > 0:
            return True
    return False


def _opens_clause(text: str) -> bool:
    """Whether the text opens with a first-person or named subject followed by its predicate."""
    original = _WORD.findall(text)
    words = [word.lower() for word in original]
    skip = 0
    while skip < len(words) and words[skip] in _LEADING_ADVERBS:
        skip += 1
    original, words = original[skip:], words[skip:]
    if len(words) < 2:
        return False
    first = words[0]
    if first in _FIRST_PERSON_CONTRACTED:
        return True
    if first in _FIRST_PERSON:
        return words[1] not in _NOT_A_PREDICATE
    if first in _POSSESSIVES:
        return any(_is_verb(word) for word in words[2:4])
    if original[0][0].isupper():
        return _is_verb(words[1]) or (len(words) > 2 and original[1][0].isupper() and _is_verb(words[2]))
    return False


def _is_verb(word: str) -> bool:
    return word in _VERBS or (len(word) > 4 and word.endswith("ed"))


def _clean(clause: str) -> str | None:
    clause = clause.strip()
    end = len(clause)
    while end and (clause[end - 1].isspace() or clause[end - 1] in _TRAILING_PUNCTUATION):
        end -= 1
    fact = clause[:end]
    if clause[len(fact) :].startswith(".") and _is_abbreviation(fact, initials=False):
        fact += "."  # "I live in the U.S." keeps its last dot
    fact = _LOWER_I.sub("I", fact)
    words = _words(fact)
    if len(words) < _MIN_WORDS or _is_filler(words):
        return None
    return fact[0].upper() + fact[1:]


def _words(text: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(text)]
