"""Hybrid scoring: pure functions that fuse meaning, keyword relevance and context into one score in 0..1.

A search gathers candidates from the vector search (cosine) and the keyword search (BM25, IDF-weighted,
stemmed), then asks the store for the exact cosine, text and metadata of every candidate and, with context on, for
the run neighbours (the memories said just before and after in the same run_id, up to `radius` on each side) of
the best `anchors` of them by `base` — a bounded set, whatever the size of the tenant. Each memory scores
(the names are the fields of `Tuning`; `t` is the tuning in use, `DEFAULT` unless a benchmark says otherwise)

    semantic = cosine to the query, clipped to 0..1
    keyword  = BM25 / best BM25 among the candidates * best semantic among them (the latter factor only when
               every keyword candidate's cosine is known)                  (0..1; absent with keyword off)
    base     = t.semantic * semantic + (1 - t.semantic) * keyword         (= semantic with keyword off)

The keyword part is calibrated per query on the meaning's scale: the best keyword match counts as much as the
best match by meaning (a BM25 score has no scale of its own, a cosine has one that varies from query to query;
dividing the BM25 by its best only made the best keyword match worth a perfect cosine, so a query nothing
matched well by meaning was decided by its words). With keyword on, the order is that of the cosine and the BM25
each divided by its best; the score keeps the cosine's scale, so a threshold still reads how well the query
matched. It needs every keyword candidate's cosine (memory search gives them through `neighbours`, chat-history
search through `dense`); without them the keyword part stays BM25 / best BM25. No constant; chosen by
leave-one-conversation-out on LoCoMo (BENCHMARKS.md).

and, with context on, two signals that only ever lower the score and the context, each in 0..1:

    speaker  = 1 if the memory is said by someone the query names, else 0 (a memory "Name: ..." is said by
               Name). Only when the query names the speaker of at least one candidate; else absent.
    date     = 1 if a date in the query (day, or month and year) is a date in one of the memory's metadata
               values, else 0. Only when the query has a date that at least one candidate carries; else absent.
    own      = base * (1 - t.speaker * (1 - speaker))
    context  = max over neighbours n at distance d <= t.radius of t.decay ** (d - 1) * base(n)
    score    = ((1 - t.context) * own + t.context * context) * (1 - t.date * (1 - date))

With rerank on and a reranker configured (memvault.rerank), the best `depth` of those scores are read again
together with the query by the reranker, which gives each a relevance in 0..1:

    score    = (1 - t.rerank) * score + t.rerank * rerank

With context and rerank off, score = base. A reply that answers a question asked one turn earlier ("Yes, last May!")
is found through the turn it answers; the context takes the neighbour's `base`, not its `own`, because
the turn that asks is usually said by the other person. Every part is in 0..1, hence the score: a
threshold cuts on the same scale whatever parts are on. Ties go to the smaller id.

The owner's name. Searched among one owner's memories (a filter on one user_id or agent_id), a query that names
that owner ("What does Dana drink?", and Dana's memories hold "I'm Dana") retrieves as if the name were not there
("What does drink?"): among Dana's memories "I drink green tea" is as much about Dana as "I'm Dana" is, so the name
tells them apart no better than a stop word, yet it makes the short self-introduction the nearest memory by meaning
and the only one by keyword. The owner's names are those a self-introduction among the first tier's candidates
gives (`owner_terms`); from then on every tier's vector and keyword searches use the query without them
(`without`), unless nothing would be left to ask ("Who is Dana?"). The speaker and date signals and a reranker read
the query as given. Measured by bench/people.py (BENCHMARKS.md).

Speakers' names. Likewise, in any scope, a query term that is a word of the name of a speaker of one of the first
tier's candidates ("What did Caroline paint?", a candidate "Caroline: ...") is left out of the retrieval
(`speaker_terms`): the speaker signal already lowers what someone else says, and in the query's vector the name
pulls toward every turn that mentions it. Chosen by leave-one-conversation-out on LoCoMo (BENCHMARKS.md).

Pools. No pool depends on top_k, so the first k hits of a search are the first k of any longer answer of the
same search. An answer is filled in tiers (`tiers`): the first tier answers up to `depth` hits from `candidates`
memories of each search and the neighbours of `anchors` of them; if more hits are asked, the next tier, every
pool twice as large, adds the hits it ranks best that the answer does not hold yet, up to twice the depth;
and so on. A search asking at most `depth` hits (the SDK asks 10) runs one tier.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
    nor not now of off on once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours yourself yourselves
    ever did does what's whats""".split()
)
_WORD = re.compile(r"[\w']+", re.UNICODE)
_ASKING = frozenset("""what who whom whose where when why how which is are was were be been am do does did has have had
    can could will would shall should may might must the a an""".split())



