"""The engine's bucket rules: a bucket is named by its name (ignoring case) or its id, resolved once in the
engine — a filter's buckets are turned into ids before a store compiles it, so a store compares ids only and a
bucket the project does not have is NotFound on every face."""

from __future__ import annotations

import uuid

import pytest

from memvault import errors
from memvault import filters as F
from memvault.engine import Engine
from memvault.errors import NotFound


def test_a_bucket_in_a_filter_is_named_by_its_name_or_its_id_and_an_unknown_one_is_not_found(
        engine: Engine, project: str) -> None:
    work = engine.create_bucket(project, "Work")
    at_work = engine.add_text(project, "standup at nine", bucket="Work").id
    at_home = engine.add_text(project, "water the plants").id
    for ref in ("Work", "work", " WORK ", work.id):
        assert [m.id for m in engine.list(project, F.eq("bucket", ref)).items] == [at_work]
        assert [m.id for m in engine.list(project, F.parse({"bucket": {"ne": ref}})).items] == [at_home]
        assert [m.id for m in engine.list(project, F.parse({"bucket": {"in": [ref, "general"]}})).items] == [
            at_home, at_work]
        assert engine.list(project, F.parse({"bucket": {"nin": [ref, "General"]}})).items == []
        assert [h.memory.id for h in engine.search(project, "standup", F.eq("bucket", ref))] == [at_work]
    for where in (F.eq("bucket", "nope"), F.parse({"OR": [{"bucket": "Work"}, {"NOT": {"bucket": {"in": ["nope"]}}}]}),
                  F.eq("bucket", str(uuid.uuid4()))):
        for call, args in ((engine.list, ()), (engine.search, ("standup",)), (engine.delete_where, ())):
            with pytest.raises(NotFound) as caught:
                call(project, *args, where)  # type: ignore[operator]
            assert caught.value.code == errors.BUCKET_NOT_FOUND
    assert engine.list(project).total == 2  # nothing was deleted


def test_another_projects_bucket_is_not_found_in_a_filter(engine: Engine, project: str) -> None:
    theirs = engine.create_bucket(engine.project("other").id, "Theirs")
    engine.add_text(project, "mine")
    for ref in ("Theirs", theirs.id):
        with pytest.raises(NotFound):
            engine.list(project, F.eq("bucket", ref))


def test_a_store_compares_bucket_ids_only(engine: Engine, project: str) -> None:
    """The engine names buckets by id before a store sees a filter; a store no longer reads names."""
    memory = engine.add_text(project, "in General")
    assert [m.id for m in engine.store.list(project, F.eq("bucket", memory.bucket_id), 10, 0).items] == [memory.id]
    assert engine.store.list(project, F.eq("bucket", "General"), 10, 0).items == []
