"""Retrieval recall on LoCoMo conversations, through memvault's own engine API.

For each conversation file (``../shared/data/locomo-dev/<id>.json`` beside the repository) every turn is stored as one
memory with ``Engine.add(..., infer=False)``: text ``"<speaker>: <text>"`` (plus
``" [shared a photo: <blip_caption>]"`` when the turn carries a photo), ``user_id`` = the conversation
id, ``run_id`` = the session (``"session_3"``), metadata ``{"session_date": ..., "dia_id": ...}``.
Turns are added one by one, in conversation order. Then every question of categories 1-4 is asked
with ``Engine.search(project, question, user_id filter, SearchOptions(top_k=20, ...))`` — the call a
client makes. Only this script reads ``qa``; the engine sees the turns and nothing else.

recall@k = for one question, the fraction of its evidence turns (``dia_id``) found among the first k
hits; averaged over questions. Questions whose evidence names no stored turn are left out.
Latency is the wall time of each ``Engine.search`` call (query embedding included), p50 and p95.

    python bench/locomo.py [--conversations 26,30,41] [--mode full|hybrid|dense|all] [--embedder minilm]
                           [--reranker-url http://localhost:8080/v1 --reranker-model NAME]
    python bench/locomo.py --cv    # the cross-validated figure (see `cross_validate`)

With a reranker (any service answering ``POST {url}/rerank`` the Cohere/Jina way), the full mode reads the best
30 candidates of each search again with it, as ``MEMVAULT_RERANKER=http`` does in the server.

Turn embeddings are cached under /tmp (``--cache``), so a second run only embeds the questions (with ``--cv``
the questions too: it measures recall, not latency).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from memvault import filters as F
from memvault import ranking
from memvault.embed import build_embedder
from memvault.embed.base import Embedder, Vectors
from memvault.engine import Engine, Owners, SearchOptions
from memvault.extract.base import Message
from memvault.extract.offline import OfflineExtractor
from memvault.rerank import Reranker, build_reranker
from memvault.store.sqlite import SQLiteStore

# The data set sits in ../shared beside the repository; MEMVAULT_LOCOMO_DIR points elsewhere.
DATA = Path(os.environ.get("MEMVAULT_LOCOMO_DIR") or Path(__file__).resolve().parents[2] / "shared/data/locomo-dev")
KS = (5, 10, 20)
MODES = {
    "full": SearchOptions(top_k=20),  # what a client gets by default
    "hybrid": SearchOptions(top_k=20, context=False, rerank=False),  # meaning + keywords, no context/rerank signals
    "dense": SearchOptions(top_k=20, keyword=False, context=False, rerank=False),  # meaning only
}


class CachedEmbedder:
    """Wraps an embedder; texts added as memories are embedded once and kept on disk (not queries)."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner = inner
        self.path = path
        self._cache: dict[str, Vectors] = {}
        if path.exists():
            with np.load(path) as z:
                self._cache = {k: z[k] for k in z.files}
        self.caching = True
        self._dirty = False

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: list[str]) -> Vectors:
        if not self.caching:
            return self.inner.embed(texts)
        keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
        todo = [i for i, k in enumerate(keys) if k not in self._cache]
        if todo:
            fresh = self.inner.embed([texts[i] for i in todo])
            for i, v in zip(todo, fresh, strict=True):
                self._cache[keys[i]] = v
            self._dirty = True
        return np.stack([self._cache[k] for k in keys]).astype(np.float32)

    def save(self) -> None:
        if self._dirty:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(self.path, **self._cache)  # type: ignore[arg-type]
            self._dirty = False


def turn_text(turn: dict[str, Any]) -> str:
    text = f"{turn['speaker']}: {turn['text']}"
    if turn.get("blip_caption"):
        text += f" [shared a photo: {turn['blip_caption']}]"
    return text


