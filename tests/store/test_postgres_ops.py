"""Operating on PostgreSQL: real `memvault serve` processes on one database, clients racing, the database going
away and coming back, a server killed in the middle of a bulk delete.

Every test here uses its own embedded PostgreSQL (not the session one), since some of them stop it or kill things.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np
import psycopg
import pytest

from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.extract.offline import OfflineExtractor
from memvault.models import HistoryEvent, Memory, utcnow
from memvault.store.postgres import PostgresStore
from memvault.testing.postgres import EmbeddedPostgres
from memvault.testing.server import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CLIENTS = 8
OPS_PER_CLIENT = 120  # 960 mixed operations in all, plus the contended bulk deletes


class Serve:
    """`python -m memvault.cli serve` in a subprocess, on a free port."""

    def __init__(self, url: str, tmp: Path, name: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "MEMVAULT_EMBEDDER": "hashing", "MEMVAULT_DATA_DIR": str(tmp / name)}
        self.log = (tmp / f"{name}.log").open("w")
        db = url + "&application_name=" + quote(name)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "memvault.cli", "serve", "--database-url", db, "--port", str(self.port)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"memvault serve exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("memvault serve did not start")

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.log.close()


@pytest.fixture(scope="module")
def ops_pg() -> Iterator[EmbeddedPostgres]:
    with EmbeddedPostgres() as pg:
        yield pg


def _fresh_database(pg: EmbeddedPostgres) -> Iterator[str]:
    name = f"ops_{uuid.uuid4().hex[:10]}"
    url = pg.create_database(name)
    PostgresStore(url).close()
    yield url
    pg.drop_database(name)


@pytest.fixture
def db(ops_pg: EmbeddedPostgres) -> Iterator[str]:
    """A fresh database on the module's server, migrated, with no memories."""
    yield from _fresh_database(ops_pg)


@pytest.fixture(scope="module")
def shared_db(ops_pg: EmbeddedPostgres) -> Iterator[str]:
    """One database for the tests that share the two servers (each works as users of its own)."""
    yield from _fresh_database(ops_pg)


def key_for(url: str, project: str = "ops") -> str:
    store = PostgresStore(url)
    try:
        return Engine(store, HashingEmbedder(), OfflineExtractor()).create_key(project, "ops")[1]
    finally:
        store.close()


def client(server: Serve, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Token {key}"}, timeout=60)


def add(http: httpx.Client, text: str, user: str) -> str:
    r = http.post("/v1/memories/", json={"messages": [{"role": "user", "content": text}], "user_id": user,
                                         "infer": False})
    assert r.status_code == 200, r.text
    [result] = r.json()["results"]
    return str(result["id"])


def listed(http: httpx.Client, user: str) -> dict[str, str]:
    r = http.post("/v3/memories/?page=1&page_size=1000", json={"filters": {"user_id": user}})
    assert r.status_code == 200, r.text
    body = r.json()
    ids = [m["id"] for m in body["results"]]
    assert len(ids) == len(set(ids)) == body["count"]  # nothing listed twice, and the count agrees
    return {m["id"]: m["memory"] for m in body["results"]}


@pytest.fixture(scope="module")
def pair(shared_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Serve, Serve]]:
    """Two `memvault serve` processes on one database."""
    tmp = tmp_path_factory.mktemp("serve")
    a = Serve(shared_db, tmp, "a")
    try:
        b = Serve(shared_db, tmp, "b")
    except BaseException:
        a.stop()
        raise
    yield a, b
    a.stop()
    b.stop()


def test_a_write_through_one_server_is_read_through_the_other(shared_db: str, pair: tuple[Serve, Serve]) -> None:
    key = key_for(shared_db)
    with client(pair[0], key) as a, client(pair[1], key) as b:
        _write_read_across(a, b)


