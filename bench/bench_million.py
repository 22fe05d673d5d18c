"""A million memories in one project: SQLite with its HNSW graph, and PostgreSQL with pgvector, over HTTP.

    python bench/bench_million.py pg     --root /tmp/scale-pg     --set clustered [--load] [--ef 100 200 400] [--http] [--keyword]
                                        [--shared-buffers 5GB] [--prewarm]
    python bench/bench_million.py sqlite --root /tmp/scale-sqlite --set spread    [--load] [--http] [--recall]

Two sets of 1,000,000 384-d vectors (the MiniLM size), each memory with a real-looking text (bench_http.py's
sentences) and a user id that a filter can select at 10% (`u3`) or 1% (`rare`), as in bench_stores.py:

- `clustered`: bench_stores.py's synthetic set: 1,000 random topics, 1,000 memories around each (cosine to the
  topic ≈ 0.7), each query a noisy copy of a stored memory. Every query's true top 10 are members of one cluster
  of 1,000 nearly equidistant vectors: the hard case for a graph, and a near-tie below the first hit.
- `spread`: real MiniLM vectors of 100,000 real-looking sentences (bench_http.py's corpus, cached under /tmp),
  each the centre of 10 memories (noise of norm 0.5: cosine ≈ 0.9 to it); the queries are real MiniLM
  embeddings of 200 questions in the same words, never stored. Each memory's text is its centre's sentence, so
  a search over HTTP finds what it asks about.

Loading goes straight into the store, as bench_http.py does: SQLite through `store.insert` (batches of 5,000),
PostgreSQL by COPY with the HNSW index built after (the store's own index definition). Both under `nice`.
The data stays in `--root` between runs (build once, measure many times); delete it when done.

Measured:
- the vector part in-process: `store.vector_search(k=10)` as the engine calls it, p50 / p95 and recall@10
  against exact numpy search over the same vectors (no filter, user_id = u3 (10%), user_id = rare (1%)); beside
  it, the share of hits within 0.01 cosine of the exact 10th (a near-tie counts as found) and the median number
  of other vectors that close to the 10th (how much strict recall measures tie-breaking);
- `--keyword` (PostgreSQL): `store.keyword_search` in-process with the questions' terms and 50 candidates, as the
  engine asks, p50 / p95 per filter (the bench's words are each held by 4-8% of the million: near stop words);
- `--http`: a real `memvault serve` in its own process (MiniLM for the query embedding): seconds to /healthz
  ready, seconds until the vector index is ready (SQLite builds its graph after the first search), then
  POST /v3/memories/search/ with distinct questions, p50 / p95, filtered by user_id u3 and rare; the server's
  RSS (VmRSS, and VmHWM: its peak) from /proc.
"""

from __future__ import annotations

import argparse
import os
import pickle
import random
import statistics
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import bench_http
import bench_stores
import httpx
import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from memvault import filters as F
from memvault import ranking
from memvault.embed import build_embedder
from memvault.engine import Engine, text_hash
from memvault.extract.offline import OfflineExtractor
from memvault.models import HistoryEvent, Memory, utcnow
from memvault.store import vector_index
from memvault.store.base import Store
from memvault.store.postgres import PostgresStore
from memvault.store.sqlite import SQLiteStore
from memvault.testing import postgres as embedded

N = 1_000_000
DIM = 384
K = 10
BASES = 100_000
TIE = 0.01  # a hit within this cosine of the true 10th counts as a near-tie (reported beside strict recall)
FILTERS = (("none", None), ("user_id = u3 (10%)", "u3"), ("user_id = rare (1%)", "rare"))


def memory_id(i: int) -> str:
    return str(uuid.UUID(int=i + 1))


def row_of(memory: str) -> int:
    return uuid.UUID(memory).int - 1


def user_of(i: int) -> str:
    return bench_stores.user_of(i)


