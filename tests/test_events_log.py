"""The change log, at the engine, on both stores: every change to a memory writes one event in its transaction, with
its origin; add and update events keep the text until a delete, which blanks it; a failed write leaves none; each
project sees only its own; old events are trimmed."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest

from memvault.engine import Engine, Owners, UpdateItem
from memvault.errors import InvalidInput, NotFound
from memvault.models import HistoryEvent, event_detail_of, event_text_of, event_type_of, utcnow
from memvault.origin import Origin, acting

UNKNOWN = "00000000-0000-4000-8000-00000000abcd"


def log(engine: Engine, project: str) -> list:
    """The project's events, oldest first."""
    return list(reversed(engine.events(project, limit=1000)[0]))


def test_add_update_delete_each_write_one_event_in_order_and_the_delete_takes_every_text(
        engine: Engine, project: str) -> None:
    mid = engine.add_text(project, "I live in Lyon", Owners(user_id="alice")).id
    engine.update(project, mid, text="I live in Paris")
    engine.update(project, mid, metadata={"moved": True})
    before = log(engine, project)
    assert [(e.type, e.memory_id, e.text, e.user_id) for e in before] == [
        ("memory_add", mid, "I live in Lyon", "alice"),
        ("memory_update", mid, "I live in Paris", "alice"),
        ("memory_update", mid, "I live in Paris", "alice"),
    ]
    assert [e.id for e in before] == [h.id for h in engine.history(project, mid)]  # one event per history event
    assert before[0].seq < before[1].seq < before[2].seq
    engine.delete(project, mid)
    after = log(engine, project)
    assert [e.type for e in after] == ["memory_add", "memory_update", "memory_update", "memory_delete"]
    assert [e.text for e in after] == [None] * 4
    assert after[-1].detail is None and after[-1].user_id == "alice"
    assert "Lyon" not in repr(after) and "Paris" not in repr(after)


def test_every_event_records_who_made_the_change_and_in_which_request(engine: Engine, project: str) -> None:
    engine.add_text(project, "made by the library")
    with acting(Origin("key", "key-id-1", "ci key", "req-42")):
        mid = engine.add_text(project, "made with a key").id
        engine.delete(project, mid)
    with acting(Origin("system")):
        engine.add_text(project, "made by a sweep")
    made = [(e.actor, e.key_id, e.key_name, e.request_id) for e in log(engine, project)]
    assert made == [("library", None, None, None), ("key:key-id-1", "key-id-1", "ci key", "req-42"),
                    ("key:key-id-1", "key-id-1", "ci key", "req-42"), ("system", None, None, None)]


def test_an_add_of_several_memories_is_one_batch_that_its_first_event_names(engine: Engine, project: str) -> None:
    from memvault.extract.base import Message

    results = engine.add(project, [Message("user", t) for t in ("one", "two", "three")])
    first = results[0].event_id
    assert first is not None
    asked, batch = engine.event(project, first)
    assert asked.id == first and [e.text for e in batch] == ["one", "two", "three"]
    assert {e.batch_id for e in batch} == {first}
    second, same = engine.event(project, results[1].event_id)
    assert second.text == "two" and same == batch
    single = engine.add_text(project, "alone")
    only = log(engine, project)[-1]
    assert only.batch_id is None and engine.event(project, only.id) == (only, [only]) and single


def test_a_write_that_fails_leaves_no_event(engine: Engine, project: str) -> None:
    mid = engine.add_text(project, "kept as it is").id
    with pytest.raises(NotFound):
        engine.batch_update(project, [UpdateItem(mid, text="changed"), UpdateItem(UNKNOWN, text="nope")])
    assert [e.type for e in log(engine, project)] == ["memory_add"]


def test_a_project_sees_only_its_own_events(engine: Engine, project: str) -> None:
    other = engine.project("other").id
    mine = engine.add_text(project, "mine").id
    engine.add_text(other, "theirs")
    theirs_event = log(engine, other)[0]
    assert [e.memory_id for e in log(engine, project)] == [mine]
    with pytest.raises(NotFound):
        engine.event(project, theirs_event.id)
    with pytest.raises(NotFound):
        engine.event(project, str(uuid.uuid4()))
    assert engine.events(project, memory_id=theirs_event.memory_id) == ([], 0)


