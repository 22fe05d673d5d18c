"""A keyword search filtered by owners gives the same ids and scores whichever way the filter is written.

The SQLite store lets FTS5 intersect each term with the owners a filter requires (tokens in the index's scope
column, store/sqlite/fts.py) when they are ANDed at the filter's top as equalities; written any other way (`in`
with one value, an OR of one) the filter is checked on the table alone. Both must agree on every owner value,
however odd, after inserts, text updates and deletes, and in a file migrated from before the tokens."""

from __future__ import annotations

import random
import uuid
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
import sqlean as sqlite3

from memvault import filters as F
from memvault.engine import Engine
from memvault.models import HistoryEvent, Memory, utcnow
from memvault.store.base import MemoryChange, Store
from memvault.store.sqlite import SQLiteStore
from memvault.store.sqlite.fts import OWNER_FIELDS, owner_token, scope_token

# Owner values a token must keep apart (case, composed and decomposed accents, FTS5 syntax) and keep whole.
ODD = ["alice", "Alice", "ALICE", 'quo"te', "it's", "scope : p0 OR x", "Zoë", "Zoe\u0308", "日本語", "🙂 x",
       "*", "NOT", "a-b", "x" * 255, "y" * 2000]  # 255: an owner id's bound; 2,000: a filter value's
WORDS = ["heron", "garden", "river", "violin", "quiet", "market", "lantern", "orbit", "pepper", "common"]
FIELDS = ("user_id", "agent_id", "app_id", "run_id")


def _memories(store: Store, project_id: str, rng: random.Random, n: int) -> list[Memory]:
    bucket = store.find_bucket(project_id, "General")
    assert bucket is not None
    now = utcnow()
    out = []
    for _ in range(n):
        words = rng.sample(WORDS[:-1], 3) + (["common"] if rng.random() < 0.7 else [])  # "common": past the budget
        owners = {f: rng.choice(ODD) if f == "user_id" or rng.random() < 0.5 else None for f in FIELDS}
        out.append(Memory(str(uuid.uuid4()), project_id, " ".join(words), "h", bucket.id, now, now, **owners))
    events = [HistoryEvent(str(uuid.uuid4()), m.id, project_id, "ADD", None, m.text, None, now, m.user_id,
                           m.agent_id, m.app_id, m.run_id) for m in out]
    store.insert(out, np.tile(np.eye(1, 8, dtype=np.float32), (n, 1)), events)
    return out


def _search(store: Store, project_id: str, terms: list[str], where: F.Node) -> list[tuple[str, float]]:
    return store.keyword_search(project_id, terms, Engine._live(where), 10)


def _filters(owners: dict[str, str]) -> tuple[F.Node, list[F.Node]]:
    """The filter as the fast path takes it (equalities ANDed at the top), and forms it does not take."""
    fast = F.all_of(*(F.eq(f, v) for f, v in owners.items()))
    assert fast is not None
    alternatives = [
        F.And(tuple(F.Cond(f, "in", (v,)) for f, v in owners.items())),
        F.And(tuple(F.Or((F.eq(f, v),)) for f, v in owners.items())),
    ]
    return fast, alternatives


def _check_all(store: Store, project_id: str, memories: list[Memory], rng: random.Random) -> int:
    """Every owner value of every field, alone and paired: the same answer in every form; returns the hits seen."""
    by_id = {m.id: m for m in memories}
    seen = 0
    queries = [["common"], ["heron"], ["updated"], ["heron", "garden", "common"], ["river", "updated", "orbit"]]
    cases = [{f: v} for f in FIELDS for v in ODD] + [
        {"user_id": m.user_id, "agent_id": m.agent_id} for m in rng.sample(memories, 10) if m.agent_id is not None]
    for owners in cases:
        fast, alternatives = _filters(owners)  # type: ignore[arg-type]
        for terms in queries:
            got = _search(store, project_id, terms, fast)
            for other in alternatives:
                assert _search(store, project_id, terms, other) == got, (owners, terms)
            for mid, _ in got:  # the project's own memories of exactly these owners
                assert all(getattr(by_id[mid], f) == v for f, v in owners.items())
            seen += len(got)
    return seen


def test_owner_filtered_keyword_search_is_the_same_in_every_form_of_the_filter(store: Store) -> None:
    rng = random.Random(19)
    mine, theirs = store.ensure_project("mine").id, store.ensure_project("theirs").id
    memories = _memories(store, mine, rng, 400)
    _memories(store, theirs, rng, 200)  # the same owner values in another project: never met
    now = utcnow()
    changed = rng.sample(memories, 60)
    store.update(mine, [MemoryChange(m.id, str(uuid.uuid4()), now, text=f"updated {m.text}", hash="h2")
                        for m in changed])
    gone = set(rng.sample([m.id for m in memories if m not in changed], 40))
    store.delete(mine, sorted(gone), now)
    memories = [m for m in memories if m.id not in gone]
    assert _check_all(store, mine, memories, rng) > 500
    for m in changed[:10]:  # a rewritten text is found under its owner by its new word
        found = [h[0] for h in _search(store, mine, ["updated"], F.eq("user_id", m.user_id))]
        assert m.id in found or len(found) == 10
    assert _search(store, theirs, ["updated"], F.eq("user_id", "alice")) == []


