"""`memvault serve --workers 2` as a real process on each store: requests spread over two worker processes, each with
its own engine over the one database. What one worker writes, every worker reads; a delete is gone, and a revoked key
refused, in every worker; a SIGTERM stops the workers with the server and leaves no process behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.extract.offline import OfflineExtractor
from memvault.http import WORKER_HEADER
from memvault.testing.serve_process import (
    ServeProcess,
    open_store,
    target_fixture,  # noqa: F401 (registers the `target` fixture)
)

pytestmark = pytest.mark.slow
ENV = {"MEMVAULT_EMBEDDER": "hashing", "MEM0_TELEMETRY": "False"}


def worker_of(http: httpx.Client) -> int:
    return int(http.get("/healthz").headers[WORKER_HEADER])


def one_connection_per_worker(url: str, key: str, workers: int) -> dict[int, httpx.Client]:
    """A kept-alive connection to each worker: new connections until `workers` distinct processes answered."""
    found: dict[int, httpx.Client] = {}
    for _ in range(500):
        http = httpx.Client(base_url=url, headers={"Authorization": f"Token {key}"}, timeout=60)
        pid = worker_of(http)
        if pid in found:
            http.close()
            continue
        found[pid] = http
        if len(found) == workers:
            return found
    raise AssertionError(f"only workers {sorted(found)} answered 500 connections")


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False).stdout
    return [int(line) for line in out.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def search_ids(http: httpx.Client, query: str) -> list[str]:
    answer = http.post("/v2/memories/search/", json={"query": query, "filters": {"user_id": "w"}})
    assert answer.status_code == 200, answer.text
    body: Any = answer.json()
    hits = body["results"] if isinstance(body, dict) else body
    return [hit["id"] for hit in hits]


@pytest.fixture
def keyed(target: list[str]) -> Iterator[tuple[Engine, str, str]]:
    """An engine on the served database (as the CLI is, from another process), and a key's id and clear key."""
    store = open_store(target)
    engine = Engine(store, HashingEmbedder(), OfflineExtractor())
    key, clear = engine.create_key(None, "workers")
    try:
        yield engine, key.id, clear
    finally:
        store.close()


def test_two_workers_share_one_database_for_writes_deletes_and_revoked_keys(
        target: list[str], keyed: tuple[Engine, str, str], tmp_path: Path) -> None:
    engine, key_id, key = keyed
    server = ServeProcess([*target, "--workers", "2"], tmp_path / "serve.log", ENV)
    try:
        spawned = children(server.proc.pid)
        http = one_connection_per_worker(server.url, key, 2)
        assert server.proc.pid not in http and set(http) <= set(spawned)  # the workers are the server's children
        writer, *readers = http.values()

        added = writer.post("/v1/memories/", json={"messages": [{"role": "user", "content": f"fact {i} about tea"}
                                                                 for i in range(5)], "user_id": "w", "infer": False})
        assert added.status_code == 200, added.text
        ids = sorted(str(r["id"]) for r in (added.json()["results"] if isinstance(added.json(), dict) else added.json()))
        assert len(ids) == 5
        for _ in range(3):  # many requests, on every worker's connection
            for pid, h in http.items():
                assert sorted(search_ids(h, "fact about tea")) == ids, pid
                for memory_id in ids:
                    got = h.get(f"/v1/memories/{memory_id}/")
                    assert got.status_code == 200 and "tea" in got.json()["memory"], (pid, got.text)

        gone = ids[0]
        assert readers[0].delete(f"/v1/memories/{gone}/").status_code in (200, 204)
        for pid, h in http.items():  # gone for every worker: by id and from search
            assert h.get(f"/v1/memories/{gone}/").status_code == 404, pid
            assert sorted(search_ids(h, "fact about tea")) == ids[1:], pid

        engine.revoke_key(key_id)  # `memvault keys revoke`, from another process
        for pid, h in http.items():
            answer = h.get("/v1/memories/", params={"user_id": "w"})
            assert answer.status_code == 401, (pid, answer.text)
            assert worker_of(h) == pid  # the same connection, so the same worker, all along
        for h in http.values():
            h.close()
    finally:
        code = server.stop()
    assert code == 0, server.log_path.read_text()[-2000:]
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in spawned) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in spawned if alive(pid)] == []  # the workers (and uvicorn's helper) ended with the server


def test_settings_that_name_no_part_end_serve_before_any_worker_starts(tmp_path: Path) -> None:
    """Checked once, in the parent: a clear message and exit code 1, not workers started again and again."""
    ended = subprocess.run([sys.executable, "-m", "memvault", "serve", "--data-dir", str(tmp_path / "data"),
                            "--workers", "2"], env={**os.environ, **ENV, "MEMVAULT_EMBEDDER": "nope"},
                           capture_output=True, text=True, timeout=120, check=False)
    assert ended.returncode == 1, ended.stderr[-2000:]
    assert "unknown embedder 'nope'" in ended.stderr and "SpawnProcess" not in ended.stderr
