"""Engine rules that every face relies on, tested at the engine on both stores: what a bulk delete answers for each
id, how a memory is found from the start of its id, and what an update changes (only what it gives)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from memvault import errors
from memvault.engine import Engine, ImportRecord, Owners, UpdateItem
from memvault.errors import Conflict, InvalidInput, NotFound
from memvault.extract.base import Message
from memvault.models import DeleteOutcome

UNKNOWN = "00000000-0000-4000-8000-00000000abcd"


def texts(engine: Engine, project: str) -> set[str]:
    return {m.text for m in engine.list(project).items}


# delete_many -------------------------------------------------------------------------------------------------------
def test_delete_many_answers_each_distinct_id_in_the_order_given(engine: Engine, project: str) -> None:
    a, b, c = (engine.add_text(project, t).id for t in ("alpha", "beta", "gamma"))
    theirs = engine.add_text(engine.project("other").id, "theirs").id
    outcomes = engine.delete_many(project, [c, "nope", a, UNKNOWN, c, theirs, a.upper()])
    assert outcomes == [
        DeleteOutcome(c, True),
        DeleteOutcome("nope", False, "invalid_id"),
        DeleteOutcome(a, True),
        DeleteOutcome(UNKNOWN, False, "not_found"),
        DeleteOutcome(theirs, False, "not_found"),  # another project's id reads as an unknown one
        DeleteOutcome(a.upper(), False, "not_found"),  # a second spelling of a deleted id counts once
    ]
    assert texts(engine, project) == {"beta"} and b
    assert texts(engine, engine.project("other").id) == {"theirs"}


def test_delete_many_all_or_nothing_deletes_nothing_when_one_id_is_wrong(engine: Engine, project: str) -> None:
    a = engine.add_text(project, "alpha").id
    with pytest.raises(NotFound) as caught:
        engine.delete_many(project, [a, UNKNOWN], all_or_nothing=True)
    assert caught.value.code == errors.MEMORY_NOT_FOUND
    with pytest.raises(InvalidInput):
        engine.delete_many(project, [a, "nope"], all_or_nothing=True)
    assert texts(engine, project) == {"alpha"}
    assert engine.delete_many(project, [a], all_or_nothing=True) == [DeleteOutcome(a, True)]


@pytest.mark.parametrize("ids", [[], [None], [123]])
def test_delete_many_refuses_an_empty_batch_or_ids_that_are_not_text(engine: Engine, project: str, ids: list) -> None:
    engine.add_text(project, "alpha")
    with pytest.raises(InvalidInput) as caught:
        engine.delete_many(project, ids)
    assert (caught.value.code == errors.EMPTY_BATCH) == (ids == [])
    assert texts(engine, project) == {"alpha"}


def test_delete_many_refuses_more_ids_than_a_batch_holds(engine: Engine, project: str) -> None:
    with pytest.raises(InvalidInput, match="at most 1000"):
        engine.delete_many(project, [UNKNOWN] * 1001)


# resolve_id --------------------------------------------------------------------------------------------------------
def test_resolve_id_finds_a_memory_from_its_id_or_a_unique_start_of_it(engine: Engine, project: str) -> None:
    memory = engine.add_text(project, "alpha")
    assert engine.resolve_id(project, memory.id.upper()) == memory.id
    for n in (4, 8, 35):
        assert engine.resolve_id(project, memory.id[:n]) == memory.id
        assert engine.resolve_id(project, f"  {memory.id[:n].upper()} ") == memory.id


def test_resolve_id_says_when_a_start_names_several_memories_or_none(engine: Engine, project: str) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    twins = ["abcd1234-0000-4000-8000-000000000001", "abcd1234-0000-4000-8000-000000000002"]
    engine.import_memories(project, [ImportRecord(i, f"twin {n}", at, at) for n, i in enumerate(twins)])
    for start in ("abcd", "ABCD1234", "abcd1234-0000-4000-8000-00000000000"):
        with pytest.raises(Conflict, match="several memory ids"):
            engine.resolve_id(project, start)
    assert engine.resolve_id(project, twins[1][:-1] + "2") == twins[1]
    with pytest.raises(NotFound) as caught:
        engine.resolve_id(project, "abce")
    assert caught.value.code == errors.MEMORY_NOT_FOUND
    with pytest.raises(NotFound):  # another project's memories are not found from their start either
        engine.resolve_id(engine.project("other").id, "abcd1234")


@pytest.mark.parametrize("ref", ["abc", "not-hex!", "x" * 40, "", 42, None])
def test_resolve_id_refuses_what_is_no_id_nor_a_long_enough_start(engine: Engine, project: str, ref: object) -> None:
    with pytest.raises(InvalidInput):
        engine.resolve_id(project, ref)


# update: a patch ---------------------------------------------------------------------------------------------------
def test_an_update_changes_only_the_fields_it_gives(engine: Engine, project: str) -> None:
    later = datetime.now(UTC) + timedelta(days=30)
    engine.create_bucket(project, "Work")
    made = engine.add(project, [Message("user", "Alice likes tea")], Owners(user_id="alice"), metadata={"k": "v"},
                      categories=["food"], bucket="Work", expiration_date=later, source="test")[0].memory
    text_only = engine.update(project, made.id, text="Alice likes green tea")
    assert (text_only.text, text_only.metadata, text_only.categories, text_only.bucket_name, text_only.user_id,
            text_only.source) == ("Alice likes green tea", {"k": "v"}, ["food"], "Work", "alice", "test")
    assert text_only.expiration_date == later and text_only.created_at == made.created_at
    metadata_only = engine.update(project, made.id, metadata={"n": 1})
    assert (metadata_only.text, metadata_only.metadata, metadata_only.categories) == (
        "Alice likes green tea", {"n": 1}, ["food"])  # the metadata given replaces the old one whole
    moved = engine.update(project, made.id, bucket="General", categories=[])
    assert (moved.bucket_name, moved.categories, moved.metadata) == ("General", [], {"n": 1})
    cleared = engine.update(project, made.id, clear_expiration=True)
    assert cleared.expiration_date is None and cleared.text == "Alice likes green tea"
    assert [e.event for e in engine.history(project, made.id)] == ["ADD", "UPDATE", "UPDATE", "UPDATE", "UPDATE"]
    assert engine.get(project, made.id) == cleared


def test_an_update_that_gives_nothing_is_refused(engine: Engine, project: str) -> None:
    made = engine.add_text(project, "alpha")
    with pytest.raises(InvalidInput, match="nothing to update"):
        engine.update(project, made.id)
    assert engine.get(project, made.id) == made


def test_a_batch_update_is_all_or_nothing(engine: Engine, project: str) -> None:
    a, b = engine.add_text(project, "alpha"), engine.add_text(project, "beta")
    with pytest.raises(NotFound):
        engine.batch_update(project, [UpdateItem(a.id, text="alpha two"), UpdateItem(str(uuid.uuid4()), text="x")])
    with pytest.raises(InvalidInput, match="more than once"):
        engine.batch_update(project, [UpdateItem(a.id, text="alpha two"), UpdateItem(a.id.upper(), text="again")])
    with pytest.raises(InvalidInput) as caught:
        engine.batch_update(project, [])
    assert caught.value.code == errors.EMPTY_BATCH
    assert texts(engine, project) == {"alpha", "beta"}
    done = engine.batch_update(project, [UpdateItem(b.id, text="beta two"), UpdateItem(a.id, metadata={"x": 1})])
    assert [(m.id, m.text, m.metadata) for m in done] == [(b.id, "beta two", {}), (a.id, "alpha", {"x": 1})]