def _write_read_across(a: httpx.Client, b: httpx.Client) -> None:
    mid = add(a, "I keep bees on the roof", "alice")
    assert b.get(f"/v1/memories/{mid}/").json()["memory"] == "I keep bees on the roof"
    hits = b.post("/v3/memories/search/", json={"query": "bees", "filters": {"user_id": "alice"}}).json()["results"]
    assert [h["id"] for h in hits] == [mid]
    assert b.put(f"/v1/memories/{mid}/", json={"text": "I keep wasps"}).status_code == 200
    assert a.get(f"/v1/memories/{mid}/").json()["memory"] == "I keep wasps"
    assert b.delete(f"/v1/memories/{mid}/").status_code == 200
    assert a.get(f"/v1/memories/{mid}/").status_code == 404
    assert a.post("/v3/memories/search/", json={"query": "wasps", "filters": {"user_id": "alice"}}).json()["results"] == []


def test_concurrent_clients_on_two_servers_lose_and_duplicate_nothing(shared_db: str,
                                                                      pair: tuple[Serve, Serve]) -> None:
    key = key_for(shared_db, "ops-race")
    with client(pair[0], key) as setup:
        shared = [add(setup, f"shared memory {i}", "shared") for i in range(200)]
    reported_shared = []  # how many shared ids each successful contended bulk delete says it deleted

    def run(n: int) -> dict[str, str]:
        with client(pair[n % 2], key) as http, client(pair[(n + 1) % 2], key) as other:
            return session(n, http, other)

    def session(n: int, http: httpx.Client, other: httpx.Client) -> dict[str, str]:
        rng = random.Random(n)
        mine: dict[str, str] = {}  # what this client believes is stored: id -> text
        user = f"client-{n}"
        for step in range(OPS_PER_CLIENT):
            kind = rng.random()
            if kind < 0.4 or len(mine) < 3:
                text = f"{user} note {step} about topic {rng.randrange(50)}"
                mine[add(http, text, user)] = text
            elif kind < 0.6:
                mid = rng.choice(list(mine))
                text = f"{user} revised {step}"
                r = other.put(f"/v1/memories/{mid}/", json={"text": text})
                assert r.status_code == 200, r.text
                mine[mid] = text
            elif kind < 0.7:
                mid = rng.choice(list(mine))
                assert http.delete(f"/v1/memories/{mid}/").status_code == 200
                del mine[mid]
            elif kind < 0.85:
                batch = rng.sample(list(mine), rng.randint(2, 3))
                r = other.request("DELETE", "/v1/batch/", json={"memories": [{"memory_id": i} for i in batch]})
                assert r.status_code == 200 and r.json()["message"] == f"Successfully deleted {len(batch)} memories"
                for mid in batch:
                    del mine[mid]
            else:  # contended: every client races for the same shared memories
                batch = rng.sample(shared, 3)
                r = http.request("DELETE", "/v1/batch/", json={"memories": [{"memory_id": i} for i in batch]})
                assert r.status_code in (200, 404), r.text
                if r.status_code == 200:
                    found = re.fullmatch(r"Successfully deleted (\d+) memories", r.json()["message"])
                    assert found is not None
                    reported_shared.append(int(found.group(1)))
        return mine

    with ThreadPoolExecutor(CLIENTS) as pool:
        expected = list(pool.map(run, range(CLIENTS)))

    with client(pair[1], key) as check:
        for n, mine in enumerate(expected):
            assert listed(check, f"client-{n}") == mine  # every write kept, every delete gone, nothing doubled
        left = listed(check, "shared")
        total = check.post("/v3/memories/?page=1&page_size=1", json={"filters": {"user_id": "*"}}).json()["count"]
        entity_counts = {e["name"]: e["total_memories"] for e in check.get("/v1/entities/").json()["results"]}
    assert sum(reported_shared) == len(shared) - len(left)  # each shared memory's deletion was counted once
    assert total == sum(len(m) for m in expected) + len(left)
    for n, mine in enumerate(expected):
        assert entity_counts.get(f"client-{n}", 0) == len(mine)


def test_the_database_going_away_answers_503_json_and_the_server_recovers(ops_pg: EmbeddedPostgres, db: str,
                                                                         tmp_path: Path) -> None:
    key = key_for(db)
    server = Serve(db, tmp_path, "survivor")
    try:
        with client(server, key) as http:
            _outage(ops_pg, server, key, http)
    finally:
        server.stop()


