"""Mixed traffic against `memvault serve --workers N` on PostgreSQL, for N = 1, 2, 4 (one run, same minutes).

    python bench/bench_workers.py [--seed 2000] [--clients 16] [--seconds 30] [--workers 1,2,4]

1. An embedded PostgreSQL (memvault/testing/postgres.py) gets a database of `--seed` memories (the bundled MiniLM
   embedder, added in batches through a real server), and a key; it is the template of every phase's database.
2. Cost phases (one worker): `--clients` clients search only, then add only (one memory per call); the CPU the
   server's processes and PostgreSQL's spent, divided by the requests answered, is a request's CPU cost.
3. Mixed phases, one per N in `--workers` and round (`--rounds`, every other one in the reverse order): a fresh
   copy of the template, `memvault serve --workers N`, and `--clients` clients (threads, one kept-alive
   connection each) running 70 % search, 20 % single add (infer=false), 5 % get by id and 5 % delete (of a memory
   the same client added) for `--seconds`, after a warm-up (`--warmup` seconds, and until every client had 5
   answers: a worker loads its model at its first embedding).
Printed per phase: requests/s, p50/p95 of each operation (ms), the CPU seconds of the server's processes, of
PostgreSQL and of this client process per request, the workers the connections landed on, the RSS of the server's
processes (the parent, the workers, uvicorn's resource tracker); at the end, the
CPU of one query embedding by the model alone.
The clients run on the same machine: their CPU is reported beside the server's.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from bench_http import free_port, pct, sentence

from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.extract.offline import OfflineExtractor
from memvault.http import WORKER_HEADER
from memvault.store.postgres import PostgresStore
from memvault.testing.postgres import EmbeddedPostgres

USER = "bench-user"
MIX = (("search", 70), ("add", 20), ("get", 5), ("delete", 5))


@dataclass
class Phase:
    name: str
    workers: int
    mix: tuple[tuple[str, int], ...]
    done: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    landed: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    rss: list[float] = field(default_factory=list)  # MB of each of the server's processes at the end

    def count(self) -> int:
        return sum(len(v) for v in self.done.values())


def start(url: str, port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    env = {"MEMVAULT_DATABASE_URL": url, "MEM0_TELEMETRY": "False", "MEMVAULT_LOG_LEVEL": "warning"}
    proc = subprocess.Popen([sys.executable, "-m", "memvault", "serve", "--port", str(port), "--workers",
                             str(workers)], env={**os.environ, **env},
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    seen: set[str] = set()
    while time.monotonic() < deadline and len(seen) < workers:  # every worker up (each loads the model)
        assert proc.poll() is None, log.read_text()[-2000:]
        try:
            with httpx.Client(timeout=2) as probe:  # a new connection each time: it may land on another worker
                seen.add(probe.get(f"http://127.0.0.1:{port}/healthz").headers[WORKER_HEADER])
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    assert len(seen) == workers, f"only {len(seen)} of {workers} workers answered"
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def cpu_of(pids: set[int]) -> dict[int, float]:
    out = {}
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            out[pid] = t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return out


def tree(pid: int) -> set[int]:
    root = psutil.Process(pid)
    return {pid, *(p.pid for p in root.children(recursive=True))}


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def seed(pg: EmbeddedPostgres, n: int, log: Path) -> tuple[str, str]:
    """The template database: `n` memories and a key. Returns (its name, the clear key)."""
    url = pg.create_database("seed")
    store = PostgresStore(url, max_size=2)
    key = Engine(store, HashingEmbedder(), OfflineExtractor()).create_key(None, "bench")[1]
    store.close()
    port = free_port()
    proc = start(url, port, 1, log)
    rng = random.Random(11)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Token {key}"},
                          timeout=300) as http:
            for i in range(0, n, 200):
                messages = [{"role": "user", "content": sentence(rng, j)} for j in range(i, min(n, i + 200))]
                http.post("/v3/memories/add/", json={"messages": messages, "user_id": USER, "infer": False}
                          ).raise_for_status()
    finally:
        stop(proc)
    return "seed", key


def run(phase: Phase, pg: EmbeddedPostgres, template: str, key: str, clients: int, seconds: float,
        warmup: float, log: Path) -> None:
    db = f"p_{phase.name.replace('-', '_')}"
    url = pg.create_database(db, template=template)
    port = free_port()
    proc = start(url, port, phase.workers, log)
    base = f"http://127.0.0.1:{port}"
    ops = [name for name, weight in phase.mix for _ in range(weight)]
    measuring, ending = threading.Event(), threading.Event()
    lock = threading.Lock()

    def client(c: int) -> None:
        rng = random.Random(1000 + c)
        mine: list[str] = []
        with httpx.Client(base_url=base, headers={"Authorization": f"Token {key}"}, timeout=120) as http:
            worker = http.get("/healthz").headers[WORKER_HEADER]
            with lock:
                phase.landed[worker] += 1
            actions: dict[str, Callable[[], httpx.Response]] = {
                "search": lambda: http.post("/v3/memories/search/", json={
                    "query": sentence(rng, rng.randrange(10**6)), "filters": {"user_id": USER}, "top_k": 10}),
                "add": lambda: http.post("/v3/memories/add/", json={"messages": [{"role": "user", "content": sentence(
                    rng, 10**7 + c * 10**5 + len(mine))}], "user_id": USER, "infer": False}),
                "get": lambda: http.get(f"/v1/memories/{rng.choice(mine)}/"),
                "delete": lambda: http.delete(f"/v1/memories/{mine.pop(rng.randrange(len(mine)))}/"),
            }
            while not ending.is_set():
                op = rng.choice(ops)
                if op in ("get", "delete") and not mine:
                    op = "add"
                began = time.perf_counter()
                answer = actions[op]()
                took = time.perf_counter() - began
                if answer.status_code >= 400:
                    with lock:
                        phase.errors[f"{op} {answer.status_code}"] += 1
                    continue
                if op == "add":
                    mine.extend(str(r["id"]) for r in answer.json()["results"])
                warm[c] += 1
                if measuring.is_set() and not ending.is_set():
                    with lock:
                        phase.done[op].append(took * 1000)

    warm = [0] * clients  # requests each client had answered (a worker loads its model at its first embedding)
    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    try:
        for t in threads:
            t.start()
        time.sleep(warmup)
        while min(warm) < 5:
            time.sleep(0.2)
        server, postgres = tree(proc.pid), tree(pg.pid or 0)
        before_server, before_pg = cpu_of(server), cpu_of(postgres)
        before_me, began = time.process_time(), time.perf_counter()
        measuring.set()
        time.sleep(seconds)
        ending.set()
        phase.seconds = time.perf_counter() - began
        phase.cpu = {"server": spent(before_server, cpu_of(tree(proc.pid))),
                     "postgres": spent(before_pg, cpu_of(tree(pg.pid or 0))),
                     "client": time.process_time() - before_me}
        phase.rss = sorted((psutil.Process(pid).memory_info().rss / 2**20 for pid in tree(proc.pid)), reverse=True)
        for t in threads:
            t.join()
    finally:
        ending.set()
        stop(proc)
    pg.drop_database(db)


def report(phase: Phase) -> None:
    n = phase.count()
    print(f"\n{phase.name}: {phase.workers} worker(s), {n} requests in {phase.seconds:.1f} s = "
          f"{n / phase.seconds:.1f} req/s; connections per worker {sorted(phase.landed.values(), reverse=True)}")
    for op, values in sorted(phase.done.items()):
        print(f"  {op:7s} {len(values):6d}  {len(values) / phase.seconds:7.1f}/s  p50 {pct(values, 50):7.1f} ms  "
              f"p95 {pct(values, 95):7.1f} ms")
    per = {k: v / n * 1000 for k, v in phase.cpu.items()} if n else {}
    print("  CPU ms per request: " + ", ".join(f"{k} {v:.1f}" for k, v in per.items())
          + f" (CPU s: {', '.join(f'{k} {v:.1f}' for k, v in phase.cpu.items())})")
    print("  RSS MB of the server's processes: " + ", ".join(f"{mb:.0f}" for mb in phase.rss))
    if phase.errors:
        print(f"  errors: {dict(phase.errors)}")


def model_cost(n: int = 200) -> None:
    """The model alone, in this process: CPU (every thread) and wall time of one query's embedding."""
    from memvault.embed import build_embedder
    from memvault.embed.batching import embed_query

    embedder = build_embedder("minilm")
    rng = random.Random(5)
    queries = [sentence(rng, i) for i in range(n)]
    embed_query(embedder, queries[0])
    cpu, wall = time.process_time(), time.perf_counter()
    for q in queries:
        embed_query(embedder, q)
    print(f"\nmodel alone: one query embedding {(time.process_time() - cpu) / n * 1000:.1f} ms CPU, "
          f"{(time.perf_counter() - wall) / n * 1000:.1f} ms wall")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--rounds", type=int, default=2, help="mixed phases: 1,2,4 then 4,2,1 ...")
    parser.add_argument("--log", default="/tmp/bench_workers.log", help="the servers' output")
    parser.add_argument("--skip-cost", action="store_true", help="no search-only / add-only phases")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    print(f"{psutil.cpu_count()} CPUs, load average {psutil.getloadavg()}")
    with EmbeddedPostgres() as pg:
        log = Path(args.log)
        template, key = seed(pg, args.seed, log)
        phases = [] if args.skip_cost else [Phase("cost-search", 1, (("search", 1),)), Phase("cost-add", 1, (("add", 1),))]
        for r in range(args.rounds):  # the second round in the reverse order: a neighbour's load drifts less into one N
            phases += [Phase(f"mixed-{w}-r{r + 1}", w, MIX) for w in (counts if r % 2 == 0 else counts[::-1])]
        for phase in phases:
            run(phase, pg, template, key, args.clients, args.seconds, args.warmup, log)
            report(phase)
        if not args.skip_cost:
            model_cost()
        print(f"\nload average after: {psutil.getloadavg()}")


if __name__ == "__main__":
    main()
