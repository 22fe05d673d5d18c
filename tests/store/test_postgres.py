"""What only the PostgreSQL store has: versioned migrations, the per-dimension HNSW index, errors mapped to domain errors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest
from typer.testing import CliRunner

from memvault.cli import app
from memvault.errors import InvalidInput, Unavailable
from memvault.filters import parse
from memvault.models import HistoryEvent, Memory, utcnow
from memvault.store.postgres import PostgresStore
from memvault.store.postgres import schema as postgres_schema
from memvault.store.postgres.store import vector_text
from memvault.store.postgres.where import compile_where
from memvault.store.sqlite import SQLiteStore
from memvault.testing.postgres import EmbeddedPostgres
from memvault.testing.stores import make_postgres


@pytest.fixture
def empty_url(postgres_server: EmbeddedPostgres) -> Iterator[str]:
    """A database of its own, with nothing in it."""
    name = f"m_{uuid.uuid4().hex[:12]}"
    yield postgres_server.create_database(name)
    postgres_server.drop_database(name)


@pytest.fixture
def pg_store(request: pytest.FixtureRequest) -> Iterator[PostgresStore]:
    store = make_postgres(request)
    assert isinstance(store, PostgresStore)
    yield store
    store.close()


def versions(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def test_an_empty_database_is_set_up_at_start(empty_url: str) -> None:
    store = PostgresStore(empty_url)
    store.close()
    assert versions(empty_url) == list(range(1, postgres_schema.latest() + 1))


def test_a_newer_schema_is_refused_with_a_clear_message(empty_url: str) -> None:
    PostgresStore(empty_url).close()
    with psycopg.connect(empty_url, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations(version, name) VALUES (999, 'from the future')")
    with pytest.raises(postgres_schema.SchemaError, match="version 999, newer than this memvault knows"):
        PostgresStore(empty_url)
    with pytest.raises(postgres_schema.SchemaError, match="newer"):
        PostgresStore(empty_url, migrate=True)


def test_a_schema_behind_is_refused_unless_migrating_and_the_cli_migrates_it(empty_url: str) -> None:
    PostgresStore(empty_url).close()
    known = postgres_schema.latest()
    with psycopg.connect(empty_url, autocommit=True) as conn:
        conn.execute("DELETE FROM schema_migrations")
        conn.execute("DROP TABLE project_settings, history, memories, buckets, api_keys, projects, meta")
    with pytest.raises(postgres_schema.SchemaError, match="at version 0, this memvault needs .*run `memvault migrate"):
        PostgresStore(empty_url)

    result = CliRunner().invoke(app, ["migrate", "--database-url", empty_url])
    assert result.exit_code == 0, result.output
    assert f"migrated from version 0 to {known}" in result.output
    assert versions(empty_url) == list(range(1, known + 1))
    again = CliRunner().invoke(app, ["migrate", "--database-url", empty_url])
    assert again.exit_code == 0 and f"already at version {known}" in again.output
    store = PostgresStore(empty_url)
    assert store.ensure_project("p").name == "p"
    store.close()


def test_migrate_reports_an_unreachable_database() -> None:
    result = CliRunner().invoke(app, ["migrate", "--database-url", "postgresql://nobody@/nodb?host=/nonexistent"])
    assert result.exit_code == 1 and "error:" in result.output


def _unit_vectors(seed: int, n: int, dim: int) -> np.ndarray:
    """n random unit vectors (embedders give unit vectors), the same for a seed."""
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _project(store: PostgresStore, name: str = "p") -> tuple[str, str]:
    """A project of `store` and the id of its default bucket."""
    pid = store.ensure_project(name).id
    bucket = store.find_bucket(pid, "General")
    assert bucket is not None
    return pid, bucket.id


def _put(store: PostgresStore, pid: str, bucket: str, vectors: np.ndarray,
         metadata: list[dict[str, object]]) -> list[str]:
    now = utcnow()
    ms = [Memory(str(uuid.uuid4()), pid, f"m{i}", f"h{i}", bucket, now, now, metadata=md) for i, md in enumerate(metadata)]
    store.insert(ms, vectors, [HistoryEvent(str(uuid.uuid4()), m.id, pid, "ADD", None, m.text, None, now) for m in ms])
    return [m.id for m in ms]


def test_filtered_search_goes_through_the_hnsw_index_and_still_finds_k(empty_url: str) -> None:
    with psycopg.connect(empty_url, autocommit=True) as conn:  # at 3,000 rows a sort is cheaper: plan as at scale
        conn.execute("DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET enable_sort = off', current_database()); END $$")
    store = PostgresStore(empty_url)
    pid, bucket_id = _project(store)
    n, dim = 3000, 16
    vectors = _unit_vectors(7, n, dim)
    rare = [i % 50 == 0 for i in range(n)]  # 60 rows of 3000 pass the filter: the 40 nearest rarely hold 10
    ids = _put(store, pid, bucket_id, vectors, [{"rare": r} for r in rare])
    q = vectors[1]
    where = parse({"metadata": {"rare": True}})
    sql, params = compile_where(where)
    with psycopg.connect(store.url, autocommit=True) as conn:
        conn.execute("ANALYZE memories")
        plan = "\n".join(r[0] for r in conn.execute(
            f"EXPLAIN SELECT m.id FROM memories m WHERE m.project_id = %s AND m.dim = 16 AND {sql} "
            "ORDER BY (m.embedding::vector(16)) <=> %s::vector(16) LIMIT 10", (pid, *params, str(q.tolist()))))
    assert "memories_hnsw_16" in plan, plan  # the partial per-dimension index serves the store's query shape

    hits = store.vector_search(pid, q, where, 10)
    wanted = np.array([i for i in range(n) if rare[i]])
    exact = [ids[i] for i in wanted[np.argsort(-(vectors[wanted] @ q))][:10]]
    assert len(hits) == 10 and all(rare[ids.index(h)] for h, _ in hits)
    assert len({h for h, _ in hits} & set(exact)) >= 9  # approximate, but nearly exact at this size
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    store.close()


def test_text_postgres_cannot_hold_is_invalid_input_not_a_crash(pg_store: PostgresStore) -> None:
    store = pg_store
    pid = store.ensure_project("p").id
    bucket = store.find_bucket(pid, "General")
    assert bucket is not None
    with pytest.raises(InvalidInput):
        _put(store, pid, bucket.id, np.ones((1, 4), dtype=np.float32), [{"k": "nul\x00byte"}])
    with pytest.raises(InvalidInput):
        store.keyword_search(pid, ["nul\x00"], None, 5)
    assert store.list(pid, None, 10).total == 0


def test_run_neighbours_agree_with_the_sqlite_store(pg_store: PostgresStore, tmp_path: Path) -> None:
    sqlite = SQLiteStore(tmp_path / "n.db")
    base = datetime(2025, 1, 1, tzinfo=UTC)
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(9, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)  # embedders give unit vectors
    ids = [str(uuid.uuid4()) for _ in range(9)]
    # (user, run, minutes): a run of five for alice, the same run id for bob, a memory in no run, two at one time
    layout = [("alice", "r1", 0), ("alice", "r1", 1), ("alice", "r1", 2), ("alice", "r1", 3), ("alice", "r1", 4),
              ("bob", "r1", 1), ("bob", "r1", 2), ("alice", None, 2), ("alice", "r1", 2)]
    got = []
    for store in (sqlite, pg_store):
        pid = store.ensure_project("n").id
        bucket = store.find_bucket(pid, "General")
        assert bucket is not None
        ms = [Memory(ids[i], pid, f"t{i}", f"h{i}", bucket.id, base + timedelta(minutes=m), base + timedelta(minutes=m),
                     user_id=u, run_id=r) for i, (u, r, m) in enumerate(layout)]
        store.insert(ms, vectors, [])
        answers = []
        for anchors, where, radius in (([ids[2], ids[7], str(uuid.uuid4())], None, 2),
                                       ([ids[0], ids[5]], None, 3),
                                       ([ids[2]], parse({"NOT": {"memory_ids": [ids[1]]}}), 1),
                                       ([ids[3], ids[6]], None, 0)):
            answers.append(sorted((n.anchor, n.id, n.offset, round(n.similarity, 5))
                                  for n in store.neighbours(pid, anchors, vectors[0], where, radius)))
        got.append(answers)
    sqlite.close()
    assert got[0] == got[1]
    assert any(offset == -2 for _, _, offset, _ in got[1][0])  # the runs were really walked


def test_an_unreachable_database_is_unavailable_with_the_reason(postgres_server: EmbeddedPostgres) -> None:
    with pytest.raises(Unavailable, match='database "no_such_db" does not exist'):
        PostgresStore(postgres_server.url("no_such_db"), timeout=1)


def test_a_selective_filter_is_scored_exactly_and_a_wide_one_walks_the_index(empty_url: str) -> None:
    store = PostgresStore(empty_url, exact_below=200)
    pid, bucket_id = _project(store)
    vectors = _unit_vectors(3, 2000, 16)
    ids = _put(store, pid, bucket_id, vectors, [{"team": "red" if i % 40 == 0 else "blue"} for i in range(2000)])
    with psycopg.connect(store.url, autocommit=True) as conn:
        conn.execute("ANALYZE memories")
    red, blue = parse({"metadata": {"team": "red"}}), parse({"metadata": {"team": "blue"}})
    q = vectors[0]
    with store._pool.connection() as conn:
        few = store._exact_if_few(conn, pid, 16, *compile_where(red), vector_text(q), 10)  # 50 rows: exact
        assert store._exact_if_few(conn, pid, 16, *compile_where(blue), vector_text(q), 10) is None  # the index
    wanted = [i for i in range(2000) if i % 40 == 0]
    exact = [ids[i] for i in sorted(wanted, key=lambda i: -float(vectors[i] @ q))[:10]]
    assert few is not None and [h for h, _ in few] == exact
    assert [h for h, _ in store.vector_search(pid, q, red, 10)] == exact
    store.close()


def test_bucket_names_from_before_their_unicode_keys_get_them_when_migrated(empty_url: str) -> None:
    """0002: names an older version compared with lower() get their case-folded key, filled in Python; of two that
    now share a key, the older keeps the name and the other stays reachable by id."""
    store = PostgresStore(empty_url)
    pid = store.ensure_project("p").id
    store.close()
    with psycopg.connect(empty_url, autocommit=True) as conn:  # back to schema 1, with names it allowed
        conn.execute("DELETE FROM schema_migrations WHERE version >= 2")
        conn.execute("DROP INDEX buckets_name_key")
        conn.execute("ALTER TABLE buckets DROP COLUMN name_key")
        conn.execute("CREATE UNIQUE INDEX buckets_name ON buckets (project_id, (name))")  # as a C-locale lower() did
        for i, name in enumerate(["Émile", "émile", "Straße"]):
            conn.execute("INSERT INTO buckets(project_id, id, name, description, created_at) VALUES (%s, %s, %s, '', %s)",
                         (pid, f"b{i}", name, datetime(2024, 1, i + 1, tzinfo=UTC)))
    store = PostgresStore(empty_url, migrate=True)
    try:
        found = store.find_bucket(pid, "ÉMILE")
        assert found is not None and found.id == "b0"
        assert store.get_bucket(pid, "b1") is not None and store.find_bucket(pid, "STRASSE").id == "b2"  # type: ignore[union-attr]
        assert {b.name for b in store.list_buckets(pid)} == {"General", "Émile", "émile", "Straße"}
        assert versions(empty_url) == list(range(1, postgres_schema.latest() + 1))
    finally:
        store.close()

