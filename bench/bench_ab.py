"""Two or more builds of memvault side by side in one run: adds under concurrency with the CPU each side spends,
and the server's RSS after 10,000 memories. For before/after ratios on a machine whose speed drifts.

    python bench/bench_ab.py adds base=/path/to/old/tree,new=. [rounds] [facts] [lean|httpx]
    python bench/bench_ab.py rss base=/path/to/old/tree,new=.=MALLOC_ARENA_MAX=2 [rounds]

Each `name=tree[=VAR=value]` is a source tree (put first on PYTHONPATH, e.g. `git archive <commit> | tar -x -C
/tmp/old`) and optionally one environment variable for its server.

adds: one `memvault serve` per tree (SQLite in a temp dir), warmed, then rounds of 8 client threads adding one
memory per call (infer=false), the trees in alternating order; for each round the adds per second, the server's
CPU per add (with its busiest threads: the model's two, the event loop, the request workers) and this process's
(the clients'); the embedder's own ceiling (bench_concurrent_add.ceiling) before and after.
rss: per round and tree, a fresh server, one search (the model loads), 10,000 memories over HTTP (100 per call), 50
searches, its RSS after each phase.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
from bench_concurrent_add import CLIENTS, ceiling, concurrent_single_adds, facts, single_adds
from bench_http import free_port, wait_until_up

KEY = ("import sys; from pathlib import Path; from memvault.engine import Engine; "
       "from memvault.store.sqlite import SQLiteStore; from memvault.embed import build_embedder; "
       "from memvault.extract.offline import OfflineExtractor; "
       "e = Engine(SQLiteStore(Path(sys.argv[1]) / 'memvault.db'), build_embedder('hashing'), OfflineExtractor()); "
       "print(e.create_key('bench', 'bench')[1]); e.close()")


def serve(spec: str, data_dir: Path) -> tuple[str, str, subprocess.Popen[bytes]]:
    _, tree, *extra = spec.split("=")
    env = {**os.environ, "PYTHONPATH": str(Path(tree).resolve()), "MEM0_TELEMETRY": "False",
           "MEMVAULT_EMBEDDER": "minilm", **({extra[0]: extra[1]} if extra else {})}
    data_dir.mkdir()
    # cwd: `python -m` puts the working directory first on sys.path, ahead of PYTHONPATH; run from a checkout, every
    # side would otherwise import that checkout's memvault.
    key = subprocess.run([sys.executable, "-c", KEY, str(data_dir)], env=env, capture_output=True, text=True,
                         check=True, cwd=data_dir).stdout.strip()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "memvault.cli", "serve", "--data-dir", str(data_dir),
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=data_dir)
    return f"http://127.0.0.1:{port}", key, wait_until_up(proc, port)


def adds(specs: list[str], rounds: int, n: int, client: str = "lean") -> None:
    tmp = Path(tempfile.mkdtemp())
    servers = {s.split("=")[0]: serve(s, tmp / s.split("=")[0]) for s in specs}
    rates: dict[str, list[float]] = {name: [] for name in servers}
    try:
        for i, (url, key, _) in enumerate(servers.values()):
            concurrent_single_adds(url, key, facts(200, 900 + i), 8, client)  # model loaded, connections warm
        top = ceiling(facts(2000, 1))
        print(f"embedder ceiling before: {top:.0f} texts/s")
        seed = 10
        for r in range(rounds):
            for name in (list(servers) if r % 2 == 0 else list(servers)[::-1]):
                url, key, proc = servers[name]
                seed += 1
                server = psutil.Process(proc.pid)
                theirs = server.cpu_times()
                threads = {t.id: t.user_time + t.system_time for t in server.threads()}
                run = single_adds(url, key, facts(n, seed), 8, client)
                rate = run.rate
                after = server.cpu_times()
                busiest = sorted(((t.user_time + t.system_time - threads.get(t.id, 0)) * 1000 / n
                                  for t in server.threads()), reverse=True)
                rates[name].append(rate)
                print(f"round {r} {name}: {rate:.0f} adds/s; server CPU "
                      f"{(after.user + after.system - theirs.user - theirs.system) * 1000 / n:.2f} ms/add (busiest "
                      f"threads {', '.join(f'{x:.2f}' for x in busiest[:4])}), clients ({client}) {run.client_cpu_ms:.2f} "
                      "ms/add", flush=True)
        top = max(top, ceiling(facts(2000, 2)))
        for name, got in rates.items():
            print(f"{name}: median {statistics.median(got):.0f} adds/s = {statistics.median(got) / top:.0%} of the "
                  f"best ceiling ({top:.0f}/s); rounds {[round(x) for x in got]}")
    finally:
        for _, _, proc in servers.values():
            proc.terminate()
            proc.wait(30)


def rss(specs: list[str], rounds: int) -> None:
    tmp = Path(tempfile.mkdtemp())
    for r in range(rounds):
        for spec in (specs if r % 2 == 0 else specs[::-1]):
            name = spec.split("=")[0]
            url, key, proc = serve(spec, tmp / f"{name}-{r}")
            try:
                texts = facts(10_000, 20 + r)
                phases = [psutil.Process(proc.pid).memory_info().rss / 2**20]  # started
                with httpx.Client(base_url=url, headers={"Authorization": f"Token {key}"}, timeout=120) as http:
                    http.post("/v3/memories/search/", json={"query": "tea", "filters": {"user_id": "u"}}).raise_for_status()
                    phases.append(psutil.Process(proc.pid).memory_info().rss / 2**20)  # the model loaded
                    start = time.perf_counter()
                    for i in range(0, len(texts), 100):
                        http.post("/v3/memories/add/", json={"messages": [{"role": "user", "content": t}
                                                                          for t in texts[i:i + 100]],
                                                             "user_id": "u", "infer": False}).raise_for_status()
                    rate = len(texts) / (time.perf_counter() - start)
                    phases.append(psutil.Process(proc.pid).memory_info().rss / 2**20)  # 10,000 added
                    for q in facts(50, 99):
                        http.post("/v3/memories/search/", json={"query": q, "filters": {"user_id": "u"}}).raise_for_status()
                print(f"round {r} {name}: RSS {psutil.Process(proc.pid).memory_info().rss / 2**20:.0f} MB after "
                      f"10,000 memories and 50 searches (added at {rate:.0f}/s); started {phases[0]:.0f}, model loaded "
                      f"{phases[1]:.0f}, 10,000 added {phases[2]:.0f} MB", flush=True)
            finally:
                proc.terminate()
                proc.wait(30)


if __name__ == "__main__":
    what, specs = sys.argv[1], sys.argv[2].split(",")
    if what == "adds":
        client = sys.argv[5] if len(sys.argv) > 5 else "lean"
        if client not in CLIENTS:
            raise SystemExit(f"client: one of {', '.join(CLIENTS)}")
        adds(specs, int(sys.argv[3]) if len(sys.argv) > 3 else 3, int(sys.argv[4]) if len(sys.argv) > 4 else 800, client)
    else:
        rss(specs, int(sys.argv[3]) if len(sys.argv) > 3 else 1)