def sessions(conv: dict[str, Any]) -> list[tuple[int, str, list[dict[str, Any]]]]:
    """(number, date, turns) of each session that has turns, in order."""
    out = []
    for key, turns in conv.items():
        m = re.fullmatch(r"session_(\d+)", key)
        if m and isinstance(turns, list) and turns:
            out.append((int(m.group(1)), str(conv.get(f"{key}_date_time", "")), turns))
    return sorted(out, key=lambda s: s[0])


def load(engine: Engine, project: str, conv_id: str, conv: dict[str, Any]) -> dict[str, str]:
    """Store the turns; returns memory id -> dia_id."""
    by_memory: dict[str, str] = {}
    owners_of = {n: Owners(user_id=conv_id, run_id=f"session_{n}") for n, _, _ in sessions(conv)}
    for number, date, turns in sessions(conv):
        for turn in turns:
            results = engine.add(project, [Message("user", turn_text(turn))], owners_of[number], infer=False,
                                 metadata={"session_date": date, "dia_id": turn["dia_id"]})
            for r in results:
                by_memory[r.memory.id] = turn["dia_id"]
    return by_memory


def evidence_ids(raw: list[str]) -> set[str]:
    """Evidence dia_ids; a few entries of the data set join several with ';' or carry stray spaces."""
    out = set()
    for item in raw:
        for part in re.split(r"[;,\s]+", str(item)):
            if re.fullmatch(r"D\d+:\d+", part):
                out.add(part)
    return out


def run(conv_ids: list[str], modes: list[str], embedder_name: str, cache: Path,
        reranker: Reranker | None = None) -> dict[str, Any]:
    inner = build_embedder(embedder_name)
    embedder = CachedEmbedder(inner, cache / f"{inner.name}.npz")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="memvault-locomo-") as tmp:
        engine = Engine(SQLiteStore(Path(tmp) / "memvault.db"), embedder, OfflineExtractor(), reranker=reranker)
        project = engine.project("locomo").id
        loaded: dict[str, tuple[dict[str, str], list[dict[str, Any]]]] = {}
        for cid in conv_ids:
            conv_file = json.loads((DATA / f"{cid}.json").read_text())
            by_memory = load(engine, project, cid, conv_file)
            stored = set(by_memory.values())
            questions = [q for q in conv_file["qa"] if q.get("category") in (1, 2, 3, 4)
                         and evidence_ids(q.get("evidence", [])) & stored]
            loaded[cid] = (by_memory, questions)
        embedder.save()
        embedder.caching = False  # questions go to the real embedder: their time is part of search
        for cid in conv_ids:  # warm up: the model session, the vector index
            engine.search(project, "hello", F.eq("user_id", cid), SearchOptions(top_k=20))
        for mode in modes:
            per_conv: dict[str, Any] = {}
            all_recalls: dict[int, list[float]] = {k: [] for k in KS}
            all_times: list[float] = []
            for cid in conv_ids:
                by_memory, questions = loaded[cid]
                recalls: dict[int, list[float]] = {k: [] for k in KS}
                times = []
                for q in questions:
                    evidence = evidence_ids(q["evidence"])
                    t0 = time.perf_counter()
                    hits = engine.search(project, q["question"], F.eq("user_id", cid), MODES[mode])
                    times.append(time.perf_counter() - t0)
                    ranked = [by_memory[h.memory.id] for h in hits]
                    for k in KS:
                        recalls[k].append(len(evidence & set(ranked[:k])) / len(evidence))
                per_conv[cid] = summary(recalls, times)
                for k in KS:
                    all_recalls[k] += recalls[k]
                all_times += times
            per_conv["all"] = summary(all_recalls, all_times)
            results[mode] = per_conv
        engine.close()
    return results


