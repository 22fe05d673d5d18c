"""kill -9: the real `memvault serve` (and `memvault import`) as a subprocess, killed without warning at chosen and at
random points, then started again.

After a restart, on SQLite the raw files (memvault.db, -wal, -shm) hold no byte of a deleted memory's unique word
once the server has run a few seconds; on PostgreSQL no row of any table holds it. Every read path works, every
deleted memory stays deleted, and an import killed half-way leaves none or all of its memories, never part.
"""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import psycopg
import pytest

from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.extract.offline import OfflineExtractor
from memvault.store.postgres import PostgresStore
from memvault.store.sqlite import SQLiteStore
from memvault.testing.serve_process import ServeProcess
from memvault.testing.stores import BACKENDS, make_postgres

pytestmark = pytest.mark.slow  # each test starts the server (or the importer) several times

SETTLE = 10.0  # how long a restarted server may take to drop what a killed one left (its compaction runs 2 s after a delete)
FILES = ("memvault.db", "memvault.db-wal", "memvault.db-shm")


def env() -> dict[str, str]:
    return {**os.environ, "MEMVAULT_EMBEDDER": "hashing", "MEM0_TELEMETRY": "False"}


@dataclass
class Target:
    """Where the server keeps its data: a SQLite data dir, or a PostgreSQL schema."""

    data_dir: Path
    database_url: str | None = None

    def args(self) -> list[str]:
        return ["--database-url", self.database_url] if self.database_url else ["--data-dir", str(self.data_dir)]

    def open_store(self) -> SQLiteStore | PostgresStore:
        if self.database_url:
            return PostgresStore(self.database_url, max_size=2)
        return SQLiteStore(self.data_dir / "memvault.db")

    def leftovers(self, words: list[str]) -> list[str]:
        """The words some byte of the data still holds: the raw files (SQLite) or any row of any table (PostgreSQL)."""
        if self.database_url is None:
            blob = b"".join((self.data_dir / f).read_bytes() for f in FILES if (self.data_dir / f).exists())
            # The whole word, and its tail: FTS5 stores a term as the suffix it does not share with the one before.
            return [w for w in words if w.encode() in blob or w[-9:].encode() in blob]
        found = []
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")]
            for w in words:
                for table in tables:
                    hit = conn.execute(f'SELECT 1 FROM "{table}" t WHERE t::text LIKE %s LIMIT 1', (f"%{w}%",)).fetchone()
                    if hit:
                        found.append(f"{w} in {table}")
        return found


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "sqlite":
        yield Target(tmp_path / "data")
        return
    store = make_postgres(request)  # a fresh, migrated schema, dropped at the end
    url = store.url  # type: ignore[attr-defined]
    store.close()
    yield Target(tmp_path / "data", url)


class Serve(ServeProcess):
    """`python -m memvault serve` over the target's data."""

    def __init__(self, target: Target, log: Path) -> None:
        self.target = target
        super().__init__(target.args(), log, env())


@pytest.fixture
def key(target: Target) -> str:
    store = target.open_store()
    try:
        return Engine(store, HashingEmbedder(), OfflineExtractor()).create_key(None, "crash")[1]
    finally:
        store.close()


class Client:
    def __init__(self, url: str, key: str) -> None:
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Token {key}"}, timeout=30)

    def add(self, texts: list[str]) -> list[str]:
        body = {"messages": [{"role": "user", "content": t} for t in texts], "user_id": "crash", "infer": False}
        answer = self.http.post("/v3/memories/add/", json=body)
        assert answer.status_code == 200, answer.text
        return [r["id"] for r in answer.json()["results"]]

    def delete(self, memory_id: str) -> int:
        return self.http.delete(f"/v1/memories/{memory_id}/").status_code

    def check_reads(self, alive: dict[str, str], gone: list[str]) -> None:
        """Every read path answers; the living memories are there and the deleted ones are not."""
        listed = self.http.post("/v3/memories/", json={"filters": {"user_id": "crash"}, "page_size": 1000})
        assert listed.status_code == 200, listed.text
        ids = {m["id"] for m in listed.json()["results"]}
        assert set(alive) <= ids and not ids & set(gone), (len(alive), len(ids), ids & set(gone))
        for mid, text in list(alive.items())[:3]:
            got = self.http.get(f"/v1/memories/{mid}/")
            assert got.status_code == 200 and got.json()["memory"] == text, got.text
            hits = self.http.post("/v3/memories/search/", json={"query": text, "filters": {"user_id": "crash"}})
            assert hits.status_code == 200 and mid in [h["id"] for h in hits.json()["results"]], hits.text
        for mid in gone:
            assert self.http.get(f"/v1/memories/{mid}/").status_code == 404, f"{mid} came back after the restart"
        for path in ("/v1/entities/", "/api/buckets", "/api/memory?all=true", "/v1/ping/"):
            answer = self.http.get(path, headers={"Authorization": self.http.headers["Authorization"].replace("Token", "Bearer")}
                                   if path.startswith("/api") else None)
            assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text[:200]}"

    def close(self) -> None:
        self.http.close()