def dataset(name: str, queries: int) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """(vectors, query vectors, memory texts, query texts)."""
    base_texts = bench_http.corpus(BASES)
    rng = random.Random(4321)
    questions = [f"who {rng.choice(bench_http.VERBS)} {rng.choice(bench_http.THINGS)} {rng.choice(bench_http.PLACES)}?"
                 for _ in range(queries)]
    texts = [f"{base_texts[i % BASES]} [{i // BASES}]" for i in range(N)]
    if name == "clustered":
        vectors, qv = bench_stores.dataset(N, queries, uniform=False)
        return vectors, qv, texts, questions
    bases = bench_http.embeddings(base_texts)
    vectors = np.empty((N, DIM), dtype=np.float32)
    grng = np.random.default_rng(11)
    for start in range(0, N, BASES):
        vectors[start:start + BASES] = bench_stores.noisy(bases, 0.5, grng)
    qv = build_embedder("minilm").embed(questions).astype(np.float32)
    return vectors, qv, texts, questions


# loading --------------------------------------------------------------------------------------------------
def load_sqlite(db: Path, vectors: np.ndarray, texts: list[str]) -> None:
    store = SQLiteStore(db)
    engine = Engine(store, build_embedder("hashing"), OfflineExtractor())
    project = engine.project("bench")
    bucket = store.find_bucket(project.id, "General")
    assert bucket is not None
    start = time.perf_counter()
    base = utcnow()
    for lo in range(0, N, 5000):
        rows = range(lo, min(lo + 5000, N))
        at = [base + timedelta(microseconds=i) for i in rows]
        ms = [Memory(memory_id(i), project.id, texts[i], text_hash(texts[i]), bucket.id, t, t, user_id=user_of(i))
              for i, t in zip(rows, at, strict=True)]
        events = [HistoryEvent(str(uuid.uuid4()), m.id, project.id, "ADD", None, m.text,
                               [{"role": "user", "content": m.text}], m.created_at, m.user_id) for m in ms]
        store.insert(ms, vectors[lo:lo + len(ms)], events)
        if lo % 100_000 == 0:
            print(f"sqlite load: {lo:,} ({time.perf_counter() - start:.0f} s)", flush=True)
    print(f"sqlite load: {N:,} memories through store.insert in {time.perf_counter() - start:.0f} s", flush=True)
    _, key = engine.create_key("bench", "bench")
    (db.parent / "key").write_text(key)
    engine.close()


def pg_server(root: Path, shared_buffers: str) -> Any:
    """The embedded PostgreSQL of `root`, started (kept between runs: stopped, not deleted, at exit)."""
    module = embedded._embedded()
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    server = module.get_server(root / "pgdata", cleanup_mode="stop")
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        settings = {**embedded._SETTINGS, "shared_buffers": shared_buffers, "max_parallel_maintenance_workers": "2",
                    "maintenance_work_mem": "4GB"}
        for name, value in settings.items():
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        current = conn.execute("SHOW shared_buffers").fetchone()
    if current is None or current[0] != shared_buffers:  # shared_buffers needs a restart
        module.pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user)
    return server


def pg_database(server: Any, name: str) -> str:
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            with psycopg.connect(server.get_uri("template1"), autocommit=True) as t1:
                for extension in ("vector", "btree_gin"):
                    t1.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}")
            conn.execute(f"CREATE DATABASE {name}")
    return str(server.get_uri(name))


