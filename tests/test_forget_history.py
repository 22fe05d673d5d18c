"""Forget means forget, for the history: after a delete, by any path, no history event, no export and (on SQLite,
after the compaction) no byte of the database files holds a deleted fact's text.

Facts are inferred by the offline extractor from multi-fact conversations, so a fact has siblings: memories made
by the same add, which outlive it. Each fact carries a marker word found nowhere else, so "holds its text" is an
exact byte search; a marker that a live memory also holds (now or in its own past) is not deleted text.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memvault import filters as F
from memvault import transfer
from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine, Owners
from memvault.errors import Conflict, NotFound
from memvault.extract.base import Message
from memvault.extract.offline import OfflineExtractor
from memvault.store.sqlite import SQLiteStore
from memvault.testing.server import Server

_LETTERS = "bcdfgkmpqvxz"  # no vowel, no s or y: the keyword index's stemmer leaves such a word as it is
_TEMPLATES = ("I collect {} stones", "My sister owns {} boats", "I moved to {}", "I am a {} fan",
              "I work at {}", "My dog is called {}")
POOL = 24


def marker(i: int) -> str:
    return "zq" + "".join(_LETTERS[(i // 12**k) % 12] for k in range(4))


def sentence(i: int) -> str:
    return _TEMPLATES[i % len(_TEMPLATES)].format(marker(i))


def markers_in(text: str) -> set[str]:
    return {marker(i) for i in range(POOL) if marker(i) in text}


# one run of operations -----------------------------------------------------------------------
class Run:
    """Applies operations to one project and remembers every text each memory ever had."""

    def __init__(self, engine: Engine, project: str) -> None:
        self.engine, self.pid = engine, engine.project(project).id
        self.texts: dict[str, set[str]] = {}

    def live(self) -> list[str]:
        """Every memory the project still holds: superseded ones too (they keep their text until deleted)."""
        return sorted(m.id for m in self.engine.list(self.pid, limit=1000, latest_only=False).items)

    def add(self, sentences: list[int], user: str, bucket: str | None, tag: str, echo: bool) -> None:
        if bucket is not None:
            try:
                self.engine.create_bucket(self.pid, bucket)
            except Conflict:
                pass
        said = [sentence(i) + "." for i in sentences]
        half = max(1, len(said) // 2)
        messages = [Message("user", " ".join(said[:half]))]
        if echo:  # the assistant repeats a fact: the conversation holds it twice, the memory once
            messages.append(Message("assistant", f"Noted: {sentence(sentences[0])}."))
        if said[half:]:
            messages.append(Message("user", " ".join(said[half:])))
        for result in self.engine.add(self.pid, messages, Owners(user_id=user), infer=True, metadata={"tag": tag},
                                      bucket=bucket):
            self.texts[result.memory.id] = {result.memory.text}

    def apply(self, op: tuple[Any, ...]) -> None:
        kind, live = op[0], self.live()
        if kind == "add":
            self.add(*op[1:])
        elif kind == "delete" and live:
            self.engine.delete(self.pid, live[op[1] % len(live)])
        elif kind == "batch" and live:
            self.engine.delete_many(self.pid, [live[i % len(live)] for i in op[1]])
        elif kind == "filter":
            self.engine.delete_where(self.pid, F.Cond("metadata", "eq", op[1], key="tag"))
        elif kind == "entity":
            try:
                self.engine.delete_entity(self.pid, "user", op[1])
            except NotFound:
                pass
        elif kind == "bucket":
            try:
                self.engine.delete_bucket(self.pid, "B", "delete")
            except NotFound:
                pass
        elif kind == "update" and live:
            mid = live[op[1] % len(live)]
            self.texts[mid].add(self.engine.update(self.pid, mid, text=sentence(op[2])).text)
        elif kind == "move" and live:
            self.engine.move_memories(self.pid, [live[op[1] % len(live)]], "General")
        elif kind == "retag" and live:
            self.engine.update(self.pid, live[op[1] % len(live)], metadata={"tag": "kept"})
        elif kind == "reset":
            self.engine.reset(self.pid)

    def forgotten(self) -> set[str]:
        """The markers of every text a deleted memory ever had, that no live memory has or had."""
        live = set(self.live())
        kept = {m for mid in live for t in self.texts[mid] for m in markers_in(t)}
        gone = {m for mid, texts in self.texts.items() if mid not in live for t in texts for m in markers_in(t)}
        return gone - kept

    def assert_forgotten_in_history_and_export(self) -> set[str]:
        forgotten = self.forgotten()
        for mid in self.texts:
            for event in self.engine.store.history(self.pid, mid):
                held = json.dumps([event.old_text, event.new_text, event.input, event.metadata])
                assert not markers_in(held) & forgotten, (event, forgotten)
        exported = "".join(transfer.export_lines(self.engine, self.pid, with_embeddings=True))
        assert not markers_in(exported) & forgotten
        return forgotten


def assert_not_in_files(folder: Path, markers: Iterable[str]) -> None:
    files = b"".join(p.read_bytes() for p in folder.iterdir() if p.name.startswith("memvault.db"))
    found = [m for m in markers if m.encode() in files]
    assert not found, f"deleted text left in the files: {found}"


# the property --------------------------------------------------------------------------------
index = st.integers(0, 50)
ADD = st.tuples(st.just("add"), st.lists(st.integers(0, POOL - 1), min_size=2, max_size=4, unique=True),
                st.sampled_from(["u1", "u2"]), st.sampled_from([None, "B"]), st.sampled_from(["t1", "t2"]),
                st.booleans())
OPERATIONS = st.tuples(ADD).flatmap(lambda first: st.lists(st.one_of(
    ADD,
    st.tuples(st.just("delete"), index),
    st.tuples(st.just("batch"), st.lists(index, min_size=1, max_size=3)),
    st.tuples(st.just("filter"), st.sampled_from(["t1", "t2"])),
    st.tuples(st.just("entity"), st.sampled_from(["u1", "u2"])),
    st.tuples(st.just("bucket")),
    st.tuples(st.just("update"), index, st.integers(0, POOL - 1)),
    st.tuples(st.just("move"), index),
    st.tuples(st.just("retag"), index),
    st.tuples(st.just("reset")),
), min_size=1, max_size=12).map(lambda rest: [*first, *rest]))  # an add first: something to forget


def engine_over(store: Any) -> Engine:
    return Engine(store, HashingEmbedder(), OfflineExtractor())


@settings(max_examples=40, deadline=None)
@given(ops=OPERATIONS)
def test_no_deleted_fact_survives_in_history_export_or_the_sqlite_files(ops: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        engine = engine_over(SQLiteStore(Path(folder) / "memvault.db"))
        try:
            run = Run(engine, "p")
            for op in ops:
                run.apply(op)
            forgotten = run.assert_forgotten_in_history_and_export()
        finally:
            engine.close()  # compacts what the deletes left
        assert_not_in_files(Path(folder), forgotten)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPERATIONS)
def test_no_deleted_fact_survives_in_postgres_history_or_export(postgres_store: Any, ops: list[tuple[Any, ...]]) -> None:
    run = Run(engine_over(postgres_store), f"p-{uuid.uuid4().hex[:12]}")  # a fresh project per example
    for op in ops:
        run.apply(op)
    run.assert_forgotten_in_history_and_export()


@pytest.fixture
def postgres_store(request: pytest.FixtureRequest) -> Any:
    from memvault.testing.stores import make_postgres

    made = make_postgres(request)
    yield made
    made.close()


# each forget path, one at a time -------------------------------------------------------------
def three_facts(run: Run) -> tuple[str, str, str]:
    """One add of three facts (user u1, tag t1, bucket B); returns their ids in the order said."""
    run.add([0, 1, 2], "u1", "B", "t1", echo=True)
    by_text = {next(iter(t)): mid for mid, t in run.texts.items()}
    return by_text[sentence(0)], by_text[sentence(1)], by_text[sentence(2)]


PATHS = ["delete", "batch", "filter", "entity", "bucket", "reset", "update_then_delete"]


def forget_by(run: Run, path: str) -> None:
    """Delete the first fact by `path`, keeping its siblings alive wherever the path allows."""
    first, second, third = three_facts(run)
    engine, pid = run.engine, run.pid
    if path == "delete":
        engine.delete(pid, first)
    elif path == "batch":
        engine.delete_many(pid, [first])
    elif path == "filter":
        for mid in (second, third):
            engine.update(pid, mid, metadata={"tag": "kept"})
        assert engine.delete_where(pid, F.Cond("metadata", "eq", "t1", key="tag")) == 1
    elif path == "entity":  # siblings share their owners: an entity delete takes them all
        assert engine.delete_entity(pid, "user", "u1") == 3
    elif path == "bucket":
        engine.move_memories(pid, [second, third], "General")
        assert engine.delete_bucket(pid, "B", "delete") == 1
    elif path == "reset":
        assert engine.reset(pid) == 3
    elif path == "update_then_delete":
        run.texts[first].add(engine.update(pid, first, text=sentence(3)).text)
        engine.delete(pid, first)


@pytest.mark.parametrize("path", PATHS)
def test_each_forget_path_leaves_no_deleted_fact_in_history_or_export(engine: Engine, path: str) -> None:
    run = Run(engine, "test")
    forget_by(run, path)
    assert run.assert_forgotten_in_history_and_export() >= {marker(0)}


@pytest.mark.parametrize("path", PATHS)
def test_each_forget_path_leaves_no_deleted_fact_in_the_sqlite_files(tmp_path: Path, path: str) -> None:
    engine = engine_over(SQLiteStore(tmp_path / "memvault.db"))
    try:
        run = Run(engine, "test")
        forget_by(run, path)
        forgotten = run.forgotten()
        engine.compact()  # what runs by itself 2 s after a delete
        assert_not_in_files(tmp_path, forgotten)
    finally:
        engine.close()
    assert_not_in_files(tmp_path, forgotten)
    assert forgotten >= {marker(0)} | ({marker(3)} if path == "update_then_delete" else set())


def test_a_memoryplugin_bulk_delete_leaves_no_deleted_fact(server: Server, tmp_path: Path) -> None:
    key = server.key()
    run = Run(server.engine, "test")
    first, second, _ = three_facts(run)
    with httpx.Client(base_url=server.url + "/api", headers={"Authorization": f"Bearer {key}"}) as mp:
        answer = mp.post("/memories/bulk-delete", json={"memoryIds": [first, str(uuid.uuid4())]})
        assert answer.status_code == 200 and answer.json()["deleted"] == 1, answer.text
    assert server.engine.get(run.pid, second).text == sentence(1)
    forgotten = run.assert_forgotten_in_history_and_export()
    assert marker(0) in forgotten
    store = server.engine.store
    if isinstance(store, SQLiteStore):
        server.engine.compact()
        assert_not_in_files(Path(store.path).parent, forgotten)


def test_an_inferred_fact_keeps_no_conversation_and_a_plain_add_keeps_its_own_message(engine: Engine) -> None:
    pid = engine.project("test").id
    inferred = engine.add(pid, [Message("user", f"{sentence(0)}. {sentence(1)}.")], infer=True)
    assert len(inferred) == 2
    assert [e.input for r in inferred for e in engine.history(pid, r.memory.id)] == [None, None]
    plain = engine.add(pid, [Message("user", f"  {sentence(2)} "), Message("user", sentence(3))], infer=False)
    assert [e.input for e in engine.history(pid, plain[0].memory.id)] == [[{"role": "user", "content": f"  {sentence(2)} "}]]
    assert [e.input for e in engine.history(pid, plain[1].memory.id)] == [[{"role": "user", "content": sentence(3)}]]


# a database written before: its conversations are dropped, its ids become per project ---------------------------
def _old_rows(at: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Two facts inferred from one conversation and one plain memory, as the previous version stored them."""
    conversation = json.dumps([{"role": "user", "content": f"{sentence(0)}. {sentence(1)}."}])
    memories = [(str(uuid.uuid4()), sentence(i)) for i in range(3)]
    history = [(str(uuid.uuid4()), memories[0][0], sentence(0), conversation),
               (str(uuid.uuid4()), memories[1][0], sentence(1), conversation),
               (str(uuid.uuid4()), memories[2][0], sentence(2),  # its own message, with a field it does not need
                json.dumps([{"role": "user", "content": sentence(2), "name": sentence(5)}]))]
    return memories, history


