"""Bulk delete of 1,000 ids over HTTP: `POST /api/memories/bulk-delete` against a real uvicorn server.

The store is the embedded default (SQLiteStore, one file, WAL). Memories are filled through the engine
with the HashingEmbedder, which is fast; the delete itself embeds nothing, so the embedder does not
change what is measured. Each round refills 1,000 memories, then times one request (client send to
parsed answer). `--background N` keeps N other memories in the same project, to see the delete on a
fuller table and keyword index.

    python bench/bulk_delete.py [--rounds 20] [--ids 1000] [--background 0]

`--split`: in-process instead, where the time of a delete goes. The project is filled with `--background`
memories of one user (as bench_http.py loads them), and each round deletes `--ids` of them (the next ones in
load order, as bench_http.py does; `--order random`: ids at random among all)
through `engine.delete_many`; every statement of the store's transaction is
timed (the keyword index, the rows, the history texts, the history events, the change log, the commit...), and
the pages the commit wrote to the write-ahead log are counted by the b-tree they belong to (SQLite's dbstat).

    python bench/bulk_delete.py --split [--rounds 6] [--background 100000]

`--ab base=/old/tree,new=.`: two builds side by side over HTTP, in one run, as bench_http.py measures the delete:
each tree loads its own file of `--background` memories (bench_http.py's corpus and cached MiniLM vectors, through
that tree's `bench_http.load`, so each with the ids its own engine makes) and serves it from a real `memvault serve`
(the hashing embedder: a delete embeds nothing, and two MiniLM servers would only crowd the machine); then rounds of
`DELETE /v1/batch/` of `--ids` ids, the trees in alternating order, `--gap` seconds apart (3 s: each delete after
the compaction of the one before). `--order load` takes the next ids of the second half in load order, `--order
random` ids at random among all (seeded; the same positions on both sides).

    python bench/bulk_delete.py --ab base=/tmp/base,new=. [--rounds 10] [--background 100000] [--order random]
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import socket
import statistics
import struct
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine, Owners
from memvault.extract.base import Message
from memvault.extract.offline import OfflineExtractor
from memvault.http import create_app
from memvault.store.sqlite import SQLiteStore
from memvault.store.sqlite.connection import sqlite3

PARTS = (  # the statements of a delete's transaction, by what they write (first match wins)
    ("finding the rows", "SELECT seq, id, user_id"), ("receipt", "INSERT INTO records"),
    ("receipt", "DELETE FROM records"), ("keyword index", "DELETE FROM memories_fts"), ("rows", "DELETE FROM memories"),
    ("history texts", "UPDATE history"), ("history events", "INSERT INTO history"),
    ("change log", "SELECT last_insert_rowid"), ("change log", "SELECT seq, id FROM history WHERE seq IN"),
    ("change log", "INSERT INTO change_log"), ("change log", "INSERT INTO events"),
    ("vector log", "INSERT INTO vector_log"), ("commit", "COMMIT"),
)


class Timed:
    """A connection that adds the time of each statement to `spent`, by part (see PARTS)."""

    def __init__(self, conn: sqlite3.Connection, spent: collections.Counter[str]) -> None:
        self._c, self._spent = conn, spent

    def _timed(self, method: str, sql: str, *args: Any) -> Any:
        start = time.perf_counter()
        try:
            return getattr(self._c, method)(sql, *args)
        finally:
            part = next((name for name, head in PARTS if sql.lstrip().startswith(head)), "other")
            if part == "commit" and part in self._spent:
                part = "receipt"  # the engine records it in a transaction of its own, after the delete's
            self._spent[part] += (time.perf_counter() - start) * 1000

    def execute(self, sql: str, params: Any = ()) -> Any:
        return self._timed("execute", sql, params)

    def executemany(self, sql: str, params: Any) -> Any:
        return self._timed("executemany", sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._c, name)


class SplitStore(SQLiteStore):
    """The store, its statements timed while `spent` is set (the bench's own reads are not)."""

    spent: collections.Counter[str] | None = None

    def _conn(self) -> Any:
        conn = super()._conn()
        return Timed(conn, self.spent) if self.spent is not None else conn


def wal_pages(path: str, page_size: int) -> Iterator[int]:
    """The page numbers of the frames in a write-ahead log file."""
    data = Path(path).read_bytes() if Path(path).exists() else b""
    for offset in range(32, len(data) - 24 - page_size + 1, 24 + page_size):
        yield struct.unpack(">I", data[offset:offset + 4])[0]


def split(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "memvault.db"
        store = SplitStore(db)
        engine = Engine(store, HashingEmbedder(), OfflineExtractor())
        project = engine.project("bench").id
        ids: list[str] = []
        for start in range(0, args.background, 1000):
            messages = [Message("user", f"memory number {start + i} about topic {(start + i) % 97}")
                        for i in range(min(1000, args.background - start))]
            ids += [r.memory.id for r in engine.add(project, messages, Owners(user_id="bench-user"), infer=False)]
        shuffled = random.Random(4321).sample(ids, min(len(ids), (args.rounds + 1) * args.ids))
        conn = store._conn()
        page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        parts: dict[str, list[float]] = collections.defaultdict(list)
        pages: list[collections.Counter[str]] = []
        for round_ in range(args.rounds + 1):  # the first round warms the caches
            chunk = (shuffled[round_ * args.ids:(round_ + 1) * args.ids] if args.order == "random"
                     else ids[len(ids) // 2 + round_ * args.ids:len(ids) // 2 + (round_ + 1) * args.ids])
            if not args.back_to_back:
                time.sleep(0.2)
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            frames = sum(1 for _ in wal_pages(f"{db}-wal", page_size))
            owner = dict(conn.execute("SELECT pageno, name FROM dbstat").fetchall())
            spent: collections.Counter[str] = collections.Counter()
            store.spent = spent
            started = time.perf_counter()
            outcomes = engine.delete_many(project, chunk)
            total = (time.perf_counter() - started) * 1000
            store.spent = None
            assert sum(o.deleted for o in outcomes) == len(chunk)
            written = collections.Counter(owner.get(p, "(new pages)")
                                          for p in set(list(wal_pages(f"{db}-wal", page_size))[frames:]))
            if round_:
                for name, ms in spent.items():
                    parts[name].append(ms)
                parts["whole engine.delete_many"].append(total)
                pages.append(written)
            if not args.back_to_back:
                store.compact()  # as the server does 2 s after a delete: the next round starts from a compacted file
        engine.close()
    print(f"in-process delete of {args.ids} ids at {args.background} memories, SQLiteStore, {args.rounds} rounds, "
          f"{os.cpu_count()} CPUs; medians in ms")
    for name, values in sorted(parts.items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"  {name:26s} {statistics.median(values):7.1f}")
    summed: collections.Counter[str] = collections.Counter()
    for counter in pages:
        summed.update(counter)
    print(f"  pages written to the WAL (mean per delete, {page_size} bytes each): {summed.total() // len(pages)}")
    print("   " + ", ".join(f"{name} {count // len(pages)}" for name, count in summed.most_common() if count >= len(pages)))


LOAD = ("import json, sys; sys.path.insert(0, sys.argv[1] + '/bench'); from pathlib import Path; import bench_http; "
        "texts = bench_http.corpus(int(sys.argv[3])); key, ids = bench_http.load(Path(sys.argv[2]) / 'memvault.db', "
        "texts, bench_http.embeddings(texts)); print(json.dumps({'key': key, 'ids': ids}))")


def ab(args: argparse.Namespace) -> None:
    import json
    import subprocess
    import sys

    trees = dict(spec.split("=", 1) for spec in args.ab.split(","))
    with tempfile.TemporaryDirectory(prefix="memvault-ab-") as tmp:
        sides: dict[str, tuple[httpx.Client, list[list[str]], subprocess.Popen[bytes]]] = {}
        try:
            for name, tree in trees.items():
                tree = str(Path(tree).resolve())
                data = Path(tmp) / name
                data.mkdir()
                # cwd and PYTHONPATH: the tree's memvault, not this one's (sys.path starts with the working directory)
                env = {**os.environ, "PYTHONPATH": tree, "MEMVAULT_EMBEDDER": "hashing", "MEM0_TELEMETRY": "False"}
                out = subprocess.run([sys.executable, "-c", LOAD, tree, str(data), str(args.background)], env=env,
                                     cwd=tree, check=True, capture_output=True, text=True).stdout
                loaded = json.loads(out.strip().splitlines()[-1])
                ids = loaded["ids"]
                chosen = (random.Random(4321).sample(range(len(ids)), args.rounds * args.ids) if args.order == "random"
                          else range(len(ids) // 2, len(ids) // 2 + args.rounds * args.ids))
                picked = [ids[i] for i in chosen]
                port = free_port()
                proc = subprocess.Popen([sys.executable, "-m", "memvault.cli", "serve", "--data-dir", str(data),
                                         "--port", str(port)], env=env, cwd=tree)
                http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120,
                                    headers={"Authorization": f"Token {loaded['key']}"})
                sides[name] = (http, [picked[r * args.ids:(r + 1) * args.ids] for r in range(args.rounds)], proc)
                deadline = time.monotonic() + 120
                while True:
                    try:
                        if http.get("/healthz").status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise SystemExit(f"{name}: server did not start")
                    time.sleep(0.2)
                print(f"{name}: {len(ids)} memories loaded from {tree}, serving", flush=True)
            timings: dict[str, list[float]] = {name: [] for name in sides}
            names = list(sides)
            started_at = time.strftime("%H:%M:%S", time.gmtime())
            for round_ in range(args.rounds):
                for name in names if round_ % 2 == 0 else names[::-1]:
                    http, chunks, _ = sides[name]
                    time.sleep(args.gap)
                    start = time.perf_counter()
                    answer = http.request("DELETE", "/v1/batch/",
                                          json={"memories": [{"memory_id": i} for i in chunks[round_]]})
                    timings[name].append((time.perf_counter() - start) * 1000)
                    assert answer.status_code == 200 and str(args.ids) in answer.json()["message"], answer.text
        finally:
            for http, _, proc in sides.values():
                http.close()
                proc.terminate()
                proc.wait(timeout=30)
    print(f"DELETE /v1/batch/ of {args.ids} ids at {args.background} memories, {args.order} order, {args.rounds} "
          f"rounds each, interleaved, {args.gap} s apart, from {started_at} UTC; load average now "
          f"{os.getloadavg()[0]:.1f}")
    first = names[0]
    for name in names:
        ms = timings[name]
        ratio = statistics.median(ms) / statistics.median(timings[first]) * 100
        print(f"  {name:8s} p50 {statistics.median(ms):7.1f} ms  min {min(ms):7.1f}  max {max(ms):7.1f}  "
              f"({ratio:.1f} % of {first})  [{', '.join(f'{t:.0f}' for t in ms)}]")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fill(engine: Engine, project: str, n: int, tag: str) -> list[str]:
    messages = [Message("user", f"{tag} memory number {i} about topic {i % 97}") for i in range(n)]
    return [r.memory.id for r in engine.add(project, messages, infer=False)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--ids", type=int, default=1000)
    parser.add_argument("--background", type=int, default=0, help="other memories kept in the project")
    parser.add_argument("--split", action="store_true", help="in-process: where a delete's time and pages go")
    parser.add_argument("--back-to-back", action="store_true",
                        help="with --split: no compaction or checkpoint between deletes (as bench_http.py's five)")
    parser.add_argument("--ab", help="name=tree,name=tree: two builds side by side over HTTP (see above)")
    parser.add_argument("--order", choices=("load", "random"), default="load",
                        help="with --ab or --split: the next ids in load order, or ids at random")
    parser.add_argument("--gap", type=float, default=3.0, help="with --ab: seconds before each delete")
    args = parser.parse_args()
    if args.ab:
        ab(args)
        return
    if args.split:
        split(args)
        return

    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(SQLiteStore(Path(tmp) / "memvault.db"), HashingEmbedder(), OfflineExtractor())
        project = engine.project("bench").id
        _, key = engine.create_key("bench", "bench")
        for start in range(0, args.background, 1000):
            fill(engine, project, min(1000, args.background - start), f"background{start}")

        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(engine), host="127.0.0.1", port=port,
                                               log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{port}"
        while not server.started:
            time.sleep(0.01)

        timings: list[float] = []
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
            for round_ in range(args.rounds + 1):
                ids = fill(engine, project, args.ids, f"round{round_}")
                started = time.perf_counter()
                answer = http.post("/api/memories/bulk-delete", json={"memoryIds": ids})
                body = answer.json()
                elapsed = time.perf_counter() - started
                assert answer.status_code == 200 and body["deleted"] == args.ids, answer.text
                if round_:  # the first round warms connections and caches
                    timings.append(elapsed * 1000)

        server.should_exit = True
        thread.join(timeout=10)
        engine.close()

    print(f"bulk delete of {args.ids} ids over HTTP, SQLiteStore, {args.background} other memories, "
          f"{args.rounds} rounds, {os.cpu_count()} CPUs")
    print(f"p50 {statistics.median(timings):.1f} ms   p95 {percentile(timings, 0.95):.1f} ms   "
          f"min {min(timings):.1f} ms   max {max(timings):.1f} ms")


if __name__ == "__main__":
    main()