def marker() -> str:
    return "mk" + uuid.uuid4().hex[:14].translate(str.maketrans("0123456789", "ghijklmnop"))


def settled(target: Target, words: list[str]) -> list[str]:
    """What is left of `words` once the data has had SETTLE seconds (polled: a clean store answers at once)."""
    deadline = time.monotonic() + SETTLE
    while True:
        left = target.leftovers(words)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.25)


def test_kill_9_right_after_a_delete_answered_leaves_nothing_of_it_after_a_restart(target: Target, key: str,
                                                                                  tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    server = Serve(target, log)
    client = Client(server.url, key)
    words = [marker() for _ in range(6)]
    texts = [f"The vault code is {w}" for w in words]
    ids = client.add(texts)
    for mid in ids[:3]:
        assert client.delete(mid) == 200
    server.kill9()  # inside the compaction window the delete opened
    client.close()

    server = Serve(target, log)
    client = Client(server.url, key)
    try:
        left = settled(target, words[:3])
        assert not left, f"deleted words still in the data {SETTLE:.0f} s after the restart: {left}"
        client.check_reads(dict(zip(ids[3:], texts[3:], strict=True)), ids[:3])
    finally:
        client.close()
        server.stop()
    assert not target.leftovers(words[:3]), "deleted words in the data after a clean stop"


def delete_stream(client: Client, ids: list[str], answered: list[str], stop: threading.Event) -> None:
    """Delete `ids` one after the other; `answered` gets each one whose delete answered 200."""
    for mid in ids:
        if stop.is_set():
            return
        try:
            if client.delete(mid) == 200:
                answered.append(mid)
        except httpx.HTTPError:
            return  # the server died under this delete


def test_kill_9_during_a_stream_of_deletes_leaves_each_memory_whole_or_gone(target: Target, key: str,
                                                                            tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    rng = random.Random()
    for round_ in range(2):
        server = Serve(target, log)
        client = Client(server.url, key)
        words = [marker() for _ in range(40)]
        texts = {mid: text for mid, text in zip(client.add([f"Round {round_} secret {w}" for w in words]),
                                               [f"Round {round_} secret {w}" for w in words], strict=True)}
        word_of = dict(zip(texts, words, strict=True))
        answered: list[str] = []
        stop = threading.Event()
        streamer = threading.Thread(target=delete_stream, args=(client, list(texts), answered, stop))
        streamer.start()
        while not answered and streamer.is_alive():  # at least one delete is committed before the kill
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.4))
        server.kill9()
        stop.set()
        streamer.join(timeout=30)
        client.close()

        server = Serve(target, log)
        client = Client(server.url, key)
        try:
            after = {mid: client.http.get(f"/v1/memories/{mid}/").status_code for mid in texts}
            assert all(after[mid] == 404 for mid in answered), "a delete that answered 200 was undone by the crash"
            gone = [mid for mid, status in after.items() if status == 404]
            alive = {mid: texts[mid] for mid, status in after.items() if status == 200}
            assert len(gone) + len(alive) == len(texts), after
            left = settled(target, [word_of[mid] for mid in gone])
            assert not left, f"round {round_}: deleted words still in the data after the restart: {left}"
            client.check_reads(alive, gone)
            for mid in alive:  # what was not deleted is whole: its history still holds its text
                history = client.http.get(f"/v1/memories/{mid}/history/").json()
                assert history[0]["new_memory"] == texts[mid], history
            client.http.request("DELETE", "/v1/batch/", json={"memories": [{"memory_id": m} for m in alive]})
        finally:
            client.close()
            server.stop()


