"""Reads are fetched whole before they are decoded: a row the decoder rejects fails that one read and leaves nothing
behind — no open statement, no stale snapshot on the thread's connection, no pooled connection in a transaction.
Afterwards a change made through another handle on the same database (another process, as the CLI is) is seen at
once, writes through this handle work, and a deleted memory's text leaves the files."""

from __future__ import annotations

import ast
import uuid
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import psycopg
import pytest
import sqlean as sqlite3

from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.extract.offline import OfflineExtractor
from memvault.models import HistoryEvent, Memory, utcnow
from memvault.store.base import Store
from memvault.store.sqlite import SQLiteStore
from memvault.store.sqlite import store as sqlite_module
from memvault.store.sqlite.where import from_ts, ts
from memvault.testing.server import Server

STORE_DIR = Path(sqlite_module.__file__).parent.parent  # memvault/store


def put(store: Store, project_id: str, text: str, user_id: str) -> Memory:
    bucket = store.find_bucket(project_id, "General")
    assert bucket is not None
    now = utcnow()
    m = Memory(str(uuid.uuid4()), project_id, text, text, bucket.id, now, now, user_id=user_id)
    vector = np.eye(1, 8, dtype=np.float32)
    store.insert([m], vector, [HistoryEvent(str(uuid.uuid4()), m.id, project_id, "ADD", None, text, None, now)])
    return m


def raw_sql(store: Store, sql: str, args: tuple[object, ...]) -> None:
    """Write straight into the database, as an older memvault (or a hand edit) could have."""
    if isinstance(store, SQLiteStore):
        with closing(sqlite3.connect(store.path, isolation_level=None)) as conn:
            conn.execute(sql.replace("%s", "?"), args)
    else:
        with psycopg.connect(store.url, autocommit=True) as conn:  # type: ignore[attr-defined]
            conn.execute(sql, args)


def file_bytes(store: Store) -> bytes:
    path = Path(store.path)  # type: ignore[attr-defined]
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())


def test_a_time_is_always_written_with_a_four_digit_year_and_read_back() -> None:
    early = datetime(999, 6, 1, 12, 30, 0, 5, tzinfo=UTC)
    assert ts(early) == "0999-06-01T12:30:00.000005Z"
    assert from_ts(ts(early)) == early
    assert ts(datetime(7, 1, 2, tzinfo=UTC)) < ts(datetime(999, 1, 1, tzinfo=UTC)) < ts(datetime(2026, 1, 1, tzinfo=UTC))
    # What older versions wrote (strftime's %Y is not zero-padded on Linux) still reads.
    assert from_ts("999-06-01T12:30:00.000005Z") == early
    assert from_ts("7-01-02T00:00:00.000000Z") == datetime(7, 1, 2, tzinfo=UTC)


def test_rows_older_versions_wrote_with_short_years_read_back_and_sort_in_time_order(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "memvault.db")
    pid = store.ensure_project("p").id
    old = put(store, pid, "written by an older version", "u")
    raw_sql(store, "UPDATE memories SET expiration_date = ? WHERE id = ?", ("999-06-01T00:00:00.000000Z", old.id))
    [got] = store.get(pid, [old.id])
    assert got.expiration_date == datetime(999, 6, 1, tzinfo=UTC)
    store.close()
    with closing(sqlite3.connect(store.path)) as conn:  # an older schema version: the migration rewrites the row
        conn.execute("PRAGMA user_version = 4")  # before 0005_four_digit_years
    store = SQLiteStore(tmp_path / "memvault.db", migrate=True)
    with closing(sqlite3.connect(store.path)) as conn:
        assert conn.execute("SELECT expiration_date FROM memories").fetchall() == [("0999-06-01T00:00:00.000000Z",)]
    store.close()


def test_lone_surrogates_older_versions_stored_in_json_read_back_as_replacement_characters(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "memvault.db")
    pid = store.ensure_project("p").id
    m = put(store, pid, "a memory", "u")
    raw_sql(store, "UPDATE memories SET metadata = ?, categories = ? WHERE id = ?",
            ('{"k": "a\\ud800b", "\\udfff": "\\ud83d\\ude00"}', '["\\udc00"]', m.id))
    raw_sql(store, "UPDATE history SET input = ? WHERE memory_id = ?", ('[{"role": "user", "content": "\\ud800"}]', m.id))
    [got] = store.get(pid, [m.id])
    assert (got.metadata, got.categories) == ({"k": "a\ufffdb", "\ufffd": "\U0001f600"}, ["\ufffd"])
    assert store.history(pid, m.id)[0].input == [{"role": "user", "content": "\ufffd"}]
    assert [x.metadata for x in store.list(pid, None, 10).items] == [got.metadata]
    store.close()


