"""Hybrid search: the keyword half runs beside the embedding of the query, both pools are fused tier by tier
(memvault.ranking holds the pure scoring functions), and a configured reranker reads the best candidates again."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from .. import filters as F
from .. import ranking
from .. import validate as V
from ..embed.base import Vectors
from ..embed.batching import embed_query
from ..errors import InvalidInput, Unavailable
from ..models import SearchHit, SearchOptions
from .core import EngineCore

log = logging.getLogger(__name__)

OWNERS = ("user_id", "agent_id")  # the fields that make a scope one owner's memories


@dataclass
class _Asked:
    """What one search asks: the query as given (the speaker and date signals and a reranker read it) and what
    the retrieval seeks (the query, or the query without the name of the owner it is asked of), its keyword terms
    and its vector once embedded. `one_owner`: the filter keeps one owner's memories; `settled`: the first tier
    has looked for the owner's and the speakers' names."""

    text: str
    seek: str
    terms: list[str]
    one_owner: bool
    vector: Vectors | None = None
    settled: bool = False


def _one_owner(where: F.Node | None) -> bool:
    """Whether the filter keeps the memories of one user or one agent only (an `eq` on it, alone or in `and`s)."""
    if isinstance(where, F.And):
        return any(_one_owner(item) for item in where.items)
    return isinstance(where, F.Cond) and where.field in OWNERS and where.op == "eq"


class Beside:
    """The few threads a search runs its keyword half on, started on first use and stopped by `close`."""

    def __init__(self) -> None:
        self._workers: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Any, *args: Any) -> Future[Any]:
        with self._lock:
            if self._workers is None:
                self._workers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="memvault-search")
            return self._workers.submit(fn, *args)

    def close(self) -> None:
        with self._lock:
            workers, self._workers = self._workers, None
        if workers is not None:
            workers.shutdown(wait=True)


class Search(EngineCore):
    _beside: Beside  # made by Engine.__init__

    def search(self, project_id: str, query: Any, where: F.Node | None = None,
               options: SearchOptions | None = None, *, latest_only: Any = True) -> list[SearchHit]:
        """The best memories for `query`, best first; superseded memories only with `latest_only=False`."""
        started = time.perf_counter()
        opts = options or SearchOptions()
        latest_only = V.flag(latest_only, "latest_only")
        query = self._text(query, "query")
        where = self._where(project_id, where)
        if not 1 <= opts.top_k <= self.limits.max_top_k:
            raise InvalidInput(f"top_k must be between 1 and {self.limits.max_top_k}")
        if opts.threshold is not None and not 0.0 <= opts.threshold <= 1.0:
            raise InvalidInput("threshold must be between 0 and 1")
        where = self._live(where, latest_only=latest_only, show_expired=V.flag(opts.show_expired, "show_expired"))
        asked = _Asked(query, query, ranking.query_terms(query) if opts.keyword else [], _one_owner(where))
        # The answer is filled tier by tier (ranking.tiers), each tier's pools fixed whatever top_k is: the first
        # k hits asked are the first k of any longer answer. A threshold ends the answer at the first hit below it.
        hits: list[ranking.Scored] = []
        t = ranking.DEFAULT
        for tier in ranking.tiers(t):
            scored, complete = self._tier(project_id, asked, where, opts, t, tier)
            given = {s.id for s in hits}
            fresh = [s for s in scored if s.id not in given][: tier.depth - len(hits)]
            below = next((n for n, s in enumerate(fresh) if opts.threshold is not None and s.score < opts.threshold),
                         None)
            hits += fresh[:below]
            if len(hits) >= opts.top_k or below is not None or (complete and len(hits) < tier.depth):
                break
        hits = hits[: opts.top_k]  # load only the memories answered, not the whole candidate pool
        memories = {m.id: m for m in self.store.get(project_id, [s.id for s in hits])}
        answer = [SearchHit(memories[s.id], s.score, s.breakdown) for s in hits if s.id in memories]
        self.watchers.searched(time.perf_counter() - started)
        return answer

    def _tier(self, project_id: str, asked: _Asked, where: F.Node | None, opts: SearchOptions, t: ranking.Tuning,
              tier: ranking.Tier) -> tuple[list[ranking.Scored], bool]:
        """One tier's ranking of its candidates, and whether the candidates were every memory either search
        could find (a larger tier would find nothing new)."""
        dense, sparse, near = self._retrieve(project_id, asked, where, opts, tier.candidates)
        if not asked.settled:
            # The first tier's candidates are where the owner's self-introduction and the speakers' names are found,
            # if the query names them: from then on the retrieval asks without the names (ranking.owner_terms,
            # ranking.speaker_terms), every tier alike.
            asked.settled = True
            texts = [c.text for c in near]
            names = ranking.speaker_terms(asked.seek, texts)
            if asked.one_owner:
                names |= ranking.owner_terms(asked.seek, texts)
            seek = ranking.without(asked.seek, names) if names else asked.seek
            if seek != asked.seek and ranking.asks_about(seek):
                asked.seek, asked.vector = seek, None
                asked.terms = [w for w in asked.terms if not ranking.names_term(w, names)]
                dense, sparse, near = self._retrieve(project_id, asked, where, opts, tier.candidates)
        complete = len(dense) < tier.candidates and len(sparse) < tier.candidates
        if opts.context:  # the run neighbours of the best candidates only: context lifts what is next to them
            first = ranking.fuse(dense, sparse, near, keyword=opts.keyword, context=False, t=t)
            best = [s.id for s in first[: tier.anchors]]
            near += self._near(project_id, best, asked.vector, where, t.radius)
        scored = ranking.fuse(dense, sparse, near, keyword=opts.keyword, context=opts.context, query=asked.text, t=t)
        if opts.rerank and self.reranker is not None:
            scored = self._reranked(asked.text, scored, near, t, tier.depth)
        return scored, complete

    def _retrieve(self, project_id: str, asked: _Asked, where: F.Node | None, opts: SearchOptions,
                  pool: int) -> tuple[list[tuple[str, float]], list[tuple[str, float]], list[ranking.Candidate]]:
        """The vector and keyword candidates of what the search seeks, and (with keyword or context on) the exact
        cosine, text and metadata of every one of them. Embeds the query when `asked` has no vector yet."""
        terms = asked.terms
        # The keyword search needs no vector: it runs while the query is embedded and the vectors are searched.
        keyword = self._beside.submit(self.store.keyword_search, project_id, terms, where, pool) if terms else None
        try:
            if asked.vector is None:
                asked.vector = embed_query(self.embedder, asked.seek)[0]
            dense = self.store.vector_search(project_id, asked.vector, where, pool)
        except BaseException:
            if keyword is not None and not keyword.cancel():
                wait([keyword])  # never leave it running on the store behind a failed search
            raise
        sparse = keyword.result() if keyword is not None else []
        near: list[ranking.Candidate] = []
        if sparse or opts.context:  # exact cosine, text and metadata of every candidate
            near = self._near(project_id, list(dict.fromkeys([i for i, _ in dense] + [i for i, _ in sparse])),
                              asked.vector, where, 0)
        return dense, sparse, near

    def _reranked(self, query: str, scored: list[ranking.Scored], near: list[ranking.Candidate], t: ranking.Tuning,
                  depth: int) -> list[ranking.Scored]:
        """The best `depth` scores read again by the reranker. Only texts the search already admitted are sent. If
        the reranker fails, the search answers with the fused ranking (no "rerank" part) and says so in the log."""
        assert self.reranker is not None
        texts = {c.id: c.text for c in near}
        pool = [s for s in scored[:depth] if s.id in texts]
        try:
            relevance = self.reranker.rerank(query, [texts[s.id] for s in pool])
            if len(relevance) != len(pool):
                raise Unavailable(f"the reranker gave {len(relevance)} scores for {len(pool)} texts")
        except Unavailable as exc:
            log.warning("search ranked without the reranker: %s", exc.message)
            return scored
        return ranking.reranked(pool, relevance, t)

    def _near(self, project_id: str, ids: list[str], vector: Any, where: F.Node | None,
              radius: int) -> list[ranking.Candidate]:
        return [ranking.Candidate(n.anchor, n.id, n.offset, n.similarity, n.text, n.metadata)
                for n in self.store.neighbours(project_id, ids, vector, where, radius)]

