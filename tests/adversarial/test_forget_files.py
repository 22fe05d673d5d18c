"""Every way to forget, checked in the raw SQLite files (memvault.db, -wal, -shm): once the automatic compaction has
run (it runs about 2 s after a delete) and again after the store is closed, no byte of a forgotten text is left.

Each forgotten text carries a unique word; the files are searched for the whole word and for its tail (FTS5
stores a term as the suffix it does not share with the term before it).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from memvault import transfer
from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.extract.offline import OfflineExtractor
from memvault.store.sqlite import SQLiteStore
from memvault.testing.server import Server

FILES = ("memvault.db", "memvault.db-wal", "memvault.db-shm")
SETTLE = 8.0  # the compaction runs ~2 s after a delete; a slow, shared machine gets this long


def marker() -> str:
    return "mk" + uuid.uuid4().hex[:14].translate(str.maketrans("0123456789", "ghijklmnop"))


class Site:
    """A real server over a SQLite store in a temporary folder, with a Mem0 and a MemoryPlugin client."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.store = SQLiteStore(folder / "memvault.db")
        self.engine = Engine(self.store, HashingEmbedder(), OfflineExtractor())
        self.server = Server(self.engine).__enter__()
        key = self.server.key("forget")
        self.project_id = self.engine.project("forget").id
        self.mem0 = httpx.Client(base_url=self.server.url, headers={"Authorization": f"Token {key}"}, timeout=30)
        self.mp = httpx.Client(base_url=self.server.url + "/api", headers={"Authorization": f"Bearer {key}"}, timeout=30)
        self.open = True

    def add(self, text: str, **fields: Any) -> str:
        body = {"messages": text, "user_id": "alice", "infer": False, **fields}
        answer = self.mem0.post("/v3/memories/add/", json=body)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["results"][0]["id"])

    def ok(self, answer: httpx.Response) -> Any:
        assert answer.status_code == 200, f"{answer.request.method} {answer.request.url}: {answer.status_code} {answer.text}"
        return answer.json()

    def leftovers(self, words: list[str]) -> list[str]:
        blob = b"".join((self.folder / f).read_bytes() for f in FILES if (self.folder / f).exists())
        return [w for w in words if w.encode() in blob or w[-9:].encode() in blob]

    def settled(self, words: list[str]) -> list[str]:
        deadline = time.monotonic() + SETTLE
        while True:
            left = self.leftovers(words)
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.2)

    def close(self) -> None:
        if self.open:
            self.open = False
            self.mem0.close()
            self.mp.close()
            self.server.__exit__()
            self.engine.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    made = Site(tmp_path)
    yield made
    made.close()


Forget = Callable[[Site], tuple[list[str], list[str]]]
"""Sets up memories, forgets some over HTTP; returns (forgotten words, words that must stay)."""


def single_delete(site: Site) -> tuple[list[str], list[str]]:
    gone, kept = marker(), marker()
    mid = site.add(f"The alarm code is {gone}")
    site.add(f"The garden gate is {kept}")
    site.ok(site.mem0.delete(f"/v1/memories/{mid}/"))
    return [gone], [kept]


def batch_delete(site: Site) -> tuple[list[str], list[str]]:
    words = [marker() for _ in range(4)]
    ids = [site.add(f"Batch secret {w}") for w in words]
    site.ok(site.mem0.request("DELETE", "/v1/batch/", json={"memories": [{"memory_id": i} for i in ids[:3]]}))
    return words[:3], words[3:]


def filter_delete(site: Site) -> tuple[list[str], list[str]]:
    gone = [marker() for _ in range(3)]
    kept = marker()
    for w in gone:
        site.add(f"Bob's secret {w}", user_id="bob")
    site.add(f"Alice's note {kept}")
    site.ok(site.mem0.delete("/v1/memories/", params={"user_id": "bob"}))
    return gone, [kept]


def entity_delete(site: Site) -> tuple[list[str], list[str]]:
    gone = [marker() for _ in range(2)]
    kept = marker()
    for w in gone:
        site.add(f"Carol's secret {w}", user_id="carol")
    site.add(f"Alice's note {kept}")
    site.ok(site.mem0.delete("/v2/entities/user/carol/"))
    return gone, [kept]


def bucket_delete(site: Site) -> tuple[list[str], list[str]]:
    bucket = site.ok(site.mp.post("/buckets", json={"name": "Private"}))["id"]
    gone = [marker() for _ in range(3)]
    kept = marker()
    for w in gone:
        site.ok(site.mp.post("/memory", json={"text": f"Private thought {w}", "bucketId": bucket}))
    site.ok(site.mp.post("/memory", json={"text": f"Public thought {kept}"}))
    site.ok(site.mp.delete(f"/buckets/{bucket}", params={"memories": "delete"}))
    return gone, [kept]


