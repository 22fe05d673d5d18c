"""Vector search, SQLite and PostgreSQL side by side, from one run.

Both stores get the same N memories in one tenant: synthetic unit-normalized 384-d vectors (the MiniLM size),
user ids spread so that a filter can select 10% (`user_id = "u3"`) or 1% (`user_id = "rare"`). By default the
vectors are clustered like sentence embeddings (1,000 topics; a memory's cosine to its topic ≈ 0.7) and each
query is a noisy copy of a stored memory (cosine ≈ 0.9 to it), as when someone asks about something they said.
`--uniform` uses independent uniform random unit vectors and queries instead: there, nearest neighbours are
barely nearer than anything else (no structure at all), the worst case for any approximate index.
Latency is `store.vector_search(project, q, where, k=10)` as the engine calls it, after a warm-up, one query at
a time. Recall@10 is against exact numpy search over the same vectors.

SQLite is loaded through `store.insert` (batches of 1,000); PostgreSQL by COPY into `memories` with the
HNSW index dropped, then the index is built once (m=16, ef_construction=64, the pgvector defaults), which is
how a large import should be done. Both loading times are printed.

    python bench/bench_stores.py [--n 100000] [--pg-only-n 1000000] [--queries 200]

SQLite is measured twice on the same file: with the HNSW graph its store builds in the background for a large
project (waited for before measuring), and with the exact in-memory scan it uses below GRAPH_MIN vectors.
`--pg-only-n` adds a PostgreSQL-only run at that size.
Needs the `test` extra (embedded PostgreSQL 18 + pgvector 0.8).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from memvault import filters as F
from memvault.models import HistoryEvent, Memory, utcnow
from memvault.store.base import Store
from memvault.store.postgres import PostgresStore
from memvault.store.sqlite import SQLiteStore
from memvault.testing.postgres import EmbeddedPostgres

DIM = 384
K = 10


def normalized(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def unit(rows: int, seed: int) -> np.ndarray:
    return normalized(np.random.default_rng(seed).standard_normal((rows, DIM), dtype=np.float32))


def noisy(base: np.ndarray, spread: float, rng: np.random.Generator) -> np.ndarray:
    """`base` rows plus Gaussian noise of norm ≈ `spread` (base rows are unit vectors)."""
    return normalized(base + spread * rng.standard_normal(base.shape, dtype=np.float32) / np.sqrt(DIM))


def dataset(rows: int, queries: int, uniform: bool) -> tuple[np.ndarray, np.ndarray]:
    if uniform:
        return unit(rows, seed=1), unit(queries, seed=2)
    rng = np.random.default_rng(1)
    topics = unit(1000, seed=3)
    vectors = noisy(topics[rng.integers(0, len(topics), rows)], 1.0, rng)
    return vectors, noisy(vectors[rng.integers(0, rows, queries)], 0.5, rng)


def user_of(i: int) -> str:
    return "rare" if i % 100 == 0 else f"u{i % 10}"


def load_sqlite(store: SQLiteStore, project: str, bucket: str, vectors: np.ndarray) -> None:
    base = utcnow()
    for start in range(0, len(vectors), 1000):
        rows = range(start, min(start + 1000, len(vectors)))
        at = [base + timedelta(microseconds=i) for i in rows]
        ms = [Memory(str(uuid.uuid4()), project, f"memory {i}", f"h{i}", bucket, t, t, user_id=user_of(i))
              for i, t in zip(rows, at, strict=True)]
        events = [HistoryEvent(str(uuid.uuid4()), m.id, project, "ADD", None, m.text, None, m.created_at)
                  for m in ms]
        store.insert(ms, vectors[start:start + len(ms)], events)


def load_postgres(url: str, project: str, bucket: str, vectors: np.ndarray) -> tuple[float, float]:
    """COPY the rows, then build the HNSW index. Returns (copy seconds, index seconds)."""
    started = time.perf_counter()
    base = utcnow()
    with psycopg.connect(url, autocommit=True) as conn:
        register_vector(conn)
        conn.execute(f"DROP INDEX IF EXISTS memories_hnsw_{DIM}")
        with conn.cursor() as cur, cur.copy(
            "COPY memories (project_id, id, text, hash, user_id, bucket_id, created_at, updated_at, embedding) "
            "FROM STDIN WITH (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["text", "text", "text", "text", "text", "text", "timestamptz", "timestamptz", "vector"])
            for i, v in enumerate(vectors):
                at = base + timedelta(microseconds=i)
                copy.write_row((project, str(uuid.uuid4()), f"memory {i}", f"h{i}", user_of(i), bucket, at, at, v))
        copied = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '4GB'")
        conn.execute("SET max_parallel_maintenance_workers = 2")
        conn.execute(f"CREATE INDEX memories_hnsw_{DIM} ON memories USING hnsw "
                     f"((embedding::vector({DIM})) vector_cosine_ops) WHERE dim = {DIM}")
        conn.execute("VACUUM ANALYZE memories")
    return copied - started, time.perf_counter() - copied


def exact(vectors: np.ndarray, users: np.ndarray, q: np.ndarray, *, want: str | None) -> set[int]:
    scores = vectors @ q
    if want is not None:
        scores = np.where(users == want, scores, -np.inf)
    return set(np.argpartition(-scores, K)[:K].tolist())


def measure(store: Store, project: str, queries: np.ndarray, where: F.Node | None,
            truth: Callable[[np.ndarray], set[int]], index_of: dict[str, int]) -> dict[str, float]:
    for q in queries[:10]:  # warm-up: caches, the SQLite in-memory index
        store.vector_search(project, q, where, K)
    times, recalls = [], []
    for q in queries:
        t = time.perf_counter()
        hits = store.vector_search(project, q, where, K)
        times.append(time.perf_counter() - t)
        recalls.append(len({index_of[h] for h, _ in hits} & truth(q)) / K)
    times.sort()
    return {"p50": 1000 * statistics.median(times), "p95": 1000 * times[int(0.95 * (len(times) - 1))],
            "recall": statistics.fmean(recalls)}


def run(name: str, store: Store, project: str, vectors: np.ndarray, queries: np.ndarray,
        ids: dict[str, int]) -> None:
    users = np.array([user_of(i) for i in range(len(vectors))])
    for label, want in (("no filter", None), ("user_id = u3 (10%)", "u3"), ("user_id = rare (1%)", "rare")):
        where = F.eq("user_id", want) if want else None
        r = measure(store, project, queries, where, functools.partial(exact, vectors, users, want=want), ids)
        print(f"| {name} | {len(vectors):,} | {label} | {r['p50']:.1f} | {r['p95']:.1f} | {r['recall']:.3f} |",
              flush=True)


def ids_by_row(store: Store, project: str) -> dict[str, int]:
    """Memory id -> row number in the vectors array (the number is in the text)."""
    out: dict[str, int] = {}
    after: str | None = None
    while True:
        page: Sequence[tuple[Memory, object]] = store.scan(project, after, 10_000)
        if not page:
            return out
        for m, _ in page:
            out[m.id] = int(m.text.split()[1])
        after = page[-1][0].id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--pg-only-n", type=int, default=0)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--uniform", action="store_true", help="uniform random vectors and queries (worst case)")
    parser.add_argument("--ef-search", type=int, nargs="+", default=[40, 100, 200])
    args = parser.parse_args()
    print("| store | memories | filter | p50 ms | p95 ms | recall@10 |")
    print("|---|---|---|---|---|---|", flush=True)

    vectors, queries = dataset(args.n, args.queries, args.uniform)
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            sqlite = SQLiteStore(Path(tmp) / "bench.db")
            project = sqlite.ensure_project("bench").id
            bucket = sqlite.find_bucket(project, "General")
            assert bucket is not None
            t = time.perf_counter()
            load_sqlite(sqlite, project, bucket.id, vectors)
            print(f"<!-- sqlite: {args.n:,} loaded through store.insert in {time.perf_counter() - t:.0f} s -->")
            ids = ids_by_row(sqlite, project)
            t = time.perf_counter()
            sqlite.vector_search(project, queries[0], None, K)  # a large project's first search starts its graph
            while sqlite.vector_index_state() == "building":
                time.sleep(0.5)
                sqlite.vector_search(project, queries[0], None, K)
            print(f"<!-- sqlite: HNSW graph built in the background in {time.perf_counter() - t:.0f} s -->")
            run("SQLite HNSW", sqlite, project, vectors, queries, ids)
            sqlite.close()
            scan = SQLiteStore(Path(tmp) / "bench.db", graph_min=2**62)  # the same file, exact scan only
            run("SQLite scan", scan, project, vectors, queries, ids)
            scan.close()

    with EmbeddedPostgres() as pg:
        for n in [args.n] + ([args.pg_only_n] if args.pg_only_n else []):
            if n != args.n:
                vectors, queries = dataset(n, args.queries, args.uniform)
            url = pg.create_database(f"bench_{n}")
            store = PostgresStore(url, migrate=True)
            project = store.ensure_project("bench").id
            bucket = store.find_bucket(project, "General")
            assert bucket is not None
            copy_s, index_s = load_postgres(url, project, bucket.id, vectors)
            with psycopg.connect(url) as conn:
                sizes = conn.execute(f"SELECT pg_size_pretty(pg_table_size('memories')), "
                                     f"pg_size_pretty(pg_relation_size('memories_hnsw_{DIM}'))").fetchone()
            print(f"<!-- postgres: {n:,} by COPY in {copy_s:.0f} s, HNSW index built in {index_s:.0f} s; "
                  f"table {sizes[0] if sizes else '?'}, HNSW index {sizes[1] if sizes else '?'} -->", flush=True)
            ids = ids_by_row(store, project)
            store.close()
            for ef in args.ef_search:
                store = PostgresStore(url, ef_search=ef)  # a fresh pool sees the index built behind its back
                run(f"PostgreSQL ef_search={ef}", store, project, vectors, queries, ids)
                store.close()


if __name__ == "__main__":
    main()