def test_an_older_sqlite_database_loses_its_conversations_and_gets_ids_per_project(tmp_path: Path) -> None:
    from importlib import resources

    import sqlean as sqlite3

    from memvault.engine import ImportRecord
    from memvault.models import utcnow
    from memvault.store.sqlite import scope_token

    path, at = tmp_path / "memvault.db", "2026-01-01T00:00:00.000000+00:00"
    folder = resources.files("memvault.store.sqlite").joinpath("migrations")
    memories, history = _old_rows(at)
    conn = sqlite3.connect(str(path), isolation_level=None)
    for number in (1, 2, 3):  # the schema as version 3 left it
        script = next(p for p in folder.iterdir() if p.name.startswith(f"000{number}_"))
        for statement in script.read_text().split(";\n"):
            if statement.strip():
                conn.execute(statement)
    conn.execute("PRAGMA user_version = 3")
    store = SQLiteStore(tmp_path / "new.db")  # a project and its General bucket, made by the store itself
    pid = store.ensure_project("p").id
    bucket = store.find_bucket(pid, "General")
    store.close()
    assert bucket is not None
    conn.execute("INSERT INTO projects VALUES (?, 'p', ?)", (pid, at))
    conn.execute("INSERT INTO buckets(project_id, id, name, description, created_at) VALUES (?, ?, 'General', '', ?)",
                 (pid, bucket.id, at))
    blob = HashingEmbedder().embed([sentence(0)])[0].tobytes()
    for mid, text in memories:
        seq = conn.execute("INSERT INTO memories(id, project_id, text, hash, bucket_id, created_at, updated_at, "
                           "embedding) VALUES (?, ?, ?, 'h', ?, ?, ?, ?)", (mid, pid, text, bucket.id, at, at, blob)).lastrowid
        conn.execute("INSERT INTO memories_fts(rowid, text, scope) VALUES (?, ?, ?)", (seq, text, scope_token(pid)))
    for hid, mid, text, said in history:
        conn.execute("INSERT INTO history(id, project_id, memory_id, event, new_text, input, created_at) "
                     "VALUES (?, ?, ?, 'ADD', ?, ?, ?)", (hid, pid, mid, text, said, at))
    conn.close()

    engine = engine_over(SQLiteStore(path, migrate=True))  # migrates
    try:
        assert [e.input for mid, _ in memories for e in engine.history(pid, mid)] == \
            [None, None, [{"role": "user", "content": sentence(2)}]]
        assert [m.text for m in engine.store.get(pid, [mid for mid, _ in memories])] == [t for _, t in memories]
        assert [h.memory.id for h in engine.search(pid, marker(1))][:1] == [memories[1][0]]  # keyword index kept
        other = engine.project("other").id
        now = utcnow()
        outcome = engine.import_memories(other, [ImportRecord(memories[0][0], "theirs now", now, now)])
        assert [o.status for o in outcome] == ["added"]
        assert engine.get(pid, memories[0][0]).text == sentence(0)
    finally:
        engine.close()