def load_postgres(url: str, vectors: np.ndarray, texts: list[str], key_file: Path) -> None:
    store = PostgresStore(url, migrate=True)
    engine = Engine(store, build_embedder("hashing"), OfflineExtractor())
    project = engine.project("bench")
    bucket = store.find_bucket(project.id, "General")
    assert bucket is not None
    _, key = engine.create_key("bench", "bench")
    key_file.write_text(key)
    engine.close()
    start = time.perf_counter()
    base = utcnow()
    with psycopg.connect(url, autocommit=True) as conn:
        register_vector(conn)
        conn.execute(f"DROP INDEX IF EXISTS memories_hnsw_{DIM}")
        with conn.cursor() as cur, cur.copy(
            "COPY memories (project_id, id, text, hash, user_id, bucket_id, created_at, updated_at, embedding) "
            "FROM STDIN WITH (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["text", "text", "text", "text", "text", "text", "timestamptz", "timestamptz", "vector"])
            for i in range(N):
                at = base + timedelta(microseconds=i)
                copy.write_row((project.id, memory_id(i), texts[i], text_hash(texts[i]), user_of(i), bucket.id, at, at,
                                vectors[i]))
        copied = time.perf_counter()
        print(f"postgres load: {N:,} rows by COPY in {copied - start:.0f} s", flush=True)
        conn.execute("SET maintenance_work_mem = '4GB'")
        conn.execute("SET max_parallel_maintenance_workers = 2")
        PostgresStore._create_index(conn, DIM)  # the store's own definition (its m and ef_construction)
        built = time.perf_counter()
        conn.execute("VACUUM ANALYZE memories")
        sizes = conn.execute(f"SELECT pg_size_pretty(pg_table_size('memories')), "
                             f"pg_size_pretty(pg_relation_size('memories_hnsw_{DIM}')), "
                             f"pg_database_size(current_database())").fetchone()
    assert sizes is not None
    print(f"postgres load: HNSW index built in {built - copied:.0f} s; table {sizes[0]}, index {sizes[1]}, "
          f"database {int(sizes[2]) / N:.0f} bytes per memory", flush=True)


# measuring ------------------------------------------------------------------------------------------------
def exact(vectors: np.ndarray, users: np.ndarray, q: np.ndarray, want: str | None) -> tuple[set[int], float, int]:
    """The exact top 10 (rows), the 10th's cosine, and how many other vectors lie within TIE of it."""
    scores = vectors @ q
    if want is not None:
        scores = np.where(users == want, scores, -np.inf)
    top = np.argpartition(-scores, K)[:K]
    tenth = float(scores[top].min())
    return set(top.tolist()), tenth, int(np.count_nonzero(scores >= tenth - TIE)) - K


def pct(values: list[float], q: float) -> float:
    return bench_http.pct(values, q)


Truth = dict[str | None, list[tuple[set[int], float, int]]]


def truths(vectors: np.ndarray, queries: np.ndarray, cache: Path) -> Truth:
    """Each filter's exact answers, computed once per set (cached in --root)."""
    if cache.exists():
        return pickle.loads(cache.read_bytes())  # noqa: S301  # our own file
    users = np.array([user_of(i) for i in range(N)])
    found = {want: [exact(vectors, users, q, want) for q in queries] for _, want in FILTERS}
    cache.write_bytes(pickle.dumps(found))
    return found


def vector_part(label: str, store: Store, project: str, queries: np.ndarray, truth: Truth) -> None:
    for name, want in FILTERS:
        where = F.eq("user_id", want) if want else None
        for q in queries[:10]:
            store.vector_search(project, q, where, K)
        times, recalls, near, ties = [], [], [], []
        for q, (top, tenth, tied) in zip(queries, truth[want], strict=True):
            t = time.perf_counter()
            hits = store.vector_search(project, q, where, K)
            times.append(1000 * (time.perf_counter() - t))
            recalls.append(len({row_of(h) for h, _ in hits} & top) / K)
            near.append(min(K, sum(1 for _, score in hits if score >= tenth - TIE)) / K)
            ties.append(tied)
        print(f"| {label} | {name} | {statistics.median(times):.1f} | {pct(times, 95):.1f} | "
              f"{statistics.fmean(recalls):.3f} | {statistics.fmean(near):.3f} | {statistics.median(ties):.0f} |",
              flush=True)


def keyword_part(label: str, store: Store, project: str, questions: list[str]) -> None:
    """`store.keyword_search` as the engine calls it (the questions' terms, 50 candidates), p50 / p95 per filter."""
    for name, want in FILTERS:
        where = F.eq("user_id", want) if want else None
        asked = [ranking.query_terms(q) for q in questions]
        for terms in asked[:10]:
            store.keyword_search(project, terms, where, 50)
        times, found = [], 0
        for terms in asked:
            t = time.perf_counter()
            found += bool(store.keyword_search(project, terms, where, 50))
            times.append(1000 * (time.perf_counter() - t))
        print(f"| {label} keyword search | {name} | {statistics.median(times):.1f} | {pct(times, 95):.1f} | "
              f"{found} of {len(asked)} with hits |", flush=True)


def rss(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def serve(env: dict[str, str], args: list[str]) -> tuple[subprocess.Popen[bytes], int, float]:
    port = bench_http.free_port()
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "memvault.cli", "serve", *args, "--port", str(port)],
                            env={**os.environ, "MEM0_TELEMETRY": "False", "MEMVAULT_EMBEDDER": "minilm", **env})
    bench_http.wait_until_up(proc, port)
    return proc, port, time.perf_counter() - start


