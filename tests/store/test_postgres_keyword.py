"""PostgreSQL's keyword search decides a word from a sample of the scope when the sample settles it: a word held by
more than the budget among the scope's first memories is left out without looking it up in the GIN index (at
1,000,000 memories that lookup reads every match, 20-60 ms for a common word), and the answers stay those of the
rule in store/keyword.py for words the sample cannot settle."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import psycopg
import pytest

from memvault.models import Memory, utcnow
from memvault.store.keyword import KEYWORD_BUDGET, SCOPE_COUNT_CAP
from memvault.store.postgres import PostgresStore
from memvault.testing.postgres import EmbeddedPostgres


@pytest.fixture
def own_url(postgres_server: EmbeddedPostgres) -> Iterator[str]:
    """A database of its own: the test reads and empties PostgreSQL's buffer cache for its tables."""
    name = f"k_{uuid.uuid4().hex[:12]}"
    url = postgres_server.create_database(name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_buffercache")
    yield url
    postgres_server.drop_database(name)


def index_pages_read(url: str, search: object) -> int:
    """Pages of the keyword index (other than its metapage, which planning reads) that `search()` brought into
    PostgreSQL's buffer cache, emptied of that index first."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_buffercache_evict_relation('memories_tsv')")
        assert callable(search)
        search()
        row = conn.execute(
            "SELECT count(*) FROM pg_buffercache WHERE relfilenode = pg_relation_filenode('memories_tsv') "
            "AND reldatabase = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND relblocknumber > 0"
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_word_above_the_budget_in_a_sample_of_the_scope_is_left_out_without_looking_it_up(own_url: str) -> None:
    store = PostgresStore(own_url, max_size=2)
    try:
        pid = store.ensure_project("p").id
        bucket = store.find_bucket(pid, "General")
        assert bucket is not None
        at = utcnow()

        def memories(texts: list[str]) -> list[Memory]:
            return [Memory(str(uuid.uuid4()), pid, t, t, bucket.id, at, at) for t in texts]

        # First in the table, so in the sample: 150 notes with "common". Then filler past the sample, and after it
        # two words the sample cannot settle: "late" in 101 memories (one more than the budget), "edge" in 100.
        first = memories([f"common note {i}" for i in range(150)])
        filler = memories([f"filler line {i}" for i in range(SCOPE_COUNT_CAP)])
        late = memories([f"late entry {i}" for i in range(KEYWORD_BUDGET + 1)])
        edge = memories([f"edge entry {i}" for i in range(KEYWORD_BUDGET)])
        heron = memories(["a common late heron"])
        for batch in (first, filler, late, edge, heron):
            store.insert(batch, np.tile(np.eye(1, 4, dtype=np.float32), (len(batch), 1)), [])
        with psycopg.connect(own_url, autocommit=True) as conn:
            conn.execute("ALTER TABLE memories SET (autovacuum_enabled = off)")  # nothing else reads the index
            conn.execute("VACUUM ANALYZE memories")  # GIN's pending list into its tree: a lookup reads the tree

        found: list[list[tuple[str, float]]] = []
        pages = index_pages_read(own_url, lambda: found.append(store.keyword_search(pid, ["common"], None, 10)))
        assert found == [[]]  # more than the budget: a near stop word in this scope
        assert pages == 0  # decided by the sample: the index was not asked for the word's memories

        # Words the sample cannot settle are looked up, and the rule's answer is the same as counting them.
        assert [h[0] for h in store.keyword_search(pid, ["late", "heron"], None, 10)] == [heron[0].id]
        hits = store.keyword_search(pid, ["edge"], None, 200)
        assert {h[0] for h in hits} == {m.id for m in edge}
        assert index_pages_read(own_url, lambda: store.keyword_search(pid, ["heron"], None, 10)) > 0
    finally:
        store.close()