def export_file(path: Path, count: int, user: str) -> None:
    """An export of `count` memories of `user`, with embeddings (so the import only checks and writes)."""
    embedder = HashingEmbedder()
    texts = [f"Imported fact about {marker()}" for _ in range(count)]
    vectors = embedder.embed(texts)
    now = "2025-01-01T00:00:00+00:00"
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps({"memvault": "export", "version": 1, "embedder": embedder.name, "dim": embedder.dim,
                              "with_embeddings": True, "exported_at": now}) + "\n")
        for text, vector in zip(texts, vectors, strict=True):
            line = {"id": str(uuid.uuid4()), "memory": text, "user_id": user, "created_at": now, "updated_at": now,
                    "history": [{"event": "ADD", "new_memory": text, "created_at": now}],
                    "embedding": base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")}
            out.write(json.dumps(line) + "\n")


def imported_count(target: Target, user: str) -> int:
    """How many of `user`'s memories a reader sees now."""
    if target.database_url:
        with psycopg.connect(target.database_url, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM memories WHERE user_id = %s", (user,)).fetchone()
            return int(row[0]) if row else 0
    db = target.data_dir / "memvault.db"
    if not db.exists():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            return int(conn.execute("SELECT count(*) FROM memories WHERE user_id = ?", (user,)).fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # the schema is not made yet


def writing(target: Target) -> bool:
    """Whether a write transaction is open on the memories right now (the importer's)."""
    if target.database_url:
        with psycopg.connect(target.database_url, autocommit=True) as conn:
            return conn.execute(
                "SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE c.relname = 'memories' AND c.relnamespace = current_schema()::regnamespace "
                "AND l.mode = 'RowExclusiveLock' AND l.pid <> pg_backend_pid() LIMIT 1").fetchone() is not None
    db = target.data_dir / "memvault.db"
    if not db.exists():
        return False
    with closing(sqlite3.connect(db, timeout=0, isolation_level=None)) as conn:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return True  # locked: a writer holds it
        conn.execute("ROLLBACK")
        return False


IMPORT_SIZE = 10_000  # twenty of the import's 500-memory batches


def start_import(target: Target, source: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "memvault", "import", str(source), *target.args()],
                            env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_an_import_is_never_seen_half_done_and_kill_9_in_its_middle_leaves_none_of_it(target: Target, key: str,
                                                                                       tmp_path: Path) -> None:
    """What a reader sees at any moment is what a kill -9 at that moment would leave. So: (1) while an import runs,
    a reader polling all along sees none or all of it, never part; (2) an import killed while it holds its write
    transaction leaves none of it (or, had it committed, all)."""
    whole = tmp_path / "whole.jsonl"
    export_file(whole, IMPORT_SIZE, "imported-whole")
    proc = start_import(target, whole)
    seen: set[int] = set()
    while proc.poll() is None:
        seen.add(imported_count(target, "imported-whole"))
        if seen - {0, IMPORT_SIZE}:
            proc.send_signal(signal.SIGKILL)  # no need to wait for the rest
            proc.wait(timeout=30)
            break
        time.sleep(0.005)
    assert not seen - {0, IMPORT_SIZE}, f"a reader saw part of a running import: {sorted(seen)[:6]} of {IMPORT_SIZE}"
    assert proc.returncode == 0 and imported_count(target, "imported-whole") == IMPORT_SIZE

    killed = tmp_path / "killed.jsonl"
    export_file(killed, IMPORT_SIZE, "imported-killed")
    proc = start_import(target, killed)
    held = 0
    while proc.poll() is None and held < 2:  # twice in a row: its write transaction, not a tiny one before it
        held = held + 1 if writing(target) else 0
        time.sleep(0.005)
    finished = proc.poll() is not None
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not finished, "the import ended before it could be killed mid-way: make IMPORT_SIZE larger"
    after = imported_count(target, "imported-killed")
    assert after in (0, IMPORT_SIZE), f"a killed import left {after} of {IMPORT_SIZE} memories"

    server = Serve(target, tmp_path / "serve.log")
    client = Client(server.url, key)
    try:
        listed = client.http.post("/v2/memories/", json={"filters": {"user_id": "imported-killed"}, "page": 1, "page_size": 1})
        assert listed.status_code == 200 and listed.json()["count"] == after, listed.text[:300]
        client.check_reads({}, [])
    finally:
        client.close()
        server.stop()