def test_the_feed_filters_by_type_memory_time_and_status(engine: Engine, project: str) -> None:
    a = engine.add_text(project, "alpha").id
    b = engine.add_text(project, "beta").id
    engine.update(project, a, text="alpha two")
    engine.delete(project, b)
    assert [e.type for e in engine.events(project, event_types=["memory_update", "memory_delete"])[0]] == \
        ["memory_delete", "memory_update"]
    assert [e.type for e in engine.events(project, memory_id=a)[0]] == ["memory_update", "memory_add"]
    assert engine.events(project, since=utcnow() + timedelta(minutes=1)) == ([], 0)
    assert engine.events(project, status="succeeded")[1] == 4
    assert engine.events(project, status="PENDING") == ([], 0)
    page, total = engine.events(project, limit=1, offset=1)
    assert total == 4 and [e.type for e in page] == ["memory_update"]
    for bad in ({"status": "DONE"}, {"event_types": ["memory_exploded"]}, {"event_types": "memory_add"},
                {"memory_id": "nope"}, {"limit": 0}, {"offset": -1}):
        with pytest.raises(InvalidInput):
            engine.events(project, **bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="memory_add, memory_update, memory_delete"):
        engine.events(project, event_types=["memory_exploded"])


def test_events_older_than_the_retention_are_trimmed_and_the_sequence_goes_on(engine: Engine, project: str) -> None:
    engine.add_text(project, "old news")
    last = log(engine, project)[-1].seq
    assert engine.trim_events(now=utcnow() + timedelta(days=89)) == 0
    engine.configure_events(retention_days=1)
    assert engine.trim_events(now=utcnow() + timedelta(days=2)) == 1
    assert log(engine, project) == []
    engine.add_text(project, "fresh news")
    assert log(engine, project)[-1].seq > last


def test_history_kinds_map_to_log_types_and_keep_only_ids_and_reasons() -> None:
    def event(kind: str, metadata: dict | None = None) -> HistoryEvent:
        return HistoryEvent("e", "m", "p", kind, "old words", "new words", None, utcnow(),  # type: ignore[arg-type]
                            metadata=metadata)

    assert [event_type_of(event(k)) for k in ("ADD", "UPDATE", "DELETE", "SUPERSEDE")] == \
        ["memory_add", "memory_update", "memory_delete", "memory_supersede"]
    purge = event("DELETE", {"reason": "expired", "note": "private words"})
    assert event_type_of(purge) == "memory_purge" and event_text_of(purge) is None
    assert event_detail_of(purge) == {"reason": "expired"}
    supersede = event("SUPERSEDE", {"superseded_by": "m2"})
    assert event_text_of(supersede) is None and event_detail_of(supersede) == {"superseded_by": "m2"}
    assert event_text_of(event("UPDATE", {"secret": "x"})) == "new words"
    assert event_detail_of(event("UPDATE", {"secret": "x"})) is None


def test_a_purge_writes_memory_purge_events_with_their_reason_and_no_text(engine: Engine, project: str) -> None:
    gone = engine.add_text(project, "The spare key is under the blue pot", Owners(user_id="alice"),
                           expiration_date=utcnow() - timedelta(days=40)).id
    kept = engine.add_text(project, "Alice likes tea", Owners(user_id="alice")).id
    engine.purge(expired_after_days=30)
    purged = [e for e in log(engine, project) if e.memory_id == gone]
    assert [e.type for e in purged] == ["memory_add", "memory_purge"]
    assert purged[-1].detail == {"reason": "expired"} and all(e.text is None for e in purged)
    assert "blue pot" not in repr(log(engine, project))
    assert [e.type for e in log(engine, project) if e.memory_id == kept] == ["memory_add"]


def test_a_deletes_events_take_time_ordered_ids(engine: Engine, project: str) -> None:
    """A delete writes one history event per memory; their ids are UUIDs of version 7 (time first), so the history's
    unique index on ids grows at its end instead of taking a random page per deleted memory."""
    ids = [engine.add_text(project, f"note {i}", Owners(user_id="alice")).id for i in range(3)]
    before = time.time()
    engine.delete_many(project, ids)
    deletes = [e for e in log(engine, project) if e.type == "memory_delete"]
    assert len({e.id for e in deletes}) == 3 and all(uuid.UUID(e.id).version == 7 for e in deletes)
    assert all(abs((uuid.UUID(e.id).int >> 80) - before * 1000) < 60_000 for e in deletes)  # the time of the delete