def test_an_older_postgres_database_loses_its_conversations(request: pytest.FixtureRequest) -> None:
    import psycopg

    from memvault.store.postgres import PostgresStore
    from memvault.store.postgres import schema as postgres_schema

    server = request.getfixturevalue("postgres_server")
    name = f"m_{uuid.uuid4().hex[:12]}"
    url = server.create_database(name)
    try:
        first = postgres_schema.scripts()[0]
        memories, history = _old_rows("")
        with psycopg.connect(url, autocommit=True) as conn:  # the schema as version 1 left it
            conn.execute(first.sql.encode())
            conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
                         "applied_at timestamptz NOT NULL DEFAULT now())")
            conn.execute("INSERT INTO schema_migrations(version, name) VALUES (1, %s)", (first.name,))
            for hid, mid, text, said in history:
                conn.execute("INSERT INTO history(project_id, id, memory_id, event, new_text, input, created_at) "
                             "VALUES ('p', %s, %s, 'ADD', %s, %s::json, now())", (hid, mid, text, said))
            conn.execute("INSERT INTO history(project_id, id, memory_id, event, new_text, input, created_at) "
                         "VALUES ('p', 'x', 'y', 'ADD', 'Kyiv', '[{\"role\": \"user\", \"content\": \"Kyiv \"}]', now())")
        store = PostgresStore(url, migrate=True)
        try:
            kept = [[e.input for e in store.history("p", mid)] for _, mid, _, _ in history]
            assert kept == [[None], [None], [[{"role": "user", "content": sentence(2)}]]]
            assert [e.input for e in store.history("p", "y")] == [[{"role": "user", "content": "Kyiv "}]]
        finally:
            store.close()
    finally:
        server.drop_database(name)
