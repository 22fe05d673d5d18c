"""An async add's job keeps the user's words only until it has run: once its memory is deleted and the compaction
has run, no byte of them is left in the raw SQLite files (memvault.db, -wal, -shm), job table included."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.extract.offline import OfflineExtractor
from memvault.store.sqlite import SQLiteStore
from memvault.testing.server import Server
from memvault.workers import JobWorkerOptions

FILES = ("memvault.db", "memvault.db-wal", "memvault.db-shm")
SETTLE = 8.0  # the compaction runs ~2 s after a delete; a slow, shared machine gets this long


def marker() -> str:
    return "mk" + uuid.uuid4().hex[:14].translate(str.maketrans("0123456789", "ghijklmnop"))


def found_in_files(folder: Path, word: str) -> bool:
    blob = b"".join((folder / f).read_bytes() for f in FILES if (folder / f).exists())
    return word.encode() in blob or word[-9:].encode() in blob  # FTS5 keeps a term's tail


def until(check: Any, deadline_s: float) -> Any:
    deadline = time.monotonic() + deadline_s
    while not (value := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return value


def test_a_deleted_memory_of_an_async_add_leaves_no_text_in_the_job_table_or_the_files(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "memvault.db")
    engine = Engine(store, HashingEmbedder(), OfflineExtractor())
    secret, kept = marker(), marker()
    try:
        with Server(engine, job_workers=JobWorkerOptions(threads=1, poll=0.02)) as server:
            key = server.key("forget")
            project = engine.project("forget").id
            with httpx.Client(base_url=server.url, headers={"Authorization": f"Token {key}"}, timeout=30) as http:
                queued = http.post("/v3/memories/add/", json={
                    "messages": [{"role": "user", "content": f"The alarm code is {secret}"},
                                 {"role": "user", "content": f"The garden gate is {kept}"}],
                    "user_id": "alice", "infer": False, "async_mode": True}).json()
                job = until(lambda: (j := store.get_job(project, queued["event_id"])) and j.status == "SUCCEEDED" and j,
                            30)
                assert job.request is None  # blanked by the transaction that wrote the memories
                assert found_in_files(tmp_path, secret)  # the memory holds it until it is deleted
                [gone] = [r["id"] for r in http.get(f"/v1/event/{job.id}/").json()["results"]
                          if r["data"]["memory"] == f"The alarm code is {secret}"]
                assert http.delete(f"/v1/memories/{gone}/").status_code == 200
                until(lambda: not found_in_files(tmp_path, secret), SETTLE)
                event = http.get(f"/v1/event/{job.id}/").json()
                assert {r["id"]: r["data"]["memory"] for r in event["results"]}[gone] is None
    finally:
        engine.close()
    assert not found_in_files(tmp_path, secret) and found_in_files(tmp_path, kept)