def summary(recalls: dict[int, list[float]], times: list[float]) -> dict[str, float]:
    out = {f"r@{k}": statistics.fmean(v) if v else 0.0 for k, v in recalls.items()}
    ms = sorted(t * 1000 for t in times)
    out["n"] = len(ms)
    out["p50_ms"] = ms[len(ms) // 2] if ms else 0.0
    out["p95_ms"] = ms[min(len(ms) - 1, int(len(ms) * 0.95))] if ms else 0.0
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--conversations", default=None, help="comma-separated ids; default: every file")
    parser.add_argument("--mode", default="full", choices=[*MODES, "all"])
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "memvault-locomo-cache")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--reranker-url", default=None, help="a rerank service's base URL (POST {url}/rerank)")
    parser.add_argument("--reranker-model", default=None)
    parser.add_argument("--cv", action="store_true", help="leave one conversation out: the honest recall@10")
    parser.add_argument("--cv-grid", action="store_true", help="with --cv, also fit on a whole coarse grid (slow)")
    parser.add_argument("--reranker-api-key", default=None)
    args = parser.parse_args(argv)
    reranker = build_reranker("http", base_url=args.reranker_url, model=args.reranker_model,
                              api_key=args.reranker_api_key) if args.reranker_url else None
    ids = args.conversations.split(",") if args.conversations else sorted(p.stem for p in DATA.glob("*.json"))
    if args.cv:
        return cross_validate(ids, args.embedder, args.cache, args.cv_grid)
    modes = list(MODES) if args.mode == "all" else [args.mode]
    results = run(ids, modes, args.embedder, args.cache, reranker)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{'mode':8} {'conv':5} {'n':>4} {'r@5':>6} {'r@10':>6} {'r@20':>6} {'p50 ms':>7} {'p95 ms':>7}")
    for mode, per_conv in results.items():
        for cid, s in per_conv.items():
            print(f"{mode:8} {cid:5} {s['n']:4d} {s['r@5']:6.3f} {s['r@10']:6.3f} {s['r@20']:6.3f} "
                  f"{s['p50_ms']:7.1f} {s['p95_ms']:7.1f}")
    return 0


# cross-validation ------------------------------------------------------------------------------------------
# Every weight and budget of ranking.Tuning is chosen on all conversations but one and scored on the one left
# out, for each in turn: by a coordinate search over STEPS from today's tuning (`fit_steps`), and with --cv-grid
# also by the best of a whole coarse GRID (`fit_grid`: no start, so nothing fitted earlier leaks in). Searching the
# engine once per tuning would take hours, so each question's store answers are read once with the largest
# pools of the steps (the vector search is exact at this size, BM25 is sorted, neighbours come nearest first: a
# smaller pool or radius is a prefix of them) and the ranking is replayed from them with ranking.fuse, as
# Engine.search calls it. The replay of the default tuning must give the engine's own answer; the script checks
# it on the first questions of each conversation.
STEPS: dict[str, tuple[Any, ...]] = {  # the values a coordinate search tries: "off", today's, round ones around
    "semantic": (0.4, 0.5, 0.6, 0.7, 0.8),
    "speaker": (0.0, 0.25, 0.5, 0.75),
    "date": (0.0, 0.25, 0.5, 0.75),
    "context": (0.0, 0.2, 0.35, 0.5),
    "decay": (0.5, 0.8, 1.0),
    "radius": (1, 2, 3),
    "candidates": (50, 100),
    "anchors": (10, 20, 40),
}
GRID: dict[str, tuple[Any, ...]] = {  # a coarse grid searched whole (--cv-grid): "off" or round values
    "semantic": (0.4, 0.6, 0.8),
    "speaker": (0.0, 0.5),
    "date": (0.0, 0.5),
    "context": (0.0, 0.25, 0.5),
    "decay": (0.5, 1.0),
    "radius": (1, 2),
    "candidates": (50, 100),
    "anchors": (20, 40),
}
TOP_K = 10  # the SDK's default