@dataclass(frozen=True)
class Tuning:
    """Every weight and budget the ranking uses, in one place (see the module docstring for what each does).
    `bench/locomo.py --cv` chooses them on some conversations and scores them on others."""

    semantic: float = 0.6  # share of meaning in `base`; keyword relevance has the rest
    speaker: float = 0.5  # how much a memory said by someone the query does not name loses
    date: float = 0.5  # how much a memory loses when the query's date is not one of its dates
    context: float = 0.35  # share of the context in the score
    decay: float = 0.8  # weight of a neighbour two places away, relative to an adjacent one
    radius: int = 2  # neighbours on each side that feed the context
    rerank: float = 0.5  # share of a reranker's relevance in the final score, when one is configured
    depth: int = 30  # hits the first tier answers (and a reranker reads)
    candidates: int = 50  # memories the first tier asks of each of the vector and the keyword search
    anchors: int = 20  # best candidates of the first tier whose run neighbours are fetched

    def __post_init__(self) -> None:
        if not 1 <= self.depth <= self.candidates or self.anchors < 0 or self.radius < 0:
            raise ValueError("a tier answers at most as many hits as it has candidates")


DEFAULT = Tuning()


@dataclass(frozen=True)
class Tier:
    """One round of a search: it fills the answer up to `depth` hits from `candidates` memories per retriever,
    lending context to the best `anchors` of them."""

    depth: int
    candidates: int
    anchors: int


def tiers(t: Tuning = DEFAULT) -> Iterator[Tier]:
    """The tiers of every search, whatever its top_k: the first as tuned, then each twice the one before."""
    scale = 1
    while True:
        yield Tier(t.depth * scale, t.candidates * scale, t.anchors * scale)
        scale *= 2


@dataclass(frozen=True)
class Scored:
    id: str
    score: float
    breakdown: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Candidate:
    """What the store says about one memory near the query: its run position around an anchor (offset 0 is the
    anchor itself), its cosine to the query, and, for the rerank signals, its text and metadata."""

    anchor: str
    id: str
    offset: int
    similarity: float
    text: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)


def query_terms(query: str) -> list[str]:
    """Distinct lower-case words of a query, stop words and single letters left out."""
    words = (w.strip("'").lower() for w in _WORD.findall(query))
    return list(dict.fromkeys(w for w in words if len(w) > 1 and w not in STOP_WORDS))


def reranked(pool: Sequence[Scored], relevance: Sequence[float], t: Tuning = DEFAULT) -> list[Scored]:
    """The pool's scores blended with a reranker's relevance (one per memory, same order), best first, ties by
    id. The breakdown gains a "rerank" part."""
    out = []
    for s, r in zip(pool, relevance, strict=True):
        r = round(_clip(r), 6)
        out.append(Scored(s.id, round(_clip((1 - t.rerank) * s.score + t.rerank * r), 6),
                          {**s.breakdown, "rerank": r}))
    out.sort(key=lambda s: (-s.score, s.id))
    return out


def _clip(x: float) -> float:
    return min(1.0, max(0.0, x))


# speakers ------------------------------------------------------------------------
_SPEAKER = re.compile(r"\s*([^\W\d_][\w.'-]*(?: [^\W\d_][\w.'-]*){0,3})\s*:\s")


def speaker(text: str) -> str | None:
    """Who says a memory written "Name: ..." (up to four words before the colon), lower-case; else None."""
    m = _SPEAKER.match(text)
    return m.group(1).lower() if m else None


def names(query: str, speaker_name: str) -> bool:
    """Whether the query names this speaker (whole words, ignoring case)."""
    return re.search(rf"(?<!\w){re.escape(speaker_name)}(?!\w)", query.lower()) is not None


# the owner's own name --------------------------------------------------------------
# A self-introduction: a memory that opens (after a greeting) with "I'm Dana", "I am Dana Lee", "My name is Dana",
# "My name's Dana", "Call me Dana", or an extractor's "Name is Dana" / "User's name is Dana". The name is the
# capitalized words that follow, up to the end of the clause. A memory said by someone ("Name: ...") is a turn of a
# conversation between several people, not the owner's own voice: it introduces no owner.
_INTRO = re.compile(
    r"\s*(?i:(?:hi|hello|hey)\b[\s,!.]*)?"
    r"(?i:i'm|i\u2019m|i am|(?:my |the user's |user's |user )?name(?:'s| is)|my name\u2019s|call me)\s+"
    r"((?:[^\W\d_][\w'\u2019-]*\s*){1,3})"
)


