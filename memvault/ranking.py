"""Hybrid scoring: pure functions that fuse meaning, keyword relevance and context into one score in 0..1.

A search gathers candidates from the vector search (cosine) and the keyword search (BM25, IDF-weighted,
stemmed), then asks the store for the exact cosine of every candidate and for its run neighbours (the
memories said just before and after it in the same run_id). Each memory then scores

    own     = SEMANTIC_WEIGHT * cosine + KEYWORD_WEIGHT * keyword       (keyword: BM25 / best BM25 of the query)
    context = max over neighbours n at distance d of CONTEXT_DECAY ** (d - 1) * own(n)
    score   = (1 - CONTEXT_WEIGHT) * own + CONTEXT_WEIGHT * context     (rerank on)
    score   = own                                                       (rerank off)

so a reply that answers a question asked one turn earlier ("Yes, last May!") is found through the turn
it answers. Without keyword search `own` is the cosine alone. Every part is in 0..1, hence the score:
a threshold cuts on the same scale whatever parts are on. Ties go to the smaller id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

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

SEMANTIC_WEIGHT = 0.6
KEYWORD_WEIGHT = 0.4
CONTEXT_WEIGHT = 0.35
CONTEXT_DECAY = 0.8  # weight of a neighbour two places away, relative to an adjacent one
CONTEXT_RADIUS = 2  # neighbours on each side that feed the context score


@dataclass(frozen=True)
class Scored:
    id: str
    score: float
    breakdown: dict[str, float] = field(default_factory=dict)


def query_terms(query: str) -> list[str]:
    """Distinct lower-case words of a query, stop words and single letters left out."""
    words = (w.strip("'").lower() for w in _WORD.findall(query))
    return list(dict.fromkeys(w for w in words if len(w) > 1 and w not in STOP_WORDS))


def candidate_pool(top_k: int) -> int:
    return max(top_k * 3, 50)


def _clip(x: float) -> float:
    return min(1.0, max(0.0, x))


def fuse(dense: Sequence[tuple[str, float]], sparse: Sequence[tuple[str, float]],
         neighbours: Iterable[tuple[str, str, int, float]] | None = None, *, rerank: bool = True) -> list[Scored]:
    """One score per id, best first (ties by id, so the same input always gives the same order).

    dense: (id, cosine) from the vector search; sparse: (id, relevance >= 0) from the keyword search;
    neighbours: (anchor, id, offset, cosine) rows from `Store.neighbours` — offset 0 gives an anchor's exact
    cosine, other offsets place memories around it in its run. Scores and every part of the breakdown are
    in 0..1.
    """
    semantic: dict[str, float] = {i: _clip(s) for i, s in dense}
    around: dict[str, list[tuple[int, str]]] = {}
    for anchor, nid, offset, sim in neighbours or ():
        semantic.setdefault(nid, _clip(sim))
        if offset:
            around.setdefault(anchor, []).append((offset, nid))
            around.setdefault(nid, []).append((-offset, anchor))
    top = max((s for _, s in sparse), default=0.0)
    keyword: dict[str, float] = {i: (s / top if top > 0 else 0.0) for i, s in sparse}
    use_kw = bool(keyword)

    def base(i: str) -> float:
        sem, kw = semantic.get(i, 0.0), keyword.get(i, 0.0)
        return SEMANTIC_WEIGHT * sem + KEYWORD_WEIGHT * kw if use_kw else sem

    own = {i: base(i) for i in dict.fromkeys([*semantic, *keyword])}
    out = []
    for i, b in own.items():
        parts = {"semantic": round(semantic.get(i, 0.0), 6), "keyword": round(keyword.get(i, 0.0), 6)}
        score = b
        if rerank:
            ctx = max((CONTEXT_DECAY ** (abs(o) - 1) * own.get(n, 0.0) for o, n in around.get(i, ())), default=0.0)
            parts["context"] = round(ctx, 6)
            score = (1 - CONTEXT_WEIGHT) * b + CONTEXT_WEIGHT * ctx
        out.append(Scored(i, round(_clip(score), 6), parts))
    out.sort(key=lambda s: (-s.score, s.id))
    return out