def test_a_read_that_meets_an_undecodable_row_leaves_no_stale_snapshot(store: Store, store_twin: Store) -> None:
    pid = store.ensure_project("p").id
    key = store.add_key(pid, "hash-of-key", "k", "mv_prefix01")
    doomed = put(store, pid, "the courier password is xylophonequartz", "good")
    other = put(store, pid, "delete me through the first handle", "good")
    bad = put(store, pid, "a row the decoder rejects", "bad")  # the newest: a list meets it first
    if isinstance(store, SQLiteStore):
        raw_sql(store, "UPDATE memories SET metadata = %s WHERE id = %s", ("{not json", bad.id))
    else:  # psycopg cannot load an infinite timestamp into a datetime
        raw_sql(store, "UPDATE memories SET expiration_date = 'infinity' WHERE id = %s", (bad.id,))
    failures = []  # kept alive, as a server's error log or a traceback in a reference cycle keeps them
    for _ in range(3):  # as many failed requests as a client might send
        with pytest.raises(Exception) as failed:  # noqa: B017, PT011 - whichever error the decoder raises
            store.list(pid, None, 10)
        failures.append(failed)
    assert store.find_key("hash-of-key") == key
    # Another process (the CLI) revokes the key and deletes a memory: this handle sees both at once.
    assert store_twin.revoke_key(key.id, utcnow()) is not None
    found = store.find_key("hash-of-key")
    assert found is not None and found.revoked_at is not None
    assert store_twin.delete(pid, [doomed.id], utcnow()) == [doomed.id]
    assert store.get(pid, [doomed.id]) == []
    assert store.keyword_search(pid, ["xylophonequartz"], None, 5) == []
    from memvault import filters as F
    assert [m.id for m in store.list(pid, F.eq("user_id", "good"), 10).items] == [other.id]
    # Writes through this handle are not locked out.
    assert store.delete(pid, [other.id], utcnow()) == [other.id]
    assert store.add_key(pid, "hash-of-key-2", "k2", "mv_prefix02").revoked_at is None
    if isinstance(store, SQLiteStore):
        store_twin.close()
        store.close()
        assert b"xylophonequartz" not in file_bytes(store)


def test_the_issue_recipe_a_year_before_1000_through_http_then_a_revoke_from_the_cli(
        server: Server, store: Store, store_twin: Store) -> None:
    key = server.key()
    auth = {"Authorization": f"Token {key}"}
    with httpx.Client(base_url=server.url, headers=auth, timeout=60) as http:
        kept = http.post("/v1/memories/", json={"messages": [{"role": "user", "content": "The wifi code is qwertyzebra"}],
                                                "user_id": "alice", "infer": False}).json()
        http.post("/v1/memories/", json={"messages": [{"role": "user", "content": "An ancient fact"}],
                                         "user_id": "alice", "infer": False, "expiration_date": "0999-06-01"})
        for _ in range(3):
            assert http.get("/v1/memories/", params={"user_id": "alice"}).status_code < 500
            assert http.post("/v2/memories/search/", json={"query": "fact", "filters": {"user_id": "alice"}}
                             ).status_code < 500
        cli = Engine(store_twin, HashingEmbedder(), OfflineExtractor())  # `memvault keys revoke`, another process
        [listed] = [k for k in cli.list_keys("test") if key.startswith(k.prefix)]
        cli.revoke_key(listed.id)
        assert http.get("/v1/memories/", params={"user_id": "alice"}).status_code == 401
        fresh = {"Authorization": f"Token {cli.create_key('test')[1]}"}
        mid = kept["results"][0]["id"]
        cli.delete(cli.project("test").id, mid)
        assert http.get(f"/v1/memories/{mid}/", headers=fresh).status_code == 404
        found = http.post("/v2/memories/search/", headers=fresh,
                          json={"query": "qwertyzebra", "filters": {"user_id": "alice"}}).json()
        assert mid not in str(found)


def _leaky_reads(path: Path) -> list[str]:
    """`execute(...)` calls whose result is read anywhere but in the module's row helpers (`_rows`, `_row`)."""
    tree = ast.parse(path.read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "execute"):
            continue
        up = parents[node]
        scope = up
        while not isinstance(scope, (ast.FunctionDef, ast.Module)):
            scope = parents[scope]
        if isinstance(scope, ast.FunctionDef) and scope.name in ("_rows", "_row"):
            continue
        owner = parents.get(scope)
        if isinstance(owner, ast.ClassDef) and owner.name == "_Connection":
            continue  # the connection's own execute, which only maps errors and hands the cursor on
        if isinstance(up, ast.Expr):  # a write: nothing is read from it
            continue
        if isinstance(up, ast.Assign) and [t.id for t in up.targets if isinstance(t, ast.Name)] == ["cur"]:
            continue  # a write whose rowcount / lastrowid is read
        if isinstance(up, ast.Lambda):  # `lambda c: c.execute(...)`: a write run by _write
            continue
        found.append(f"{path.relative_to(STORE_DIR)}:{node.lineno}")
    return found


STORE_MODULES = sorted(str(p.relative_to(STORE_DIR)) for p in STORE_DIR.rglob("*.py"))


def test_the_read_check_covers_both_stores_and_their_shared_pieces() -> None:
    assert {"sqlite/store.py", "postgres/store.py", "postgres/schema.py", "sql.py", "migrations.py"} <= set(STORE_MODULES)


@pytest.mark.parametrize("module", STORE_MODULES)
def test_every_store_read_goes_through_the_row_helpers(module: str) -> None:
    assert _leaky_reads(STORE_DIR / module) == []