def introduced(text: str) -> list[str]:
    """The lower-case words of the name a self-introduction gives its speaker ("I'm Dana Lee" -> ["dana", "lee"]);
    [] for any other memory."""
    if speaker(text) is not None:
        return []
    m = _INTRO.match(text)
    if m is None:
        return []
    name = []
    for word in m.group(1).split():  # the capitalized words, up to the first that is not or that ends a clause
        if not word[0].isupper():
            break
        name.append(re.sub(r"['\u2019]s$", "", word))
        if not word[-1].isalnum():
            break
    return query_terms(" ".join(name))


def owner_terms(query: str, texts: Iterable[str]) -> set[str]:
    """The query's terms that name the owner of the searched memories: a name one of them introduces as its
    speaker's own. Among one owner's memories such a term is about every memory ("I drink green tea" is as much
    about Dana as "I'm Dana"), so it tells them apart no better than a stop word."""
    asked = {re.sub(r"'s$", "", w) for w in query_terms(query)}
    return {w for text in texts for w in introduced(text) if w in asked}


def speaker_terms(query: str, texts: Iterable[str]) -> set[str]:
    """The query's terms that are a word of the name of a speaker of these memories ("Name: ..."): "What did
    Caroline paint?" -> {"caroline"} when a candidate is said by Caroline. Who says a memory is the speaker
    signal's business (`fuse` reads the query as given); in the retrieval the name only pulls toward every turn
    that says or mentions it, whatever it is about."""
    asked = {re.sub(r"'s$", "", w) for w in query_terms(query)}
    said = {w for text in texts for w in query_terms(speaker(text) or "")}
    return asked & said


def names_term(term: str, names: Iterable[str]) -> bool:
    """Whether a query term is one of these names or its possessive ("dana's")."""
    return re.sub(r"'s$", "", term) in set(names)


def asks_about(query: str) -> bool:
    """Whether a query asks about something: it holds a word that is no question word, auxiliary or article
    ("Where is from?" does, "Who is?" does not)."""
    return any(w.strip("'").lower() not in _ASKING for w in _WORD.findall(query))


def without(query: str, terms: Iterable[str]) -> str:
    """The query with these words (and their possessive "'s") taken out: "What is Dana's job?" -> "What is job?"."""
    out = query
    for term in terms:
        out = re.sub(rf"(?<![\w']){re.escape(term)}(?:['\u2019]s)?(?![\w'])", " ", out, flags=re.I)
    return re.sub(r"\s+", " ", out).strip()


