"""Chat-history search recall on LoCoMo, through MemoryPlugin's chat-history API over real HTTP.

Each LoCoMo conversation (``../shared/data/locomo-dev/<id>.json``) goes to a project of its own (its own API key),
**one archived conversation per LoCoMo session** — what a chat app's export holds: one conversation per sitting.
Every turn is one message: ``id`` = its ``dia_id``, ``role`` = the speaker's name, ``content`` = its text (plus
``" [shared a photo: <blip_caption>]"`` as in bench/locomo.py), ``createdAt`` = the session's date. They are sent
with ``POST /api/chat-history/ingest/custom-online`` (the title: "Session N"), chunked and embedded by the server
(MiniLM, SQLite). Then every question of categories 1-4 is asked with ``POST /api/chat-history/search``
(``limit`` 10, the question only). Only this script reads ``qa``.

A result is a passage of a few turns (CHUNK_TURNS, overlapping by one). Two recalls of the evidence turns, each
averaged over questions:

* **passages@10**: the evidence turns inside the first 10 passages (``firstMessageIndex``..``lastMessageIndex``) —
  what a client that shows or injects the passages has in hand (up to ~31 distinct turns);
* **best turn@10**: the evidence turns among the 10 results' ``messageId`` (the turn of each passage that holds most
  of the question's words) — ten turns, the same count of turns as memory search's recall@10 (bench/locomo.py).

    python bench/chats_locomo.py [--conversations 26,30,41] [--embedder minilm]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from memvault.embed import build_embedder
from memvault.engine import Engine
from memvault.extract.offline import OfflineExtractor
from memvault.store.sqlite import SQLiteStore
from memvault.testing.server import Server

DATA = Path(os.environ.get("MEMVAULT_LOCOMO_DIR") or Path(__file__).resolve().parents[2] / "shared/data/locomo-dev")
TOP = 10


def turn_text(turn: dict[str, Any]) -> str:
    text = str(turn["text"])
    if turn.get("blip_caption"):
        text += f" [shared a photo: {turn['blip_caption']}]"
    return text


def session_date(raw: str) -> str | None:
    """LoCoMo's "1:56 pm on 8 May, 2023" as ISO 8601 (UTC)."""
    try:
        return datetime.strptime(raw.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC).isoformat()
    except ValueError:
        return None


def sessions(conv: dict[str, Any]) -> list[tuple[int, str, list[dict[str, Any]]]]:
    out = []
    for key, turns in conv.items():
        m = re.fullmatch(r"session_(\d+)", key)
        if m and isinstance(turns, list) and turns:
            out.append((int(m.group(1)), str(conv.get(f"{key}_date_time", "")), turns))
    return sorted(out, key=lambda s: s[0])


def evidence_ids(raw: list[str]) -> set[str]:
    out = set()
    for item in raw:
        for part in re.split(r"[;,\s]+", str(item)):
            if re.fullmatch(r"D\d+:\d+", part):
                out.add(part)
    return out


def ok(answer: httpx.Response) -> Any:
    if answer.status_code != 200:
        raise SystemExit(f"{answer.request.method} {answer.request.url}: {answer.status_code} {answer.text[:300]}")
    return answer.json()


def load(http: httpx.Client, conv: dict[str, Any]) -> dict[str, dict[int, str]]:
    """Ingest each session; returns conversation id -> message_index -> dia_id (read back from the server)."""
    by_conv: dict[str, dict[int, str]] = {}
    for number, date, turns in sessions(conv):
        at = session_date(date)
        body = {"conversation": {"id": f"session_{number}", "title": f"Session {number}", "createdAt": at,
                                 "messages": [{"id": t["dia_id"], "role": t["speaker"], "content": turn_text(t),
                                               "createdAt": at} for t in turns]},
                "platform": "locomo"}
        answer = ok(http.post("/chat-history/ingest/custom-online", json=body))
        if answer["conversation"]["status"] != "completed":
            raise SystemExit(f"session {number}: {answer['conversation']}")
        read = ok(http.get("/chat-history/conversation", params={"conversationId": answer["conversationId"]}))
        by_conv[answer["conversationId"]] = {m["message_index"]: m["id"] for m in read["messages"]}
    return by_conv


def run(conv_ids: list[str], embedder_name: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="memvault-chats-locomo-") as tmp:
        engine = Engine(SQLiteStore(Path(tmp) / "memvault.db"), build_embedder(embedder_name), OfflineExtractor())
        with Server(engine) as server:
            pooled: dict[str, list[float]] = {"passages": [], "best": []}
            times: list[float] = []
            for cid in conv_ids:
                conv = json.loads((DATA / f"{cid}.json").read_text())
                key = server.key(f"locomo-{cid}")
                with httpx.Client(base_url=server.url + "/api", headers={"Authorization": f"Bearer {key}"},
                                  timeout=120) as http:
                    t0 = time.perf_counter()
                    by_conv = load(http, conv)
                    ingest_s = time.perf_counter() - t0
                    stored = {d for turns in by_conv.values() for d in turns.values()}
                    questions = [q for q in conv["qa"] if q.get("category") in (1, 2, 3, 4)
                                 and evidence_ids(q.get("evidence", [])) & stored]
                    ok(http.post("/chat-history/search", json={"query": "hello", "limit": TOP}))  # warm up
                    recalls: dict[str, list[float]] = {"passages": [], "best": []}
                    for q in questions:
                        evidence = evidence_ids(q["evidence"]) & stored
                        t = time.perf_counter()
                        hits = ok(http.post("/chat-history/search", json={"query": q["question"], "limit": TOP}))
                        times.append(time.perf_counter() - t)
                        shown = {by_conv[h["conversationId"]][i] for h in hits["results"]
                                 for i in range(h["firstMessageIndex"], h["lastMessageIndex"] + 1)}
                        best = {h["messageId"] for h in hits["results"]}
                        recalls["passages"].append(len(evidence & shown) / len(evidence))
                        recalls["best"].append(len(evidence & best) / len(evidence))
                results[cid] = {"n": len(questions), "sessions": len(by_conv), "ingest_s": round(ingest_s, 1),
                                **{k: statistics.fmean(v) for k, v in recalls.items()}}
                for k in pooled:
                    pooled[k] += recalls[k]
            ms = sorted(t * 1000 for t in times)
            results["all"] = {"n": len(pooled["best"]), **{k: statistics.fmean(v) for k, v in pooled.items()},
                              "p50_ms": ms[len(ms) // 2], "p95_ms": ms[int(len(ms) * 0.95)]}
        engine.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--conversations", default=None, help="comma-separated ids; default: every file")
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    ids = args.conversations.split(",") if args.conversations else sorted(p.stem for p in DATA.glob("*.json"))
    results = run(ids, args.embedder)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{'conv':5} {'n':>4} {'passages@10':>12} {'best turn@10':>13}  notes")
    for cid, r in results.items():
        notes = (f"{r['sessions']} sessions, ingest {r['ingest_s']} s" if cid != "all"
                 else f"search over HTTP p50 {r['p50_ms']:.1f} / p95 {r['p95_ms']:.1f} ms")
        print(f"{cid:5} {r['n']:4d} {r['passages']:12.3f} {r['best']:13.3f}  {notes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
