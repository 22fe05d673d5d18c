"""`memvault add | search | list | get | delete | export | import` over a temporary data dir.

Most run in-process through typer's CliRunner; one runs the real `memvault` command as a subprocess.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from memvault.cli import app
from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.extract.offline import OfflineExtractor
from memvault.store.sqlite import SQLiteStore

ENV = {"MEMVAULT_EMBEDDER": "hashing"}
runner = CliRunner()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def run(data: Path, *args: str, code: int = 0, stdin: str | None = None) -> Result:
    result = runner.invoke(app, [*args, "--data-dir", str(data)], env=ENV, input=stdin)
    assert result.exit_code == code, result.output
    return result


def js(data: Path, *args: str) -> Any:
    return json.loads(run(data, *args, "--json").stdout)


def open_engine(data: Path, dim: int = 64) -> Engine:
    return Engine(SQLiteStore(data / "memvault.db"), HashingEmbedder(dim), OfflineExtractor())


@pytest.fixture
def engine(data: Path) -> Iterator[Engine]:
    made = open_engine(data)
    yield made
    made.close()


def test_add_list_search_get_delete_for_scripts(data: Path) -> None:
    [alice] = js(data, "add", "Alice drinks green tea", "--user-id", "alice", "--metadata", '{"topic": "drinks"}')["results"]
    js(data, "add", "Bob plays chess", "--user-id", "bob", "--bucket", "General")
    assert (alice["memory"], alice["user_id"], alice["metadata"]) == ("Alice drinks green tea", "alice", {"topic": "drinks"})

    listed = js(data, "list")
    assert [m["memory"] for m in listed["results"]] == ["Bob plays chess", "Alice drinks green tea"]
    assert listed["total"] == 2
    assert [m["memory"] for m in js(data, "list", "--user-id", "bob")["results"]] == ["Bob plays chess"]

    hits = js(data, "search", "green tea", "--top-k", "1")["results"]
    assert [h["id"] for h in hits] == [alice["id"]] and hits[0]["score"] > 0
    assert js(data, "search", "tea", "--filters", '{"metadata": {"topic": "sports"}}')["results"] == []
    assert js(data, "get", alice["id"])["memory"] == "Alice drinks green tea"

    gone = js(data, "delete", alice["id"])
    assert (gone["deleted"], gone["failed"]) == (1, 0)
    assert [m["memory"] for m in js(data, "list")["results"]] == ["Bob plays chess"]

    assert run(data, "compact", "--rewrite").output.strip() == "compacted"
    files = b"".join(p.read_bytes() for p in data.iterdir() if p.name.startswith("memvault.db"))
    assert b"green tea" not in files and b"Bob plays chess" in files
    assert [m["memory"] for m in js(data, "list")["results"]] == ["Bob plays chess"]


def test_tables_for_people(data: Path) -> None:
    run(data, "add", "Alice drinks green tea", "--user-id", "alice")
    for command in (["list"], ["search", "tea"]):
        out = run(data, *command).stdout
        assert "memory" in out and "drinks" in out and "alice" in out
        assert not out.lstrip().startswith("{")


def test_errors_say_what_and_exit_1(data: Path) -> None:
    missing = str(uuid.uuid4())
    assert "not found" in run(data, "get", missing, code=1).stderr.lower()
    assert "uuid" in run(data, "get", "nope", code=1).stderr.lower()
    assert "--metadata must be JSON" in run(data, "add", "x", "--metadata", "{oops", code=1).stderr
    assert "bucket not found" in run(data, "list", "--bucket", "Nope", code=1).stderr.lower()
    failed = json.loads(run(data, "delete", missing, "junk", "--json", code=1).stdout)
    assert [r["reason"] for r in failed["results"]] == ["not_found", "invalid_id"]


def test_errors_are_the_engines_neutral_words(data: Path) -> None:
    assert run(data, "get", str(uuid.uuid4()), code=1).stderr.strip() == "error: Memory not found"
    assert run(data, "search", "tea", "--filters", '{"bucket": "nope"}', code=1).stderr.strip() == \
        "error: Bucket not found"


def test_project_option_keeps_projects_apart(data: Path) -> None:
    [mine] = js(data, "add", "Only in acme", "--project", "acme")["results"]
    assert js(data, "list")["results"] == []
    run(data, "get", mine["id"], code=1)
    assert [m["id"] for m in js(data, "list", "--project", "acme")["results"]] == [mine["id"]]


# export / import ---------------------------------------------------------------------------
def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def seed(engine: Engine, project: str = "default") -> list[str]:
    pid = engine.project(project).id
    engine.create_bucket(pid, "Travel")
    a = engine.add_text(pid, "Alice moved to Lyon", engine_owners("alice"), metadata={"k": [1, 2]}, bucket="Travel")
    engine.update(pid, a.id, text="Alice moved to Nice")
    b = engine.add_text(pid, "Bob collects stamps", engine_owners("bob", run="r1"), categories=["hobby"])
    return [a.id, b.id]


def engine_owners(user: str, run: str | None = None) -> Any:
    from memvault.engine import Owners

    return Owners(user_id=user, run_id=run)


def test_export_then_import_into_a_fresh_data_dir_keeps_every_field_and_the_history(
        data: Path, engine: Engine, tmp_path: Path) -> None:
    ids = seed(engine)
    out = tmp_path / "export.jsonl"
    result = run(data, "export", "-o", str(out))
    assert "exported 2 memories" in result.stderr
    header, *rows = lines(out)
    assert header["memvault"] == "export" and header["embedder"] == "hashing-64"
    assert sorted(r["id"] for r in rows) == sorted(ids) and all("embedding" not in r for r in rows)

    fresh = tmp_path / "fresh"
    assert json.loads(run(fresh, "import", str(out), "--json").stdout)["added"] == 2
    target = open_engine(fresh)
    try:
        src_pid, dst_pid = engine.project().id, target.project().id
        for mid in ids:
            before, after = engine.get(src_pid, mid), target.get(dst_pid, mid)
            for f in ("text", "hash", "user_id", "run_id", "metadata", "categories", "bucket_name", "created_at",
                      "updated_at", "expiration_date", "source"):
                assert getattr(after, f) == getattr(before, f), f
            old = [(e.event, e.old_text, e.new_text, e.input, e.created_at) for e in engine.history(src_pid, mid)]
            new = [(e.event, e.old_text, e.new_text, e.input, e.created_at) for e in target.history(dst_pid, mid)]
            assert new == old
        hits = target.search(dst_pid, "Nice")
        assert hits[0].memory.id == ids[0]  # searchable: embedded (no vectors in the file)
    finally:
        target.close()


def test_import_is_idempotent_by_id(data: Path, engine: Engine, tmp_path: Path) -> None:
    ids = seed(engine)
    out = tmp_path / "export.jsonl"
    run(data, "export", "-o", str(out))
    pid = engine.project().id
    engine.update(pid, ids[1], text="Bob collects coins")  # changed since the export
    again = json.loads(run(data, "import", str(out), "--json").stdout)
    assert again == {"added": 0, "exists": 2}
    assert engine.get(pid, ids[1]).text == "Bob collects coins"  # left as it is
    assert engine.list(pid).total == 2
    assert len(engine.history(pid, ids[0])) == 2


def test_embeddings_are_kept_from_the_same_embedder_and_redone_from_another(
        data: Path, engine: Engine, tmp_path: Path) -> None:
    [mid, _] = seed(engine)
    out = tmp_path / "export.jsonl"
    run(data, "export", "-o", str(out), "--with-embeddings")
    header, *rows = lines(out)
    stored = {m.id: np.asarray(v) for m, v in engine.store.scan(engine.project().id, None, 10, vectors=True)}
    row = next(r for r in rows if r["id"] == mid)
    assert np.array_equal(np.frombuffer(base64.b64decode(row["embedding"]), "<f4"), stored[mid])

    # a file whose vectors we mark as another embedder's: the same data, but its vectors must not be used
    for r in rows:
        r["embedding"] = base64.b64encode(np.ones(64, "<f4").tobytes()).decode()
    same, other = tmp_path / "same.jsonl", tmp_path / "other.jsonl"
    same.write_text("\n".join(json.dumps(x) for x in [header, *rows]) + "\n")
    other.write_text("\n".join(json.dumps(x) for x in [{**header, "embedder": "elsewhere-64"}, *rows]) + "\n")
    for name, path in (("kept", same), ("redone", other)):
        target = tmp_path / name
        run(target, "import", str(path))
        e = open_engine(target)
        try:
            got = {m.id: np.asarray(v) for m, v in e.store.scan(e.project().id, None, 10, vectors=True)}
            if name == "kept":
                assert np.allclose(got[mid], np.ones(64) / 8)  # the file's (normalised) vector
            else:
                assert np.allclose(got[mid], stored[mid])  # embedded again from the text
        finally:
            e.close()


def test_a_broken_line_is_reported_by_number_and_nothing_is_written(data: Path, engine: Engine, tmp_path: Path) -> None:
    seed(engine, "source")
    out = tmp_path / "export.jsonl"
    run(data, "export", "-o", str(out), "--project", "source")
    good = out.read_text().splitlines()
    cases = {
        "{not json": "line 3: not valid JSON",
        json.dumps({**json.loads(good[1]), "id": "not-a-uuid"}): "line 3: id should be a valid UUID",
        json.dumps({**json.loads(good[1]), "id": str(uuid.uuid4()), "memory": ""}): "line 3: text must not be empty",
        json.dumps({**json.loads(good[1]), "id": str(uuid.uuid4()), "created_at": "yesterday"}): "line 3: created_at",
    }
    for bad, message in cases.items():
        broken = tmp_path / "broken.jsonl"
        broken.write_text("\n".join([good[0], good[1], bad, good[2]]) + "\n")
        assert message in run(data, "import", str(broken), code=1).stderr
        assert engine.list(engine.project().id).total == 0  # not even the good line before it


@pytest.mark.parametrize(("field", "value", "message"), [
    ("new_memory", {"a": 1}, "new_memory must be a string"),
    ("input", "hello", "input must be a list"),
    ("metadata", ["a"], "metadata must be an object"),
])
def test_a_bad_line_after_500_good_ones_commits_nothing_and_says_which_line(
        data: Path, tmp_path: Path, field: str, value: Any, message: str) -> None:
    at = "2026-01-01T00:00:00+00:00"
    good = [{"id": str(uuid.uuid4()), "memory": f"fact number {i}", "created_at": at, "bucket": "Imported",
             "history": [{"event": "ADD", "new_memory": f"fact number {i}", "created_at": at}]} for i in range(500)]
    bad = {**good[0], "id": str(uuid.uuid4()), "history": [{"event": "ADD", "created_at": at, field: value}]}
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in [{"memvault": "export", "version": 1}, *good, bad]) + "\n")
    result = run(data, "import", str(path), code=1)
    assert result.stderr.strip().startswith(f"error: line 502: history event 1: {message}")
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    e = open_engine(data)
    try:
        assert e.list(e.project().id).total == 0
        assert [b.name for b in e.list_buckets(e.project().id)] == ["General"]
    finally:
        e.close()


def test_an_id_given_twice_in_one_file_is_refused_naming_both_lines(data: Path, engine: Engine, tmp_path: Path) -> None:
    seed(engine, "source")
    out = tmp_path / "export.jsonl"
    run(data, "export", "-o", str(out), "--project", "source")
    header, first, second = out.read_text().splitlines()
    out.write_text("\n".join([header, first, second, first]) + "\n")
    mid = json.loads(first)["id"]
    assert run(data, "import", str(out), code=1).stderr.strip() == \
        f"error: line 4: id {mid} appears more than once (first on line 2)"
    assert engine.list(engine.project().id).total == 0


def test_ids_are_each_projects_own_so_an_import_neither_overwrites_nor_reveals_another_projects(
        data: Path, engine: Engine, tmp_path: Path) -> None:
    [theirs, _] = seed(engine, "theirs")
    out = tmp_path / "export.jsonl"
    run(data, "export", "-o", str(out), "--project", "theirs")
    header, *rows = lines(out)
    forged = [{**r, "memory": "overwritten!"} for r in rows]
    out.write_text("\n".join(json.dumps(x) for x in [header, *forged]) + "\n")

    # The same file into a project of this data dir (where "theirs" holds every id) and into a fresh data dir
    # (where no project does): the answers cannot be told apart.
    here = run(data, "import", str(out), "--project", "mine", "--json")
    fresh = run(tmp_path / "fresh", "import", str(out), "--project", "mine", "--json")
    assert json.loads(here.stdout) == json.loads(fresh.stdout) == {"added": 2, "exists": 0}
    assert (here.stdout, here.stderr) == (fresh.stdout, fresh.stderr)
    mine, their_pid = engine.project("mine").id, engine.project("theirs").id
    assert engine.get(their_pid, theirs).text == "Alice moved to Nice"  # theirs: untouched
    assert engine.get(mine, theirs).text == "overwritten!"  # mine: its own memory under the same id
    assert [e.event for e in engine.history(their_pid, theirs)] == ["ADD", "UPDATE"]
    engine.delete(mine, theirs)  # one project's delete leaves the other's memory of that id alone
    assert engine.get(their_pid, theirs).text == "Alice moved to Nice"
    assert [e.new_text for e in engine.history(their_pid, theirs)] == ["Alice moved to Lyon", "Alice moved to Nice"]
    again = run(data, "import", str(out), "--project", "mine", "--json")  # idempotent within the project only
    assert json.loads(again.stdout) == {"added": 1, "exists": 1}


def test_import_reads_stdin(data: Path, engine: Engine, tmp_path: Path) -> None:
    seed(engine, "a")
    exported = run(data, "export", "--project", "a").stdout
    report = json.loads(run(data, "import", "-", "--project", "b", "--json", stdin=exported).stdout)
    assert report == {"added": 2, "exists": 0}  # ids are each project's own: project a's play no part
    fresh = tmp_path / "fresh"
    assert json.loads(run(fresh, "import", "-", "--json", stdin=exported).stdout)["added"] == 2


def test_the_real_command_pipes_an_export_into_an_import(tmp_path: Path) -> None:
    env = {**os.environ, **ENV}
    memvault = [sys.executable, "-m", "memvault"]
    src, dst = tmp_path / "src", tmp_path / "dst"
    subprocess.run([*memvault, "add", "Alice drinks green tea", "--user-id", "alice", "--data-dir", str(src)],
                   env=env, check=True, capture_output=True)
    export = subprocess.run([*memvault, "export", "--data-dir", str(src)], env=env, check=True, capture_output=True)
    assert b"\x1b[" not in export.stderr  # no progress bar when stderr is not a terminal
    subprocess.run([*memvault, "import", "-", "--data-dir", str(dst)], input=export.stdout, env=env, check=True,
                   capture_output=True)
    found = subprocess.run([*memvault, "search", "tea", "--json", "--data-dir", str(dst)], env=env, check=True,
                           capture_output=True, text=True)
    assert [h["memory"] for h in json.loads(found.stdout)["results"]] == ["Alice drinks green tea"]


@pytest.mark.parametrize("workers", ["0", "65", "-1"])
def test_serve_refuses_a_worker_count_out_of_range_before_starting(data: Path, workers: str) -> None:
    result = run(data, "serve", "--workers", workers, code=2)
    assert "--workers" in result.output
    assert not (data / "memvault.db").exists()  # refused before anything was opened
