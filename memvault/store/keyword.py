"""Keyword relevance with the statistics of the searched scope, the same for every store.

A store finds, for each query term, the memories of the scope that hold it (up to KEYWORD_BUDGET + 1) and
counts the scope (up to SCOPE_COUNT_CAP); `bm25` turns that into one score per memory. Term frequency is
taken as 1 (memories are short); length normalization is BM25's, against the mean length of the matched
memories. A term held by more than KEYWORD_BUDGET memories of the scope is a near stop word there and is left
out, which also bounds the cost: memories only such terms match are still found by meaning. (On LoCoMo, where
a scope is one conversation of 370-660 turns, 100 gave recall@10 0.826 and 300 gave 0.815, every conversation
as good or better; at 100,000 memories 100 reads a third of the rows per term.)

A store may decide a term without finding its memories, when a sample of the scope already settles it
(`needs_lookup`): more than KEYWORD_BUDGET matches among some of the scope's memories prove more than that in
the scope, so the term is left out exactly as if it had been counted; none among all of them proves none.
The answer is the same as counting; only the cost differs (at 1,000,000 memories finding a word held by 4% of
them costs 20-60 ms, reading a sample of 5,000 of the scope about 5 ms for every term at once).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

KEYWORD_BUDGET = 100  # memories of one term a keyword search ranks at most
SCOPE_COUNT_CAP = 5_000  # the scope size an IDF counts up to (bounds the count; IDF differences stay)
K1, B = 1.2, 0.75

Match = tuple[str, int, int]  # memory id, insertion order (ties), text length


def _ranked(per_term: Sequence[Sequence[Match]]) -> list[Sequence[Match]]:
    """The terms' matches that rank: held by some memory of the scope, and no near stop word there."""
    return [rows for rows in per_term if 0 < len(rows) <= KEYWORD_BUDGET]


def needs_lookup(seen: int, sampled: int) -> bool:
    """Whether a term's memories must be found, given `seen` of them among `sampled` memories of the scope (its
    first SCOPE_COUNT_CAP, or all of it when fewer): not when the sample alone holds more than the budget (a near
    stop word in the scope, whatever the rest holds), nor when the sample is the whole scope and holds none."""
    return seen <= KEYWORD_BUDGET and (seen > 0 or sampled >= SCOPE_COUNT_CAP)


def rankable(per_term: Sequence[Sequence[Match]]) -> bool:
    """Whether any term ranks (else a store need not count the scope: there is nothing to rank)."""
    return bool(_ranked(per_term))


def bm25(per_term: Sequence[Sequence[Match]], scope_size: int, k: int) -> list[tuple[str, float]]:
    """The k best (id, score) by BM25 over the terms' matches, ties by insertion order."""
    kept = _ranked(per_term)
    if not kept or k <= 0:
        return []
    lengths = {mid: length for rows in kept for mid, _, length in rows}
    mean = max(1.0, sum(lengths.values()) / len(lengths))
    scores: dict[str, float] = {}
    order: dict[str, int] = {}
    for rows in kept:
        df = len(rows)
        idf = math.log(1.0 + (max(scope_size, df) - df + 0.5) / (df + 0.5))
        for mid, seq, length in rows:
            norm = 1.0 - B + B * length / mean
            scores[mid] = scores.get(mid, 0.0) + idf * (K1 + 1.0) / (1.0 + K1 * norm)
            order[mid] = seq
    return sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))[:k]
