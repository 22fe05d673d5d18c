"""Questions about a person asked of that person's memories: does the memory that answers rank first?

``bench/data/people.json`` holds twelve invented people, each with 12-15 memories as an app would store them (a
self-introduction such as "I'm Dana" or "My name is Priya", facts in the first person, in the third person or
without a subject) and 7-9 questions, each with the ids of the facts that answer it. Every person's memories are
added under their own ``user_id`` with ``Engine.add(..., infer=False)`` through the real engine (SQLite in a temp
dir, the default offline MiniLM embedder); each question is asked with ``Engine.search`` filtered on that user_id,
``SearchOptions(top_k=10)``, as a client does.

top-1    = the share of questions whose first hit answers it;
recall@3 = for one question, the share of its answering facts among the first three hits, averaged;
intro@1  = the share of questions whose first hit is the person's self-introduction (no question asks for it).

    python bench/people.py [--json] [--show-misses]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memvault import filters as F
from memvault.embed import build_embedder
from memvault.engine import Engine, Owners, SearchOptions
from memvault.extract.base import Message
from memvault.extract.offline import OfflineExtractor
from memvault.store.sqlite import SQLiteStore

DATA = Path(__file__).resolve().parent / "data" / "people.json"
TOP_K = 10


@dataclass(frozen=True)
class Answered:
    person: str
    question: str
    answers: frozenset[str]
    intro: str  # the fact id of the person's self-introduction
    ranked: tuple[str, ...]  # fact ids, best first


def people() -> list[dict[str, Any]]:
    return list(json.loads(DATA.read_text())["people"])


def ask_all(embedder_name: str = "minilm") -> list[Answered]:
    out: list[Answered] = []
    with tempfile.TemporaryDirectory(prefix="memvault-people-") as tmp:
        engine = Engine(SQLiteStore(Path(tmp) / "memvault.db"), build_embedder(embedder_name), OfflineExtractor())
        try:
            project = engine.project("people").id
            fact_of: dict[str, str] = {}
            for person in people():
                for fact in person["facts"]:
                    memory = engine.add_text(project, fact["text"], Owners(user_id=person["user_id"]))
                    fact_of[memory.id] = fact["id"]
            for person in people():
                intro = person["facts"][0]["id"]
                for q in person["questions"]:
                    hits = engine.search(project, q["q"], F.eq("user_id", person["user_id"]),
                                         SearchOptions(top_k=TOP_K))
                    out.append(Answered(person["user_id"], q["q"], frozenset(q["answers"]), intro,
                                        tuple(fact_of[h.memory.id] for h in hits)))
        finally:
            engine.close()
    return out


def figures(answered: list[Answered]) -> dict[str, float]:
    return {
        "n": len(answered),
        "top1": statistics.fmean(1.0 if a.ranked[:1] and a.ranked[0] in a.answers else 0.0 for a in answered),
        "recall@3": statistics.fmean(len(a.answers & set(a.ranked[:3])) / len(a.answers) for a in answered),
        "intro@1": statistics.fmean(1.0 if a.ranked[:1] == (a.intro,) else 0.0 for a in answered),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--show-misses", action="store_true", help="list the questions whose first hit is wrong")
    args = parser.parse_args(argv)
    answered = ask_all(args.embedder)
    total = figures(answered)
    if args.json:
        print(json.dumps(total, indent=2))
        return 0
    print(f"{'person':8} {'n':>3} {'top-1':>6} {'r@3':>6} {'intro@1':>8}")
    for person in people():
        s = figures([a for a in answered if a.person == person["user_id"]])
        print(f"{person['user_id']:8} {s['n']:3d} {s['top1']:6.3f} {s['recall@3']:6.3f} {s['intro@1']:8.3f}")
    print(f"{'all':8} {total['n']:3d} {total['top1']:6.3f} {total['recall@3']:6.3f} {total['intro@1']:8.3f}")
    if args.show_misses:
        for a in answered:
            if not a.ranked or a.ranked[0] not in a.answers:
                print(f"  {a.question!r}: got {a.ranked[:3]}, want {sorted(a.answers)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
