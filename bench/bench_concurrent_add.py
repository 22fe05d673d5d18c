"""Adds under concurrency, against the embedder's own ceiling measured in the same run.

    python bench/bench_concurrent_add.py [--facts 2000] [--clients 8] [--batch 100]

1. ceiling: the bundled MiniLM embedder alone, in this process, on the same facts in batches of 64 (its best
   case: no HTTP, no database); texts per second.
2. a real `memvault serve` (SQLite in a temp dir, its own process) is started; `--clients` connections each add
   one memory per call (POST /v3/memories/add/, infer=false), all facts distinct; memories per second, and the
   clients' CPU per add. `--client lean` (default): bench/lean_client.py, one asyncio process writing raw HTTP/1.1
   (~0.1 ms of CPU per add); `--client httpx`: threads of this process (0.9-1.1 ms per add, on the same cores as
   the server: the client of the figures before 2026-12-01).
3. the same server, one client, `--batch` memories per call; memories per second.
4. with `--compare-unbatched`: step 2 again against the same server built without the batching queue.
5. with `--peer-python` (a virtualenv with mem0ai, torch and sentence-transformers, see bench/peer_mem0.py):
   mem0 OSS's own `Memory`, in-process, adding the first `--peer-facts` facts of step 2 one per call, right after
   step 2 and followed by step 2 again (other facts), so the ratio compares neighbouring minutes.
6. the same single adds in-process (threads calling the engine, no HTTP), with the texts per model call and the
   adds per write transaction; then the ceiling again.
Each figure is printed with its ratio to the ceiling of step 1 (the issue's targets: 80 % and 90 %), and
step 2 with its ratio to the peer.
The server embeds through one batching queue (memvault/embed/batching.py), so concurrent single adds share
model calls.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from bench_http import free_port, sentence, wait_until_up

from memvault.embed import build_embedder
from memvault.embed.batching import BatchingEmbedder
from memvault.engine import Engine, Owners
from memvault.extract.offline import OfflineExtractor
from memvault.store.sqlite import SQLiteStore

USER = "bench-user"


def facts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [sentence(rng, seed * 10_000_000 + i) for i in range(n)]


def ceiling(texts: list[str]) -> float:
    embedder = build_embedder("minilm")
    embedder.embed(texts[:64])  # load the model first
    start = time.perf_counter()
    for i in range(0, len(texts), 64):
        embedder.embed(texts[i:i + 64])
    return len(texts) / (time.perf_counter() - start)


UNBATCHED = """
import sys, uvicorn
from memvault.config import Settings
from memvault.embed import build_embedder
from memvault.embed.batching import BatchingEmbedder
from memvault.factory import build_engine
from memvault.http import create_app
engine = build_engine(Settings(data_dir=sys.argv[1]), embedder=build_embedder("minilm"))  # no batching queue
uvicorn.run(create_app(engine), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def start_unbatched(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """The same server with the embedder called by each request directly, as before the batching queue."""
    proc = subprocess.Popen([sys.executable, "-c", UNBATCHED, str(data_dir), str(port)],
                            env={**os.environ, "MEM0_TELEMETRY": "False"})
    return wait_until_up(proc, port)


def start_quiet(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """`memvault serve` as bench_http starts it, its log lines (one per request) to /dev/null rather than this
    process's terminal, as bench_ab.py runs it."""
    env = {**os.environ, "MEMVAULT_EMBEDDER": "minilm", "MEM0_TELEMETRY": "False"}
    proc = subprocess.Popen([sys.executable, "-m", "memvault.cli", "serve", "--data-dir", str(data_dir),
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return wait_until_up(proc, port)


def in_process(texts: list[str], clients: int, data_dir: Path) -> str:
    """The same single adds with no HTTP: `clients` threads calling the engine (SQLite, the batching queue) in this
    process; the rate, the texts per model call and the adds per write transaction (group commit)."""
    engine = Engine(SQLiteStore(data_dir / "in-process.db"), BatchingEmbedder(build_embedder("minilm")),
                    OfflineExtractor())
    try:
        pid = engine.project().id
        engine.add_text(pid, "warm up", Owners(user_id=USER))
        calls, writes = engine.embedder.batches, engine.writes.transactions  # type: ignore[attr-defined]
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(lambda t: engine.add_text(pid, t, Owners(user_id=USER)), texts))
        rate = len(texts) / (time.perf_counter() - start)
        calls = engine.embedder.batches - calls  # type: ignore[attr-defined]
        writes = engine.writes.transactions - writes
        return (f"{rate:.0f} /s; {len(texts) / calls:.1f} texts per model call, {len(texts) / writes:.2f} adds per "
                "write transaction")
    finally:
        engine.close()


def make_key(data_dir: Path) -> str:
    engine = Engine(SQLiteStore(data_dir / "memvault.db"), build_embedder("hashing"), OfflineExtractor())
    try:
        return engine.create_key("bench", "bench")[1]
    finally:
        engine.close()


@dataclass(frozen=True)
class Run:
    rate: float  # adds per second
    client_cpu_ms: float  # the clients' CPU per add


CLIENTS = ("lean", "httpx")
LEAN = Path(__file__).with_name("lean_client.py")


def body(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], "user_id": USER, "infer": False}


def single_adds(url: str, key: str, texts: list[str], clients: int, client: str = "lean") -> Run:
    """`clients` connections adding one memory per call. `lean`: bench/lean_client.py in its own process (raw
    HTTP/1.1 from one asyncio loop); `httpx`: threads of this process, one httpx.Client each (the client of the
    figures before 2026-12-01, kept to compare with them)."""
    if client == "lean":
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8") as f:
            f.writelines(json.dumps(body(t), ensure_ascii=False) + "\n" for t in texts)
            f.flush()
            done = subprocess.run([sys.executable, str(LEAN), url, key, f.name, str(clients)], capture_output=True,
                                  text=True, timeout=3600)
        if done.returncode != 0:
            raise SystemExit(f"lean client failed: {done.stderr.strip()[-500:]}")
        report = json.loads(done.stdout.strip().splitlines()[-1])
        return Run(report["n"] / report["seconds"], report["cpu_s"] * 1000 / report["n"])

    def worker(part: list[str]) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Token {key}"}, timeout=60) as http:
            for text in part:
                r = http.post("/v3/memories/add/", json=body(text))
                r.raise_for_status()
                assert len(r.json()["results"]) == 1

    parts = [texts[i::clients] for i in range(clients)]
    cpu0, start = own_cpu(), time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, parts))
    return Run(len(texts) / (time.perf_counter() - start), (own_cpu() - cpu0) * 1000 / len(texts))


def concurrent_single_adds(url: str, key: str, texts: list[str], clients: int, client: str = "lean") -> float:
    return single_adds(url, key, texts, clients, client).rate


def own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def batched_adds(url: str, key: str, texts: list[str], per_call: int) -> float:
    with httpx.Client(base_url=url, headers={"Authorization": f"Token {key}"}, timeout=120) as http:
        start = time.perf_counter()
        for i in range(0, len(texts), per_call):
            messages = [{"role": "user", "content": t} for t in texts[i:i + per_call]]
            r = http.post("/v3/memories/add/", json={"messages": messages, "user_id": USER, "infer": False})
            r.raise_for_status()
        return len(texts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--facts", type=int, default=2000, help="memories added in each of steps 2 and 3")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batch", type=int, default=100, help="memories per call in step 3")
    parser.add_argument("--peer-python", help="python of a virtualenv with mem0ai (bench/peer_mem0.py)")
    parser.add_argument("--peer-facts", type=int, default=500)
    parser.add_argument("--compare-unbatched", action="store_true",
                        help="also run step 2 against a server without the batching queue")
    parser.add_argument("--client", choices=CLIENTS, default="lean",
                        help="lean: bench/lean_client.py in its own process; httpx: threads of this process (as "
                             "the figures before 2026-12-01)")
    args = parser.parse_args()

    single, batched, warm = facts(args.facts, 1), facts(args.facts, 2), facts(200, 3)
    top = ceiling(single + batched)
    print(f"embedder ceiling (in-process, batches of 64): {top:.0f} texts/s")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        key = make_key(data_dir)
        port = free_port()
        server = start_quiet(data_dir, port)
        url = f"http://127.0.0.1:{port}"
        try:
            concurrent_single_adds(url, key, warm, args.clients, args.client)  # model loaded, connections warm
            run = single_adds(url, key, single, args.clients, args.client)
            rate = run.rate
            print(f"add, {args.clients} clients ({args.client}), one memory per call: {rate:.0f} /s = {rate / top:.0%} "
                  f"of the ceiling; the clients' CPU {run.client_cpu_ms:.2f} ms per add")
            single_rate = rate
            if args.peer_python:  # bracketed by two runs of memvault's, on a machine whose speed drifts
                peer = run_peer(args.peer_python, single[: args.peer_facts], data_dir)
                again = single_adds(url, key, facts(args.facts, 8), args.clients, args.client).rate
                print(f"mem0 OSS Memory, in-process, one add per call: {peer:.1f} /s; memvault over HTTP with "
                      f"{args.clients} clients, just before and just after it: {single_rate:.0f} and {again:.0f} /s = "
                      f"{single_rate / peer:.1f}x and {again / peer:.1f}x")
            rate = batched_adds(url, key, batched, args.batch)
            print(f"add, one client, {args.batch} per call: {rate:.0f} /s = {rate / top:.0%} of the ceiling")
        finally:
            server.terminate()
            server.wait(30)
        if args.compare_unbatched:
            port = free_port()
            server = start_unbatched(data_dir, port)
            url = f"http://127.0.0.1:{port}"
            try:
                concurrent_single_adds(url, key, facts(200, 4), args.clients, args.client)
                rate = concurrent_single_adds(url, key, facts(args.facts, 5), args.clients, args.client)
                print(f"add, {args.clients} clients, one memory per call, WITHOUT the batching queue: {rate:.0f} /s "
                      f"= {rate / top:.0%} of the ceiling; with it: {single_rate / rate:.2f}x")
            finally:
                server.terminate()
                server.wait(30)
        rate_line = in_process(facts(args.facts, 7), args.clients, data_dir)
        print(f"add, {args.clients} threads in-process (no HTTP), one memory per call: {rate_line}")
        after = ceiling(facts(args.facts, 6))
        print(f"embedder ceiling again, after the server's runs: {after:.0f} texts/s; {args.clients} clients' adds = "
              f"{single_rate / max(top, after):.0%} of the better of the two")


def run_peer(python: str, texts: list[str], tmp: Path) -> float:
    facts_file = tmp / "peer-facts.txt"
    facts_file.write_text("\n".join(texts) + "\n", encoding="utf-8")
    script = Path(__file__).with_name("peer_mem0.py")
    done = subprocess.run([python, str(script), "--facts", str(len(texts)), "--facts-file", str(facts_file)],
                          capture_output=True, text=True, timeout=3600, check=True)
    return float(json.loads(done.stdout.strip().splitlines()[-1])["adds_per_s"])


if __name__ == "__main__":
    main()
