"""Bulk delete of 1,000 ids over HTTP: `POST /api/memories/bulk-delete` against a real uvicorn server.

The store is the embedded default (SQLiteStore, one file, WAL). Memories are filled through the engine
with the HashingEmbedder, which is fast; the delete itself embeds nothing, so the embedder does not
change what is measured. Each round refills 1,000 memories, then times one request (client send to
parsed answer). `--background N` keeps N other memories in the same project, to see the delete on a
fuller table and keyword index.

    python bench/bulk_delete.py [--rounds 20] [--ids 1000] [--background 0]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.extract.base import Message
from memvault.extract.offline import OfflineExtractor
from memvault.http import create_app
from memvault.store.sqlite import SQLiteStore


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
    args = parser.parse_args()

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