class Asked:
    """One question and what the store answered for it, with the largest pools of the grid."""

    def __init__(self, question: str, evidence: set[str], dense: list[tuple[str, float]],
                 sparse: list[tuple[str, float]], exact: dict[str, ranking.Candidate],
                 around: dict[str, list[ranking.Candidate]]) -> None:
        self.question, self.evidence, self.dense, self.sparse = question, evidence, dense, sparse
        self.exact, self.around = exact, around

    def ranked(self, t: ranking.Tuning) -> list[str]:
        """The ids Engine.search would answer with this tuning (first tier, rerank on, no reranker)."""
        dense, sparse = self.dense[: t.candidates], self.sparse[: t.candidates]
        near = [self.exact[i] for i in dict.fromkeys([i for i, _ in dense] + [i for i, _ in sparse])]
        first = ranking.fuse(dense, sparse, near, context=False, t=t)
        for s in first[: t.anchors]:
            near += [n for n in self.around.get(s.id, ()) if abs(n.offset) <= t.radius]
        scored = ranking.fuse(dense, sparse, near, query=self.question, t=t)
        return [s.id for s in scored[:TOP_K]]


def collect(engine: Engine, project: str, cid: str, by_memory: dict[str, str],
            questions: list[dict[str, Any]]) -> list[Asked]:
    pool, radius = max(STEPS["candidates"] + GRID["candidates"]), max(STEPS["radius"] + GRID["radius"])
    where = engine._live(F.eq("user_id", cid))
    out = []
    first = ranking.tiers().__next__().candidates
    for q in questions:
        seek, terms = q["question"], ranking.query_terms(q["question"])
        vector = engine.embedder.embed([seek])[0]
        dense = engine.store.vector_search(project, vector, where, pool)
        sparse = engine.store.keyword_search(project, terms, where, pool)
        # as Engine.search: the names of the first tier's candidates' speakers (and owner) leave the retrieval
        ids = list(dict.fromkeys([i for i, _ in dense[:first]] + [i for i, _ in sparse[:first]]))
        texts = [c.text for c in engine._near(project, ids, vector, where, 0)]
        names = ranking.speaker_terms(seek, texts) | ranking.owner_terms(seek, texts)
        if names and ranking.asks_about(ranking.without(seek, names)):
            seek = ranking.without(seek, names)
            terms = [w for w in terms if not ranking.names_term(w, names)]
            vector = engine.embedder.embed([seek])[0]
            dense = engine.store.vector_search(project, vector, where, pool)
            sparse = engine.store.keyword_search(project, terms, where, pool) if terms else []
        ids = list(dict.fromkeys([i for i, _ in dense] + [i for i, _ in sparse]))
        exact = {c.id: c for c in engine._near(project, ids, vector, where, 0)}
        around: dict[str, list[ranking.Candidate]] = {}
        for c in engine._near(project, ids, vector, where, radius):
            if c.offset:
                around.setdefault(c.anchor, []).append(c)
        evidence = {m for m, d in by_memory.items() if d in evidence_ids(q["evidence"])}
        out.append(Asked(q["question"], evidence, dense, sparse, exact, around))
    return out


def recall(asked: list[Asked], t: ranking.Tuning) -> list[float]:
    return [len(a.evidence & set(a.ranked(t))) / len(a.evidence) for a in asked]


class Scores:
    """Recall@10 of each question of each conversation under a tuning, computed once per tuning."""

    def __init__(self, asked: dict[str, list[Asked]]) -> None:
        self.asked = asked
        self._memo: dict[ranking.Tuning, dict[str, list[float]]] = {}

    def of(self, t: ranking.Tuning, conv_ids: list[str]) -> float:
        """Pooled over these conversations' questions."""
        known = self._memo.setdefault(t, {})
        for c in conv_ids:
            if c not in known:
                known[c] = recall(self.asked[c], t)
        return statistics.fmean([r for c in conv_ids for r in known[c]])


