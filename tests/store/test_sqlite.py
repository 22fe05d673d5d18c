"""What only the embedded store does: its keyword index's scope and budget, its own checkpoints and compaction."""

from __future__ import annotations

import time
import uuid
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
import sqlean as sqlite3

from memvault.models import HistoryEvent, Memory, utcnow
from memvault.store.sqlite import SQLiteStore
from memvault.store.sqlite import store as sqlite_module


def fill(store: SQLiteStore, project_id: str, texts: list[str]) -> list[str]:
    bucket = store.find_bucket(project_id, "General")
    assert bucket is not None
    now = utcnow()
    memories = [Memory(str(uuid.uuid4()), project_id, t, t, bucket.id, now, now) for t in texts]
    events = [HistoryEvent(str(uuid.uuid4()), m.id, project_id, "ADD", None, m.text, None, now) for m in memories]
    vectors = np.tile(np.eye(1, 8, dtype=np.float32), (len(texts), 1))
    store.insert(memories, vectors, events)
    return [m.id for m in memories]


def keyword_bytes(path: str) -> bytes:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        rows = [r for table in ("memories_fts_data", "memories_fts_idx", "memories_fts_content")
                for r in conn.execute(f"SELECT * FROM {table}")]
    return repr(rows).encode() + (Path(path + "-wal").read_bytes() if Path(path + "-wal").exists() else b"")


def test_keyword_search_ranks_only_the_callers_project(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "m.db")
    mine, theirs = store.ensure_project("mine").id, store.ensure_project("theirs").id
    fill(store, theirs, ["zebra crossing downtown"] * 3)
    [own] = fill(store, mine, ["a zebra at the zoo"])
    assert [h[0] for h in store.keyword_search(mine, ["zebra"], None, 10)] == [own]
    assert store.keyword_search(store.ensure_project("empty").id, ["zebra"], None, 10) == []
    store.close()


def test_a_delete_leaves_the_keyword_index_files_by_itself_within_the_compaction_delay(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "m.db")
    pid = store.ensure_project("p").id
    fill(store, pid, [f"filler memory {i}" for i in range(50)])
    [secret] = fill(store, pid, ["the vault combination is quetzalcoatl"])
    store.compact()  # the secret now sits in a merged segment, as an old memory would
    assert b"quetzalcoatl" in keyword_bytes(store.path)
    store.delete(pid, [secret], utcnow())
    assert store.keyword_search(pid, ["quetzalcoatl"], None, 5) == []  # gone for reads at once
    deadline = time.monotonic() + sqlite_module.COMPACT_DELAY + 10
    while b"quetzalcoatl" in keyword_bytes(store.path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert b"quetzalcoatl" not in keyword_bytes(store.path)
    store.close()


def test_background_compactions_do_not_pile_up_connections(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "m.db")
    pid = store.ensure_project("p").id
    before = len(store._conns)
    for round_ in range(3):
        [gone] = fill(store, pid, [f"round {round_}"])
        store.delete(pid, [gone], utcnow())
        timer = store._compact_timer
        if timer is not None:  # the timer's thread compacts, then releases its connection, then ends
            timer.join(sqlite_module.COMPACT_DELAY + 10)
    assert len(store._conns) == before
    store.close()


def test_a_rewriting_compaction_leaves_no_byte_of_a_deleted_memory_anywhere_in_the_files(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "m.db")
    pid = store.ensure_project("p").id
    fill(store, pid, [f"filler memory {i} " + "x" * (i % 50) for i in range(300)])
    [secret] = fill(store, pid, ["the safe opens with xylophonequartz"])
    fill(store, pid, [f"later memory {i}" for i in range(300)])  # pages split and rebalance around it
    store.delete(pid, [secret], utcnow())
    store.compact(rewrite=True)
    files = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("m.db"))
    assert b"xylophonequartz" not in files
    store.close()


