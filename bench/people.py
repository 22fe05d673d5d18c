"""Questions about a person asked of that person's memories: does the memory that answers rank first?

``bench/data/people.json`` holds twelve invented people, each with 12-15 memories as an app would store them (a
self-introduction such as "I'm Dana" or "My name is Priya", facts in the first person, in the third person or
without a subject) and 7-9 questions, each with the ids of the facts that answer it. Every person's memories are
added under their own ``user_id`` with ``Engine.add(..., infer=False)`` through the real engine (SQLite in a temp
dir, the default offline MiniLM embedder); each question is asked with ``Engine.search`` filtered on that user_id,
``SearchOptions(top_k=10)``, as a client does.

top-1    = the share of questions whose first hit answers it;
recall@3 = for one question, the share of its answering facts among the first three hits, averaged;
intro@1  = the share of questions whose first hit is the person's self-introduction (no question asks for it);
and the wall time of each Engine.search call, p50 and p95.

    python bench/people.py [--json] [--show-misses]
    python bench/people.py --cv     # also: how much of the owner's name the retrieval should keep, cross-validated

With ``--cv`` the search is also replayed (``Replay``) for a family of rules between today's and none: the owner's
name, when the query names the owner of the memories (memvault.ranking.owner_terms), keeps a share ``1 - w`` of its
part in the retrieval — cosine ``(1 - w) * cos(query) + w * cos(query without the name)``, keyword relevance
likewise. w = 1 is what Engine.search does (the replay must give its answer; checked), w = 0 is a search that
ignores who is asked of. w is chosen on six people and scored on the other six, and the reverse.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memvault import filters as F
from memvault import ranking
from memvault.embed import build_embedder
from memvault.engine import Engine, Owners, SearchOptions
from memvault.extract.offline import OfflineExtractor
from memvault.store.sqlite import SQLiteStore

DATA = Path(__file__).resolve().parent / "data" / "people.json"
TOP_K = 10
SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)  # w: how much of the name's part the retrieval drops; 1 = Engine.search


@dataclass(frozen=True)
class Answered:
    person: str
    question: str
    answers: frozenset[str]
    intro: str  # the fact id of the person's self-introduction
    ranked: tuple[str, ...]  # fact ids, best first
    seconds: float = 0.0  # the wall time of the Engine.search call


@dataclass(frozen=True)
class Side:
    """What the store answers for one retrieval query: exact cosine and text of every candidate, BM25 by id."""

    cosine: dict[str, float]
    keyword: dict[str, float]


class Replay:
    """One question's store answers for the query as asked and for the query without the owner's name."""

    def __init__(self, question: str, texts: dict[str, str], asked: Side, seek: Side) -> None:
        self.question, self.texts, self.asked, self.seek = question, texts, asked, seek

    def ranked(self, w: float) -> list[tuple[str, float]]:
        ids = list(self.texts)
        def mix(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
            top_a, top_b = max(a.values(), default=0.0), max(b.values(), default=0.0)
            return {i: (1 - w) * (a.get(i, 0.0) / top_a if top_a else 0.0)
                    + w * (b.get(i, 0.0) / top_b if top_b else 0.0) for i in ids}
        cosine = {i: (1 - w) * self.asked.cosine[i] + w * self.seek.cosine[i] for i in ids}
        keyword = {i: s for i, s in mix(self.asked.keyword, self.seek.keyword).items() if s > 0}
        near = [ranking.Candidate(i, i, 0, cosine[i], self.texts[i]) for i in ids]
        scored = ranking.fuse(list(cosine.items()), list(keyword.items()), near, query=self.question)
        return [(s.id, s.score) for s in scored[:TOP_K]]


def same(engine: list[tuple[str, float]], replayed: list[tuple[str, float]]) -> bool:
    """The same ranking but for float noise (a query embedded alone or in a batch differs in the last bits): the
    same scores place by place, and every memory with its own score."""
    mine = dict(replayed)
    return (len(engine) == len(replayed) and all(abs(a - b) <= 1e-5 for (_, a), (_, b) in zip(engine, replayed, strict=True))
            and all(i in mine and abs(mine[i] - s) <= 1e-5 for i, s in engine))


def people() -> list[dict[str, Any]]:
    return list(json.loads(DATA.read_text())["people"])


def _side(engine: Engine, project: str, query: str, terms: list[str], where: F.Node | None, ids: list[str],
          pool: int) -> tuple[Side, dict[str, str], list[str]]:
    vector = engine.embedder.embed([query])[0]
    dense = engine.store.vector_search(project, vector, where, pool)
    sparse = engine.store.keyword_search(project, terms, where, pool) if terms else []
    ids = list(dict.fromkeys([*ids, *(i for i, _ in dense), *(i for i, _ in sparse)]))
    near = engine._near(project, ids, vector, where, 0)
    return Side({c.id: max(0.0, c.similarity) for c in near}, dict(sparse)), {c.id: c.text for c in near}, ids


def replay(engine: Engine, project: str, question: str, user: str) -> Replay:
    """What Engine.search reads of the store for this question, for both retrieval queries (the first tier)."""
    where = engine._live(F.eq("user_id", user))
    pool = ranking.DEFAULT.candidates
    terms = ranking.query_terms(question)
    asked, texts, ids = _side(engine, project, question, terms, where, [], pool)
    names = ranking.owner_terms(question, texts.values())
    seek_text = ranking.without(question, names) if names else question
    if seek_text == question or not ranking.asks_about(seek_text):
        return Replay(question, texts, asked, asked)
    seek_terms = [t for t in terms if not ranking.names_term(t, names)]
    seek, more, ids = _side(engine, project, seek_text, seek_terms, where, ids, pool)
    asked, texts, _ = _side(engine, project, question, terms, where, ids, pool)  # the same ids on both sides
    return Replay(question, {**texts, **more}, asked, seek)


def ask_all(embedder_name: str = "minilm", with_replay: bool = False) -> tuple[list[Answered], list[Replay]]:
    answered: list[Answered] = []
    replays: list[Replay] = []
    with tempfile.TemporaryDirectory(prefix="memvault-people-") as tmp:
        engine = Engine(SQLiteStore(Path(tmp) / "memvault.db"), build_embedder(embedder_name), OfflineExtractor())
        try:
            project = engine.project("people").id
            fact_of: dict[str, str] = {}
            for person in people():
                for fact in person["facts"]:
                    memory = engine.add_text(project, fact["text"], Owners(user_id=person["user_id"]))
                    fact_of[memory.id] = fact["id"]
            engine.search(project, "hello", F.eq("user_id", "nobody"))  # warm up: the model session
            for person in people():
                intro = person["facts"][0]["id"]
                for q in person["questions"]:
                    t0 = time.perf_counter()
                    hits = engine.search(project, q["q"], F.eq("user_id", person["user_id"]),
                                         SearchOptions(top_k=TOP_K))
                    seconds = time.perf_counter() - t0
                    answered.append(Answered(person["user_id"], q["q"], frozenset(q["answers"]), intro,
                                             tuple(fact_of[h.memory.id] for h in hits), seconds))
                    if with_replay:
                        r = replay(engine, project, q["q"], person["user_id"])
                        if not same([(h.memory.id, h.score) for h in hits], r.ranked(1.0)):
                            raise SystemExit(f"the replay is not the engine's ranking for {q['q']!r}")
                        r.texts = {fact_of[i]: t for i, t in r.texts.items()}
                        r.asked = Side({fact_of[i]: s for i, s in r.asked.cosine.items()},
                                       {fact_of[i]: s for i, s in r.asked.keyword.items()})
                        r.seek = Side({fact_of[i]: s for i, s in r.seek.cosine.items()},
                                      {fact_of[i]: s for i, s in r.seek.keyword.items()})
                        replays.append(r)
        finally:
            engine.close()
    return answered, replays


def figures(answered: list[Answered]) -> dict[str, float]:
    return {
        "n": len(answered),
        "top1": statistics.fmean(1.0 if a.ranked[:1] and a.ranked[0] in a.answers else 0.0 for a in answered),
        "recall@3": statistics.fmean(len(a.answers & set(a.ranked[:3])) / len(a.answers) for a in answered),
        "intro@1": statistics.fmean(1.0 if a.ranked[:1] == (a.intro,) else 0.0 for a in answered),
    }


def cross_validate(answered: list[Answered], replays: list[Replay]) -> None:
    def at(w: float, who: set[str]) -> dict[str, float]:
        return figures([Answered(a.person, a.question, a.answers, a.intro, tuple(i for i, _ in r.ranked(w)))
                        for a, r in zip(answered, replays, strict=True) if a.person in who])

    everyone = [p["user_id"] for p in people()]
    halves = (set(everyone[: len(everyone) // 2]), set(everyone[len(everyone) // 2 :]))
    print("\nreplayed, every share w of the owner's name dropped from the retrieval (1 = Engine.search):")
    print(f"{'w':>5} {'top-1':>6} {'r@3':>6} {'intro@1':>8}")
    for w in SHARES:
        s = at(w, set(everyone))
        print(f"{w:5.2f} {s['top1']:6.3f} {s['recall@3']:6.3f} {s['intro@1']:8.3f}")
    print("cross-validated: w chosen on one half (best top-1, then recall@3, then the smaller w), scored on the other")
    held: list[dict[str, float]] = []
    for fit, score in (halves, halves[::-1]):
        w = max(SHARES, key=lambda w: (at(w, fit)["top1"], at(w, fit)["recall@3"], -w))
        s = at(w, score)
        held.append(s)
        print(f"  fitted on {','.join(sorted(fit))}: w = {w}; held out {','.join(sorted(score))}: "
              f"top-1 {s['top1']:.3f}, recall@3 {s['recall@3']:.3f} (w = 0 there: top-1 {at(0.0, score)['top1']:.3f},"
              f" recall@3 {at(0.0, score)['recall@3']:.3f})")
    print(f"  mean of the held-out halves: top-1 {statistics.fmean(h['top1'] for h in held):.3f}, "
          f"recall@3 {statistics.fmean(h['recall@3'] for h in held):.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--show-misses", action="store_true", help="list the questions whose first hit is wrong")
    parser.add_argument("--cv", action="store_true", help="replay a family of rules and cross-validate its share")
    args = parser.parse_args(argv)
    answered, replays = ask_all(args.embedder, with_replay=args.cv)
    total = figures(answered)
    if args.json:
        print(json.dumps(total, indent=2))
        return 0
    print(f"{'person':8} {'n':>3} {'top-1':>6} {'r@3':>6} {'intro@1':>8}")
    for person in people():
        s = figures([a for a in answered if a.person == person["user_id"]])
        print(f"{person['user_id']:8} {s['n']:3d} {s['top1']:6.3f} {s['recall@3']:6.3f} {s['intro@1']:8.3f}")
    print(f"{'all':8} {total['n']:3d} {total['top1']:6.3f} {total['recall@3']:6.3f} {total['intro@1']:8.3f}")
    ms = sorted(a.seconds * 1000 for a in answered)
    print(f"search p50 {ms[len(ms) // 2]:.1f} ms, p95 {ms[min(len(ms) - 1, int(len(ms) * 0.95))]:.1f} ms "
          "(query embedding included)")
    if args.show_misses:
        for a in answered:
            if not a.ranked or a.ranked[0] not in a.answers:
                print(f"  {a.question!r}: got {a.ranked[:3]}, want {sorted(a.answers)}")
    if args.cv:
        cross_validate(answered, replays)
    return 0


if __name__ == "__main__":
    sys.exit(main())