def _outage(ops_pg: EmbeddedPostgres, server: Serve, key: str, http: httpx.Client) -> None:
    kept = add(http, "written before the outage", "u")
    statuses: list[int] = []
    bodies: list[object] = []
    stop = threading.Event()

    def hammer() -> None:  # requests in flight while the database stops
        with client(server, key) as h:
            while not stop.is_set():
                r = h.post("/v1/memories/", json={"messages": "during the outage", "user_id": "u", "infer": False})
                statuses.append(r.status_code)
                bodies.append(r.json())  # every answer is JSON, errors included

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    started = time.monotonic()
    while len(statuses) < 5 and time.monotonic() - started < 30:
        time.sleep(0.01)
    ops_pg.stop()
    try:
        down = http.get(f"/v1/memories/{kept}/")
        assert down.status_code == 503 and "error" in down.json()
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
        ops_pg.start()
    assert set(statuses) <= {200, 503} and 503 in statuses
    assert all(isinstance(b, dict) for b in bodies)

    deadline = time.monotonic() + 60
    while True:
        r = http.get(f"/v1/memories/{kept}/")
        if r.status_code == 200 or time.monotonic() > deadline:
            break
        assert r.status_code == 503
        time.sleep(0.2)
    assert r.status_code == 200 and r.json()["memory"] == "written before the outage"
    after = add(http, "written after the outage", "u")
    assert http.get(f"/v1/memories/{after}/").status_code == 200


def test_kill_9_during_a_1000_id_bulk_delete_leaves_all_or_none_deleted(db: str, tmp_path: Path) -> None:
    key = key_for(db)
    store = PostgresStore(db)
    project = store.ensure_project("ops").id
    bucket = store.find_bucket(project, "General")
    assert bucket is not None
    now = utcnow()
    ids = [str(uuid.uuid4()) for _ in range(1000)]
    memories = [Memory(i, project, f"doomed {n}", f"h{n}", bucket.id, now, now, user_id="u") for n, i in enumerate(ids)]
    vectors = HashingEmbedder().embed([m.text for m in memories]).astype(np.float32)
    store.insert(memories, vectors, [HistoryEvent(str(uuid.uuid4()), m.id, project, "ADD", None, m.text, None, now)
                                     for m in memories])
    store.close()

    victim = Serve(db, tmp_path, "victim")
    seen_writing = False
    try:
        def bulk_delete() -> None:
            with client(victim, key) as http:
                try:
                    http.request("DELETE", "/v1/batch/", json={"memories": [{"memory_id": i} for i in ids]})
                except httpx.HTTPError:
                    pass  # the server died under the request, as intended

        thread = threading.Thread(target=bulk_delete)
        with psycopg.connect(db, autocommit=True) as watch:
            thread.start()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not seen_writing:
                # The victim's delete transaction has written (locked or deleted rows) and not committed yet.
                seen_writing = watch.execute(
                    "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'victim' "
                    "AND backend_xid IS NOT NULL AND state IN ('active', 'idle in transaction')"
                ).fetchone() == (True,)
            victim.kill9()
            thread.join(30)
            # Wait until PostgreSQL has seen the client go and ended its transaction.
            while watch.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'victim'"
                                ).fetchone() != (0,) and time.monotonic() < deadline + 30:
                time.sleep(0.05)
            left = watch.execute("SELECT count(*) FROM memories WHERE id = ANY(%s)", (ids,)).fetchone()
            scrubbed = watch.execute("SELECT count(*) FROM history WHERE memory_id = ANY(%s) AND new_text IS NULL "
                                     "AND event = 'ADD'", (ids,)).fetchone()
    finally:
        victim.stop()
    assert seen_writing, "the bulk delete's transaction was never caught in flight"
    assert left is not None and scrubbed is not None
    assert (left[0], scrubbed[0]) in ((1000, 0), (0, 1000)), (left, scrubbed)