def bulk_delete(site: Site) -> tuple[list[str], list[str]]:
    words = [marker() for _ in range(4)]
    ids = [site.ok(site.mp.post("/memory", json={"text": f"Plugin secret {w}"}))["memoryId"] for w in words]
    assert site.ok(site.mp.post("/memories/bulk-delete", json={"memoryIds": ids[:3]}))["deleted"] == 3
    return words[:3], words[3:]


def plugin_delete(site: Site) -> tuple[list[str], list[str]]:
    gone, kept = marker(), marker()
    mid = site.ok(site.mp.post("/memory", json={"text": f"Plugin note {gone}"}))["memoryId"]
    site.ok(site.mp.post("/memory", json={"text": f"Plugin note {kept}"}))
    site.ok(site.mp.delete(f"/memories/{mid}"))
    return [gone], [kept]


def update_then_delete(site: Site) -> tuple[list[str], list[str]]:
    words = [marker() for _ in range(3)]
    mid = site.add(f"First version {words[0]}")
    site.ok(site.mem0.put(f"/v1/memories/{mid}/", json={"text": f"Second version {words[1]}"}))
    site.ok(site.mem0.put(f"/v1/memories/{mid}/", json={"text": f"Third version {words[2]}", "metadata": {"v": 3}}))
    site.ok(site.mp.post("/v2/memory/update", json={"memoryId": mid, "text": f"Fourth version {words[0]}x"}))
    site.ok(site.mem0.delete(f"/v1/memories/{mid}/"))
    return [*words, words[0] + "x"], []


def inferred_fact_delete(site: Site) -> tuple[list[str], list[str]]:
    """One infer=true add gives three facts; deleting one must take its words from the other two's history too."""
    a, b, c = marker(), marker(), marker()
    conversation = f"I like {a} tea. My sister lives in {b} town. I work at {c} corp."
    facts = site.ok(site.mem0.post("/v3/memories/add/", json={"messages": [{"role": "user", "content": conversation}],
                                                               "user_id": "alice", "infer": True}))["results"]
    by_word = {w: f["id"] for f in facts for w in (a, b, c) if w in f["memory"]}
    assert set(by_word) == {a, b, c}, facts
    site.ok(site.mem0.delete(f"/v1/memories/{by_word[a]}/"))
    for sibling in (by_word[b], by_word[c]):
        history = site.ok(site.mem0.get(f"/v1/memories/{sibling}/history/"))
        assert a not in json.dumps(history), f"the deleted fact's text is in a sibling's history: {history}"
    exported = "".join(transfer.export_lines(site.engine, site.project_id))
    assert a not in exported, "the deleted fact's text is in the export"
    return [a], [b, c]


def chat_history_delete(site: Site) -> tuple[list[str], list[str]]:
    """A conversation of the chat-history archive: its title, messages, chunks and keyword entries."""
    gone, kept = [marker() for _ in range(3)], marker()

    def ingest(cid: str, title: str, texts: list[str]) -> str:
        conv = {"id": cid, "title": title, "messages": [{"role": "human", "content": t} for t in texts]}
        return str(site.ok(site.mp.post("/chat-history/ingest/custom-online", json={"conversation": conv}))["conversationId"])

    doomed = ingest("doomed", f"About {gone[0]}", [f"my secret is {gone[1]}", f"and also {gone[2]}", "plain words"])
    ingest("kept", "Kept", [f"this stays {kept}"])
    site.ok(site.mp.request("DELETE", "/chat-history/chats", json={"ids": [doomed]}))
    found = site.ok(site.mp.post("/chat-history/search", json={"query": f"stays {kept}"}))["results"]
    assert any(kept in h["text"] for h in found), "a conversation that was not deleted went too"
    return gone, []


FORGET_PATHS: dict[str, Forget] = {
    "single delete": single_delete,
    "batch delete": batch_delete,
    "delete by filter": filter_delete,
    "entity delete": entity_delete,
    "bucket delete with its memories": bucket_delete,
    "MemoryPlugin bulk delete": bulk_delete,
    "MemoryPlugin delete": plugin_delete,
    "update then delete": update_then_delete,
    "one inferred fact of several": inferred_fact_delete,
    "chat-history conversation delete": chat_history_delete,
}


@pytest.mark.parametrize("path", list(FORGET_PATHS), ids=lambda p: p.replace(" ", "-").lower())
def test_a_forgotten_text_leaves_the_files_after_the_compaction_and_after_close(site: Site, path: str) -> None:
    gone, kept = FORGET_PATHS[path](site)
    left = site.settled(gone)
    assert not left, f"{path}: {left} still in the files {SETTLE:.0f} s after the delete"
    listed = site.ok(site.mem0.post("/v2/memories/", json={}))
    texts = " ".join(m["memory"] for m in listed)
    assert all(w in texts for w in kept), f"{path}: a memory that was not deleted went too"
    assert not any(w in texts for w in gone)
    site.close()
    left = site.leftovers(gone)
    assert not left, f"{path}: {left} in the files after close"