# dates -----------------------------------------------------------------------------
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_MON = r"(jan|feb|mar|apr|may|jun|jul|aug|sept?|oct|nov|dec)[a-z]*\.?"
_DATE_FORMS: tuple[tuple[re.Pattern[str], tuple[int, int, int]], ...] = (
    # (pattern, group of year, month, day); day 0 = the pattern gives a month only
    (re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MON},?\s+(\d{{4}})\b", re.I), (3, 2, 1)),
    (re.compile(rf"\b{_MON}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I), (3, 1, 2)),
    (re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"), (1, 2, 3)),
    (re.compile(rf"\b{_MON},?\s+(\d{{4}})\b", re.I), (2, 1, 0)),
)


def _month(word: str) -> int:
    if word.isdigit():
        return int(word)
    return next(i for i, m in enumerate(_MONTHS, 1) if m.startswith(word.lower()[:3]))


def dates(text: str) -> list[tuple[int, int, int]]:
    """The dates written in a text as (year, month, day), day 0 when only the month is given. Understands
    "8 May, 2023", "May 8th 2023", "2023-05-08" and "May 2023"."""
    out: list[tuple[int, int, int]] = []
    taken = bytearray(len(text))  # 1 where an earlier form found a date: one pass per form, however many dates
    for pattern, (y, mo, d) in _DATE_FORMS:
        for m in pattern.finditer(text):
            if any(taken[m.start() : m.end()]):
                continue
            taken[m.start() : m.end()] = b"\1" * (m.end() - m.start())
            try:
                found = date(int(m.group(y)), _month(m.group(mo)), int(m.group(d)) if d else 1)
            except ValueError:
                continue
            out.append((found.year, found.month, found.day if d else 0))
    return out


def metadata_dates(metadata: Mapping[str, Any]) -> list[tuple[int, int, int]]:
    """Dates in the string values of a memory's metadata (e.g. a `session_date` a client stored)."""
    return [d for v in metadata.values() if isinstance(v, str) and any(c.isdigit() for c in v) for d in dates(v)]


def same_date(asked: Sequence[tuple[int, int, int]], held: Sequence[tuple[int, int, int]]) -> bool:
    """A day asked matches that day; a month asked matches any day of it."""
    return any((y, m) == (y2, m2) and (d == 0 or d == d2) for y, m, d in asked for y2, m2, d2 in held)


# fusion ----------------------------------------------------------------------------
def fuse(dense: Sequence[tuple[str, float]], sparse: Sequence[tuple[str, float]],
         neighbours: Iterable[Candidate] | None = None, *, keyword: bool = True, context: bool = True,
         query: str = "", t: Tuning = DEFAULT) -> list[Scored]:
    """One score per id, best first (ties by id, so the same input always gives the same order).

    dense: (id, cosine) from the vector search; sparse: (id, relevance >= 0) from the keyword search;
    neighbours: what `Store.neighbours` found — offset 0 gives an anchor's exact cosine, text and metadata,
    other offsets place memories around it in its run. query: the query text, for the speaker and date
    signals. The breakdown has a "keyword" part only with `keyword`, and "speaker", "date" and "context"
    parts only with `context`. Scores and every part of the breakdown are in 0..1.
    """
    semantic: dict[str, float] = {i: _clip(s) for i, s in dense}
    around: dict[str, list[tuple[int, str]]] = {}
    seen: dict[str, Candidate] = {}
    for n in neighbours or ():
        semantic.setdefault(n.id, _clip(n.similarity))
        seen.setdefault(n.id, n)
        if n.offset:
            around.setdefault(n.anchor, []).append((n.offset, n.id))
            around.setdefault(n.id, []).append((-n.offset, n.anchor))
    top = max((s for _, s in sparse), default=0.0)
    # On the meaning's scale of this query: the best keyword match counts as much as the best meaning match. Only
    # when every keyword candidate's cosine is known: one the caller did not give counts as 0 by meaning, and
    # shrinking its keyword part as well would count its lack of a cosine twice.
    known = all(i in semantic for i, _ in sparse)
    scale = (max(semantic.values(), default=0.0) or 1.0) if known else 1.0
    relevance: dict[str, float] = {i: (scale * s / top if top > 0 else 0.0) for i, s in sparse}
    use_kw = bool(relevance)

    def base(i: str) -> float:
        sem, kw = semantic.get(i, 0.0), relevance.get(i, 0.0)
        return t.semantic * sem + (1 - t.semantic) * kw if use_kw else sem

    ids = list(dict.fromkeys([*semantic, *relevance]))
    own = {i: base(i) for i in ids}
    signals: dict[str, dict[str, float]] = {}
    if context and query:
        signals = _signals(query, seen)
    out = []
    for i in ids:
        b = own[i]
        parts = {"semantic": round(semantic.get(i, 0.0), 6)}
        if keyword:
            parts["keyword"] = round(relevance.get(i, 0.0), 6)
        score = b
        if context:
            if "speaker" in signals:
                parts["speaker"] = signals["speaker"].get(i, 0.0)
                score *= 1 - t.speaker * (1 - parts["speaker"])
            ctx = max((t.decay ** (abs(o) - 1) * own.get(n, 0.0) for o, n in around.get(i, ()) if abs(o) <= t.radius),
                      default=0.0)
            parts["context"] = round(ctx, 6)
            score = (1 - t.context) * score + t.context * ctx
            if "date" in signals:
                parts["date"] = signals["date"].get(i, 0.0)
                score *= 1 - t.date * (1 - parts["date"])
        out.append(Scored(i, round(_clip(score), 6), parts))
    out.sort(key=lambda s: (-s.score, s.id))
    return out


def _signals(query: str, seen: Mapping[str, Candidate]) -> dict[str, dict[str, float]]:
    """The speaker and date signals of the memories whose text and metadata the store gave; a signal is left
    out when it matches none of them (it would lower every memory alike)."""
    out: dict[str, dict[str, float]] = {}
    said: dict[str, float] = {}
    verdict: dict[str, bool] = {}
    for i, c in seen.items():
        who = speaker(c.text)
        if who is not None:
            if who not in verdict:
                verdict[who] = names(query, who)
            said[i] = 1.0 if verdict[who] else 0.0
    if any(said.values()):
        out["speaker"] = said
    asked = dates(query)
    if asked:
        when = {i: 1.0 if same_date(asked, metadata_dates(c.metadata)) else 0.0 for i, c in seen.items()}
        if any(when.values()):
            out["date"] = when
    return out