def _fts_rows(path: str, match: str) -> set[int]:
    with closing(sqlite3.connect(str(path))) as conn:
        return {r[0] for r in conn.execute("SELECT rowid FROM memories_fts WHERE memories_fts MATCH ?", (match,))}


def _seqs(path: str, project_id: str, field: str, value: str) -> set[int]:
    with closing(sqlite3.connect(str(path))) as conn:
        return {r[0] for r in conn.execute(f"SELECT seq FROM memories WHERE project_id = ? AND {field} = ?",
                                           (project_id, value))}


def test_the_keyword_index_holds_each_rows_owners_after_insert_update_and_migration(tmp_path: Path) -> None:
    """Each row of the keyword index carries a token per owner, bound to its project (written by insert, rewritten
    by a text update, added by 0015 to a file from before), and a search filtered by an owner asks FTS5 for it."""
    rng = random.Random(7)
    path = tmp_path / "m.db"
    store = SQLiteStore(path)
    pid, other = store.ensure_project("p").id, store.ensure_project("other").id
    memories = _memories(store, pid, rng, 120)
    _memories(store, other, rng, 60)  # the same owners in another project: other tokens
    store.update(pid, [MemoryChange(m.id, str(uuid.uuid4()), utcnow(), text="rewritten text", hash="h2")
                       for m in memories[:30]])

    def assert_tokens() -> None:
        for field in FIELDS:
            for value in ODD:
                want = _seqs(str(path), pid, field, value)
                assert _fts_rows(str(path), f"scope : {owner_token(pid, field, value)}") == want, (field, value)
                assert _fts_rows(str(path), f"scope : {owner_token(other, field, value)}") \
                    == _seqs(str(path), other, field, value)

    assert_tokens()
    statements: list[str] = []
    conn = store._conn()
    conn.set_trace_callback(statements.append)
    before = _search(store, pid, ["rewritten"], F.eq("user_id", "Zoë"))
    conn.set_trace_callback(None)
    assert any(owner_token(pid, "user_id", "Zoë") in s for s in statements if "MATCH" in s)
    store.close()

    with closing(sqlite3.connect(str(path))) as raw:  # as a file written before 0015: the project's token alone
        raw.execute("UPDATE memories_fts SET scope = ?", (scope_token(pid),))
        raw.execute("PRAGMA user_version = 14")
        raw.commit()
    assert _fts_rows(str(path), f"scope : {owner_token(pid, 'user_id', 'alice')}") == set()
    store = SQLiteStore(path, migrate=True)
    try:
        assert_tokens()
        assert _search(store, pid, ["rewritten"], F.eq("user_id", "Zoë")) == before
        assert _check_all(store, pid, memories, rng) > 100
    finally:
        store.close()


def test_a_deleted_memorys_owner_tokens_leave_the_index_files_with_it(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "m.db")
    try:
        pid = store.ensure_project("p").id
        bucket = store.find_bucket(pid, "General")
        assert bucket is not None
        now = utcnow()
        kept = Memory(str(uuid.uuid4()), pid, "kept memory", "h", bucket.id, now, now, user_id="stays")
        secret = Memory(str(uuid.uuid4()), pid, "gone memory", "h", bucket.id, now, now, user_id="leaver@example.org",
                        agent_id="leaver-agent")
        store.insert([kept, secret], np.tile(np.eye(1, 8, dtype=np.float32), (2, 1)), [])
        tokens = [owner_token(pid, "user_id", "leaver@example.org").encode(),
                  owner_token(pid, "agent_id", "leaver-agent").encode()]
        store.compact()
        files = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("m.db"))
        assert all(t in files for t in tokens) and b"leaver@example.org" not in index_bytes(store)
        store.delete(pid, [secret.id], now)
        store.compact(rewrite=True)
        files = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("m.db"))
        assert not any(t in files for t in tokens)
        assert owner_token(pid, "user_id", "stays").encode() in files
    finally:
        store.close()


def index_bytes(store: SQLiteStore) -> bytes:
    """The keyword index's own tables, as stored (the raw owner ids never go there: only their hashes)."""
    with closing(sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)) as conn:
        rows = [r for table in ("memories_fts_data", "memories_fts_idx", "memories_fts_content")
                for r in conn.execute(f"SELECT * FROM {table}")]
    return repr(rows).encode()


@pytest.mark.parametrize("where", [
    F.Or((F.eq("user_id", "a"), F.eq("user_id", "b"))),
    F.Not(F.eq("user_id", "a")),
    F.Cond("user_id", "in", ("a",)),
    F.Cond("user_id", "ne", "a"),
    F.Cond("metadata", "eq", "a", key="user_id"),
])
def test_only_owner_equalities_anded_at_the_top_are_required(where: F.Node) -> None:
    assert F.required_equalities(where, OWNER_FIELDS) == []
    both = F.all_of(F.eq("user_id", "a"), F.Or((where, F.eq("agent_id", "b"))), F.And((F.eq("run_id", "r"),)))
    assert F.required_equalities(both, OWNER_FIELDS) == [("user_id", "a"), ("run_id", "r")]
