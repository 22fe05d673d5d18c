"""The door (memvault/validate.py), tested at the engine on both stores: every bad value is an InvalidInput with a
message that can be sent (it never repeats the bad string), nothing is stored, and every read path still works."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from memvault import filters as F
from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine, ImportRecord, Owners, SearchOptions, UpdateItem
from memvault.errors import Conflict, InvalidInput
from memvault.extract.base import Message
from memvault.extract.offline import OfflineExtractor
from memvault.store.base import Store

BAD = "\ud800"  # a lone surrogate: Python holds it, UTF-8 cannot encode it


class CountingExtractor(OfflineExtractor):
    """The offline extractor, counting the calls: shows that an oversized add is refused before extraction."""

    calls = 0

    def extract(self, messages: list[Message]) -> list[str]:
        self.calls += 1
        return super().extract(messages)


def refused(call: Callable[[], Any], *words: str) -> str:
    with pytest.raises(InvalidInput) as caught:
        call()
    message = caught.value.message
    message.encode("utf-8")
    assert BAD not in message and "\x00" not in message
    for word in words:
        assert word in message, message
    return message


def reads_work(engine: Engine, project: str) -> None:
    """Every read path of the project answers, and nothing was stored by the refused calls."""
    page = engine.list(project, None, limit=100)
    for memory in page.items:
        assert engine.get(project, memory.id).text == memory.text
        engine.history(project, memory.id)
    engine.search(project, "anything at all", None)
    engine.entities(project)
    engine.list_buckets(project)
    list(engine.export(project))


def test_a_lone_surrogate_in_any_field_of_any_call_is_refused(engine: Engine, project: str) -> None:
    kept = engine.add_text(project, "a memory that stays", Owners(user_id="u"))
    calls: list[Callable[[], Any]] = [
        lambda: engine.add_text(project, "text " + BAD),
        lambda: engine.add(project, [Message("user", "hello " + BAD)], infer=True),
        lambda: engine.add(project, [Message("user", "hello " + BAD)], infer=False),
        lambda: engine.add(project, [Message("user" + BAD, "hello")]),
        lambda: engine.add_text(project, "ok", Owners(user_id=BAD)),
        lambda: engine.add_text(project, "ok", Owners(run_id="r" + BAD)),
        lambda: engine.add_text(project, "ok", metadata={"k" + BAD: 1}),
        lambda: engine.add_text(project, "ok", metadata={"a": {"b": [1, {"c": BAD}]}}),
        lambda: engine.add_text(project, "ok", categories=["food", BAD]),
        lambda: engine.add_text(project, "ok", source=BAD),
        lambda: engine.add_text(project, "ok", bucket=BAD),
        lambda: engine.search(project, "tea " + BAD),
        lambda: engine.search(project, "tea", F.eq("user_id", BAD)),
        lambda: engine.list(project, F.parse({"metadata": {"k": BAD}})),
        lambda: engine.update(project, kept.id, text="new " + BAD),
        lambda: engine.update(project, kept.id, metadata={BAD: "v"}),
        lambda: engine.update(project, kept.id, categories=[BAD]),
        lambda: engine.create_bucket(project, "Work" + BAD),
        lambda: engine.create_bucket(project, "Work", "about " + BAD),
        lambda: engine.delete_entity(project, "user", BAD),
        lambda: engine.project("p" + BAD),
        lambda: engine.delete_many(project, [kept.id, BAD]),  # an invalid id is answered back: it must be text
        lambda: engine.move_memories(project, [BAD], "General"),
    ]
    for call in calls:
        refused(call, "lone surrogate")
    assert [m.id for m in engine.list(project, None).items] == [kept.id]
    assert engine.get(project, kept.id).text == "a memory that stays" and engine.get(project, kept.id).metadata == {}
    reads_work(engine, project)


def test_nul_is_refused_in_text_ids_and_keys(engine: Engine, project: str) -> None:
    """PostgreSQL text cannot hold NUL, so no store takes it: the same answer on both."""
    refused(lambda: engine.add_text(project, "a\x00b"), "NUL")
    refused(lambda: engine.add_text(project, "ok", Owners(user_id="u\x00")), "NUL")
    refused(lambda: engine.add_text(project, "ok", metadata={"k\x00": "v"}), "NUL")
    refused(lambda: engine.list(project, F.parse({"metadata": {"k\x00": "v"}})), "NUL")
    assert engine.list(project, None).total == 0
    reads_work(engine, project)


def test_metadata_depth_size_keys_and_numbers_are_bounded(engine: Engine, project: str) -> None:
    def nested(depth: int) -> dict[str, Any]:
        value: dict[str, Any] = {"leaf": 1}
        for _ in range(depth - 1):
            value = {"k": value}
        return value

    kept = engine.add_text(project, "thirty-two levels", metadata=nested(32))
    assert engine.get(project, kept.id).metadata == nested(32)
    refused(lambda: engine.add_text(project, "too deep", metadata=nested(33)), "deeper than 32")
    refused(lambda: engine.add_text(project, "deeper still", metadata=nested(400)), "deeper than 32")
    refused(lambda: engine.add_text(project, "deep list", metadata={"k": _deep_list(40)}),
            "deeper than 32")
    refused(lambda: engine.add_text(project, "big", metadata={"k": "é" * 9000}), "larger than 16384 bytes")
    refused(lambda: engine.add_text(project, "int key", metadata={1: "x"}), "keys must be strings")
    refused(lambda: engine.add_text(project, "nan", metadata={"k": float("nan")}), "finite")
    refused(lambda: engine.add_text(project, "huge", metadata={"k": 2**70}), "64 bits")
    refused(lambda: engine.add_text(project, "set", metadata={"k": {1, 2}}), "plain JSON")
    assert [m.id for m in engine.list(project, None).items] == [kept.id]
    # the edges of every rule are accepted and read back as given
    edges = {"é": "naïve ☃", "emoji": "🦉", "n": -(2**63), "f": 1.5, "t": True, "z": None, "l": [1, "a"]}
    m = engine.add_text(project, "RTL \u202b mark and 🦉 in text are fine", Owners(user_id="ü" * 255),
                        metadata=edges, categories=["ünïcode"])
    got = engine.get(project, m.id)
    assert (got.text, got.metadata, got.categories) == (m.text, edges, ["ünïcode"])
    assert engine.list(project, F.parse({"metadata": {"emoji": "🦉"}})).total == 1
    reads_work(engine, project)


def _deep_list(depth: int) -> list[Any]:
    value: list[Any] = [1]
    for _ in range(depth):
        value = [value]
    return value


def test_dates_before_the_year_1000_are_refused_and_the_edges_read_back(engine: Engine, project: str) -> None:
    early = datetime(1000, 1, 1, tzinfo=UTC)
    late = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    a = engine.add_text(project, "expires at the first date", expiration_date=late)
    refused(lambda: engine.add_text(project, "too early", expiration_date=datetime(999, 6, 1, tzinfo=UTC)),
            "years 1000 to 9999")
    refused(lambda: engine.update(project, a.id, expiration_date=datetime(1, 1, 1, tzinfo=UTC)), "years 1000 to 9999")
    refused(lambda: engine.list(project, F.parse({"created_at": {"gte": "0999-06-01"}})), "years 1000 to 9999")
    engine.update(project, a.id, expiration_date=early)  # in range; expired, so list and search leave it out
    assert engine.get(project, a.id).expiration_date == early
    assert engine.list(project, None).total == 0
    reads_work(engine, project)


def test_owner_ids_categories_sources_and_bucket_fields_are_bounded(engine: Engine, project: str) -> None:
    ok = engine.add_text(project, "bounded", Owners(user_id="u" * 255), categories=["c" * 100] * 50, source="s" * 255)
    assert engine.get(project, ok.id).user_id == "u" * 255
    refused(lambda: engine.add_text(project, "x", Owners(user_id="u" * 256)), "user_id is longer than 255")
    refused(lambda: engine.add_text(project, "x", Owners(agent_id="a" * 3_500_000)), "agent_id is longer than 255")
    refused(lambda: engine.add_text(project, "x", categories=["c" * 101]), "longer than 100")
    refused(lambda: engine.add_text(project, "x", categories=[f"c{i}" for i in range(51)]), "at most 50")
    refused(lambda: engine.add_text(project, "x", categories=[1]), "must be a string")
    refused(lambda: engine.update(project, ok.id, categories=["c"] * 3000), "at most 50")
    refused(lambda: engine.add_text(project, "x", source="s" * 256), "source is longer than 255")
    refused(lambda: engine.create_bucket(project, "b" * 101), "longer than 100")
    refused(lambda: engine.create_bucket(project, "\ufdfa" * 100), "too long once case-folded")  # 18 characters each
    refused(lambda: engine.create_bucket(project, "Work", "d" * 1001), "longer than 1000")
    work = engine.create_bucket(project, "Work", "d" * 1000)
    refused(lambda: engine.rename_bucket(project, work.id, description="d" * 3_500_000), "longer than 1000")
    refused(lambda: engine.delete_entity(project, "user", "u" * 256), "longer than 255")
    assert engine.list(project, None).total == 1
    reads_work(engine, project)


def test_the_content_of_an_add_is_bounded_before_any_extraction(store: Store) -> None:
    extractor = CountingExtractor()
    engine = Engine(store, HashingEmbedder(), extractor)
    project = engine.project("door").id
    long = "I like tea" + "." * 50_000 + "x"
    for infer in (True, False):
        refused(lambda infer=infer: engine.add(project, [Message("user", long)], infer=infer), "longer than 50000")
        refused(lambda infer=infer: engine.add(project, [Message("user", "I like tea. " * 4000)] * 5, infer=infer),
                "more than 200000 characters")
    assert extractor.calls == 0
    assert engine.add(project, [Message("user", "I like green tea.")], infer=True)
    assert extractor.calls == 1


def test_bucket_names_are_compared_after_unicode_case_folding(engine: Engine, project: str) -> None:
    emile = engine.create_bucket(project, "Émile")
    with pytest.raises(Conflict):
        engine.create_bucket(project, "émile")
    strasse = engine.create_bucket(project, "Straße")
    with pytest.raises(Conflict):
        engine.create_bucket(project, "STRASSE")
    with pytest.raises(Conflict):
        engine.create_bucket(project, "ｓｔｒａｓｓｅ")  # fullwidth: NFKC makes it the same name
    assert engine.get_bucket(project, "ÉMILE").id == emile.id
    assert engine.get_bucket(project, "strasse").id == strasse.id
    with pytest.raises(Conflict):
        engine.rename_bucket(project, strasse.id, "émile")
    with pytest.raises(Conflict):
        engine.rename_bucket(project, "general", "Private")  # General keeps its name
    m = engine.add_text(project, "in the bucket", bucket="ÉMILE")
    assert engine.get(project, m.id).bucket_name == "Émile"
    assert {b.name for b in engine.list_buckets(project)} == {"General", "Émile", "Straße"}


@pytest.mark.parametrize("name", ["a\u200bb", "\u200b", "\u202eevil", "tab\there", "left\u200eright", "\ufeffbom"])
def test_invisible_characters_are_refused_in_bucket_names(engine: Engine, project: str, name: str) -> None:
    refused(lambda: engine.create_bucket(project, name))
    work = engine.create_bucket(project, "Work")
    refused(lambda: engine.rename_bucket(project, work.id, name))
    assert {b.name for b in engine.list_buckets(project)} == {"General", "Work"}


def test_a_filter_has_at_most_100_conditions_owners_included(engine: Engine, project: str) -> None:
    engine.add_text(project, "one", Owners(user_id="u"))
    wide = F.parse({"OR": [{"metadata": {"k": i}} for i in range(99)]})
    assert engine.list(project, F.all_of(wide, F.owned_by(Owners(user_id="u")))).total == 0
    too_wide = F.all_of(wide, F.owned_by(Owners(user_id="u", agent_id="a")))
    refused(lambda: engine.list(project, too_wide), "at most 100 conditions")
    refused(lambda: engine.search(project, "one", too_wide), "at most 100 conditions")
    refused(lambda: engine.delete_where(project, too_wide), "at most 100 conditions")
    huge = F.Or(tuple(F.eq("user_id", f"u{i}") for i in range(1001)))
    refused(lambda: engine.list(project, huge), "at most 100 conditions")
    assert engine.list(project, None).total == 1
    reads_work(engine, project)


def test_exists_false_selects_the_memories_without_the_field(engine: Engine, project: str) -> None:
    a = engine.add_text(project, "with a city", Owners(user_id="u"), metadata={"city": "Lyon"})
    b = engine.add_text(project, "without", Owners(agent_id="g"))
    assert [m.id for m in engine.list(project, F.parse({"metadata": {"city": {"exists": False}}})).items] == [b.id]
    assert [m.id for m in engine.list(project, F.parse({"user_id": {"exists": False}})).items] == [b.id]
    assert [h.memory.id for h in engine.search(project, "city", F.parse({"agent_id": {"exists": False}}),
                                               SearchOptions(top_k=5))] == [a.id]
    assert engine.delete_where(project, F.parse({"metadata": {"city": {"exists": False}}})) == 1
    assert [m.id for m in engine.list(project, None).items] == [a.id]


def test_batch_update_checks_every_item_before_changing_any(engine: Engine, project: str) -> None:
    a = engine.add_text(project, "first")
    b = engine.add_text(project, "second")
    for bad in (UpdateItem(b.id, metadata={"k": BAD}), UpdateItem(b.id, categories=["c"] * 51),
                UpdateItem(b.id, expiration_date=datetime(999, 1, 1, tzinfo=UTC))):
        refused(lambda bad=bad: engine.batch_update(project, [UpdateItem(a.id, text="changed"), bad]))
    assert engine.get(project, a.id).text == "first" and engine.get(project, b.id).categories == b.categories


def test_an_import_record_goes_through_the_same_door(engine: Engine, project: str) -> None:
    at = datetime(2024, 1, 1, tzinfo=UTC)
    good = ImportRecord("6f1c1a9e-7a4e-4f55-9a34-3b8d3b7f2a10", "imported", at, at)
    other = "0b7f6c1e-2d3a-4c5b-8e9f-1a2b3c4d5e6f"
    bad: list[ImportRecord] = [
        ImportRecord(other, "imported", at, at, owners=Owners(user_id=BAD)),
        ImportRecord(other, "imported", at, at, metadata={"k": BAD}),
        ImportRecord(other, "imported", at, at, categories=["c"] * 51),
        ImportRecord(other, "imported", at, at, bucket="zero\u200bwidth"),
        ImportRecord(other, "imported", at, at, source="s" * 256),
        ImportRecord(other, "imported", datetime(999, 1, 1, tzinfo=UTC), at),
        ImportRecord(other, "imported", at, at, expiration_date=datetime(500, 1, 1, tzinfo=UTC)),
    ]
    for record in bad:
        refused(lambda record=record: engine.import_memories(project, [good, record]))  # type: ignore[misc]
    assert engine.list(project, None).total == 0
    assert [o.status for o in engine.import_memories(project, [good])] == ["added"]
    reads_work(engine, project)



def test_imported_history_goes_through_the_door_too(engine: Engine, project: str) -> None:
    from memvault.engine import ImportEvent

    at = datetime(2024, 1, 1, tzinfo=UTC)
    mid = "6f1c1a9e-7a4e-4f55-9a34-3b8d3b7f2a10"
    for event in (ImportEvent("ADD", None, "t" + BAD, at), ImportEvent("ADD", None, "t", at, input=[{"content": BAD}]),
                  ImportEvent("ADD", None, "t", at, metadata={"k\x00": 1}),
                  ImportEvent("ADD", None, "t", datetime(999, 1, 1, tzinfo=UTC))):
        refused(lambda event=event: engine.import_memories(project, [ImportRecord(mid, "t", at, at, history=[event])]))
    assert engine.list(project, None).total == 0
    reads_work(engine, project)


def test_dates_a_python_caller_gives_are_taken_to_utc_or_refused(engine: Engine, project: str) -> None:
    """The library and engine take datetimes directly: one past the last UTC date once converted is a refusal,
    not an OverflowError from the store; one without a time zone is taken as UTC."""
    from datetime import timedelta, timezone

    late = datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-5)))
    with pytest.raises(InvalidInput, match="years 1000 to 9999"):
        engine.add(project, [Message("user", "expires after the end of time")], expiration_date=late)
    naive = datetime(2030, 1, 2, 3, 4)
    [made] = engine.add(project, [Message("user", "expires in 2030")], expiration_date=naive)
    assert made.memory.expiration_date == naive.replace(tzinfo=UTC)
    assert engine.list(project).total == 1


@pytest.mark.parametrize("raw", [{"created_at": {"gt": 10**5000}}, {"user_id": 10**5000},
                                 {"created_at": {"gt": float("nan")}}])
def test_numbers_too_large_to_write_out_are_refused_in_filters(engine: Engine, project: str, raw: Any) -> None:
    with pytest.raises(InvalidInput) as refused:
        engine.list(project, F.parse(raw))
    assert len(refused.value.message) < 200


def test_a_filter_naming_many_buckets_resolves_them_all_by_name_or_id(engine: Engine, project: str) -> None:
    work = engine.create_bucket(project, "Work")
    engine.add(project, [Message("user", "in work")], bucket="Work")
    engine.add(project, [Message("user", "in general")])
    spellings = ["work", "WORK", " Work ", work.id, *(["General"] * 5)]
    found = engine.list(project, F.parse({"bucket": {"in": spellings}})).items
    assert sorted(m.text for m in found) == ["in general", "in work"]
    with pytest.raises(Exception, match="Bucket not found"):
        engine.list(project, F.parse({"bucket": {"in": ["work", "nowhere"]}}))