def http_part(label: str, proc: subprocess.Popen[bytes], port: int, key: str, questions: list[str],
              up_s: float) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600,
                      headers={"Authorization": f"Token {key}"}) as http:
        start = time.perf_counter()
        http.post("/v3/memories/search/", json={"query": "warm up", "filters": {"user_id": "u1"}}).raise_for_status()
        first = time.perf_counter() - start
        while http.get("/healthz").json().get("vector_index") != "ready":
            time.sleep(2)  # a finished graph is taken over by the next search: keep searching, as clients do
            http.post("/v3/memories/search/", json={"query": "warm up", "filters": {"user_id": "u1"}})
        ready = time.perf_counter() - start
        print(f"<!-- {label}: /healthz 200 after {up_s:.1f} s; first search {first:.1f} s; vector index ready "
              f"{ready:.0f} s after the first search; RSS {rss(proc.pid)[0]:.0f} MB (peak {rss(proc.pid)[1]:.0f}) -->",
              flush=True)
        rng = random.Random(77)
        for name, user in (("user_id = u3 (10%)", "u3"), ("user_id = rare (1%)", "rare")):
            asked = [f"{q} ({rng.randrange(10**9)})" for q in questions]
            for q in asked[:10]:
                http.post("/v3/memories/search/", json={"query": q + " warm", "filters": {"user_id": user}})
            times = []
            for q in asked:
                t = time.perf_counter()
                r = http.post("/v3/memories/search/", json={"query": q, "filters": {"user_id": user}, "top_k": 10})
                times.append(1000 * (time.perf_counter() - t))
                r.raise_for_status()
                assert r.json()["results"], q
            print(f"| {label} over HTTP | {name} | {statistics.median(times):.1f} | {pct(times, 95):.1f} | "
                  f"RSS {rss(proc.pid)[0]:.0f} MB |", flush=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store", choices=["sqlite", "pg"])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--set", choices=["clustered", "spread"], default="clustered")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--load", action="store_true", help="load the million first (once per --root and --set)")
    parser.add_argument("--recall", action="store_true", help="the vector part in-process, with recall")
    parser.add_argument("--http", action="store_true", help="a real `memvault serve` and searches over HTTP")
    parser.add_argument("--keyword", action="store_true", help="PostgreSQL: the keyword search in-process")
    parser.add_argument("--ef", type=int, nargs="*", default=[],
                        help="PostgreSQL: ef_search values to try; SQLite: EF_SEARCH bases (vector_index.search_breadth)")
    parser.add_argument("--shared-buffers", default="3GB")
    parser.add_argument("--prewarm", action="store_true",
                        help="PostgreSQL: read the table and its HNSW index into shared_buffers first (pg_prewarm)")
    args = parser.parse_args()
    vectors, qv, texts, questions = dataset(args.set, args.queries)
    print(f"set {args.set}: {N:,} vectors, {len(qv)} queries", flush=True)
    args.root.mkdir(parents=True, exist_ok=True)
    truth = truths(vectors, qv, args.root / f"truth_{args.set}_{len(qv)}.pickle") if args.recall or args.ef else {}
    if args.store == "sqlite":
        data = args.root / args.set
        data.mkdir(parents=True, exist_ok=True)
        db = data / "memvault.db"
        if args.load:
            load_sqlite(db, vectors, texts)
        key = (data / "key").read_text()
        size = sum(p.stat().st_size for p in data.iterdir() if p.name.startswith("memvault.db"))
        print(f"<!-- sqlite: {size / N:.0f} bytes per memory on disk ({size / 2**30:.2f} GiB) -->", flush=True)
        if args.http:
            proc, port, up = serve({}, ["--data-dir", str(data)])
            try:
                http_part(f"SQLite {args.set}", proc, port, key, questions, up)
            finally:
                stop(proc)
        if args.recall:
            store = SQLiteStore(db)
            project = store.ensure_project("bench").id
            t = time.perf_counter()
            store.vector_search(project, qv[0], None, K)
            loaded = time.perf_counter() - t
            while store.vector_index_state() == "building":
                time.sleep(1)
                store.vector_search(project, qv[0], None, K)
            index = next(iter(store._indexes.values()))  # noqa: SLF001  # reported, not used
            graph = index._graph  # noqa: SLF001
            print(f"<!-- sqlite in-process: index loaded and graph built in {time.perf_counter() - t:.0f} s "
                  f"(loaded in {loaded:.0f} s); graph {graph.memory_usage / 2**20 if graph is not None else 0:.0f} MB, "
                  f"the whole index {index.nbytes / 2**20:.0f} MB; bench process (holding the set) RSS "
                  f"{rss(os.getpid())[0]:.0f} MB "
                  f"(peak {rss(os.getpid())[1]:.0f}) -->", flush=True)
            for ef in args.ef or [vector_index.EF_SEARCH]:
                vector_index.EF_SEARCH = ef  # the base of the rule: the breadth at 1M is √10 times it
                breadth = vector_index.search_breadth(N, K)
                vector_part(f"SQLite HNSW {args.set} breadth={breadth}", store, project, qv, truth)
            print(f"<!-- process RSS after the searches {rss(os.getpid())[0]:.0f} MB (peak {rss(os.getpid())[1]:.0f}) "
                  f"-->", flush=True)
            store.close()
        return
    server = pg_server(args.root, args.shared_buffers)
    url = pg_database(server, f"bench_{args.set}")
    if args.load:
        load_postgres(url, vectors, texts, args.root / f"key_{args.set}")
    key = (args.root / f"key_{args.set}").read_text()
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        print(f"<!-- postgres {args.set}: {int(row[0]) / N if row else 0:.0f} bytes per memory (database) -->")
        if args.prewarm:  # what a restarted server with `pg_prewarm.autoprewarm` (docs/SCALING.md) starts with
            t = time.perf_counter()
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
            pages = conn.execute(f"SELECT pg_prewarm('memories'), pg_prewarm('memories_hnsw_{DIM}')").fetchone()
            print(f"<!-- postgres {args.set}: prewarmed {pages} pages in {time.perf_counter() - t:.0f} s -->")
    for ef in args.ef:
        store = PostgresStore(url, ef_search=ef)
        project = store.ensure_project("bench").id
        vector_part(f"PostgreSQL {args.set} ef_search={ef}", store, project, qv, truth)
        store.close()
    if args.recall and not args.ef:
        store = PostgresStore(url)
        project = store.ensure_project("bench").id
        vector_part(f"PostgreSQL {args.set} (store defaults)", store, project, qv, truth)
        store.close()
    if args.keyword:
        store = PostgresStore(url)
        keyword_part(f"PostgreSQL {args.set}", store, store.ensure_project("bench").id, questions)
        store.close()
    if args.http:
        proc, port, up = serve({"MEMVAULT_DATABASE_URL": url}, [])
        try:
            http_part(f"PostgreSQL {args.set}", proc, port, key, questions, up)
        finally:
            stop(proc)


if __name__ == "__main__":
    main()