def fit_steps(scores: Scores, conv_ids: list[str]) -> ranking.Tuning:
    """Coordinate search over STEPS from today's tuning: one parameter at a time, the best of its values on
    these conversations, until a whole pass changes nothing; ties keep the current value. (Today's values
    were chosen on all the dev conversations, so the start knows them all; --cv-grid has no start.)"""
    best, changed = ranking.DEFAULT, True
    while changed:
        changed = False
        for name, values in STEPS.items():
            for v in values:
                t = dataclasses.replace(best, **{name: v})
                if scores.of(t, conv_ids) > scores.of(best, conv_ids) + 1e-9:
                    best, changed = t, True
    return best


def fit_grid(scores: Scores, conv_ids: list[str]) -> ranking.Tuning:
    """The best tuning of the whole of GRID on these conversations (ties: the first in grid order)."""
    tunings = [dataclasses.replace(ranking.DEFAULT, **dict(zip(GRID, values, strict=True)))
               for values in itertools.product(*GRID.values())]
    return max(tunings, key=lambda t: scores.of(t, conv_ids))


def cross_validate(conv_ids: list[str], embedder_name: str, cache: Path, whole_grid: bool = False) -> int:
    inner = build_embedder(embedder_name)
    embedder = CachedEmbedder(inner, cache / f"{inner.name}.npz")
    asked: dict[str, list[Asked]] = {}
    with tempfile.TemporaryDirectory(prefix="memvault-locomo-") as tmp:
        engine = Engine(SQLiteStore(Path(tmp) / "memvault.db"), embedder, OfflineExtractor())
        project = engine.project("locomo").id
        for cid in conv_ids:
            conv = json.loads((DATA / f"{cid}.json").read_text())
            by_memory = load(engine, project, cid, conv)
            stored = set(by_memory.values())
            questions = [q for q in conv["qa"] if q.get("category") in (1, 2, 3, 4)
                         and evidence_ids(q.get("evidence", [])) & stored]
            asked[cid] = collect(engine, project, cid, by_memory, questions)
            # the replay of the defaults is the engine's own answer
            for a in asked[cid][:20]:
                hits = engine.search(project, a.question, F.eq("user_id", cid), SearchOptions(top_k=TOP_K))
                if [h.memory.id for h in hits] != a.ranked(ranking.DEFAULT):
                    raise SystemExit(f"the replay is not the engine's ranking for {a.question!r}")
        embedder.save()
        engine.close()
    scores = Scores(asked)
    fits = {"steps": fit_steps, **({"grid": fit_grid} if whole_grid else {})}
    print(f"recall@{TOP_K}; held out = fitted on the other conversations ({', '.join(fits)}), scored on this one")
    print(f"{'conversation':12} {'n':>4} {'today':>6} " + " ".join(f"{'held out, ' + f:>16}" for f in fits))
    held: dict[str, list[float]] = {f: [] for f in fits}
    inside = []
    for cid in conv_ids:
        others = [c for c in conv_ids if c != cid]
        inside.append(scores.of(ranking.DEFAULT, [cid]))
        line, chosen = f"{cid:12} {len(asked[cid]):4d} {inside[-1]:6.3f} ", []
        for f, fit in fits.items():
            t = fit(scores, others)
            held[f].append(scores.of(t, [cid]))
            line += f"{held[f][-1]:16.3f} "
            chosen.append(f"{f}: {dict(_changed(t)) or 'today'}")
        print(line + " " + "; ".join(chosen))
    for f in fits:
        print(f"cross-validated ({f}), mean of the held-out conversations: {statistics.fmean(held[f]):.3f}")
    print(f"in-sample (today's tuning, chosen earlier on all of them), mean of the conversations: "
          f"{statistics.fmean(inside):.3f}; pooled over the {sum(map(len, asked.values()))} questions: "
          f"{scores.of(ranking.DEFAULT, conv_ids):.3f}")
    return 0


def _changed(t: ranking.Tuning) -> list[tuple[str, Any]]:
    return [(k, v) for k, v in dataclasses.asdict(t).items() if getattr(ranking.DEFAULT, k) != v]


if __name__ == "__main__":
    sys.exit(main())