def test_writes_are_checkpointed_in_the_background_so_the_wal_stays_bounded(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Commits never checkpoint (wal_autocheckpoint=0): a timer does it after each burst of writes. Without it the
    write-ahead log would hold every page written since the store opened."""
    monkeypatch.setattr(sqlite_module, "CHECKPOINT_DELAY", 0.05)
    store = SQLiteStore(tmp_path / "m.db")
    pid = store.ensure_project("p").id
    wal = Path(store.path + "-wal")
    sizes = []
    for round_ in range(12):
        fill(store, pid, [f"round {round_} memory {i} " + "words " * 40 for i in range(100)])
        timer = store._compact_timer
        if timer is not None:  # the checkpoint runs on the timer's thread: done when that thread ends
            timer.join(10)
        sizes.append(wal.stat().st_size)
    assert max(sizes) < 3 * sizes[0], sizes  # the log is reused from its start after each checkpoint
    with closing(sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)) as conn:
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000  # a fresh connection's default
    assert store._conn().execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    store.close()
    assert not wal.exists() or wal.stat().st_size == 0  # close checkpoints what is left


def test_a_user_scope_is_counted_from_the_user_index_alone(tmp_path: Path) -> None:
    """A keyword search counts its scope for the IDF; with a user filter and the expiry check every search adds,
    that count reads no table rows (it read up to 5,000 before the index carried the expiry)."""
    from memvault import filters as F
    from memvault.engine import Engine

    store = SQLiteStore(tmp_path / "m.db")
    try:
        where = Engine._live(F.eq("user_id", "alice"))
        sql, params = sqlite_module.scope_size_query("p1", *sqlite_module.compile_where(where))
        plan = " ".join(str(row[-1]) for row in store._conn().execute("EXPLAIN QUERY PLAN " + sql, params))
        assert "COVERING INDEX memories_user" in plan
    finally:
        store.close()


def test_a_file_behind_this_version_is_refused_on_open_until_memvault_migrate(tmp_path: Path) -> None:
    """One policy for both stores (store/migrations.py): a new file is set up at once; one behind is refused with
    the command to run, and `memvault migrate --data-dir` brings it up to date."""
    from typer.testing import CliRunner

    from memvault.cli import app
    from memvault.store.migrations import SchemaError
    from memvault.store.sqlite import schema

    path = tmp_path / "memvault.db"  # the file `--data-dir tmp_path` names
    SQLiteStore(path).close()  # empty: set up without asking
    with closing(sqlite3.connect(str(path))) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.latest()
        conn.execute("PRAGMA user_version = 5")  # as if written by the version before 0006
    with pytest.raises(SchemaError, match="at version 5, this memvault needs .*run `memvault migrate`"):
        SQLiteStore(path)
    result = CliRunner().invoke(app, ["migrate", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"migrated from version 5 to {schema.latest()}" in result.output
    again = CliRunner().invoke(app, ["migrate", "--data-dir", str(tmp_path)])
    assert f"already at version {schema.latest()}" in again.output
    SQLiteStore(path).close()
    with closing(sqlite3.connect(str(path))) as conn:
        conn.execute(f"PRAGMA user_version = {schema.latest() + 1}")
    with pytest.raises(SchemaError, match="newer than this memvault knows"):
        SQLiteStore(path, migrate=True)


def test_a_database_from_before_the_owner_indexes_gets_them_on_open(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    SQLiteStore(path).close()
    with closing(sqlite3.connect(str(path))) as conn:  # put the database back to schema 2
        conn.execute("DROP INDEX memories_user")
        conn.execute("DROP INDEX memories_superseded")
        conn.execute("ALTER TABLE memories DROP COLUMN superseded_by")
        conn.execute("ALTER TABLE memories DROP COLUMN superseded_at")
        conn.execute("CREATE INDEX memories_user ON memories (project_id, user_id, created_at)")
        conn.execute("DROP INDEX memories_run")
        conn.execute("CREATE INDEX memories_run ON memories (project_id, run_id)")
        conn.execute("DROP INDEX buckets_name_key")
        conn.execute("ALTER TABLE buckets DROP COLUMN name_key")
        conn.execute("CREATE UNIQUE INDEX buckets_name ON buckets (project_id, lower(name))")
        conn.execute("PRAGMA user_version = 2")
        conn.commit()
    SQLiteStore(path, migrate=True).close()
    with closing(sqlite3.connect(str(path))) as conn:
        columns = {name: [row[2] for row in conn.execute(f"PRAGMA index_info('{name}')")]
                   for name in ("memories_user", "memories_run")}
        assert columns == {"memories_user": ["project_id", "user_id", "created_at", "expiration_date", "superseded_by"],
                           "memories_run": ["project_id", "run_id", "created_at", "seq"]}
        partial = {r[1]: r[4] for r in conn.execute("PRAGMA index_list('memories')")}
        assert all(partial[f"memories_{owner}"] for owner in ("user", "agent", "app", "run"))
        assert conn.execute("PRAGMA user_version").fetchone()[0] >= 3


@pytest.mark.parametrize("owner", ["user_id", "agent_id", "app_id", "run_id"])
def test_owner_filters_read_their_own_index(tmp_path: Path, owner: str) -> None:
    """Owner indexes leave out memories without that owner; a filter on the owner still reads its index."""
    from memvault import filters as F
    from memvault.engine import Engine

    store = SQLiteStore(tmp_path / "m.db")
    try:
        sql, params = sqlite_module.compile_where(Engine._live(F.eq(owner, "x")))
        plan = " ".join(str(row[-1]) for row in store._conn().execute(
            f"EXPLAIN QUERY PLAN SELECT m.id FROM memories m WHERE m.project_id = ? AND {sql}", ("p", *params)))
        assert f"INDEX memories_{owner.removesuffix('_id')}" in plan
    finally:
        store.close()


@pytest.mark.parametrize("owner", [None, "user_id", "agent_id"])
def test_run_neighbours_are_read_from_the_run_index_whatever_the_filter(tmp_path: Path, owner: str | None) -> None:
    from memvault import filters as F
    from memvault.engine import Engine

    store = SQLiteStore(tmp_path / "m.db")
    try:
        statements: list[str] = []
        conn = store._conn()
        conn.set_trace_callback(statements.append)
        where = Engine._live(F.eq(owner, "x") if owner else None)
        store.neighbours("p", [str(uuid.uuid4())], np.zeros(8, dtype=np.float32), where, 2)
        conn.set_trace_callback(None)
        (sql,) = [s for s in statements if s.startswith("WITH a AS")]
        around = [str(row[-1]) for row in conn.execute("EXPLAIN QUERY PLAN " + sql) if "created_at" in str(row[-1])]
        assert len(around) == 2 and all("INDEX memories_run (project_id=? AND run_id=?" in p for p in around)
    finally:
        store.close()


def test_bucket_names_from_before_their_unicode_keys_get_them_on_open(tmp_path: Path) -> None:
    """0004: names an older version compared with ASCII lower() get their case-folded key; of two that now share
    a key, the older keeps the name and the other stays reachable by id."""
    path = tmp_path / "m.db"
    store = SQLiteStore(path)
    pid = store.ensure_project("p").id
    store.close()
    with closing(sqlite3.connect(str(path))) as conn:  # put the database back to schema 3, with names it allowed
        conn.execute("DROP INDEX buckets_name_key")
        conn.execute("ALTER TABLE buckets DROP COLUMN name_key")
        conn.execute("CREATE UNIQUE INDEX buckets_name ON buckets (project_id, lower(name))")
        for i, name in enumerate(["Émile", "émile", "Straße"]):
            conn.execute("INSERT INTO buckets(project_id, id, name, description, created_at) VALUES (?, ?, ?, '', ?)",
                         (pid, f"b{i}", name, f"2024-01-0{i + 1}T00:00:00.000000Z"))
        conn.execute("PRAGMA user_version = 3")
        conn.commit()
    store = SQLiteStore(path, migrate=True)
    try:
        found = store.find_bucket(pid, "ÉMILE")
        assert found is not None and found.id == "b0"
        assert store.get_bucket(pid, "b1") is not None and store.find_bucket(pid, "STRASSE").id == "b2"  # type: ignore[union-attr]
        assert {b.name for b in store.list_buckets(pid)} == {"General", "Émile", "émile", "Straße"}
    finally:
        store.close()


def test_a_statement_too_large_for_sqlite_is_invalid_input_and_the_store_goes_on(tmp_path: Path) -> None:
    """The engine bounds filters below this; a tree built past the bound gets a 400-kind error, not a crash."""
    from memvault import filters as F
    from memvault.errors import InvalidInput

    store = SQLiteStore(tmp_path / "m.db")
    try:
        pid = store.ensure_project("p").id
        fill(store, pid, ["still here"])
        huge = F.Or(tuple(F.eq("user_id", f"u{i}") for i in range(1001)))  # deeper than SQLite's 1,000 levels
        with pytest.raises(InvalidInput, match="too large for the database"):
            store.list(pid, huge, 10)
        assert [m.text for m in store.list(pid, None, 10).items] == ["still here"]
    finally:
        store.close()


def test_a_change_log_from_before_0014_reads_the_same_after_it_and_webhooks_resume_where_they_were(
        tmp_path: Path) -> None:
    """0014 keys each log row by its history event's seq and drops the log's index by memory. A file written by the
    version before (log rows with their own seq, some history from before the log, an event already trimmed, two
    projects, a webhook partway through) reads the same events, in the same order, and its webhook's cursor moves
    so that the events after it are the same ones."""
    from memvault.models import EventQuery, Webhook
    from memvault.store import changelog
    from memvault.store.sqlite import schema
    from memvault.store.sqlite.connection import connect
    from memvault.store.sqlite.store import SQLITE

    path = tmp_path / "m.db"
    conn = connect(str(path))
    schema.migrations.run(schema._Database(conn), schema.scripts()[:13], migrate=True)  # the schema before 0014
    p1, p2 = str(uuid.uuid4()), str(uuid.uuid4())
    now = utcnow()

    def write(project: str, kind: str, text: str | None, logged: bool = True) -> HistoryEvent:
        event = HistoryEvent(str(uuid.uuid4()), f"m-{project[:4]}-{text}", project, kind, None, text, None, now,
                             user_id="alice" if project == p1 else "bob")
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(SQLITE.event_insert(), SQLITE.event_values([event]))
        if logged:  # as the store before 0014 wrote its log rows
            conn.executemany(changelog.log_insert(SQLITE), changelog.log_values(SQLITE, [event]))
        conn.execute("COMMIT")
        return event

    write(p1, "ADD", "before the log", logged=False)
    write(p2, "ADD", "before the log too", logged=False)
    written = [write(p, "ADD", f"fact {i}") for i, p in enumerate([p1, p2, p1, p1, p2, p1, p2])]
    old = {r[1]: int(r[0]) for r in conn.execute("SELECT seq, id FROM events")}
    conn.execute("DELETE FROM events WHERE id = ?", (written[0].id,))  # trimmed by the retention sweep
    cursor = old[written[3].id]  # p1's webhook has handled its events up to the fourth write
    conn.execute("INSERT INTO webhooks(project_id, name, url, event_types, secret, cursor, created_at, updated_at) "
                 "VALUES (?, 'w', 'http://x', '[]', 's', ?, ?, ?)", (p1, cursor, now.isoformat(), now.isoformat()))
    before = [(e[1], e[3], e[4], e[6], e[7], e[11]) for e in conn.execute(
        f"{changelog.EVENT_SELECT} WHERE e.project_id = ? ORDER BY e.seq DESC", (p1,))]
    assert [b[0] for b in before] == [written[5].id, written[3].id, written[2].id]
    conn.close()

    store = SQLiteStore(path, migrate=True)
    try:
        indexes = [r[1] for r in store._conn().execute("PRAGMA index_list('change_log')")]
        assert indexes == ["change_log_project"]  # the log's only index: by project in log order
        events, total = store.events(p1, EventQuery(), 100)
        assert total == 3 and [(e.id, e.type, e.memory_id, e.text, e.user_id, e.actor) for e in events] == before
        history_seq = {r[1]: r[0] for r in store._conn().execute("SELECT seq, id FROM history")}
        assert all(e.seq == history_seq[e.id] for e in events)  # each log row sits on its history event's seq
        assert [e.id for e in store.events(p1, EventQuery(memory_id=written[2].memory_id), 100)[0]] == [written[2].id]
        assert [e.id for e in store.event_batch(p1, written[3].id)] == [written[3].id]
        (hook,) = store.list_webhooks(p1)
        assert isinstance(hook, Webhook)
        assert [e.id for e in store.events_after(p1, hook.cursor, 100)] == [written[5].id]
        assert [e.id for e in store.events_after(p2, 0, 100)] == [written[1].id, written[4].id, written[6].id]
        p3 = store.ensure_project("made after the migration").id
        new = store.add_webhook(p3, "later", "http://y", [], "s", utcnow())  # delivers from now on
        ids = fill(store, p3, ["after the migration"])
        (late,) = store.events_after(p3, new.cursor, 100)
        assert late.memory_id == ids[0] and late.text == "after the migration" and late.seq > history_seq[written[6].id]
        after = (store.events(p1, EventQuery(), 100), hook.cursor)
    finally:
        store.close()
    with closing(sqlite3.connect(str(path))) as raw:  # the scripts from 0012 on run again on a file already past them
        raw.execute("PRAGMA user_version = 11")
        raw.commit()
    store = SQLiteStore(path, migrate=True)
    try:
        assert (store.events(p1, EventQuery(), 100), store.list_webhooks(p1)[0].cursor) == after
    finally:
        store.close()
