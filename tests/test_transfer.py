"""The engine's export (keyset pages) and import (own ids, idempotent) and the JSONL format over them."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memvault import transfer
from memvault.engine import Engine, ImportEvent, ImportRecord, Owners
from memvault.errors import InvalidInput
from memvault.models import utcnow
from memvault.store.base import Store


class CountingStore:
    """The real store, counting what `scan` hands back at once."""

    def __init__(self, store: Store) -> None:
        self.inner = store
        self.pages: list[int] = []

    def scan(self, *args: Any, **kwargs: Any) -> Any:
        rows = self.inner.scan(*args, **kwargs)
        self.pages.append(len(rows))
        return rows

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def record(text: str = "Alice likes tea", **fields: Any) -> ImportRecord:
    at = utcnow()
    return ImportRecord(**{"id": str(uuid.uuid4()), "text": text, "created_at": at, "updated_at": at, **fields})


def test_export_reads_one_page_at_a_time_and_yields_everything(engine: Engine, project: str) -> None:
    made = {engine.add_text(project, f"memory number {i}").id for i in range(7)}
    engine.add_text(engine.project("elsewhere").id, "not this project's")
    counting = CountingStore(engine.store)
    paged = Engine(counting, engine.embedder, engine.extractor)  # type: ignore[arg-type]
    out = list(paged.export(project, page=3))
    assert {m.id for m, _, _ in out} == made
    assert [m.id for m, _, _ in out] == sorted(made)
    assert counting.pages == [3, 3, 1]
    assert all(v is None and [e.event for e in h] == ["ADD"] for _, v, h in out)


def test_import_memories_reports_each_outcome(engine: Engine, project: str) -> None:
    existing = engine.add_text(project, "already here")
    theirs = engine.add_text(engine.project("other").id, "someone else's")
    new = record("a new one", bucket="Imported", owners=Owners(user_id="u1"), categories=["x"])
    outcomes = engine.import_memories(project, [new, record(id=existing.id), record("forged", id=theirs.id)])
    assert [(o.id, o.status) for o in outcomes] == [(new.id, "added"), (existing.id, "exists"), (theirs.id, "added")]
    assert engine.get(project, theirs.id).text == "forged"  # ids are each project's own
    stored = engine.get(project, new.id)
    assert (stored.text, stored.bucket_name, stored.user_id, stored.categories) == ("a new one", "Imported", "u1", ["x"])
    assert [(e.event, e.new_text) for e in engine.history(project, new.id)] == [("ADD", "a new one")]
    assert engine.get(project, existing.id).text == "already here"
    assert engine.get(engine.project("other").id, theirs.id).text == "someone else's"


def test_import_keeps_history_and_refuses_bad_records_whole(engine: Engine, project: str) -> None:
    at = utcnow()
    history = [ImportEvent("ADD", None, "v1", at), ImportEvent("UPDATE", "v1", "v2", at)]
    good = record("v2", history=history)
    assert engine.import_memories(project, [good])[0].status == "added"
    assert [(e.event, e.old_text, e.new_text) for e in engine.history(project, good.id)] == \
        [("ADD", None, "v1"), ("UPDATE", "v1", "v2")]
    ok = record("fine", bucket="Fresh")
    for bad, message in [(record(id="nope"), "UUID"), (record(""), "empty"),
                         (record(history=[ImportEvent("MERGE", None, "x", at)]), "ADD, UPDATE, SUPERSEDE or DELETE"),
                         (record(metadata="text"), "metadata"), (record(vector=np.array([np.nan])), "finite")]:
        with pytest.raises(InvalidInput, match=message):
            engine.check_import(bad)
        with pytest.raises(InvalidInput, match=message):
            engine.import_memories(project, [ok, bad])
    with pytest.raises(InvalidInput, match="more than once"):
        engine.import_memories(project, [ok, ok])
    assert engine.list(project).total == 1  # nothing of a refused batch, not even its bucket
    assert [b.name for b in engine.list_buckets(project)] == ["General"]


def test_jsonl_round_trip_through_streams(engine: Engine, project: str, tmp_path: Path) -> None:
    made = engine.add_text(project, "Alice likes tea", Owners(user_id="alice"), metadata={"k": 1})
    engine.update(project, made.id, text="Alice likes green tea")
    buffer = io.StringIO()
    assert transfer.export_to(buffer, engine, project, with_embeddings=True) == 1
    path = tmp_path / "export.jsonl"
    path.write_text(buffer.getvalue())
    header, row = (json.loads(x) for x in buffer.getvalue().splitlines())
    assert header["version"] == transfer.VERSION and isinstance(row["embedding"], str)
    assert [e["event"] for e in row["history"]] == ["ADD", "UPDATE"]

    other = engine.project("copy").id
    seen: list[int] = []
    report = transfer.import_from(path, engine, other, progress=seen.append)
    assert (report.added, report.exists) == (1, 0)  # same store, another project: ids are each project's own
    assert sum(seen) == 1
    # a repeated line (same id) in one file is refused, naming both lines
    path.write_text(buffer.getvalue() + buffer.getvalue().splitlines()[1] + "\n")
    with pytest.raises(InvalidInput, match="line 3: id .* appears more than once \\(first on line 2\\)"):
        transfer.import_from(path, engine, engine.project("third").id)
    assert engine.list(engine.project("third").id).total == 0


def test_a_superseded_memory_travels_with_its_mark_and_its_supersede_event(engine: Engine, project: str,
                                                                          tmp_path: Path) -> None:
    old = engine.add_text(project, "I live in Paris", Owners(user_id="alice"))
    new = engine.add_text(project, "I live in Lyon", Owners(user_id="alice"))
    marked = engine.supersede(project, old.id, new.id)
    path = tmp_path / "export.jsonl"
    with path.open("w") as out:
        transfer.export_to(out, engine, project)
    other = engine.project("copy").id
    assert transfer.import_from(path, engine, other).added == 2
    copied = engine.get(other, old.id)
    assert (copied.superseded_by, copied.superseded_at) == (new.id, marked.superseded_at)
    assert [e.event for e in engine.history(other, old.id)] == ["ADD", "SUPERSEDE"]
    assert engine.history(other, old.id)[-1].metadata == {"superseded_by": new.id}
    assert [m.id for m in engine.list(other).items] == [new.id]


@pytest.mark.parametrize(("fields", "message"), [
    ({"superseded_by": "nope", "superseded_at": utcnow()}, "superseded_by should be a valid UUID"),
    ({"superseded_by": str(uuid.uuid4())}, "superseded_by and superseded_at are given together"),
    ({"superseded_at": utcnow()}, "superseded_by and superseded_at are given together"),
])
def test_a_bad_supersede_mark_fails_the_import(engine: Engine, project: str, fields: dict[str, Any],
                                               message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        engine.import_memories(project, [record(**fields)])
    assert engine.list(project, latest_only=False).total == 0


BAD_EVENTS = [
    ({"new_text": {"a": 1}}, "history event 1: new_memory must be a string"),
    ({"old_text": 7}, "history event 1: old_memory must be a string"),
    ({"input": "hello"}, "history event 1: input must be a list"),
    ({"input": [{"role": "user"}]}, "history event 1: input must be a list of messages"),
    ({"input": [["user", "hi"]]}, "history event 1: input must be a list of messages"),
    ({"metadata": ["a", "b"]}, "history event 1: metadata must be an object"),
    ({"event": 3}, "history event 1: event must be ADD, UPDATE, SUPERSEDE or DELETE"),
    ({"created_at": "yesterday"}, "history event 1: created_at must be a date"),
]


@pytest.mark.parametrize(("change", "message"), BAD_EVENTS, ids=[m for _, m in BAD_EVENTS])
def test_a_history_event_of_the_wrong_type_fails_the_whole_import_before_anything_is_written(
        engine: Engine, project: str, change: dict[str, Any], message: str) -> None:
    at = utcnow()
    good = [record(f"fact number {i}", bucket="Imported") for i in range(500)]
    fields = {"event": "ADD", "old_text": None, "new_text": "the bad one", "created_at": at, **change}
    bad = record("the bad one", history=[ImportEvent(**fields)])
    with pytest.raises(InvalidInput, match=f"record 501: {message}"):
        engine.import_memories(project, [*good, bad])
    assert engine.list(project).total == 0
    assert [b.name for b in engine.list_buckets(project)] == ["General"]  # not even a bucket


def test_an_imported_input_is_kept_only_when_it_is_the_memorys_own_message(engine: Engine, project: str) -> None:
    at = utcnow()
    own = [{"role": "user", "content": " I like tea "}]
    padded = [{"role": "user", "content": "I like coffee", "name": "My sister owns boats", "extra": {"a": [1]}}]
    conversation = [{"role": "user", "content": "I like tea. My sister owns boats."}]
    a = record("I like tea", history=[ImportEvent("ADD", None, "I like tea", at, own)])
    b = record("My sister owns boats", history=[ImportEvent("ADD", None, "My sister owns boats", at, conversation)])
    c = record("I like coffee", history=[ImportEvent("ADD", None, "I like coffee", at, padded)])
    assert [o.status for o in engine.import_memories(project, [a, b, c])] == ["added", "added", "added"]
    assert [e.input for e in engine.history(project, a.id)] == [own]
    assert [e.input for e in engine.history(project, c.id)] == [[{"role": "user", "content": "I like coffee"}]]
    assert [e.input for e in engine.history(project, b.id)] == [None]  # it held a sibling's words: not kept
