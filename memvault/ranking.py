"""Hybrid scoring: pure functions that fuse meaning and keyword relevance into one score in 0..1."""

from __future__ import annotations

import re
from collections.abc import Sequence
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

SEMANTIC_WEIGHT = 0.75
KEYWORD_WEIGHT = 0.25


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


def fuse(dense: Sequence[tuple[str, float]], sparse: Sequence[tuple[str, float]]) -> list[Scored]:
    """One score per id: weighted semantic similarity (cosine, clipped to 0..1) and keyword relevance
    (BM25 relative to the best keyword match of this query). Best first; ties by id for stability."""
    semantic = {i: min(1.0, max(0.0, s)) for i, s in dense}
    top = max((s for _, s in sparse), default=0.0)
    keyword = {i: (s / top if top > 0 else 0.0) for i, s in sparse}
    out = []
    for i in dict.fromkeys([*semantic, *keyword]):
        sem, kw = semantic.get(i, 0.0), keyword.get(i, 0.0)
        score = SEMANTIC_WEIGHT * sem + KEYWORD_WEIGHT * kw if keyword else sem
        out.append(Scored(i, round(score, 6), {"semantic": round(sem, 6), "keyword": round(kw, 6)}))
    out.sort(key=lambda s: (-s.score, s.id))
    return out
